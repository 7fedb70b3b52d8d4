#!/usr/bin/env python3
"""Runs the shared access cases against the SQL migrations on a live PostgreSQL.

run.sh starts the cluster and sets PGHOST/PGPORT/PGUSER/PGDATABASE; this script applies
tests/postgres/supabase_stub.sql, supabase/migrations/*.sql and supabase/seed.sql, checks the
seed, then runs every case of tests/cases/access_cases.json (format: tests/cases/README.md) and
a few SQL-only checks of its own, as the case's actor: `SET LOCAL ROLE` plus the JWT claims in
`request.jwt.claims`, which is what PostgREST does for each request.

Python 3.11 standard library only; all database access goes through the `psql` binary.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import uuid
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

USER_IDS = {
    "investor1": "00000000-0000-4000-8000-000000000001",
    "investor2": "00000000-0000-4000-8000-000000000002",
    "investor3": "00000000-0000-4000-8000-000000000003",
    "admin1": "00000000-0000-4000-8000-0000000000a1",
    "admin2": "00000000-0000-4000-8000-0000000000a2",
}

# SQLSTATEs per error class of the case table (tests/cases/README.md, "Expect").
ERROR_CLASSES = {
    "forbidden": {"42501"},
    "invalid": {"P0001", "23514"},
    "conflict": {"23505"},
}

TABLES = {"distributions", "redemption_requests", "redemption_approvals"}
FIXTURE_WALLET = "0x" + "a" * 40
FIXTURE_TX_HASH = "0x" + "b" * 64
# How long each concurrent transaction keeps its locks after its statement, so the other
# transactions' statements certainly run while it is still open.
CONCURRENT_HOLD_SECONDS = 0.3

ERROR_LINE = re.compile(r"ERROR:\s+([0-9A-Z]{5}):\s*(.*)")


@dataclass
class Outcome:
    """What one psql run did: its output, or the first error."""

    output: str
    sqlstate: str | None = None
    message: str | None = None

    @property
    def ok(self) -> bool:
        return self.sqlstate is None

    def describe(self) -> str:
        return "ok" if self.ok else f"{self.sqlstate} {self.message}"


class SetupError(Exception):
    """The database could not be prepared; no case can run."""


def psql_command() -> list[str]:
    return ["psql", "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-f", "-"]


def outcome_of(returncode: int, stdout: str, stderr: str) -> Outcome:
    if returncode == 0:
        return Outcome(stdout.strip())
    match = ERROR_LINE.search(stderr)
    if match:
        return Outcome(stdout.strip(), match.group(1), match.group(2).strip())
    return Outcome(stdout.strip(), "?????", stderr.strip() or f"psql exit {returncode}")


def run_sql(script: str) -> Outcome:
    """Runs a script in one psql session; stops at the first error."""
    done = subprocess.run(
        psql_command(),
        input="\\set VERBOSITY verbose\n" + script,
        capture_output=True,
        text=True,
        timeout=60,
    )
    return outcome_of(done.returncode, done.stdout, done.stderr)


def run_sql_concurrently(scripts: list[str]) -> list[Outcome]:
    """Starts one psql per script at once and waits for all of them."""
    processes = [
        subprocess.Popen(
            psql_command(),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in scripts
    ]
    for process, script in zip(processes, scripts):
        process.stdin.write("\\set VERBOSITY verbose\n" + script)
        process.stdin.close()
    outcomes = []
    for process in processes:
        stdout = process.stdout.read()
        stderr = process.stderr.read()
        process.wait(timeout=60)
        outcomes.append(outcome_of(process.returncode, stdout, stderr))
    return outcomes


def superuser(sql: str) -> str:
    """Runs SQL as the superuser and returns its output; any error is a setup error."""
    outcome = run_sql(sql)
    if not outcome.ok:
        raise SetupError(f"{outcome.describe()}\n  in: {sql.strip()[:300]}")
    return outcome.output


def lit(value) -> str:
    """An SQL literal for a Python value."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float, Decimal)):
        return str(Decimal(str(value)))
    return "'" + str(value).replace("'", "''") + "'"


