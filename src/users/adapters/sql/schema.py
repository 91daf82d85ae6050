"""The schema: owned by the Alembic migrations in this package, which `migrate` applies.

On PostgreSQL a database is migrated one step at a time, each step in a transaction of its own
under a short `lock_timeout` (`migration_session`): a step that cannot get its lock gives way to
the traffic queueing behind it, and the run is tried again a few times before it gives up. The
replaced app's `users` table is adopted in one transaction, steps and all: it ends adopted or
exactly as it was. So is every SQLite database migrated: any write locks the whole file anyway.

Contract steps run only when asked (`contract=True`), or on an empty database, and not while a
build that does not know them is seen serving: checked before the run, and again just before
the first contract step.
"""

import time
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any, cast

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext, MigrationInfo
from alembic.script import Script, ScriptDirectory
from sqlalchemy import URL, Connection, delete, func, insert, inspect, select
from sqlalchemy.exc import OperationalError

from users.adapters.clock import system_clock
from users.adapters.sql.adoption import find_legacy_table, put_back, take_out_legacy_users
from users.adapters.sql.engine import refuse_unservable
from users.adapters.sql.errors import is_lock_not_available
from users.adapters.sql.migration_session import (
    MigrationOptions,
    migration_connection,
    migration_engine,
)
from users.adapters.sql.presence import PRESENCE_EXPIRY
from users.adapters.sql.refusals import MigrationRefused
from users.adapters.sql.steps import (
    PHASES,
    BuildSchema,
    Phase,
    SchemaRefused,
    Step,
    split_at_first_contract,
)
from users.adapters.sql.tables import schema_steps, serving_builds

_SCRIPTS = "users.adapters.sql:migrations"


class UnknownRevision(MigrationRefused):
    """The database records a revision this build has no migration for (a newer build's)."""


@dataclass(frozen=True, slots=True)
class Migration:
    """What `migrate` found and left: revisions before and after, any users it adopted, and
    the steps it left for `migrate --contract`."""

    before: str | None
    after: str | None
    adopted_users: int | None = None
    highest_adopted_id: int = 0
    held_back: Sequence[str] = ()

    def __str__(self) -> str:
        if self.adopted_users is not None:
            return (
                f"adopted the replaced app's users table ({self.adopted_users} users; "
                f"new ids follow {self.highest_adopted_id})"
            )
        done = (
            "already up to date"
            if self.before == self.after
            else f"migrated from {self.before or 'an empty database'}"
        )
        if not self.held_back:
            return done
        return (
            f"{done}; contract steps {', '.join(self.held_back)} wait for "
            "`users-api migrate --contract`, once every instance serves this build"
        )


@cache
def build_schema() -> BuildSchema:
    """The steps this build ships, oldest first, each with its phase."""
    scripts = reversed(list(_scripts().walk_revisions()))
    return BuildSchema(
        tuple(
            Step(script.revision, _phase(script), in_transaction=_in_transaction(script))
            for script in scripts
        )
    )


def expected_revision() -> str:
    """Where `migrate --contract` leaves the database: this build's last step."""
    return build_schema().head


def migrate(
    url: URL, options: MigrationOptions | None = None, *, contract: bool = False
) -> Migration:
    """Apply this build's pending expand steps to the database at `url` (and its contract steps
    too with `contract`), adopting the replaced app's table."""
    options = options or MigrationOptions()
    for attempt in range(1, options.attempts + 1):
        try:
            return _migrate_once(url, options, contract=contract)
        except OperationalError as error:
            if not is_lock_not_available(error):
                raise
            if attempt == options.attempts:
                raise MigrationRefused(
                    f"a step waited {options.lock_timeout_seconds:g} s for a lock {attempt} "
                    "times and gave way to traffic each time (a long transaction holds the "
                    "table?); the steps before it are applied, the rest are not: migrate again"
                ) from None
        time.sleep(min(0.5 * 2 ** (attempt - 1), 8))
    raise AssertionError("attempts is at least 1")


def _migrate_once(url: URL, options: MigrationOptions, *, contract: bool) -> Migration:
    with migration_connection(url, options) as connection:
        before = current_revision(connection)
        if before is None and find_legacy_table(connection):
            return _adopt(connection)
        if before is not None and _is_later_than_this_build(connection, before):
            return Migration(before, before)
        try:  # nothing serves on an empty database yet: it gets every step
            steps, held_back = build_schema().pending(before, contract=contract or not before)
        except SchemaRefused as refused:
            raise MigrationRefused(str(refused)) from None
        expand, contracting = split_at_first_contract(steps)
        gated = bool(contracting) and before is not None
        if gated:
            _refuse_contract_while_older_builds_serve(connection, contracting)
        if connection.dialect.name == "postgresql":
            connection.commit()  # from here, each step commits on its own
        if expand:
            command.upgrade(alembic_config(connection), expand[-1].revision)
        if contracting:
            if gated:  # again, just before: a build may have started serving meanwhile
                _refuse_contract_while_older_builds_serve(connection, contracting)
            command.upgrade(alembic_config(connection), contracting[-1].revision)
        connection.commit()
        after = steps[-1].revision if steps else before
        return Migration(before, after, held_back=[step.revision for step in held_back])


