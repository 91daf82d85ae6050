"""Refuse the Alembic migrations that would block or break a rolling deploy on PostgreSQL.

    python -m tools.lint_migrations src/users/adapters/sql/migrations/versions

Each migration declares its step at module level: `phase = "expand"` (additive: old builds keep
working) or `phase = "contract"` (removes what only old builds used; run later, on request). The
runner runs each step in a transaction with `SET LOCAL lock_timeout`, retried; an
`op.get_context().autocommit_block()` runs outside it, so that timeout does not hold there.

The source of `upgrade()`, and of the module's functions it calls, is read (never run); `op.*`
calls, those of `with op.batch_alter_table(...) as batch_op` and any `.execute(...)` are checked.
Each finding is one line, `path:line: rule: message`. The rules:

- `missing-phase`: no `phase`, or one other than "expand" and "contract".
- `destructive-expand`: in an expand step, `op.drop_column`, `op.drop_table`,
  `op.drop_constraint`, `op.drop_index`, `op.rename_table`, `op.alter_column(new_column_name=)`,
  or SQL `DROP TABLE|INDEX|TRIGGER|FUNCTION|VIEW|SEQUENCE|TYPE|COLUMN|CONSTRAINT`, `RENAME`.
  Dropping an index changes no result, but the old build may rely on it for its uniqueness or
  for its query plans: it goes in contract.
- `table-rewrite`: `op.alter_column(type_=)`; `op.add_column` of a column whose server_default is
  not a Python literal (only literals are known to be constant: a volatile default rewrites the
  table; a stable one such as `now()` does not, so say so) or that is generated (`Identity`,
  `Computed`); SQL `ALTER ... TYPE`, `VACUUM FULL`, `CLUSTER`.
- `set-not-null`: `op.alter_column(nullable=False)` or SQL `SET NOT NULL`: a scan of the whole
  table under ACCESS EXCLUSIVE.
- `not-null-without-default`: `op.add_column` of a `nullable=False` column without a
  server_default, or SQL `ALTER TABLE ... ADD ... NOT NULL` without `DEFAULT`: it fails on a
  table with rows.
- `validating-constraint`: `op.create_primary_key`, `op.create_unique_constraint`,
  `op.create_foreign_key`, `op.create_check_constraint`, `op.create_exclude_constraint` on a table
  not created by the same migration, `op.add_column` of a `unique=True` column, or SQL
  `ADD ... PRIMARY KEY|UNIQUE|FOREIGN KEY|CHECK|EXCLUDE` without `NOT VALID` or `USING INDEX`:
  every row is checked under a strong lock.
- `non-concurrent-index`: `op.create_index` without `postgresql_concurrently=True` on a table not
  created by the same migration (an empty new table is safe), or SQL `CREATE INDEX` without
  `CONCURRENTLY`: writes wait for the whole build.
- `concurrently-in-transaction`: a concurrent `op.create_index`/`op.drop_index` outside
  `with op.get_context().autocommit_block():`; PostgreSQL refuses it in a transaction.
- `lock-without-timeout`: SQL `LOCK`, `SET lock_timeout`, `SET statement_timeout`, `RESET`, or
  anything in an `autocommit_block()` but a concurrent index build or drop.
- `bad-suppression`: a `# safe:` comment not in the form below, or naming an unknown rule.

A finding is accepted when a comment on the offending call's first line, or on the line just
above it, says why it is safe, in exactly this form (the reason must not be empty):

    # safe: <rule>: <reason>

SQL is read where it is a literal in the call or a string constant of the module. Not seen: SQL
built otherwise (a variable, a SQLAlchemy construct), columns built outside the `op.add_column`
call, and what the called functions of other modules do.
"""

import ast
import io
import re
import sys
import tokenize
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