def claims_for(actor: str) -> tuple[str, dict]:
    """The Postgres role and JWT claims PostgREST would use for this actor."""
    if actor == "anon":
        return "anon", {"role": "anon", "iss": "supabase-demo"}
    if actor == "service":
        return "service_role", {"role": "service_role", "iss": "supabase-demo"}
    if actor not in USER_IDS:
        raise ValueError(f"unknown actor {actor!r}")
    app_role = "admin" if actor.startswith("admin") else "investor"
    return "authenticated", {
        "sub": USER_IDS[actor],
        "role": "authenticated",
        "aud": "authenticated",
        "email": f"{actor}@demo.local",
        "app_metadata": {"provider": "email", "providers": ["email"], "app_role": app_role},
        "user_metadata": {},
    }


def as_actor(actor: str, body: str, hold_seconds: float = 0.0) -> str:
    """Wraps statements in a transaction run as the actor, the way PostgREST runs a request."""
    role, claims = claims_for(actor)
    hold = f"select pg_sleep({hold_seconds}) \\g /dev/null\n" if hold_seconds else ""
    return (
        "begin;\n"
        f"set local role {role};\n"
        f"set local request.jwt.claims = {lit(json.dumps(claims))};\n"
        f"{body.rstrip().rstrip(';')};\n"
        f"{hold}"
        "commit;\n"
    )


