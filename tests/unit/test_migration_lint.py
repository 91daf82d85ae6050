"""The lint of migrations: what would block or break a rolling deploy is refused, unless a
`# safe: <rule>: <reason>` comment says why it is not."""

import textwrap
from pathlib import Path

import pytest
from tools.lint_migrations import lint_source, main

HEADER = '''"""A migration."""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
'''


def migration(upgrade: str, *, phase: str = 'phase = "expand"', more: str = "") -> str:
    body = textwrap.indent(textwrap.dedent(upgrade).strip(), "    ")
    return f"{HEADER}{phase}\n\n\ndef upgrade() -> None:\n{body}\n\n{textwrap.dedent(more)}"


def rules_broken(source: str) -> list[str]:
    return sorted(finding.rule for finding in lint_source(source))


AUTOCOMMIT = "with op.get_context().autocommit_block():\n    "


@pytest.mark.parametrize(
    ("upgrade", "rule"),
    [
        ('op.drop_column("users", "name")', "destructive-expand"),
        ('op.drop_table("users")', "destructive-expand"),
        ('op.drop_constraint("uq_users_email_key", "users")', "destructive-expand"),
        ('op.drop_index("ix_users_name", table_name="users")', "destructive-expand"),
        ('op.alter_column("users", "name", new_column_name="full_name")', "destructive-expand"),
        ('op.rename_table("users", "people")', "destructive-expand"),
        ('op.execute("ALTER TABLE users DROP COLUMN name")', "destructive-expand"),
        ('op.alter_column("users", "name", type_=sa.Text())', "table-rewrite"),
        ('op.alter_column("users", "name", nullable=False)', "set-not-null"),
        (
            'op.add_column("users", sa.Column("age", sa.Integer(), nullable=False))',
            "not-null-without-default",
        ),
        (
            'op.add_column("users", sa.Column("t", sa.Uuid(), server_default=sa.func.uuidv4()))',
            "table-rewrite",
        ),
        ('op.add_column("users", sa.Column("n", sa.Integer(), sa.Identity()))', "table-rewrite"),
        ('op.create_primary_key("pk_users", "users", ["id"])', "validating-constraint"),
        (
            'op.create_unique_constraint("uq_users_name", "users", ["name"])',
            "validating-constraint",
        ),
        (
            'op.create_foreign_key("fk_keys_users", "keys", "users", ["user_id"], ["id"])',
            "validating-constraint",
        ),
        ('op.create_index("ix_users_name", "users", ["name"])', "non-concurrent-index"),
        (
            'op.create_index("ix_users_name", "users", ["name"], postgresql_concurrently=True)',
            "concurrently-in-transaction",
        ),
        (
            'with op.batch_alter_table("users") as batch_op:\n'
            '    batch_op.alter_column("name", nullable=False)',
            "set-not-null",
        ),
        ('op.execute("LOCK TABLE users IN ACCESS EXCLUSIVE MODE")', "lock-without-timeout"),
        ('op.execute("SET lock_timeout = 0")', "lock-without-timeout"),
        ('op.execute(sa.text("SET statement_timeout TO 0"))', "lock-without-timeout"),
        ('op.execute("RESET ALL")', "lock-without-timeout"),
        (AUTOCOMMIT + 'op.execute("UPDATE users SET version = 1")', "lock-without-timeout"),
        (
            AUTOCOMMIT + 'op.execute("CREATE INDEX CONCURRENTLY i ON users (name); ANALYZE users")',
            "lock-without-timeout",
        ),
        ('op.execute("ALTER TABLE users ALTER COLUMN name TYPE text")', "table-rewrite"),
        ('op.execute("ALTER TABLE users ALTER name SET NOT NULL")', "set-not-null"),
        ('op.execute("create index ix_users_name on users (name)")', "non-concurrent-index"),
        ('op.execute("VACUUM FULL users")', "table-rewrite"),
        ('op.execute("CLUSTER users USING pk_users")', "table-rewrite"),
        (
            'op.execute("ALTER TABLE keys ADD FOREIGN KEY (user_id) REFERENCES users (id)")',
            "validating-constraint",
        ),
        ('op.execute("DROP TRIGGER users_name_in_step ON users")', "destructive-expand"),
        ('op.execute("DROP FUNCTION users_name_in_step()")', "destructive-expand"),
        ('op.execute("ALTER TABLE users ADD COLUMN age int NOT NULL")', "not-null-without-default"),
        ('op.execute("ALTER TABLE users ADD age int NOT NULL")', "not-null-without-default"),
        (
            'op.add_column("users", sa.Column("handle", sa.String(30), unique=True))',
            "validating-constraint",
        ),
    ],
)
def test_an_unsafe_operation_is_refused_by_its_rule(upgrade: str, rule: str) -> None:
    assert rules_broken(migration(upgrade)) == [rule]