RULES = {
    "missing-phase": 'declare phase = "expand" or phase = "contract" at module level',
    "destructive-expand": "breaks builds still serving the old schema: do it in a contract step",
    "table-rewrite": "rewrites the table under an ACCESS EXCLUSIVE lock",
    "set-not-null": "scans the whole table under an ACCESS EXCLUSIVE lock",
    "not-null-without-default": "a NOT NULL column without a server_default fails on rows",
    "validating-constraint": "checks every row of an existing table under a strong lock",
    "non-concurrent-index": "blocks writes for the whole build: use postgresql_concurrently=True",
    "concurrently-in-transaction": "put it in `with op.get_context().autocommit_block():`",
    "lock-without-timeout": "locks without the runner's lock_timeout, or changes it",
    "bad-suppression": "write `# safe: <rule>: <reason>` with a known rule and a reason",
}
SAFE = re.compile(r"#\s*safe:\s*(?P<rule>[\w-]+):\s*\S.*")
HELPERS = {"f", "get_bind", "get_context", "inline_literal", "batch_alter_table"}  # no SQL
DROPS = {"drop_column", "drop_table", "drop_constraint", "drop_index", "rename_table"}
CONSTRAINTS = {"create_primary_key", "create_foreign_key", "create_unique_constraint"}
CONSTRAINTS |= {"create_check_constraint", "create_exclude_constraint"}
INDEXES = {"create_index", "drop_index"}
# The operations whose first argument is the table; the others name it second.
TABLE_FIRST = {"create_table", "drop_table", "rename_table", "add_column", "alter_column"}
TABLE_FIRST |= {"drop_column"}
CONCURRENT_INDEX = re.compile(r"(CREATE\s+(UNIQUE\s+)?|DROP\s+)INDEX\s+CONCURRENTLY\b")
SQL_RULES = [
    (
        "destructive-expand",
        r"^DROP\s+(TABLE|INDEX|TRIGGER|FUNCTION|VIEW|SEQUENCE|TYPE)\b"
        r"|\bDROP\s+(COLUMN|CONSTRAINT)\b|\bRENAME\b",
    ),
    ("table-rewrite", r"^ALTER\s+TABLE\b.*\bALTER\s+(COLUMN\s+)?\S+\s+(SET\s+DATA\s+)?TYPE\b"),
    ("table-rewrite", r"^VACUUM\b.*\bFULL\b|^CLUSTER\b"),
    ("set-not-null", r"\bSET\s+NOT\s+NULL\b"),
    (
        "not-null-without-default",
        r"^ALTER\s+TABLE\b.*\bADD\s+(?!CONSTRAINT\b|PRIMARY\b|UNIQUE\b|FOREIGN\b|CHECK\b|EXCLUDE\b)"
        r"(?!.*\bDEFAULT\b).*\bNOT\s+NULL\b",
    ),
    (
        "validating-constraint",
        r"\bADD\s+(CONSTRAINT\s+\S+\s+)?(PRIMARY\s+KEY|UNIQUE|FOREIGN\s+KEY"
        r"|CHECK|EXCLUDE)\b(?!.*\b(NOT\s+VALID|USING\s+INDEX)\b)",
    ),
    ("non-concurrent-index", r"^CREATE\s+(UNIQUE\s+)?INDEX\b(?!\s+CONCURRENTLY)"),
    (
        "lock-without-timeout",
        r"^(LOCK|RESET)\b|^SET\s+((SESSION|LOCAL)\s+)?(LOCK|STATEMENT)_TIMEOUT",
    ),
]


@dataclass(frozen=True)
class Finding:
    line: int
    rule: str
    message: str


@dataclass(frozen=True)
class Call:
    """An operation as written, with a batch's table put back among its arguments."""

    name: str
    node: ast.Call
    args: list[ast.expr]
    autocommit: bool
    constants: Mapping[str, str]

    def argument(self, index: int, keyword: str) -> ast.expr | None:
        return self.args[index] if index < len(self.args) else _keyword(self.node, keyword)

    def table(self) -> str | None:
        keyword = "source_table" if self.name == "create_foreign_key" else "table_name"
        table = self.argument(0 if self.name in TABLE_FIRST else 1, keyword)
        return _string(table)


@dataclass(frozen=True)
class _Scope:
    autocommit: bool = False
    batches: Mapping[str, ast.expr] = field(default_factory=dict)
    # The module's string constants by name: SQL is often kept in one.
    constants: Mapping[str, str] = field(default_factory=dict)


def lint_source(source: str) -> list[Finding]:
    """The findings of one migration's source that no `# safe:` comment accepts."""
    tree = ast.parse(source)
    accepted, refused = _suppressions(source)
    phase, line = _phase(tree)
    findings = [] if phase in ("expand", "contract") else [_finding(line, "missing-phase")]
    findings += _call_findings(_upgrade_calls(tree), expand=phase != "contract")
    kept = [f for f in findings if not {(f.line, f.rule), (f.line - 1, f.rule)} & accepted]
    return sorted(kept + refused, key=lambda f: f.line)


