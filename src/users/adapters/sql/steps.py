"""Schema steps, expand or contract, and which schemas a build can serve on.

A change that old and new builds must both survive is made in steps: an *expand* step adds what
a new build needs and leaves every older build working; a *contract* step removes what only
older builds used. So a build serves on its own revision, on any later one reached by expand
steps only, and on its own contract steps; never on an older schema, past a contract step it
does not know, or on a history that is not its own. The database records each step's phase
(`schema_steps`), because an old build has never seen the newer migration files.
"""

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal, get_args

Phase = Literal["expand", "contract"]
PHASES: tuple[Phase, ...] = get_args(Phase)


@dataclass(frozen=True, slots=True)
class Step:
    revision: str
    phase: Phase
    # False for a step with an autocommit block (a concurrent index): it cannot be one part
    # of a larger transaction.
    in_transaction: bool = True


class SchemaRefused(Exception):
    """The database's schema is not one this build can serve on; the message says why."""


@dataclass(frozen=True, slots=True)
class BuildSchema:
    """The steps a build ships, oldest first."""

    steps: Sequence[Step]

    @property
    def head(self) -> str:
        """The build's last step: where `migrate --contract` leaves the database."""
        return self.steps[-1].revision

    @property
    def needs(self) -> str:
        """The build's last expand step: its code needs everything up to it."""
        return next(step.revision for step in reversed(self.steps) if step.phase == "expand")

    def serves_on(
        self, revisions: Sequence[str], recorded: Callable[[], Mapping[str, str]]
    ) -> None:
        """Refuse (`SchemaRefused`) a database at `revisions` this build cannot serve on.

        `recorded` reads the phases the database records by revision; it is called only for a
        revision this build does not know, so the usual check costs no second query.
        """
        if len(revisions) != 1:
            found = f"schema revisions {list(revisions)}" if revisions else "no schema revision"
            raise SchemaRefused(f"{found}; this build needs {self.needs}")
        revision = revisions[0]
        if self.is_behind(revision):
            raise SchemaRefused(f"schema revision {revision}, older than {self.needs}")
        known = self._revisions
        if revision in known:
            return
        phases = recorded()
        if self.head not in phases or revision not in phases:
            raise SchemaRefused(
                f"schema revision {revision!r}, which this build does not know (its last is "
                f"{self.head!r}) and does not follow"
            )
        if contracted := sorted(
            r for r, phase in phases.items() if r not in known and phase != "expand"
        ):
            raise SchemaRefused(
                f"schema revision {revision}, past contract step {', '.join(contracted)} that "
                "this build does not know"
            )

    def is_behind(self, revision: str | None) -> bool:
        """Whether a database at `revision` (none, or any) lacks a step this build needs."""
        known = self._revisions
        return revision is None or (
            revision in known and known.index(revision) < known.index(self.needs)
        )

    def after(self, revision: str | None) -> Sequence[Step]:
        """The steps still to apply to a database at `revision` (one of this build's)."""
        known = self._revisions
        return self.steps[known.index(revision) + 1 :] if revision is not None else self.steps

    def pending(
        self, revision: str | None, *, contract: bool
    ) -> tuple[Sequence[Step], Sequence[Step]]:
        """The steps to apply now to a database at `revision`, and those held back until
        `migrate --contract` (from the first contract step on). Refused when an expand step
        this build needs would be held back: it could never serve."""
        steps = self.after(revision)
        if contract:
            return steps, ()
        now, held_back = split_at_first_contract(steps)
        if needed := [step.revision for step in held_back if step.phase == "expand"]:
            raise SchemaRefused(
                f"this build needs expand step {needed[-1]}, which follows contract step "
                f"{held_back[0].revision}: run `users-api migrate --contract` once no build "
                f"older than {held_back[0].revision} serves"
            )
        return now, held_back

    @property
    def _revisions(self) -> list[str]:
        return [step.revision for step in self.steps]


def split_at_first_contract(steps: Sequence[Step]) -> tuple[Sequence[Step], Sequence[Step]]:
    """The steps before the first contract step, and the rest."""
    phases = [step.phase for step in steps]
    first = phases.index("contract") if "contract" in phases else len(steps)
    return steps[:first], steps[first:]