class Case:
    """One case: fixture ids, the op as SQL, and the checks of its `expect`."""

    def __init__(self, spec: dict):
        self.spec = spec
        self.name = spec["name"]
        self.ids: dict[str, str] = {}
        self.holding_of: dict[str, str] = {}
        self.first_holding: str | None = None
        self.first_request: str | None = None

    def fixture_id(self, key: str) -> str:
        return str(uuid.uuid5(uuid.NAMESPACE_URL, f"case:{self.name}:{key}"))

    # -- fixtures ----------------------------------------------------------------------------

    def fixture_sql(self) -> str:
        statements = []
        for fixture in self.spec.get("fixtures", []):
            (kind, args), = fixture.items()
            if kind == "holding":
                statements.append(self.holding_sql(args["key"], args["owner"],
                                                   Decimal(str(args["remaining_balance"]))))
                self.first_holding = self.first_holding or self.ids[args["key"]]
            elif kind == "request":
                statements.extend(self.request_sql(args))
                self.first_request = self.first_request or self.ids[args["key"]]
            elif kind == "approval":
                statements.extend(self.approval_sql(args))
            else:
                raise ValueError(f"unknown fixture {kind!r}")
        return "\n".join(statements)

    def holding_sql(self, key: str, owner: str, balance: Decimal) -> str:
        holding = self.ids[key] = self.fixture_id(key)
        # token_amount = remaining_balance per the README; a holding must distribute something,
        # so an empty one is modelled as 1 distributed, 0 remaining.
        amount = balance if balance > 0 else Decimal(1)
        return (
            "insert into public.distributions (id, investor_id, fund_name, token_symbol,"
            " token_amount, remaining_balance, conversion_rate) values"
            f" ({lit(holding)}, {lit(USER_IDS[owner])}, 'Meridian Treasury Fund', 'MTF',"
            f" {lit(amount)}, {lit(balance)}, 1.25);"
        )

    def request_sql(self, args: dict) -> list[str]:
        key = args["key"]
        request = self.ids[key] = self.fixture_id(key)
        holding_key = f"{key}/holding"
        holding_sql = self.holding_sql(holding_key, args["owner"], Decimal(1000))
        self.holding_of[key] = self.ids[holding_key]
        status = args["status"]
        # The table's CHECKs want a reason on rejected rows and a hash on settled ones.
        reason = "fixture rejection" if status == "rejected" else None
        tx_hash = FIXTURE_TX_HASH if status == "settled" else None
        return [
            holding_sql,
            "insert into public.redemption_requests (id, investor_id, distribution_id,"
            " token_amount, destination_wallet, redemption_type, status, required_approvals,"
            " approval_count, rejection_reason, settlement_tx_hash) values"
            f" ({lit(request)}, {lit(USER_IDS[args['owner']])}, {lit(self.ids[holding_key])},"
            f" 10, {lit(FIXTURE_WALLET)}, 'standard', {lit(status)},"
            f" {lit(args.get('required_approvals', 2))}, 0, {lit(reason)}, {lit(tx_hash)});",
        ]

    def approval_sql(self, args: dict) -> list[str]:
        request = self.ids[args["request"]]
        admin = args["admin"]
        decision = args["decision"]
        statements = [
            "insert into public.redemption_approvals (redemption_id, admin_id, admin_email,"
            " decision, reason) values"
            f" ({lit(request)}, {lit(USER_IDS[admin])}, {lit(admin + '@demo.local')},"
            f" {lit(decision)}, {lit('fixture reason' if decision == 'reject' else None)});"
        ]
        if decision == "approve":
            statements.append(
                "update public.redemption_requests set approval_count = approval_count + 1"
                f" where id = {lit(request)};"
            )
        return statements

    # -- the op ------------------------------------------------------------------------------

    def op(self) -> tuple[str, dict]:
        (kind, args), = self.spec["op"].items()
        return kind, args

    def target_request(self) -> str | None:
        _, args = self.op()
        if isinstance(args, dict) and "request" in args:
            return self.ids[args["request"]]
        return self.first_request

    def target_holding(self) -> str | None:
        _, args = self.op()
        if isinstance(args, dict) and "holding" in args:
            return self.ids[args["holding"]]
        if isinstance(args, dict) and "request" in args:
            return self.holding_of.get(args["request"])
        return self.first_holding or next(iter(self.holding_of.values()), None)

    def substitute(self, sql: str) -> str:
        """Replaces @key (a fixture) and @investor1 etc. (a user) with quoted uuids."""
        def replace(match: re.Match) -> str:
            name = match.group(1)
            if name in self.ids:
                return lit(self.ids[name])
            if name in USER_IDS:
                return lit(USER_IDS[name])
            raise ValueError(f"unknown placeholder @{name}")
        return re.sub(r"(?<![\w.])@(\w[\w/]*)", replace, sql)

    def insert_sql(self, actor: str, holding: str, amount) -> str:
        amount = Decimal(str(amount))
        return (
            "insert into public.redemption_requests (investor_id, distribution_id, token_symbol,"
            " token_amount, usdc_value, destination_wallet, redemption_type, status) values"
            f" ({lit(USER_IDS.get(actor))}, {lit(self.ids[holding])}, 'MTF', {lit(amount)},"
            f" {lit(amount * Decimal('1.25'))}, {lit(FIXTURE_WALLET)}, 'standard', 'pending')"
        )

    def decide_sql(self, request: str, decision: str, reason) -> str:
        # Named arguments, as PostgREST calls /rpc/ functions.
        return (
            "select to_jsonb(d) from public.decide_redemption("
            f"redemption_id => {lit(self.ids[request])}, decision => {lit(decision)},"
            f" reason => {lit(reason)}) as d"
        )

    def run_op(self) -> tuple[Outcome, list[Outcome]]:
        """Runs the op; returns the combined outcome and each connection's outcome."""
        kind, args = self.op()
        actor = self.spec["actor"]
        if kind == "select":
            table = args["table"]
            if table not in TABLES:
                raise ValueError(f"unknown table {table!r}")
            if "request" in args:
                where = f"redemption_id = {lit(self.ids[args['request']])}"
            else:
                where = f"investor_id = {lit(USER_IDS[args['owner']])}"
            outcome = run_sql(as_actor(actor, f"select count(*) from public.{table} where {where}"))
            return outcome, [outcome]
        if kind == "insert_request":
            outcome = run_sql(as_actor(actor, self.insert_sql(actor, args["holding"],
                                                                args["amount"])))
            return outcome, [outcome]
        if kind == "cancel_request":
            outcome = run_sql(as_actor(
                actor,
                "update public.redemption_requests set status = 'cancelled'"
                f" where id = {lit(self.ids[args['request']])}",
            ))
            return outcome, [outcome]
        if kind == "decide":
            outcome = run_sql(as_actor(actor, self.decide_sql(
                args["request"], args["decision"], args.get("reason"))))
            return outcome, [outcome]
        if kind == "decide_concurrently":
            scripts = [
                as_actor(admin, self.decide_sql(args["request"], args["decision"],
                                                args.get("reason")),
                         hold_seconds=CONCURRENT_HOLD_SECONDS)
                for admin in args["admins"]
            ]
            return combine(run_sql_concurrently(scripts))
        # Ops below are this runner's own (EXTRA_CASES), not part of the shared table.
        if kind == "sql":
            outcome = run_sql(as_actor(actor, self.substitute(args["sql"])))
            return outcome, [outcome]
        if kind == "insert_concurrently":
            scripts = [
                as_actor(actor, self.insert_sql(actor, args["holding"], amount),
                         hold_seconds=CONCURRENT_HOLD_SECONDS)
                for amount in args["amounts"]
            ]
            return combine(run_sql_concurrently(scripts))
        raise ValueError(f"unknown op {kind!r}")

    # -- expectations ------------------------------------------------------------------------

    def check(self, outcome: Outcome) -> list[str]:
        """Every `expect` key checked; returns what did not hold."""
        problems = []
        request = self.target_request()
        holding = self.target_holding()

        def request_field(expression: str) -> str:
            if request is None:
                raise ValueError("the expectation needs a request fixture")
            return superuser(
                f"select {expression} from public.redemption_requests where id = {lit(request)}")

        for key, want in self.spec.get("expect", {}).items():
            if key == "ok":
                if outcome.ok != want:
                    problems.append(f"ok: want {want}, got {outcome.describe()}")
            elif key == "error":
                if want not in ERROR_CLASSES:
                    raise ValueError(f"unknown error class {want!r}")
                if outcome.ok or outcome.sqlstate not in ERROR_CLASSES[want]:
                    problems.append(f"error: want {want}, got {outcome.describe()}")
            elif key == "sqlstate":
                if outcome.sqlstate != want:
                    problems.append(f"sqlstate: want {want}, got {outcome.describe()}")
            elif key in ("rows", "min_rows"):
                got = int(outcome.output) if outcome.ok and outcome.output.isdigit() else None
                if got is None or (got != want if key == "rows" else got < want):
                    problems.append(f"{key}: want {want}, got {got} ({outcome.describe()})")
            elif key == "remaining_after":
                if holding is None:
                    raise ValueError("remaining_after needs a holding")
                got = superuser(
                    f"select remaining_balance from public.distributions where id = {lit(holding)}")
                if Decimal(got) != Decimal(str(want)):
                    problems.append(f"remaining_after: want {want}, got {got}")
            elif key == "status_after":
                got = request_field("status")
                if got != want:
                    problems.append(f"status_after: want {want}, got {got}")
            elif key == "approval_count_after":
                got = request_field("approval_count")
                if got != str(want):
                    problems.append(f"approval_count_after: want {want}, got {got}")
            elif key == "status_history_approved_entries":
                got = request_field(
                    "(select count(*) from jsonb_array_elements(status_history) e"
                    " where e ->> 'status' = 'approved')")
                if got != str(want):
                    problems.append(f"status_history_approved_entries: want {want}, got {got}")
            elif key == "returned":
                # A subset of the JSON row the op returned (decide_redemption's result).
                try:
                    row = json.loads(outcome.output)
                except json.JSONDecodeError:
                    row = None
                wrong = {k: v for k, v in want.items() if not row or row.get(k) != v}
                if wrong:
                    got = outcome.output or outcome.describe()
                    problems.append(f"returned: want {want}, got {got}")
            elif key == "sql_true":
                for query in want:
                    got = superuser(self.substitute(query))
                    if got != "t":
                        problems.append(f"not true ({got or 'no row'}): {query}")
            else:
                raise ValueError(f"unknown expect key {key!r}")
        return problems


