"""Which schemas a build serves on: its own, and later ones only expand steps away."""

from collections.abc import Iterable

import pytest

from users.adapters.sql.steps import BuildSchema, SchemaRefused, Step

# A build whose last step is a contract step: it needs 0003, and also serves once 0004 ran.
BUILD = BuildSchema(
    (
        Step("0001", "expand"),
        Step("0002", "expand"),
        Step("0003", "expand"),
        Step("0004", "contract"),
    )
)
ITS_HISTORY = {step.revision: step.phase for step in BUILD.steps}


def nothing_recorded() -> dict[str, str]:
    raise AssertionError("a revision the build knows needs no second query")


@pytest.mark.parametrize("revision", ["0003", "0004"])
def test_a_build_serves_from_its_last_expand_step_on(revision: str) -> None:
    BUILD.serves_on([revision], nothing_recorded)


@pytest.mark.parametrize("revisions", [[], ["0002"], ["0003", "0004"]])
def test_a_build_refuses_an_older_schema_none_or_several_revisions(revisions: list[str]) -> None:
    with pytest.raises(SchemaRefused, match=r"this build needs 0003|older than 0003"):
        BUILD.serves_on(revisions, nothing_recorded)


def test_a_build_serves_on_a_later_builds_expand_steps() -> None:
    later = {**ITS_HISTORY, "0005": "expand", "0006": "expand"}

    BUILD.serves_on(["0006"], lambda: later)


def test_a_build_refuses_a_schema_past_a_contract_step_it_does_not_know() -> None:
    later = {**ITS_HISTORY, "0005": "expand", "0006": "contract", "0007": "expand"}

    with pytest.raises(SchemaRefused, match="past contract step 0006 that this build does not"):
        BUILD.serves_on(["0007"], lambda: later)


@pytest.mark.parametrize(
    "recorded",
    [
        {"0001": "expand", "0999": "expand"},  # another line of history
        {**ITS_HISTORY},  # the revision is not recorded at all
    ],
)
def test_a_build_refuses_a_revision_that_does_not_follow_its_own(recorded: dict[str, str]) -> None:
    with pytest.raises(SchemaRefused, match="which this build does not know"):
        BUILD.serves_on(["0999"], lambda: recorded)


def test_the_steps_a_build_still_applies_follow_the_databases_revision() -> None:
    assert [step.revision for step in BUILD.after("0002")] == ["0003", "0004"]
    assert [step.revision for step in BUILD.after(None)] == ["0001", "0002", "0003", "0004"]
    assert BUILD.after("0004") == ()
    assert (BUILD.head, BUILD.needs) == ("0004", "0003")


@pytest.mark.parametrize(
    ("revision", "behind"),
    [(None, True), ("0002", True), ("0003", False), ("0004", False), ("0009", False)],
)
def test_a_database_is_behind_when_it_lacks_a_step_the_build_needs(
    revision: str | None, behind: bool
) -> None:
    assert BUILD.is_behind(revision) is behind


def revisions(steps: Iterable[Step]) -> list[str]:
    return [step.revision for step in steps]


def test_migrate_applies_expand_steps_and_holds_contract_steps_back_until_asked() -> None:
    now, held_back = BUILD.pending("0002", contract=False)
    all_now, none_held = BUILD.pending("0002", contract=True)

    assert (revisions(now), revisions(held_back)) == (["0003"], ["0004"])
    assert (revisions(all_now), revisions(none_held)) == (["0003", "0004"], [])


def test_an_expand_step_this_build_needs_behind_a_pending_contract_step_is_refused() -> None:
    # Held back with the contract step before it, 0005 would keep this build from serving.
    build = BuildSchema((*BUILD.steps, Step("0005", "expand")))

    with pytest.raises(SchemaRefused, match="needs expand step 0005, which follows contract st"):
        build.pending("0003", contract=False)
    assert revisions(build.pending("0003", contract=True)[0]) == ["0004", "0005"]
    assert revisions(build.pending("0004", contract=False)[0]) == ["0005"]