def _adopt(connection: Connection) -> Migration:
    """Every step and the replaced app's users, in the connection's one transaction: it ends
    adopted or exactly as it was."""
    if outside := [step.revision for step in build_schema().steps if not step.in_transaction]:
        raise MigrationRefused(
            f"step {', '.join(outside)} runs outside a transaction (an autocommit block), and "
            "the replaced app's table is adopted in one transaction: adopt it with an earlier "
            "build, then migrate with this one"
        )
    legacy = take_out_legacy_users(connection, adopted_at=system_clock())
    command.upgrade(alembic_config(connection), "head")
    put_back(connection, legacy)
    connection.commit()
    return Migration(None, expected_revision(), len(legacy.rows), legacy.highest_id)


def _refuse_contract_while_older_builds_serve(
    connection: Connection, steps: Sequence[Step]
) -> None:
    if connection.dialect.name != "postgresql":
        return  # one process serves a SQLite file, and keeps no presence (presence.py)
    # Every build that does not know the last of them would be left past a contract step.
    last = [step.revision for step in steps if step.phase == "contract"][-1]
    known = [step.revision for step in build_schema().steps]
    older = known[: known.index(last)]
    serving = connection.execute(  # by the database's clock, the one the rows are written by
        select(serving_builds.c.build, serving_builds.c.instance).where(
            serving_builds.c.seen_at > func.now() - PRESENCE_EXPIRY
        )
    ).all()
    if blocking := sorted({row.instance for row in serving if row.build in older}):
        raise MigrationRefused(
            f"contract step {last} removes what builds before it need, and "
            f"{len(blocking)} such processes still serve ({', '.join(blocking[:3])}"
            f"{', …' if len(blocking) > 3 else ''}; seen in the last "
            f"{PRESENCE_EXPIRY.seconds} s): replace them with this build, then migrate again"
        )
    connection.commit()  # the steps after it each run in a transaction of their own


def record_step(
    ctx: MigrationContext,
    step: MigrationInfo,
    heads: Collection[Any],  # noqa: ARG001
    run_args: Mapping[str, Any],  # noqa: ARG001
) -> None:
    """Alembic's `on_version_apply`: keep `schema_steps` in line with the applied steps, in the
    step's own transaction (from migration 0004, which creates the table, on)."""
    connection = ctx.connection
    assert connection is not None, "migrations run online"
    if not inspect(connection).has_table(schema_steps.name):
        return
    revision = step.up_revision_id
    assert revision is not None, "every step of this history has a revision"
    if not step.is_upgrade:
        connection.execute(delete(schema_steps).where(schema_steps.c.revision == revision))
        return
    recorded = set(connection.execute(select(schema_steps.c.revision)).scalars())
    steps = build_schema().steps
    upto = [s.revision for s in steps].index(revision) + 1
    applied = [s for s in steps[:upto] if s.revision not in recorded]
    if applied:
        now = system_clock()
        connection.execute(
            insert(schema_steps),
            [{"revision": s.revision, "phase": s.phase, "applied_at": now} for s in applied],
        )


def current_revision(connection: Connection) -> str | None:
    """The revision `alembic_version` records, `None` if none; refused if it records several."""
    heads = MigrationContext.configure(connection).get_current_heads()
    if len(heads) > 1:
        raise UnknownRevision(
            f"the database records several schema revisions {list(heads)}; this service's "
            "history is one line: keep the right one in alembic_version"
        )
    return heads[0] if heads else None


def alembic_config(connection: Connection | None = None) -> Config:
    """Alembic's configuration for this package's migrations, run on `connection` if given."""
    config = Config()
    config.set_main_option("script_location", _SCRIPTS)
    config.attributes["connection"] = connection
    return config


@cache
def _scripts() -> ScriptDirectory:
    return ScriptDirectory.from_config(alembic_config())


def _phase(script: Script) -> Phase:
    phase = getattr(script.module, "phase", None)
    if phase not in PHASES:
        raise ValueError(f"migration {script.revision} declares no phase {PHASES}: {phase!r}")
    return cast(Phase, phase)


def _in_transaction(script: Script) -> bool:
    """Whether the step runs wholly in its transaction: Alembic's autocommit blocks (a
    concurrent index) commit it and run outside any."""
    return "autocommit_block" not in Path(script.path).read_text()


def _is_later_than_this_build(connection: Connection, revision: str) -> bool:
    """Whether `revision` is a later build's that this one serves on (its expand steps);
    refused if this build cannot serve on it."""
    if revision in {step.revision for step in build_schema().steps}:
        return False
    try:
        if not inspect(connection).has_table(schema_steps.name):
            build_schema().serves_on([revision], dict)  # no step recorded: none follows
        refuse_unservable(build_schema(), lambda sql: connection.exec_driver_sql(sql).all())
    except SchemaRefused as refused:
        raise UnknownRevision(
            f"the database is at {refused}: serve the build that migrated it"
        ) from None
    return True


def revision_at(url: URL, options: MigrationOptions | None = None) -> str | None:
    """The schema revision of the database at `url`; `None` if it has none of this service's.
    A later revision this build cannot serve on is refused (`UnknownRevision`), as `migrate`
    refuses it."""
    engine = migration_engine(url, options or MigrationOptions())
    try:
        with engine.connect() as connection:
            revision = current_revision(connection)
            if revision is not None:
                _is_later_than_this_build(connection, revision)
            return revision
    finally:
        engine.dispose()