def combine(outcomes: list[Outcome]) -> tuple[Outcome, list[Outcome]]:
    """Several connections' outcomes as one: ok when all are, else the first error."""
    for outcome in outcomes:
        if not outcome.ok:
            return outcome, outcomes
    return Outcome("\n".join(o.output for o in outcomes)), outcomes


RESET_SQL = """
truncate public.redemption_approvals, public.redemption_requests, public.distributions;
"""

# Checks of behaviour the shared table does not cover. They use two ops of this runner's own
# (`sql`, `insert_concurrently`) and three expect keys (`sqlstate`, `returned`, `sql_true`,
# whose queries run as the superuser and must return true).
EXTRA_CASES = [
    {
        "name": "extra: an insert reserves tokens, copies symbol and USDC value, starts history",
        "fixtures": [{"holding": {"key": "h", "owner": "investor1", "remaining_balance": 100}}],
        "actor": "investor1",
        "op": {"sql": {"sql": "insert into public.redemption_requests (investor_id,"
                              " distribution_id, token_symbol, token_amount, usdc_value,"
                              " destination_wallet, redemption_type) values (@investor1, @h,"
                              " 'XXX', 40, 1, '0x" + "A" * 40 + "', 'interval')"}},
        "expect": {"ok": True, "remaining_after": 60, "sql_true": [
            "select token_symbol = 'MTF' and usdc_value = 50 and status = 'pending'"
            " and version = 1 and approval_count = 0 and required_approvals = 2"
            " from public.redemption_requests where distribution_id = @h",
            "select jsonb_array_length(status_history) = 1"
            " and status_history -> 0 ->> 'status' = 'pending'"
            " and (status_history -> 0 ->> 'at') ~"
            " '^\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d(\\.\\d{1,6})?\\+00:00$'"
            " from public.redemption_requests where distribution_id = @h",
        ]},
    },
    {
        "name": "extra: a cancel gives the tokens back, bumps version, appends history",
        "fixtures": [{"request": {"key": "r", "owner": "investor1", "status": "pending"}}],
        "actor": "investor1",
        "op": {"cancel_request": {"request": "r"}},
        "expect": {"ok": True, "status_after": "cancelled", "remaining_after": 1000,
                   "sql_true": [
                       "select version = 2 and updated_at > created_at"
                       " and jsonb_path_query_array(status_history, '$[*].status')"
                       " = '[\"pending\", \"cancelled\"]'"
                       " from public.redemption_requests where id = @r",
                   ]},
    },
    {
        "name": "extra: a reject gives the tokens back and records reason and approval row",
        "fixtures": [{"request": {"key": "r", "owner": "investor1", "status": "pending"}}],
        "actor": "admin1",
        "op": {"decide": {"request": "r", "decision": "reject",
                          "reason": "Wallet not whitelisted"}},
        "expect": {"ok": True, "status_after": "rejected", "remaining_after": 1000,
                   "returned": {"status": "rejected", "rejection_reason": "Wallet not whitelisted",
                                "version": 2, "approval_count": 0},
                   "sql_true": [
                       "select count(*) = 1 from public.redemption_approvals where"
                       " redemption_id = @r and admin_id = @admin1 and decision = 'reject'"
                       " and reason = 'Wallet not whitelisted'"
                       " and admin_email = 'admin1@demo.local'",
                   ]},
    },
    {
        "name": "extra: decide_redemption returns the updated row",
        "fixtures": [{"request": {"key": "r", "owner": "investor1", "status": "pending"}}],
        "actor": "admin2",
        "op": {"decide": {"request": "r", "decision": "approve"}},
        "expect": {"ok": True, "returned": {"status": "pending", "approval_count": 1,
                                            "version": 2, "required_approvals": 2}},
    },
    {
        "name": "extra: an approval at threshold 1 approves at once and keeps the tokens held",
        "fixtures": [{"request": {"key": "r", "owner": "investor1", "status": "pending",
                                  "required_approvals": 1}}],
        "actor": "admin1",
        "op": {"decide": {"request": "r", "decision": "approve"}},
        "expect": {"ok": True, "status_after": "approved", "approval_count_after": 1,
                   "remaining_after": 990, "status_history_approved_entries": 1},
    },
    {
        # With a threshold of 1 the second admin must find the request already approved. Without
        # the row lock it would read a stale `pending` and fail later on a CHECK instead.
        "name": "extra: two admins at threshold 1: one approves, the other finds it decided",
        "fixtures": [{"request": {"key": "r", "owner": "investor1", "status": "pending",
                                  "required_approvals": 1}}],
        "actor": "admin1",
        "op": {"decide_concurrently": {"request": "r", "admins": ["admin1", "admin2"],
                                       "decision": "approve"}},
        "expect": {"ok": False, "sqlstate": "P0001", "status_after": "approved",
                   "approval_count_after": 1, "status_history_approved_entries": 1,
                   "sql_true": ["select count(*) = 1 from public.redemption_approvals"
                                " where redemption_id = @r"]},
    },
    {
        "name": "extra: deciding a cancelled request is refused",
        "fixtures": [{"request": {"key": "r", "owner": "investor1", "status": "cancelled"}}],
        "actor": "admin1",
        "op": {"decide": {"request": "r", "decision": "approve"}},
        "expect": {"ok": False, "error": "invalid", "status_after": "cancelled",
                   "approval_count_after": 0},
    },
    {
        "name": "extra: deciding an unknown request is P0002",
        "fixtures": [],
        "actor": "admin1",
        "op": {"sql": {"sql": "select public.decide_redemption("
                              "'00000000-0000-4000-8000-00000000dead', 'approve')"}},
        "expect": {"ok": False, "sqlstate": "P0002"},
    },
    {
        "name": "extra: an unknown decision is refused",
        "fixtures": [{"request": {"key": "r", "owner": "investor1", "status": "pending"}}],
        "actor": "admin1",
        "op": {"decide": {"request": "r", "decision": "maybe"}},
        "expect": {"ok": False, "error": "invalid", "status_after": "pending"},
    },
    {
        "name": "extra: anon cannot decide",
        "fixtures": [{"request": {"key": "r", "owner": "investor1", "status": "pending"}}],
        "actor": "anon",
        "op": {"decide": {"request": "r", "decision": "approve"}},
        "expect": {"ok": False, "error": "forbidden", "status_after": "pending"},
    },
    {
        "name": "extra: anon cannot insert",
        "fixtures": [{"holding": {"key": "h", "owner": "investor1", "remaining_balance": 100}}],
        "actor": "anon",
        "op": {"insert_request": {"holding": "h", "amount": 10}},
        "expect": {"ok": False, "error": "forbidden", "remaining_after": 100},
    },
    {
        "name": "extra: an investor cannot choose the approval threshold",
        "fixtures": [{"holding": {"key": "h", "owner": "investor1", "remaining_balance": 100}}],
        "actor": "investor1",
        "op": {"sql": {"sql": "insert into public.redemption_requests (investor_id,"
                              " distribution_id, token_amount, destination_wallet,"
                              " required_approvals) values (@investor1, @h, 10,"
                              " '0x" + "a" * 40 + "', 1)"}},
        "expect": {"ok": False, "error": "forbidden", "remaining_after": 100},
    },
    {
        "name": "extra: an investor cannot insert a request that is not pending",
        "fixtures": [{"holding": {"key": "h", "owner": "investor1", "remaining_balance": 100}}],
        "actor": "investor1",
        "op": {"sql": {"sql": "insert into public.redemption_requests (investor_id,"
                              " distribution_id, token_amount, destination_wallet, status)"
                              " values (@investor1, @h, 10, '0x" + "a" * 40 + "', 'approved')"}},
        "expect": {"ok": False, "error": "forbidden", "remaining_after": 100},
    },
    {
        "name": "extra: a negative amount cannot raise the balance",
        "fixtures": [{"holding": {"key": "h", "owner": "investor1", "remaining_balance": 100}}],
        "actor": "investor1",
        "op": {"insert_request": {"holding": "h", "amount": -5}},
        "expect": {"ok": False, "error": "invalid", "remaining_after": 100},
    },
    {
        "name": "extra: a bad wallet is refused",
        "fixtures": [{"holding": {"key": "h", "owner": "investor1", "remaining_balance": 100}}],
        "actor": "investor1",
        "op": {"sql": {"sql": "insert into public.redemption_requests (investor_id,"
                              " distribution_id, token_amount, destination_wallet)"
                              " values (@investor1, @h, 10, '0x1234')"}},
        "expect": {"ok": False, "error": "invalid", "remaining_after": 100},
    },
    {
        "name": "extra: an investor cannot change other columns of an own pending request",
        "fixtures": [{"request": {"key": "r", "owner": "investor1", "status": "pending"}}],
        "actor": "investor1",
        "op": {"sql": {"sql": "update public.redemption_requests"
                              " set status = 'cancelled', token_amount = 1 where id = @r"}},
        "expect": {"ok": False, "error": "forbidden", "status_after": "pending",
                   "remaining_after": 990},
    },
    {
        "name": "extra: an investor cannot move an own pending request to another status",
        "fixtures": [{"request": {"key": "r", "owner": "investor1", "status": "pending"}}],
        "actor": "investor1",
        "op": {"sql": {"sql": "update public.redemption_requests set status = 'approved'"
                              " where id = @r"}},
        "expect": {"ok": False, "error": "forbidden", "status_after": "pending"},
    },
    {
        "name": "extra: an investor cannot delete an own request",
        "fixtures": [{"request": {"key": "r", "owner": "investor1", "status": "pending"}}],
        "actor": "investor1",
        "op": {"sql": {"sql": "delete from public.redemption_requests where id = @r"}},
        "expect": {"ok": False, "error": "forbidden", "status_after": "pending"},
    },
    {
        "name": "extra: an investor cannot write a holding's balance",
        "fixtures": [{"holding": {"key": "h", "owner": "investor1", "remaining_balance": 100}}],
        "actor": "investor1",
        "op": {"sql": {"sql": "update public.distributions set remaining_balance = 999"
                              " where id = @h"}},
        "expect": {"ok": False, "error": "forbidden", "remaining_after": 100},
    },
    {
        "name": "extra: an admin cannot update a request directly",
        "fixtures": [{"request": {"key": "r", "owner": "investor1", "status": "pending"}}],
        "actor": "admin1",
        "op": {"cancel_request": {"request": "r"}},
        "expect": {"ok": True, "status_after": "pending"},
    },
    {
        "name": "extra: an investor reads the approvals of an own request",
        "fixtures": [
            {"request": {"key": "r", "owner": "investor1", "status": "pending"}},
            {"approval": {"request": "r", "admin": "admin1", "decision": "approve"}},
        ],
        "actor": "investor1",
        "op": {"select": {"table": "redemption_approvals", "request": "r"}},
        "expect": {"ok": True, "rows": 1},
    },
    {
        "name": "extra: an admin reads every approval",
        "fixtures": [
            {"request": {"key": "r", "owner": "investor2", "status": "pending"}},
            {"approval": {"request": "r", "admin": "admin2", "decision": "approve"}},
        ],
        "actor": "admin1",
        "op": {"select": {"table": "redemption_approvals", "request": "r"}},
        "expect": {"ok": True, "rows": 1},
    },
    {
        "name": "extra: anon reads no holdings",
        "fixtures": [{"holding": {"key": "h", "owner": "investor1", "remaining_balance": 100}}],
        "actor": "anon",
        "op": {"select": {"table": "distributions", "owner": "investor1"}},
        "expect": {"ok": True, "rows": 0},
    },
    {
        "name": "extra: two requests racing for one holding cannot overspend it",
        "fixtures": [{"holding": {"key": "h", "owner": "investor1", "remaining_balance": 100}}],
        "actor": "investor1",
        "op": {"insert_concurrently": {"holding": "h", "amounts": [60, 60]}},
        "expect": {"ok": False, "error": "invalid", "remaining_after": 40, "sql_true": [
            "select count(*) = 1 from public.redemption_requests where distribution_id = @h",
        ]},
    },
    {
        "name": "extra: the tables are published to Realtime, requests with full old rows",
        "fixtures": [],
        "actor": "admin1",
        "op": {"sql": {"sql": "select 1"}},
        "expect": {"ok": True, "sql_true": [
            "select count(*) = 3 from pg_publication_tables where pubname = 'supabase_realtime'"
            " and schemaname = 'public' and tablename in ('distributions',"
            " 'redemption_requests', 'redemption_approvals')",
            "select relreplident = 'f' from pg_class"
            " where oid = 'public.redemption_requests'::regclass",
        ]},
    },
]