@pytest.mark.parametrize(
    "upgrade",
    [
        'op.add_column("users", sa.Column("nickname", sa.String(100)))',
        'op.add_column("users", sa.Column("v", sa.Integer(), nullable=False, server_default="1"))',
        AUTOCOMMIT + 'op.create_index("ix_n", "users", ["name"], postgresql_concurrently=True)',
        AUTOCOMMIT + 'op.execute("CREATE UNIQUE INDEX CONCURRENTLY ix_n ON users (name)")',
        """
        op.create_table("keys", sa.Column("user_id", sa.BigInteger()))
        op.create_index("ix_keys_user_id", "keys", ["user_id"])
        op.create_foreign_key("fk_keys_users", "keys", "users", ["user_id"], ["id"])
        """,
        'op.get_bind().execute(sa.text("UPDATE users SET name = trim(name)"))',
        'op.execute("ALTER TABLE keys ADD FOREIGN KEY (user_id) REFERENCES users (id) NOT VALID")',
        'op.execute("ALTER TABLE keys VALIDATE CONSTRAINT fk_keys_users")',
        'op.execute("ALTER TABLE users ADD COLUMN age int NOT NULL DEFAULT 0")',
        'op.execute("ALTER TABLE keys ADD CONSTRAINT c CHECK (n IS NOT NULL) NOT VALID")',
    ],
)
def test_a_safe_operation_passes(upgrade: str) -> None:
    assert rules_broken(migration(upgrade)) == []


def test_sql_kept_in_a_module_constant_is_read_as_if_written_in_the_call() -> None:
    source = migration(
        "op.execute(DROP_NAME)\nop.execute(sa.text(INDEX))",
        more="""
        DROP_NAME = "ALTER TABLE users DROP COLUMN name"
        INDEX = (
            "CREATE INDEX ix_users_email "
            "ON users (email)"
        )
        """,
    )

    assert rules_broken(source) == ["destructive-expand", "non-concurrent-index"]


@pytest.mark.parametrize("phase", ["", 'phase = "migrate"', "phase = EXPAND"])
def test_a_migration_without_expand_or_contract_as_its_phase_is_refused(phase: str) -> None:
    assert rules_broken(migration("pass", phase=phase)) == ["missing-phase"]


def test_a_contract_step_may_drop_and_rename() -> None:
    upgrade = """
        op.drop_column("users", "name")
        op.alter_column("users", "email", new_column_name="address")
        op.drop_index("ix_users_name", table_name="users")
        op.execute("DROP TABLE apps")
        with op.get_context().autocommit_block():
            op.drop_index("ix_users_email", table_name="users", postgresql_concurrently=True)
    """

    assert rules_broken(migration(upgrade, phase='phase: str = "contract"')) == []


def test_a_contract_step_may_not_rewrite_a_table() -> None:
    upgrade = 'op.alter_column("users", "name", type_=sa.Text())'

    assert rules_broken(migration(upgrade, phase='phase = "contract"')) == ["table-rewrite"]


def test_the_functions_that_upgrade_calls_are_read_and_downgrade_is_not() -> None:
    more = """
        def drop_names() -> None:
            op.drop_column("users", "name")


        def downgrade() -> None:
            op.drop_table("users")
    """

    assert rules_broken(migration("drop_names()", more=more)) == ["destructive-expand"]


@pytest.mark.parametrize(
    "upgrade",
    [
        'op.create_index("ix_users_name", "users", ["name"])  # safe: non-concurrent-index: 9 rows',
        """
        # safe: non-concurrent-index: the table has nine rows, and never more
        op.create_index("ix_users_name", "users", ["name"])
        """,
    ],
)
def test_a_safe_comment_with_a_reason_on_the_line_or_just_above_accepts_it(upgrade: str) -> None:
    assert rules_broken(migration(upgrade)) == []


@pytest.mark.parametrize(
    "comment",
    [
        "# safe: non-concurrent-index: nine rows\n\n",
        "# safe: table-rewrite: nine rows\n",
    ],
)
def test_a_safe_comment_further_above_or_for_another_rule_accepts_nothing(comment: str) -> None:
    upgrade = comment + 'op.create_index("ix_users_name", "users", ["name"])'

    assert rules_broken(migration(upgrade)) == ["non-concurrent-index"]


@pytest.mark.parametrize(
    "comment",
    [
        "# safe: non-concurrent-index:",
        "# safe: non-concurrent-index",
        "# safe: small-table: nine rows",
        "#safe:non-concurrent-index nine rows",
    ],
)
def test_a_safe_comment_without_a_reason_or_a_known_rule_is_itself_refused(comment: str) -> None:
    upgrade = f'op.create_index("ix_users_name", "users", ["name"])  {comment}'

    assert rules_broken(migration(upgrade)) == ["bad-suppression", "non-concurrent-index"]


def test_the_command_prints_one_line_per_finding_and_fails(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = migration(
        'op.add_column("users", sa.Column("nickname", sa.Text()))\nop.drop_table("t")'
    )
    (tmp_path / "0009_unsafe.py").write_text(source)
    line = source.splitlines().index('    op.drop_table("t")') + 1

    status = main([str(tmp_path)])

    assert status == 1
    assert capsys.readouterr().err == (
        f"{tmp_path / '0009_unsafe.py'}:{line}: destructive-expand: op.drop_table: "
        "breaks builds still serving the old schema: do it in a contract step\n"
    )


def test_the_command_is_silent_and_passes_when_every_migration_is_safe(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "0009_safe.py").write_text(migration("pass"))

    status = main([str(tmp_path)])

    assert (status, capsys.readouterr().err) == (0, "")
