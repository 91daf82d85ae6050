"""The `UserRepository` and `UnitOfWork` contract, run unchanged against every adapter.

A test class inherits `RepositoryContract` and provides a `uow` fixture: a callable that opens
a fresh unit of work on an empty store.
"""

from dataclasses import replace
from datetime import timedelta

import pytest

from tests.support import MOMENT, new_user, random_email
from users.domain.errors import EmailAlreadyRegistered, WriteInReadOnlyUnit
from users.domain.model import MAX_USER_ID, Email, User, UserChanges
from users.domain.ports import UnitOfWorkFactory

LATER = MOMENT + timedelta(hours=1)


def add_committed(uow: UnitOfWorkFactory, email: str | None = None, name: str = "Alice") -> User:
    with uow() as unit:
        user = unit.users.add(new_user(email, name))
        unit.commit()
    return user


class RepositoryContract:
    def test_an_added_user_reads_back_exactly(self, uow: UnitOfWorkFactory) -> None:
        added = add_committed(uow, "Ada.Lovelace@Example.com", name="Ada")

        with uow() as unit:
            stored = unit.users.get(added.id)

        assert stored == added
        assert stored.email.address == "Ada.Lovelace@example.com"
        assert stored.created_at == MOMENT
        assert stored.created_at.utcoffset() == timedelta(0)

    def test_ids_are_positive_and_increasing(self, uow: UnitOfWorkFactory) -> None:
        first, second = add_committed(uow), add_committed(uow)

        assert 0 < first.id < second.id

    def test_the_id_of_a_deleted_user_is_never_handed_out_again(
        self, uow: UnitOfWorkFactory
    ) -> None:
        add_committed(uow)
        deleted = add_committed(uow)
        with uow() as unit:
            unit.users.remove(deleted.id)
            unit.commit()

        assert add_committed(uow).id > deleted.id

    def test_an_address_taken_in_another_letter_case_is_refused(
        self, uow: UnitOfWorkFactory
    ) -> None:
        add_committed(uow, "Bob@Example.com")

        with pytest.raises(EmailAlreadyRegistered), uow() as unit:
            unit.users.add(new_user("bOB@example.COM"))

    def test_letter_case_is_ignored_in_any_script(self, uow: UnitOfWorkFactory) -> None:
        add_committed(uow, "ΣΩΚΡΆΤΗΣ@example.gr")

        with uow() as unit:
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
        uow: UnitOfWorkFactory,
        one: str,
        one_in_other_case: str,
        other: str,
        other_in_other_case: str,
    ) -> None:
        first, second = add_committed(uow, one), add_committed(uow, other)

        with uow() as unit:
            found = [
                unit.users.get_by_email(Email.parse(address))
                for address in (one_in_other_case, other_in_other_case)
            ]

        assert found == [first, second]

    def test_a_missing_user_is_none(self, uow: UnitOfWorkFactory) -> None:
        with uow() as unit:
            assert unit.users.get(MAX_USER_ID) is None
            assert unit.users.get_by_email(Email.parse(random_email())) is None

    def test_a_page_lists_users_after_the_cursor_in_id_order(self, uow: UnitOfWorkFactory) -> None:
        users = [add_committed(uow) for _ in range(5)]

        with uow() as unit:
            first = unit.users.list_page(after=0, limit=2)
            rest = unit.users.list_page(after=first[-1].id, limit=10)
            beyond = unit.users.list_page(after=MAX_USER_ID, limit=10)

        assert first + rest == users
        assert beyond == []

    def test_an_update_changes_only_what_it_names(self, uow: UnitOfWorkFactory) -> None:
        user = add_committed(uow, name="Alice")

        with uow() as unit:
            renamed = unit.users.update(user.id, UserChanges(updated_at=LATER, name="Alicia"))
            unit.commit()
        with uow() as unit:
            stored = unit.users.get(user.id)

        assert renamed == replace(user, name="Alicia", updated_at=LATER)
        assert stored == renamed

    def test_an_update_can_change_the_letter_case_of_the_own_address(
        self, uow: UnitOfWorkFactory
    ) -> None:
        user = add_committed(uow, "carol@example.com")
        email = Email.parse("CAROL@example.com")

        with uow() as unit:
            updated = unit.users.update(user.id, UserChanges(updated_at=LATER, email=email))
            unit.commit()

        assert updated is not None
        assert updated.email == email

    def test_an_update_to_another_users_address_is_refused_and_changes_nothing(
        self, uow: UnitOfWorkFactory
    ) -> None:
        taken = add_committed(uow)
        user = add_committed(uow)
        changes = UserChanges(updated_at=LATER, name="Mallory", email=taken.email)

        with pytest.raises(EmailAlreadyRegistered), uow() as unit:
            unit.users.update(user.id, changes)
        with uow() as unit:
            assert unit.users.get(user.id) == user

    def test_updating_or_removing_a_missing_user_reports_it(self, uow: UnitOfWorkFactory) -> None:
        with uow() as unit:
            assert unit.users.update(MAX_USER_ID, UserChanges(updated_at=LATER, name="x")) is None
            assert unit.users.remove(MAX_USER_ID) is False

    def test_a_removed_user_is_gone_and_its_address_free(self, uow: UnitOfWorkFactory) -> None:
        user = add_committed(uow)

        with uow() as unit:
            assert unit.users.remove(user.id) is True
            unit.commit()

        with uow() as unit:
            assert unit.users.get(user.id) is None
        assert add_committed(uow, user.email.address).email == user.email

    def test_writes_without_commit_are_discarded(self, uow: UnitOfWorkFactory) -> None:
        kept = add_committed(uow)

        with uow() as unit:
            discarded = unit.users.add(new_user())
            unit.users.update(kept.id, UserChanges(updated_at=LATER, name="Changed"))

        with uow() as unit:
            assert unit.users.get(discarded.id) is None
            assert unit.users.get(kept.id) == kept

    def test_a_failed_unit_of_work_leaves_nothing_behind(self, uow: UnitOfWorkFactory) -> None:
        taken = add_committed(uow)
        fresh = new_user()

        with pytest.raises(EmailAlreadyRegistered), uow() as unit:
            unit.users.add(fresh)
            unit.users.add(new_user(taken.email.address))
            unit.commit()

        with uow() as unit:
            assert unit.users.get_by_email(fresh.email) is None

    def test_a_unit_sees_its_own_uncommitted_writes(self, uow: UnitOfWorkFactory) -> None:
        with uow() as unit:
            user = unit.users.add(new_user())

            assert unit.users.get(user.id) == user
            assert unit.users.get_by_email(user.email) == user

    def test_a_read_only_unit_reads_and_refuses_every_write(self, uow: UnitOfWorkFactory) -> None:
        user = add_committed(uow)
        changes = UserChanges(updated_at=LATER, name="Changed")

        with uow(read_only=True) as unit:
            assert unit.users.get(user.id) == user
            with pytest.raises(WriteInReadOnlyUnit):
                unit.users.add(new_user())
            with pytest.raises(WriteInReadOnlyUnit):
                unit.users.update(user.id, changes)
            with pytest.raises(WriteInReadOnlyUnit):
                unit.users.remove(user.id)

        with uow(read_only=True) as unit:
            assert unit.users.list_page(after=0, limit=10) == [user]