SEED_CHECKS = [
    ("the five demo users with their app_role",
     "select count(*) = 5 from auth.users where (id, email, raw_app_meta_data ->> 'app_role') in ("
     "('00000000-0000-4000-8000-000000000001', 'investor1@demo.local', 'investor'),"
     "('00000000-0000-4000-8000-000000000002', 'investor2@demo.local', 'investor'),"
     "('00000000-0000-4000-8000-000000000003', 'investor3@demo.local', 'investor'),"
     "('00000000-0000-4000-8000-0000000000a1', 'admin1@demo.local', 'admin'),"
     "('00000000-0000-4000-8000-0000000000a2', 'admin2@demo.local', 'admin'))"),
    ("demo passwords are bcrypt hashes of demo-password",
     # Without pgcrypto (see main) only the bcrypt prefix of the seed's fixed hash is checked.
     "select bool_and(encrypted_password like '$2_$%'"
     " and extensions.crypt('demo-password', encrypted_password) = encrypted_password)"
     " from auth.users"),
    ("six holdings, every investor has some",
     "select count(*) = 6 and count(distinct investor_id) = 3 from public.distributions"),
    ("forty requests, every status and both types",
     "select count(*) = 40 and count(distinct status) = 8 and count(distinct redemption_type) = 2"
     " from public.redemption_requests"),
    ("approval_count agrees with the approve rows",
     "select bool_and(r.approval_count = (select count(*) from public.redemption_approvals a"
     " where a.redemption_id = r.id and a.decision = 'approve'))"
     " from public.redemption_requests r"),
    ("approved and later statuses reached their threshold",
     "select bool_and(approval_count = required_approvals) from public.redemption_requests"
     " where status in ('approved', 'processing', 'settled', 'failed')"),
    ("every rejected request has a reject approval",
     "select bool_and(exists (select 1 from public.redemption_approvals a"
     " where a.redemption_id = r.id and a.decision = 'reject'"
     " and a.reason = r.rejection_reason)) from public.redemption_requests r"
     " where r.status = 'rejected'"),
    ("remaining balances equal amount minus held requests",
     "select bool_and(d.remaining_balance = d.token_amount - coalesce((select sum(r.token_amount)"
     " from public.redemption_requests r where r.distribution_id = d.id"
     " and r.status not in ('cancelled', 'rejected')), 0)) from public.distributions d"),
    ("histories end in the row's status, versions count them",
     "select bool_and(status_history -> -1 ->> 'status' = status"
     " and version = jsonb_array_length(status_history)) from public.redemption_requests"),
    ("usdc_value is amount times rate",
     "select bool_and(r.usdc_value = round(r.token_amount * d.conversion_rate, 6)"
     " and r.token_symbol = d.token_symbol) from public.redemption_requests r"
     " join public.distributions d on d.id = r.distribution_id"),
]

