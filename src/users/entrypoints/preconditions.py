"""Entity tags and the conditional headers that name them (RFC 9110 §8.8.3 and §13.1).

A user's entity tag is strong and made of its id and version, `"7-3"`: it changes with every
write, and no two writes share it, however close in time.
"""

import re

from users.domain.model import MAX_VERSION, Precondition, User

ANY = "*"
# One entity tag of a list, weak or strong, and what follows it up to the next comma.
_ENTITY_TAG = re.compile(r'\s*(W/)?"([\x21\x23-\x7e\x80-\xff]*)"\s*(?:,|$)')


def entity_tag(user: User) -> str:
    """The user's `ETag`."""
    return f'"{user.id}-{user.version}"'


def precondition(
    user_id: int, if_match: str | None, if_none_match: str | None
) -> Precondition | None:
    """The versions of the user with `user_id` that `If-Match` and `If-None-Match` allow a
    request to find; `None` without either header.

    `If-Match` compares strongly: a weak tag matches nothing. `If-None-Match` compares weakly,
    and `If-None-Match: *` allows no version at all. A header that cannot be read names no tag.
    """
    if if_match is None and if_none_match is None:
        return None
    only = None if if_match is None else _versions(user_id, if_match, weak_too=False)
    excluded = frozenset[int]() if if_none_match is None else _versions(user_id, if_none_match)
    if excluded is None:
        return Precondition(only=frozenset())
    return Precondition(only=only, excluded=excluded)


def holds(precondition: Precondition | None, user: User) -> bool:
    """Whether `user` is at a version `precondition` allows (any version, without one)."""
    return precondition is None or precondition.allows(user.version)


def _versions(user_id: int, header: str, *, weak_too: bool = True) -> frozenset[int] | None:
    """The versions of the user that `header` names; `None` for `*`, any version."""
    if header.strip() == ANY:
        return None
    prefix = f"{user_id}-"
    versions = set()
    for weak, tag in _entity_tags(header):
        number = tag.removeprefix(prefix)
        if (weak_too or not weak) and tag.startswith(prefix) and _is_version(number):
            versions.add(int(number))
    return frozenset(versions)


def _entity_tags(header: str) -> list[tuple[bool, str]]:
    tags = []
    position = 0
    while position < len(header) and (match := _ENTITY_TAG.match(header, position)):
        tags.append((match[1] is not None, match[2]))
        position = match.end()
    return tags


def _is_version(number: str) -> bool:
    # Only what the store can hold: a larger number would fail the query, not the match.
    return (
        number.isascii()
        and number.isdigit()
        and len(number) <= len(str(MAX_VERSION))
        and 1 <= int(number) <= MAX_VERSION
    )
