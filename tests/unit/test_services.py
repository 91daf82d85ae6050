"""The use cases, over the in-memory fake."""

from collections.abc import Callable

import pytest

from tests.support import MOMENT, SwitchableStore, random_email, user_service
from users.adapters.memory import InMemoryUnitOfWork
from users.domain.errors import EmailAlreadyRegistered, InvalidName, StoreUnavailable, UserNotFound
from users.domain.model import MAX_USER_ID, Email
from users.domain.services import UserService


def register(service: UserService, email: str | None = None, name: str = "Alice"):  # type: ignore[no-untyped-def]
    return service.register(name=name, email=Email.parse(email or random_email()))


def test_registering_stamps_both_times_from_the_clock(service: UserService) -> None:
    user = register(service, name="  Alice ")

    assert user.name == "Alice"
    assert user.created_at == user.updated_at > MOMENT


def test_registering_a_taken_email_is_refused(service: UserService) -> None:
    register(service, "dora@example.com")

    with pytest.raises(EmailAlreadyRegistered):
        register(service, "DORA@example.com")


def test_registering_an_invalid_name_stores_nothing(service: UserService) -> None:
    with pytest.raises(InvalidName):
        register(service, name="\x00")

    assert service.list_page(after=0, limit=10).items == []


def test_getting_a_missing_user_raises_not_found(service: UserService) -> None:
    with pytest.raises(UserNotFound):
        service.get(user_id=MAX_USER_ID)


def test_pages_walk_every_user_once_and_end_with_no_cursor(service: UserService) -> None:
    users = [register(service) for _ in range(5)]

    first = service.list_page(after=0, limit=2)
    second = service.list_page(after=first.next_after or 0, limit=2)
    last = service.list_page(after=second.next_after or 0, limit=2)

    assert first.items + second.items + last.items == users
    assert (first.next_after, second.next_after, last.next_after) == (
        users[1].id,
        users[3].id,
        None,
    )


def test_a_page_that_ends_exactly_at_the_last_user_has_no_cursor(service: UserService) -> None:
    users = [register(service) for _ in range(2)]

    page = service.list_page(after=0, limit=2)

    assert page.items == users
    assert page.next_after is None


def test_finding_by_email_ignores_letter_case(service: UserService) -> None:
    user = register(service, "Eve@Example.com")

    assert service.find_by_email(email=Email.parse("eve@EXAMPLE.COM")) == user


def test_updating_moves_updated_at_only(service: UserService) -> None:
    user = register(service)

    updated = service.update(user_id=user.id, name="Alicia")

    assert (updated.name, updated.email, updated.created_at) == (
        "Alicia",
        user.email,
        user.created_at,
    )
    assert updated.updated_at > user.updated_at


def test_updating_to_a_taken_email_is_refused(service: UserService) -> None:
    taken = register(service)
    user = register(service)

    with pytest.raises(EmailAlreadyRegistered):
        service.update(user_id=user.id, email=taken.email)

    assert service.get(user_id=user.id) == user


def test_updating_or_deleting_a_missing_user_raises_not_found(service: UserService) -> None:
    with pytest.raises(UserNotFound):
        service.update(user_id=MAX_USER_ID, name="x")
    with pytest.raises(UserNotFound):
        service.delete(user_id=MAX_USER_ID)


def test_a_deleted_user_is_gone(service: UserService) -> None:
    user = register(service)

    service.delete(user_id=user.id)

    with pytest.raises(UserNotFound):
        service.get(user_id=user.id)


def test_an_unreachable_store_is_reported(service: UserService, store: SwitchableStore) -> None:
    store.down = True

    with pytest.raises(StoreUnavailable):
        register(service)


def test_reads_open_read_only_units_and_writes_writable_ones(store: SwitchableStore) -> None:
    """A read-only unit may be served by a replica and cannot write by mistake."""
    opened: list[bool] = []

    def unit_of_work(*, read_only: bool = False) -> InMemoryUnitOfWork:
        opened.append(read_only)
        return store.unit_of_work(read_only=read_only)

    def units_opened(call: Callable[[], object]) -> set[bool]:
        opened.clear()
        call()
        return set(opened)

    service = user_service(unit_of_work)
    user = register(service)

    assert units_opened(lambda: service.get(user_id=user.id)) == {True}
    assert units_opened(lambda: service.find_by_email(email=user.email)) == {True}
    assert units_opened(lambda: service.list_page(after=0, limit=10)) == {True}
    assert units_opened(lambda: service.update(user_id=user.id, name="Alicia")) == {False}
    assert units_opened(lambda: register(service)) == {False}
    assert units_opened(lambda: service.delete(user_id=user.id)) == {False}