SEED_FINGERPRINT = (
    "select (select count(*) from auth.users) || '/' || (select count(*) from public.distributions)"
    " || '/' || (select count(*) from public.redemption_requests) || '/' ||"
    " (select count(*) from public.redemption_approvals) || '/' ||"
    " (select sum(remaining_balance) from public.distributions)"
)


def apply_file(path: Path) -> None:
    outcome = run_sql(path.read_text())
    if not outcome.ok:
        raise SetupError(f"applying {path}: {outcome.describe()}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repo", type=Path, default=Path(__file__).resolve().parents[2])
    parser.add_argument("--verbose", action="store_true",
                        help="also print what each case's op returned or raised")
    args = parser.parse_args()
    repo: Path = args.repo

    cases = json.loads((repo / "tests/cases/access_cases.json").read_text())["cases"]
    passed = failed = 0

    def report(name: str, problems: list[str]) -> None:
        nonlocal passed, failed
        if problems:
            failed += 1
            print(f"FAIL {name}: {'; '.join(problems)}", flush=True)
        else:
            passed += 1
            print(f"ok  {name}", flush=True)

    try:
        apply_file(repo / "tests/postgres/supabase_stub.sql")
        migrations = sorted((repo / "supabase/migrations").glob("*.sql"))
        if not migrations:
            raise SetupError("no migrations in supabase/migrations")
        for migration in migrations:
            apply_file(migration)
        apply_file(repo / "supabase/seed.sql")

        has_crypt = superuser("select to_regproc('extensions.crypt') is not null") == "t"
        if not has_crypt:
            print("note: no pgcrypto; the seed used its fixed password hash", file=sys.stderr)
        for name, query in SEED_CHECKS:
            if "extensions.crypt" in query and not has_crypt:
                query = "select bool_and(encrypted_password like '$2_$%') from auth.users"
            got = superuser(query)
            report(f"seed: {name}", [] if got == "t" else [f"got {got or 'no row'}: {query}"])
        before = superuser(SEED_FINGERPRINT)
        apply_file(repo / "supabase/seed.sql")
        after = superuser(SEED_FINGERPRINT)
        report("seed: a second run changes nothing",
               [] if before == after else [f"{before} became {after}"])
    except SetupError as error:
        print(f"FAIL setup: {error}", flush=True)
        print(f"{passed} passed, {failed + 1} failed")
        return 1

    for spec in cases + EXTRA_CASES:
        case = Case(spec)
        try:
            fixtures = case.fixture_sql()
            superuser(RESET_SQL)
            if fixtures:
                setup = run_sql(as_actor("service", fixtures))
                if not setup.ok:
                    raise SetupError(f"fixtures: {setup.describe()}")
            outcome, outcomes = case.run_op()
            report(case.name, case.check(outcome))
            if args.verbose:
                for each in outcomes:
                    print(f"      -> {each.describe() if not each.ok else each.output or 'ok'}")
        except (SetupError, ValueError, KeyError) as error:
            report(case.name, [f"{type(error).__name__}: {error}"])

    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
