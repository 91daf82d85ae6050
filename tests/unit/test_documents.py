"""The repository's Markdown: every relative link leads to a file, and a heading, that exist."""

import os
import re
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest
from markdown_it import MarkdownIt
from markdown_it.token import Token

ROOT = Path(__file__).parents[2]
NOT_OURS = {"htmlcov", "node_modules", "build", "mutants"}  # mutants: mutmut's copy


def documents() -> list[Path]:
    found = []
    for directory, subdirectories, files in os.walk(ROOT):
        subdirectories[:] = [d for d in subdirectories if not _not_ours(d)]
        found += [Path(directory, name) for name in files if name.endswith(".md")]
    return sorted(found)


def _not_ours(directory: str) -> bool:
    return directory.startswith(".") or directory.endswith(".egg-info") or directory in NOT_OURS


def _tokens(document: Path) -> list[Token]:
    return MarkdownIt().parse(document.read_text(encoding="utf-8"))


def _links(tokens: list[Token]) -> Iterator[str]:
    for token in tokens:
        for child in token.children or ():
            if child.type == "link_open":
                yield str(child.attrs["href"])
            elif child.type == "image":
                yield str(child.attrs["src"])


def anchors(document: Path) -> set[str]:
    """The fragments GitHub gives the document's headings: the text, lower-cased, without
    punctuation, spaces as hyphens; a repeated one gets -1, -2..."""
    tokens = _tokens(document)
    headings = [tokens[i + 1] for i, token in enumerate(tokens) if token.type == "heading_open"]
    found: set[str] = set()
    for heading in headings:
        text = "".join(c.content for c in heading.children or () if c.type != "softbreak")
        slug = re.sub(r"[^\w\- ]", "", text.strip().lower()).replace(" ", "-")
        repeats = sum(1 for anchor in found if re.fullmatch(rf"{re.escape(slug)}(-\d+)?", anchor))
        found.add(f"{slug}-{repeats}" if repeats else slug)
    return found


def test_the_documents_are_found() -> None:
    assert {"README.md", "docs/api.md"} <= {str(d.relative_to(ROOT)) for d in documents()}


def _resolves(document: Path, link: str) -> bool:
    parts = urlsplit(link)
    if parts.scheme or parts.netloc:
        return True  # a web address: not this repository's to check
    target = (document.parent / unquote(parts.path)).resolve() if parts.path else document
    if not (target.is_relative_to(ROOT) and target.exists()):
        return False
    return not parts.fragment or target.suffix != ".md" or parts.fragment in anchors(target)


@pytest.mark.parametrize("document", documents(), ids=lambda d: str(d.relative_to(ROOT)))
def test_every_relative_link_resolves(document: Path) -> None:
    links = list(_links(_tokens(document)))

    assert [link for link in links if not _resolves(document, link)] == []
