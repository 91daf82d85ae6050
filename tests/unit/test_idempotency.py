"""Writes under an idempotency key, over the in-memory fake: once, then the same answer."""

from collections.abc import Callable
from datetime import datetime
from typing import Any

import pytest

from tests.support import (
    KEY_LEASE,
    KEY_RETENTION,
    MOMENT,
    SwitchableStore,
    random_email,
    user_service,
)
from users.adapters.memory import InMemoryUnitOfWork
from users.domain.errors import (
    EmailAlreadyRegistered,
    IdempotencyKeyReused,
    RequestInProgress,
    StoreUnavailable,
)
from users.domain.idempotency import KeyRecord, Outcome
from users.domain.model import Email, Precondition, User
from users.domain.ports import UnitOfWork
from users.domain.services import KEYS_PURGED_PER_CLAIM, UserService

# Kept keys outlive a release: what a request's fingerprint was in an earlier build, which the
# next build must compute alike, or a retry across a deploy would be refused as another request.
KEPT_BY_AN_EARLIER_RELEASE = {
    "register": "561d1d3da6d729dfdcab04fcb93c048bdc7df419ff567661980d9e5e2f42cf5f",
    "update": "4f8c7366c44798ce7dc72344a72f6f09278440d41e74fe5f4f8acec97f17aa93",
}


class StillClock:
    """A clock that stands still until a test moves it."""

    def __init__(self) -> None:
        self.now = MOMENT

    def __call__(self) -> datetime:
        return self.now


def unreachable() -> UnitOfWork:
    """Opens a unit of work on a store that stopped answering."""
    raise StoreUnavailable("the store stopped answering")


@pytest.fixture
def clock() -> StillClock:
    return StillClock()


def service_on(
    store: SwitchableStore, clock: StillClock, once_key_held: Callable[[], Any] | None = None
) -> UserService:
    """The use cases on `store`; `once_key_held` opens the first unit after a key is
    claimed, in the place of the store's own."""

    def unit_of_work(*, read_only: bool = False) -> Any:
        nonlocal once_key_held
        if once_key_held is not None and store.database.keys:
            opening, once_key_held = once_key_held, None
            return opening()
        return store.unit_of_work(read_only=read_only)

    return user_service(unit_of_work, clock)


def register(service: UserService, email: str, key: str = "key-1", name: str = "Ann") -> User:
    return service.register(name=name, email=Email.parse(email), key=key)


def test_a_retried_registration_answers_the_first_user_and_registers_no_other(
    store: SwitchableStore, clock: StillClock
) -> None:
    service = service_on(store, clock)
    first = register(service, "ann@example.com")
    clock.now += KEY_LEASE

    retried = register(service, "ann@example.com")

    assert retried == first
    assert service.list_page(after=0, limit=10).items == [first]


def test_the_same_request_in_other_words_is_the_same_request(
    store: SwitchableStore, clock: StillClock
) -> None:
    service = service_on(store, clock)
    first = register(service, "ann@example.com", name="Ann")

    retried = register(service, "ann@EXAMPLE.com", name="  Ann ")

    assert retried == first


def test_a_key_sent_with_another_request_is_refused(
    store: SwitchableStore, clock: StillClock
) -> None:
    service = service_on(store, clock)
    user = register(service, "ann@example.com")

    with pytest.raises(IdempotencyKeyReused):
        register(service, "bob@example.com")
    with pytest.raises(IdempotencyKeyReused):
        service.update(user_id=user.id, name="Ann", key="key-1")

    assert service.list_page(after=0, limit=10).items == [user]


def test_an_update_key_sent_with_another_address_or_condition_is_refused(
    store: SwitchableStore, clock: StillClock
) -> None:
    service = service_on(store, clock)
    user = service.register(name="Ann", email=Email.parse("ann@example.com"))
    version_1 = Precondition(only=frozenset({1}))
    updated = service.update(
        user_id=user.id, email=Email.parse("anna@example.com"), precondition=version_1, key="u"
    )

    with pytest.raises(IdempotencyKeyReused):
        service.update(
            user_id=user.id, email=Email.parse("ann@example.org"), precondition=version_1, key="u"
        )
    with pytest.raises(IdempotencyKeyReused):
        service.update(
            user_id=user.id,
            email=Email.parse("anna@example.com"),
            precondition=Precondition(only=frozenset({7})),
            key="u",
        )

    assert service.get(user_id=user.id) == updated


