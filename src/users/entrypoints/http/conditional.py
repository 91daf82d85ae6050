"""Conditional requests (RFC 9110 §8.8.3 and §13.1): entity tags, and what `If-Match` and
`If-None-Match` ask of the user a request names.

A user's entity tag is strong and made of its id and version, `"7-3"`: it changes with every
write, and no two writes share it, however close in time.
"""

import re

from fastapi import Request

from users.domain.model import MAX_VERSION, Precondition, User
from users.entrypoints.http.headers import IF_MATCH, IF_NONE_MATCH, RequestHeader

ANY = "*"
# More tags than a client keeps of one user: each would be a value bound into the query.
MAX_ENTITY_TAGS = 100
# One element of a list (RFC 9110 §5.6.1): an entity tag, weak or strong, or nothing (empty
# elements are allowed), then a comma or the end.
_ELEMENT = re.compile(r'[ \t]*(?:(W/)?"([\x21\x23-\x7e\x80-\xff]*)")?[ \t]*(,|\Z)')
# A version as `etag` writes it: compared as text, "03" is not "3".
_VERSION = re.compile(rf"[1-9][0-9]{{0,{len(str(MAX_VERSION)) - 1}}}")


def etag(user: User) -> dict[str, str]:
    """The `ETag` header of an answer carrying `user`."""
    return {"ETag": f'"{user.id}-{user.version}"'}


def precondition(
    request: Request, user_id: int, headers: tuple[RequestHeader, ...] = (IF_MATCH, IF_NONE_MATCH)
) -> Precondition | None:
    """The versions of the user with `user_id` that the request's `headers` allow it to find;
    `None` without any of them.

    `If-Match` compares strongly: a weak tag matches nothing. `If-None-Match` compares weakly,
    and `If-None-Match: *` allows no version at all. A header that cannot be read names no tag.
    """
    if_match = IF_MATCH.read(request) if IF_MATCH in headers else None
    if_none_match = IF_NONE_MATCH.read(request) if IF_NONE_MATCH in headers else None
    if if_match is None and if_none_match is None:
        return None
    only = None if if_match is None else _versions(user_id, IF_MATCH, if_match, weak_too=False)
    excluded = (
        frozenset[int]()
        if if_none_match is None
        else _versions(user_id, IF_NONE_MATCH, if_none_match)
    )
    if excluded is None:
        return Precondition(only=frozenset())
    return Precondition(only=only, excluded=excluded)


def holds(precondition: Precondition | None, user: User) -> bool:
    """Whether `user` is at a version `precondition` allows (any version, without one)."""
    return precondition is None or precondition.allows(user.version)


def _versions(
    user_id: int, header: RequestHeader, value: str, *, weak_too: bool = True
) -> frozenset[int] | None:
    """The versions of the user that the `header`'s `value` names; `None` for `*`, any."""
    if value.strip(" \t") == ANY:
        return None
    prefix = f"{user_id}-"
    versions = set()
    for weak, tag in _entity_tags(header, value):
        number = tag.removeprefix(prefix)
        if (weak_too or not weak) and tag.startswith(prefix) and _VERSION.fullmatch(number):
            versions.add(int(number))
    return frozenset(version for version in versions if version <= MAX_VERSION)


def _entity_tags(header: RequestHeader, value: str) -> list[tuple[bool, str]]:
    """(weak, opaque tag) for each entity tag of the list; none if the list cannot be read."""
    tags = []
    position = 0
    while match := _ELEMENT.match(value, position):
        if match[2] is not None:
            tags.append((match[1] is not None, match[2]))
            if len(tags) > MAX_ENTITY_TAGS:
                raise header.invalid(
                    "too_long", f"List should have at most {MAX_ENTITY_TAGS} entity tags"
                )
        if not match[3]:
            return tags
        position = match.end()
    return []
