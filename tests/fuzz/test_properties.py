"""The email and name rules, as properties over generated input."""

import re
import sys
import unicodedata

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from tests.support import new_user
from users.adapters.memory import InMemoryDatabase, InMemoryUnitOfWork
from users.domain.errors import EmailAlreadyRegistered, InvalidEmail, InvalidName
from users.domain.model import NAME_MAX_LENGTH, Email, parse_name
from users.entrypoints.http.schemas import CONTROL, NAME_PATTERN, WHITE_SPACE


def parsed(address: str) -> Email:
    try:
        return Email.parse(address)
    except InvalidEmail:
        assume(False)
        raise


def _has_case_pair(char: str) -> bool:
    upper, lower = char.upper(), char.lower()
    # Sigma's lower case depends on where it stands (final at the end of a word); the
    # contract suites show that rule on whole addresses.
    return upper != lower and upper.lower() == lower and lower.upper() == upper and upper != "Σ"


# Letters with an upper and a lower case that map to each other, from every script Unicode has.
cased_letters = st.characters(categories=["Lu", "Ll"]).filter(_has_case_pair)
local_parts = st.text(cased_letters | st.sampled_from("0123456789._-"), min_size=1, max_size=30)
domains = st.sampled_from(["example.com", "EXAMPLE.org", "Bücher.DE", "пример.рф", "παράδειγμα.gr"])


@st.composite
def letter_case_variants(draw: st.DrawFn) -> tuple[str, str]:
    local, domain = draw(local_parts), draw(domains)
    flips = draw(st.lists(st.booleans(), min_size=len(local), max_size=len(local)))
    variant = "".join(
        c.upper() if flip else c.lower() for c, flip in zip(local, flips, strict=True)
    )
    return f"{local}@{domain}", f"{variant}@{domain.swapcase()}"


@given(st.emails())
def test_normalizing_twice_changes_nothing(address: str) -> None:
    email = parsed(address)

    assert Email.parse(email.address) == email


@given(letter_case_variants())
def test_the_key_ignores_letter_case_in_any_script(variants: tuple[str, str]) -> None:
    original, variant = variants

    assert parsed(original).key == parsed(variant).key


@given(st.emails() | letter_case_variants().map(lambda pair: pair[1]), st.emails())
def test_two_addresses_collide_exactly_when_their_keys_are_equal(first: str, second: str) -> None:
    a, b = parsed(first), parsed(second)
    database = InMemoryDatabase()
    with InMemoryUnitOfWork(database, read_only=False) as unit:
        unit.users.add(new_user(a.address))
        unit.commit()

    with InMemoryUnitOfWork(database, read_only=False) as unit:
        if a.key == b.key:
            with pytest.raises(EmailAlreadyRegistered):
                unit.users.add(new_user(b.address))
        else:
            assert unit.users.add(new_user(b.address)).email == b


@given(st.text(max_size=NAME_MAX_LENGTH + 20))
def test_a_name_is_accepted_exactly_when_it_keeps_the_rules(raw: str) -> None:
    trimmed = raw.strip()
    keeps_the_rules = 1 <= len(trimmed) <= NAME_MAX_LENGTH and not any(
        unicodedata.category(char) in {"Cc", "Cs"} for char in trimmed
    )

    try:
        name = parse_name(raw)
    except InvalidName:
        assert not keeps_the_rules
    else:
        assert keeps_the_rules
        assert name == trimmed


@given(st.text(min_size=1, max_size=NAME_MAX_LENGTH), st.text(" \t\n\u00a0\u2003", max_size=5))
def test_surrounding_white_space_never_matters(core: str, padding: str) -> None:
    assume(core.strip() == core)
    try:
        expected = parse_name(core)
    except InvalidName:
        with pytest.raises(InvalidName):
            parse_name(padding + core + padding)
    else:
        assert parse_name(padding + core + padding) == expected


names_near_the_rules = st.text(
    st.characters(codec="utf-8") | st.sampled_from(" \t\x1c\x85\u3000\ufeff\x00\x7f"),
    max_size=NAME_MAX_LENGTH + 5,
)


def _no_surrogates(text: str) -> bool:
    return not any("\ud800" <= char <= "\udfff" for char in text)


@given(names_near_the_rules | st.from_regex(NAME_PATTERN, fullmatch=True).filter(_no_surrogates))
def test_the_documented_name_pattern_is_the_name_rule(raw: str) -> None:
    try:
        parse_name(raw)
    except InvalidName:
        accepted = False
    else:
        accepted = True

    assert (re.fullmatch(NAME_PATTERN, raw) is not None) == accepted


def test_the_pattern_s_character_classes_are_the_name_rule_s_on_every_character() -> None:
    # Every code point a name can hold: lone surrogates are refused before any pattern.
    every = "".join(
        chr(c) for c in range(sys.maxunicode + 1) if unicodedata.category(chr(c)) != "Cs"
    )

    white_space = set(re.findall(f"[{WHITE_SPACE}]", every))
    control = set(re.findall(f"[{CONTROL}]", every))

    assert white_space == {c for c in every if c.isspace()}  # what str.strip() removes
    assert control == {c for c in every if unicodedata.category(c) == "Cc"}
