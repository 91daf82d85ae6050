"""Fuzzing every endpoint from the service's own OpenAPI document, with Schemathesis.

A test class inherits `FuzzContract` and provides an `app` fixture. Schemathesis generates
requests, valid and invalid, for every operation and checks each response against the document:
no 5xx, every status code declared, every body as documented.
"""

import schemathesis
from dependency_injector import providers
from fastapi import FastAPI
from hypothesis import strategies as st

from users.container import Container
from users.domain.errors import InvalidEmail
from users.domain.model import NAME_MAX_LENGTH, Email
from users.entrypoints.app import create_app
from users.entrypoints.schemas import EMAIL_FORMAT
from users.settings import Settings


def _accepted_by_the_domain(address: str) -> bool:
    try:
        Email.parse(address)
    except InvalidEmail:
        return False
    return True


# What the document's formats mean here: an address email-validator accepts (JSON Schema's
# "idn-email" admits quoted local parts and bare IP domains, which the service refuses), and a
# name of 1 to 100 characters after trimming with no control characters.
schemathesis.openapi.format(EMAIL_FORMAT, st.emails().filter(_accepted_by_the_domain))
schemathesis.openapi.format(
    "user-name",
    st.text(
        st.characters(exclude_categories=["Cc", "Cs"]), min_size=1, max_size=NAME_MAX_LENGTH
    ).filter(str.strip),
)

# The document does not depend on the store; the requests go to each class's own `app`.
# (Loading it lazily from a fixture breaks on pytest 9.2: schemathesis 4.32 sets Node._nodeid.)
api_schema = schemathesis.openapi.from_asgi(
    "/openapi.json",
    create_app(Container(settings=providers.Object(Settings(database_url="memory://")))),
)


class FuzzContract:
    @api_schema.parametrize()
    def test_no_request_breaks_the_contract(
        self,
        case: schemathesis.Case,  # type: ignore[type-arg]
        app: FastAPI,
    ) -> None:
        case.call_and_validate(app=app)