def test_a_retry_after_an_upgrade_gets_the_answer_the_earlier_release_kept(
    store: SwitchableStore, clock: StillClock
) -> None:
    service = service_on(store, clock)
    ann = service.register(name="Ann", email=Email.parse("ann@example.com"))
    for key, kept in KEPT_BY_AN_EARLIER_RELEASE.items():
        expires_at = clock.now + KEY_RETENTION
        store.database.keys[key] = KeyRecord(key, kept, clock.now, expires_at, Outcome(user=ann))

    registered = register(service, "ann@example.com", key="register")
    updated = service.update(
        user_id=ann.id,
        name="Anna",
        email=Email.parse("anna@example.com"),
        precondition=Precondition(only=frozenset({1}), excluded=frozenset({2})),
        key="update",
    )

    assert registered == updated == ann
    assert service.list_page(after=0, limit=10).items == [ann]


def test_a_retry_while_the_first_attempt_runs_is_refused_as_in_progress(
    store: SwitchableStore, clock: StillClock
) -> None:
    refused: list[RequestInProgress] = []

    def retry_meanwhile() -> InMemoryUnitOfWork:
        with pytest.raises(RequestInProgress) as in_progress:
            register(service, "ann@example.com")
        refused.append(in_progress.value)
        return store.unit_of_work()

    service = service_on(store, clock, once_key_held=retry_meanwhile)

    first = register(service, "ann@example.com")

    assert len(refused) == 1
    assert service.list_page(after=0, limit=10).items == [first]


def test_a_refusal_is_the_answer_to_every_retry(store: SwitchableStore, clock: StillClock) -> None:
    service = service_on(store, clock)
    taken = service.register(name="Bob", email=Email.parse("bob@example.com"))
    with pytest.raises(EmailAlreadyRegistered):
        register(service, "bob@example.com")
    service.delete(user_id=taken.id)

    with pytest.raises(EmailAlreadyRegistered):
        register(service, "bob@example.com")
    registered = register(service, "bob@example.com", key="key-2")

    assert service.list_page(after=0, limit=10).items == [registered]


def test_a_store_failure_lets_go_of_the_key_so_a_retry_writes(
    store: SwitchableStore, clock: StillClock
) -> None:
    service = service_on(store, clock, once_key_held=unreachable)
    with pytest.raises(StoreUnavailable):
        register(service, "ann@example.com")

    retried = register(service, "ann@example.com")

    assert service.list_page(after=0, limit=10).items == [retried]


def test_a_key_left_held_by_a_failed_attempt_is_free_again_after_its_lease(
    store: SwitchableStore, clock: StillClock
) -> None:
    def store_down() -> UnitOfWork:
        store.down = True  # for the write, and for letting go of the key too
        return store.unit_of_work()

    service = service_on(store, clock, once_key_held=store_down)
    with pytest.raises(StoreUnavailable):
        register(service, "ann@example.com")
    store.down = False

    with pytest.raises(RequestInProgress):
        register(service, "ann@example.com")
    clock.now += KEY_LEASE
    retried = register(service, "ann@example.com")

    assert service.list_page(after=0, limit=10).items == [retried]


def test_an_answer_is_kept_for_the_retention_window_then_the_key_is_free(
    store: SwitchableStore, clock: StillClock
) -> None:
    service = service_on(store, clock)
    first = register(service, "ann@example.com")

    clock.now += KEY_RETENTION
    second = register(service, random_email())

    assert second.id != first.id


def test_later_claims_purge_expired_keys(store: SwitchableStore, clock: StillClock) -> None:
    service = service_on(store, clock)
    register(service, random_email(), key="old")

    clock.now += KEY_RETENTION
    register(service, random_email(), key="new")

    assert list(store.database.keys) == ["new"]


def test_a_claim_purges_a_bounded_batch_of_expired_keys(
    store: SwitchableStore, clock: StillClock
) -> None:
    """No request pays for the whole backlog of expired keys."""
    service = service_on(store, clock)
    for n in range(KEYS_PURGED_PER_CLAIM + 1):
        store.database.keys[f"old-{n}"] = KeyRecord(f"old-{n}", "", MOMENT, expires_at=MOMENT)

    register(service, "ann@example.com", key="new")

    assert len(store.database.keys) == 2


def test_a_write_whose_lease_ran_out_meanwhile_is_undone_for_the_retry_that_took_over(
    store: SwitchableStore, clock: StillClock
) -> None:
    taken_over: list[User] = []

    def retried_after_the_lease() -> InMemoryUnitOfWork:
        clock.now += KEY_LEASE
        taken_over.append(service.update(user_id=user.id, name="Bo", key="key-1"))
        return store.unit_of_work()

    service = service_on(store, clock, once_key_held=retried_after_the_lease)
    user = service.register(name="Ann", email=Email.parse(random_email()))

    with pytest.raises(RequestInProgress):
        service.update(user_id=user.id, name="Bo", key="key-1")

    assert taken_over[0].version == user.version + 1
    assert service.get(user_id=user.id) == taken_over[0]
