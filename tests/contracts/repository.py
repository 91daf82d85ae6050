"""The `UserRepository`, `KeyRecords` and `UnitOfWork` contract, run unchanged against every
adapter.

A test class inherits `RepositoryContract` and provides a `uow_factory` fixture: a callable
that opens a fresh unit of work on an empty store.
"""

import time
from collections.abc import Iterator
from dataclasses import replace
from datetime import datetime, timedelta

import pytest

from tests.support import MOMENT, new_user, random_email
from users.domain.errors import (
    EmailAlreadyRegistered,
    UserChanged,
    UserNotFound,
    WriteInReadOnlyUnit,
)
from users.domain.idempotency import KeyRecord, Outcome
from users.domain.model import FIRST_VERSION, MAX_USER_ID, Email, Precondition, User, UserChanges
from users.domain.ports import UnitOfWorkFactory

LATER = MOMENT + timedelta(hours=1)
LEASE = timedelta(seconds=5)


def add_committed(
    uow_factory: UnitOfWorkFactory, email: str | None = None, name: str = "Alice"
) -> User:
    with uow_factory() as unit:
        user = unit.users.add(new_user(email, name))
        unit.commit()
    return user


def attempt(
    key: str = "key-1", started_at: datetime = MOMENT, request: str = "a" * 64
) -> KeyRecord:
    """An attempt under `key`, holding it for `LEASE` from `started_at`."""
    return KeyRecord(key, request, started_at, expires_at=started_at + LEASE)


def claim(
    uow_factory: UnitOfWorkFactory, record: KeyRecord, now: datetime | None = None
) -> KeyRecord | None:
    with uow_factory() as unit:
        held = unit.keys.claim(record, now or record.started_at)
        unit.commit()
    return held


def finish(
    uow_factory: UnitOfWorkFactory, record: KeyRecord, outcome: Outcome, expires_at: datetime
) -> bool:
    with uow_factory() as unit:
        finished = unit.keys.finish(record, outcome, expires_at)
        unit.commit()
    return finished