def _suppressions(source: str) -> tuple[set[tuple[int, str]], list[Finding]]:
    """The (line, rule) pairs `# safe:` comments accept, and the comments that accept nothing."""
    accepted, refused = set(), []
    for token in tokenize.generate_tokens(io.StringIO(source).readline):
        if token.type != tokenize.COMMENT or not re.match(r"#\s*safe\s*:", token.string):
            continue
        if (match := SAFE.fullmatch(token.string)) and match["rule"] in RULES:
            accepted.add((token.start[0], match["rule"]))
        else:
            refused.append(_finding(token.start[0], "bad-suppression"))
    return accepted, refused


def _phase(tree: ast.Module) -> tuple[str | None, int]:
    """The module's `phase = ...` and its line (None and line 1 when there is none)."""
    for node in tree.body:
        target = node.targets[0] if isinstance(node, ast.Assign) else getattr(node, "target", None)
        if isinstance(target, ast.Name) and target.id == "phase":
            return _string(getattr(node, "value", None)), node.lineno
    return None, 1


def _upgrade_calls(tree: ast.Module) -> list[Call]:
    """The operations of `upgrade()` and of the module's functions it calls, at any depth."""
    functions = {node.name: node for node in tree.body if isinstance(node, ast.FunctionDef)}
    reached, todo = set(), ["upgrade"]
    while todo:
        if (name := todo.pop()) in functions and name not in reached:
            reached.add(name)
            todo += [_callee(node) or "" for node in ast.walk(functions[name])]
    scope = _Scope(constants=_constants(tree))
    return [call for name in sorted(reached) for call in _calls(functions[name], scope)]


def _constants(tree: ast.Module) -> dict[str, str]:
    """`NAME = "..."` at module level, by name."""
    return {
        node.targets[0].id: value
        for node in tree.body
        if isinstance(node, ast.Assign)
        and isinstance(node.targets[0], ast.Name)
        and (value := _string(node.value)) is not None
    }


def _calls(node: ast.AST, scope: _Scope) -> Iterator[Call]:
    if isinstance(node, ast.With):
        scope = _enter(node, scope)
    if isinstance(node, ast.Call) and (call := _operation(node, scope)):
        yield call
    for child in ast.iter_child_nodes(node):
        yield from _calls(child, scope)


def _enter(node: ast.With, scope: _Scope) -> _Scope:
    """The scope inside `with`: in an autocommit block, or with a batch's receiver named."""
    autocommit, batches = scope.autocommit, dict(scope.batches)
    for item in node.items:
        expression, name = item.context_expr, _callee(item.context_expr)
        autocommit |= name == "autocommit_block"
        if name == "batch_alter_table" and isinstance(item.optional_vars, ast.Name):
            table = _argument(expression, 0, "table_name") or ast.Constant(None)
            batches[item.optional_vars.id] = table
    return _Scope(autocommit, batches, scope.constants)


def _operation(node: ast.Call, scope: _Scope) -> Call | None:
    """`op.<name>(...)`, `<batch>.<name>(...)` or `<anything>.execute(...)` as a Call."""
    if not isinstance(node.func, ast.Attribute) or node.func.attr in HELPERS:
        return None
    name, receiver = node.func.attr, node.func.value
    receiver_name = receiver.id if isinstance(receiver, ast.Name) else ""
    args = node.args
    if receiver_name in scope.batches:
        index = 0 if name in TABLE_FIRST else 1
        args = [*args[:index], scope.batches[receiver_name], *args[index:]]
    elif receiver_name != "op" and name != "execute":
        return None
    return Call(name, node, args, scope.autocommit, scope.constants)


def _call_findings(calls: list[Call], *, expand: bool) -> Iterator[Finding]:
    new_tables = {call.table() for call in calls if call.name == "create_table"} - {None}
    for call in calls:
        for rule in dict.fromkeys(_rules_broken(call, call.table() in new_tables)):
            if expand or rule != "destructive-expand":
                yield _finding(call.node.lineno, rule, ast.unparse(call.node.func))


def _rules_broken(call: Call, new_table: bool) -> Iterator[str]:
    """The rules one operation breaks, whatever the phase."""
    statements = _statements(call)
    yield from _operation_rules(call, new_table)
    if call.name == "add_column":
        yield from _column_rules(call.argument(1, "column"))
    yield from (rule for s in statements for rule, pattern in SQL_RULES if re.search(pattern, s))
    if call.autocommit and not _is_concurrent_index(call, statements):
        yield "lock-without-timeout"


