"""Fuzzing every endpoint from the service's own OpenAPI document, with Schemathesis.

A test class inherits `FuzzContract` and provides an `app` fixture. Schemathesis generates
requests, valid and invalid, for every operation and checks each response against the document:
no 5xx, every status code declared, every body as documented.
"""

import itertools
import re

import schemathesis
from fastapi import FastAPI
from hypothesis import strategies as st

from tests.support import app_on
from users.domain.errors import InvalidEmail
from users.domain.idempotency import KEY_PATTERN
from users.domain.model import Email
from users.entrypoints.http.schemas import EMAIL_FORMAT


def _accepted_by_the_domain(address: str) -> bool:
    try:
        Email.parse(address)
    except InvalidEmail:
        return False
    return True


# What "idn-email" means here: an address email-validator accepts. JSON Schema's format also
# admits quoted local parts and bare IP domains, which the service refuses.
schemathesis.openapi.format(EMAIL_FORMAT, st.emails().filter(_accepted_by_the_domain))


# The document does not depend on the store; the requests go to each class's own `app`.
# (Loading it lazily from a fixture breaks on pytest 9.2: schemathesis 4.32 sets Node._nodeid.)
api_schema = schemathesis.openapi.from_asgi("/openapi.json", app_on())


_cases = itertools.count()


def _key_of_its_own(case: schemathesis.Case) -> None:  # type: ignore[type-arg]
    """Schemathesis draws few distinct idempotency keys: two cases sending one key with two
    bodies would get the contract's 422. A valid key is made the case's own."""
    key = case.headers.get("Idempotency-Key") if case.headers else None
    if isinstance(key, str) and re.fullmatch(KEY_PATTERN, key):
        case.headers["Idempotency-Key"] = f"{next(_cases)}:{key}"[:255]


class FuzzContract:
    @api_schema.parametrize()
    def test_no_request_breaks_the_contract(
        self,
        case: schemathesis.Case,  # type: ignore[type-arg]
        app: FastAPI,
    ) -> None:
        _key_of_its_own(case)
        case.call_and_validate(app=app)