class RepositoryContract:
    @pytest.fixture
    def host_zone_not_utc(self) -> Iterator[None]:
        """The process's local time zone is not UTC, as on a server set to its city's time."""
        with pytest.MonkeyPatch.context() as patch:
            patch.setenv("TZ", "America/New_York")
            time.tzset()
            yield
        time.tzset()

    @pytest.mark.usefixtures("host_zone_not_utc")
    def test_an_added_user_reads_back_exactly(self, uow_factory: UnitOfWorkFactory) -> None:
        added = add_committed(uow_factory, "Ada.Lovelace@Example.com", name="Ada")

        with uow_factory(read_only=True) as unit:
            stored = unit.users.get(added.id)

        assert stored == added
        assert stored.email.address == "Ada.Lovelace@example.com"
        assert stored.created_at == MOMENT
        assert stored.created_at.utcoffset() == timedelta(0)

    def test_ids_are_positive_and_increasing(self, uow_factory: UnitOfWorkFactory) -> None:
        first, second = add_committed(uow_factory), add_committed(uow_factory)

        assert 0 < first.id < second.id

    def test_the_id_of_a_deleted_user_is_never_handed_out_again(
        self, uow_factory: UnitOfWorkFactory
    ) -> None:
        add_committed(uow_factory)
        deleted = add_committed(uow_factory)
        with uow_factory() as unit:
            unit.users.remove(deleted.id)
            unit.commit()

        assert add_committed(uow_factory).id > deleted.id

    def test_an_address_taken_in_another_letter_case_is_refused(
        self, uow_factory: UnitOfWorkFactory
    ) -> None:
        add_committed(uow_factory, "Bob@Example.com")

        with pytest.raises(EmailAlreadyRegistered), uow_factory() as unit:
            unit.users.add(new_user("bOB@example.COM"))

    def test_letter_case_is_ignored_in_any_script(self, uow_factory: UnitOfWorkFactory) -> None:
        add_committed(uow_factory, "ΣΩΚΡΆΤΗΣ@example.gr")

        with uow_factory(read_only=True) as unit:
            found = unit.users.get_by_email(Email.parse("σωκράτης@EXAMPLE.gr"))

        assert found is not None
        assert found.email.address == "ΣΩΚΡΆΤΗΣ@example.gr"

    @pytest.mark.parametrize(
        ("one", "one_in_other_case", "other", "other_in_other_case"),
        [
            (
                "straße@example.com",
                "Straße@EXAMPLE.com",
                "strasse@example.com",
                "STRASSE@example.com",
            ),
            ("ﬁle@example.com", "ﬁLE@Example.com", "file@example.com", "FILE@EXAMPLE.com"),
        ],
    )
    def test_addresses_that_only_full_case_folding_would_merge_are_two_people(
        self,
        uow_factory: UnitOfWorkFactory,
        one: str,
        one_in_other_case: str,
        other: str,
        other_in_other_case: str,
    ) -> None:
        first, second = add_committed(uow_factory, one), add_committed(uow_factory, other)

        with uow_factory(read_only=True) as unit:
            found = [
                unit.users.get_by_email(Email.parse(address))
                for address in (one_in_other_case, other_in_other_case)
            ]

        assert found == [first, second]

    def test_a_missing_user_is_none(self, uow_factory: UnitOfWorkFactory) -> None:
        with uow_factory(read_only=True) as unit:
            assert unit.users.get(MAX_USER_ID) is None
            assert unit.users.get_by_email(Email.parse(random_email())) is None

    def test_a_page_lists_users_after_the_cursor_in_id_order(
        self, uow_factory: UnitOfWorkFactory
    ) -> None:
        users = [add_committed(uow_factory) for _ in range(5)]

        with uow_factory(read_only=True) as unit:
            first = unit.users.list_page(after=0, limit=2)
            rest = unit.users.list_page(after=first[-1].id, limit=10)
            beyond = unit.users.list_page(after=MAX_USER_ID, limit=10)

        assert first + rest == users
        assert beyond == []

    def test_an_update_changes_only_what_it_names(self, uow_factory: UnitOfWorkFactory) -> None:
        user = add_committed(uow_factory, name="Alice")

        with uow_factory() as unit:
            renamed = unit.users.update(user.id, UserChanges(updated_at=LATER, name="Alicia"))
            unit.commit()
        with uow_factory(read_only=True) as unit:
            stored = unit.users.get(user.id)

        assert renamed == replace(user, name="Alicia", updated_at=LATER, version=user.version + 1)
        assert stored == renamed

    def test_an_update_can_change_the_letter_case_of_the_own_address(
        self, uow_factory: UnitOfWorkFactory
    ) -> None:
        user = add_committed(uow_factory, "carol@example.com")
        email = Email.parse("CAROL@example.com")

        with uow_factory() as unit:
            updated = unit.users.update(user.id, UserChanges(updated_at=LATER, email=email))
            unit.commit()

        assert updated is not None
        assert updated.email == email

    def test_an_update_to_another_users_address_is_refused_and_changes_nothing(
        self, uow_factory: UnitOfWorkFactory
    ) -> None:
        taken = add_committed(uow_factory)
        user = add_committed(uow_factory)
        changes = UserChanges(updated_at=LATER, name="Mallory", email=taken.email)

        with pytest.raises(EmailAlreadyRegistered), uow_factory() as unit:
            unit.users.update(user.id, changes)
        with uow_factory(read_only=True) as unit:
            assert unit.users.get(user.id) == user

    def test_updating_or_removing_a_missing_user_reports_it(
        self, uow_factory: UnitOfWorkFactory
    ) -> None:
        with uow_factory() as unit:
            assert unit.users.update(MAX_USER_ID, UserChanges(updated_at=LATER, name="x")) is None
            assert unit.users.remove(MAX_USER_ID) is False

    def test_a_removed_user_is_gone_and_its_address_free(
        self, uow_factory: UnitOfWorkFactory
    ) -> None:
        user = add_committed(uow_factory)

        with uow_factory() as unit:
            assert unit.users.remove(user.id) is True
            unit.commit()

        with uow_factory(read_only=True) as unit:
            assert unit.users.get(user.id) is None
        assert add_committed(uow_factory, user.email.address).email == user.email

    def test_writes_without_commit_are_discarded(self, uow_factory: UnitOfWorkFactory) -> None:
        kept, not_removed = add_committed(uow_factory), add_committed(uow_factory)

        with uow_factory() as unit:
            discarded = unit.users.add(new_user())
            unit.users.update(kept.id, UserChanges(updated_at=LATER, name="Changed"))
            unit.users.remove(not_removed.id)

        with uow_factory(read_only=True) as unit:
            assert unit.users.get(discarded.id) is None
            assert unit.users.get(kept.id) == kept
            assert unit.users.get(not_removed.id) == not_removed
            assert unit.users.get_by_email(not_removed.email) == not_removed

    def test_a_failed_unit_of_work_leaves_nothing_behind(
        self, uow_factory: UnitOfWorkFactory
    ) -> None:
        taken = add_committed(uow_factory)
        fresh = new_user()

        with pytest.raises(EmailAlreadyRegistered), uow_factory() as unit:
            unit.users.add(fresh)
            unit.users.add(new_user(taken.email.address))
            unit.commit()

        with uow_factory(read_only=True) as unit:
            assert unit.users.get_by_email(fresh.email) is None

    def test_a_unit_sees_its_own_uncommitted_writes(self, uow_factory: UnitOfWorkFactory) -> None:
        with uow_factory() as unit:
            user = unit.users.add(new_user())

            assert unit.users.get(user.id) == user
            assert unit.users.get_by_email(user.email) == user

    def test_a_read_only_unit_reads_and_refuses_every_write(
        self, uow_factory: UnitOfWorkFactory
    ) -> None:
        user = add_committed(uow_factory)
        changes = UserChanges(updated_at=LATER, name="Changed")

        with uow_factory(read_only=True) as unit:
            assert unit.users.get(user.id) == user
            with pytest.raises(WriteInReadOnlyUnit):
                unit.users.add(new_user())
            with pytest.raises(WriteInReadOnlyUnit):
                unit.users.update(user.id, changes)
            with pytest.raises(WriteInReadOnlyUnit):
                unit.users.remove(user.id)
            with pytest.raises(WriteInReadOnlyUnit):
                unit.keys.claim(attempt(), MOMENT)

        with uow_factory(read_only=True) as unit:
            assert unit.users.list_page(after=0, limit=10) == [user]

    # Versions and conditional writes
    def test_a_user_starts_at_the_first_version_and_every_update_adds_one(
        self, uow_factory: UnitOfWorkFactory
    ) -> None:
        user = add_committed(uow_factory)

        with uow_factory() as unit:
            once = unit.users.update(user.id, UserChanges(updated_at=LATER, name="B"))
            twice = unit.users.update(user.id, UserChanges(updated_at=LATER, name="B"))
            unit.commit()

        assert user.version == FIRST_VERSION
        assert (once and once.version, twice and twice.version) == (2, 3)

    def test_a_conditional_update_applies_to_an_allowed_version_only(
        self, uow_factory: UnitOfWorkFactory
    ) -> None:
        user = add_committed(uow_factory, name="Alice")
        first_only = Precondition(only=frozenset({FIRST_VERSION}))

        with uow_factory() as unit:
            updated = unit.users.update(user.id, UserChanges(LATER, name="Bea"), first_only)
            unit.commit()
        with pytest.raises(UserChanged), uow_factory() as unit:
            unit.users.update(user.id, UserChanges(LATER, name="Cleo"), first_only)
        with uow_factory(read_only=True) as unit:
            stored = unit.users.get(user.id)

        assert updated is not None
        assert updated.name == "Bea"
        assert stored == updated

    def test_a_precondition_can_exclude_versions_instead(
        self, uow_factory: UnitOfWorkFactory
    ) -> None:
        user = add_committed(uow_factory)
        changes = UserChanges(LATER, name="Bea")

        with pytest.raises(UserChanged), uow_factory() as unit:
            unit.users.update(user.id, changes, Precondition(excluded=frozenset({user.version})))
        with uow_factory() as unit:
            updated = unit.users.update(user.id, changes, Precondition(excluded=frozenset({7})))

        assert updated is not None
        assert updated.version == user.version + 1

    def test_a_conditional_remove_leaves_a_changed_user_in_place(
        self, uow_factory: UnitOfWorkFactory
    ) -> None:
        user = add_committed(uow_factory)

        with pytest.raises(UserChanged), uow_factory() as unit:
            unit.users.remove(user.id, Precondition(only=frozenset({user.version + 1})))
        with uow_factory() as unit:
            assert unit.users.get(user.id) == user
            assert unit.users.remove(user.id, Precondition(only=frozenset({user.version})))
            unit.commit()
        with uow_factory(read_only=True) as unit:
            assert unit.users.get(user.id) is None

    def test_a_conditional_write_to_a_missing_user_finds_no_user_not_a_change(
        self, uow_factory: UnitOfWorkFactory
    ) -> None:
        nothing_allowed = Precondition(only=frozenset())

        with uow_factory() as unit:
            assert unit.users.update(MAX_USER_ID, UserChanges(LATER, "x"), nothing_allowed) is None
            assert unit.users.remove(MAX_USER_ID, nothing_allowed) is False

    # Idempotency keys
    def test_a_free_key_is_claimed_and_then_held_against_other_attempts(
        self, uow_factory: UnitOfWorkFactory
    ) -> None:
        first = attempt()

        taken = claim(uow_factory, first)
        refused = claim(
            uow_factory, attempt(started_at=MOMENT + timedelta(seconds=1), request="b" * 64)
        )

        assert taken is None
        assert refused == first

    def test_a_finished_attempt_keeps_its_outcome_exactly_until_it_expires(
        self, uow_factory: UnitOfWorkFactory
    ) -> None:
        user = add_committed(uow_factory, "ΣΩΚΡΆΤΗΣ@example.gr")
        first = attempt()
        claim(uow_factory, first)
        kept_until = MOMENT + timedelta(hours=24)

        finished = finish(uow_factory, first, Outcome(user=user), kept_until)
        before_expiry = claim(
            uow_factory, attempt(started_at=kept_until - timedelta(microseconds=1))
        )
        taking_over = attempt(started_at=kept_until)
        at_expiry = claim(uow_factory, taking_over)
        # The next claim finds the attempt that took over: running, the old outcome gone.
        after = claim(uow_factory, attempt(started_at=kept_until + timedelta(seconds=1)))

        assert finished is True
        assert before_expiry == replace(first, expires_at=kept_until, outcome=Outcome(user=user))
        assert at_expiry is None
        assert after == taking_over

    def test_a_refusal_is_kept_as_an_outcome(self, uow_factory: UnitOfWorkFactory) -> None:
        first = attempt()
        claim(uow_factory, first)
        refused = Outcome(refusal=EmailAlreadyRegistered)

        finish(uow_factory, first, refused, LATER)
        held = claim(uow_factory, attempt(started_at=MOMENT + timedelta(seconds=1)))

        assert held is not None
        assert held.outcome == refused

    def test_an_attempt_whose_lease_ran_out_loses_its_key_to_the_next(
        self, uow_factory: UnitOfWorkFactory
    ) -> None:
        stalled = attempt()
        claim(uow_factory, stalled)
        retry = attempt(started_at=stalled.expires_at)

        taken_over = claim(uow_factory, retry)
        stalled_finished = finish(uow_factory, stalled, Outcome(refusal=UserNotFound), LATER)
        with uow_factory() as unit:
            unit.keys.release(stalled)
            unit.commit()

        assert taken_over is None
        assert stalled_finished is False
        assert claim(uow_factory, attempt(started_at=retry.started_at)) == retry

    def test_releasing_frees_an_unfinished_key_only(self, uow_factory: UnitOfWorkFactory) -> None:
        released, kept = attempt("released"), attempt("kept")
        for record in (released, kept):
            claim(uow_factory, record)
        finish(uow_factory, kept, Outcome(refusal=UserChanged), LATER)

        with uow_factory() as unit:
            unit.keys.release(released)
            unit.keys.release(kept)
            unit.commit()

        assert claim(uow_factory, attempt("released", request="b" * 64)) is None
        assert claim(uow_factory, attempt("kept")) is not None

    def test_an_outcome_is_kept_with_the_write_it_answers_or_not_at_all(
        self, uow_factory: UnitOfWorkFactory
    ) -> None:
        first = attempt()
        claim(uow_factory, first)

        with uow_factory() as unit:
            user = unit.users.add(new_user())
            unit.keys.finish(first, Outcome(user=user), LATER)

        with uow_factory(read_only=True) as unit:
            assert unit.users.get(user.id) is None
        assert claim(uow_factory, attempt(started_at=MOMENT + timedelta(seconds=1))) == first

    def test_a_purge_forgets_the_oldest_expired_records_up_to_the_limit(
        self, uow_factory: UnitOfWorkFactory
    ) -> None:
        expired = [attempt(f"expired-{i}", MOMENT + timedelta(seconds=i)) for i in range(3)]
        live = attempt("live", started_at=LATER)
        for record in [*expired, live]:
            claim(uow_factory, record)
        purged_at = LATER

        with uow_factory() as unit:
            unit.keys.purge(purged_at, limit=2)
            unit.commit()
        with uow_factory() as unit:  # what is left: a claim by another request sees a record or not
            left = [
                unit.keys.claim(replace(record, fingerprint="b" * 64), MOMENT)
                for record in [*expired, live]
            ]

        assert [held is not None for held in left] == [False, False, True, True]