def _operation_rules(call: Call, new_table: bool) -> Iterator[str]:
    name, keywords = call.name, {k.arg: k.value for k in call.node.keywords}
    concurrently = _is(keywords.get("postgresql_concurrently"), True)
    if name in DROPS or (name == "alter_column" and "new_column_name" in keywords):
        yield "destructive-expand"
    if name == "alter_column" and "type_" in keywords:
        yield "table-rewrite"
    if name == "alter_column" and _is(keywords.get("nullable"), False):
        yield "set-not-null"
    if name in CONSTRAINTS and not new_table:
        yield "validating-constraint"
    if name == "create_index" and not concurrently and not new_table:
        yield "non-concurrent-index"
    if name in INDEXES and concurrently and not call.autocommit:
        yield "concurrently-in-transaction"


def _is_concurrent_index(call: Call, statements: list[str]) -> bool:
    """Whether the operation only builds or drops an index concurrently."""
    if call.name == "execute":
        return bool(statements) and all(CONCURRENT_INDEX.match(s) for s in statements)
    return call.name in INDEXES and _is(_keyword(call.node, "postgresql_concurrently"), True)


def _column_rules(column: ast.expr | None) -> Iterator[str]:
    """What adding `sa.Column(...)` breaks: a NOT NULL without default, or a rewrite."""
    if not isinstance(column, ast.Call):
        return
    default = _keyword(column, "server_default")
    if _is(_keyword(column, "nullable"), False) and _is(default, None):
        yield "not-null-without-default"
    if _is(_keyword(column, "unique"), True):
        yield "validating-constraint"  # a unique index built under ACCESS EXCLUSIVE
    literal = isinstance(default, ast.Constant) and isinstance(default.value, str | int | float)
    generated = any(_callee(argument) in ("Identity", "Computed") for argument in column.args)
    if generated or not (literal or _is(default, None)):
        yield "table-rewrite"


def _statements(call: Call) -> list[str]:
    """The SQL statements of an `execute`, upper-cased, one line each ([] if not a literal)."""
    sql = _sql(call.argument(0, "sqltext"), call.constants) if call.name == "execute" else None
    sql = re.sub(r"--[^\n]*", "", sql or "").upper()
    return [" ".join(statement.split()) for statement in sql.split(";") if statement.strip()]


def _sql(expression: ast.expr | None, constants: Mapping[str, str]) -> str | None:
    """The SQL of a string, a module constant, an f-string (holes as `_`) or `text(...)` of
    one."""
    if isinstance(expression, ast.Call) and _callee(expression) == "text" and expression.args:
        expression = expression.args[0]
    if isinstance(expression, ast.Name):
        return constants.get(expression.id)
    if isinstance(expression, ast.JoinedStr):
        parts = expression.values
        return "".join(str(p.value) if isinstance(p, ast.Constant) else "_" for p in parts)
    return _string(expression)


def _string(expression: ast.expr | None) -> str | None:
    if isinstance(expression, ast.Constant) and isinstance(expression.value, str):
        return expression.value
    return None


def _callee(expression: ast.AST) -> str | None:
    """`name` of a call to `name(...)` or `x.name(...)`."""
    if not isinstance(expression, ast.Call):
        return None
    function = expression.func
    return function.attr if isinstance(function, ast.Attribute) else getattr(function, "id", None)


def _argument(node: ast.expr, index: int, keyword: str) -> ast.expr | None:
    if not isinstance(node, ast.Call):
        return None
    return node.args[index] if index < len(node.args) else _keyword(node, keyword)


def _keyword(node: ast.Call, name: str) -> ast.expr | None:
    return next((keyword.value for keyword in node.keywords if keyword.arg == name), None)


def _is(expression: ast.expr | None, value: object) -> bool:
    """Whether `expression` is the literal `value`; an absent argument counts as None."""
    if expression is None:
        return value is None
    return isinstance(expression, ast.Constant) and expression.value is value


def _finding(line: int, rule: str, where: str = "") -> Finding:
    return Finding(line, rule, f"{where}: {RULES[rule]}" if where else RULES[rule])


def main(folders: list[str]) -> int:
    """Print each finding of the migrations in `folders` on stderr; 1 if any, else 0."""
    lines = [line for folder in folders for line in _folder_findings(Path(folder))]
    for line in lines:
        print(line, file=sys.stderr)
    return 1 if lines else 0


def _folder_findings(folder: Path) -> Iterator[str]:
    if not folder.is_dir():
        raise SystemExit(f"{folder}: not a folder of migrations")
    for path in sorted(folder.glob("[!_]*.py")):
        for finding in lint_source(path.read_text(encoding="utf-8")):
            yield f"{path}:{finding.line}: {finding.rule}: {finding.message}"


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
