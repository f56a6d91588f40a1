"""Profile: where the PostgreSQL server spends its time on one claim + decision.

Run from the repository root:

    python tests/bench/profile_claims_pg.py [--cycles 2000] [--items 20000]

Starts a throwaway PostgreSQL with pg_stat_statements (nested statements tracked
too, so the policies' sub-queries and the trigger's insert show), migrates and seeds
it as the owner, then ONE moderator signed in as its own login role (row-level
security applies) runs claim_next -> submit_decision through the gate (a `Check` on
each, as the review service passes) for `--cycles` cycles. Prints, per statement, the
calls, mean execution and planning time on the server, and the client's wall time per
cycle. Not a benchmark (no floor, no load): a tool to find what to make cheaper.
Not a pytest module: nothing is collected.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests"))
sys.path.insert(0, str(REPO / "tests" / "bench"))

import psycopg  # noqa: E402
from bench_claims import (  # noqa: E402
    BENCH_AUDIT_KEY,
    GRADE,
    SEEN,
    login_seats,
    seed,
    server_cpu,
    vet,
)
from pgserver import PgServer  # noqa: E402

from db.claims import DECISION_COLS, ClaimsRepo  # noqa: E402
from db.items import to_view  # noqa: E402
from db.store import Store  # noqa: E402
from reviewer.model import Claim  # noqa: E402
from reviewer.permissions import Check, Operation  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cycles", type=int, default=2000)
    parser.add_argument("--items", type=int, default=20_000)
    parser.add_argument("--no-check", action="store_true", help="without the gate's Check")
    parser.add_argument("--owner", action="store_true", help="as the owner: no row-level security")
    parser.add_argument("--workstations", type=int, default=1, help="threads, each its own login")
    parser.add_argument(
        "--probe-subplans",
        action="store_true",
        help="only measure what sub-plans that never run cost a prepared statement",
    )
    parser.add_argument(
        "--replans",
        type=int,
        default=20,
        help="times to measure what one claim + decision costs the server right after its"
        " plans were invalidated (0: skip)",
    )
    parser.add_argument(
        "--exists-policies",
        action="store_true",
        help="experiment: every policy of 0023 rewritten as one EXISTS over the account",
    )
    args = parser.parse_args()
    pg = PgServer()
    pg.start()
    if args.probe_subplans:
        try:
            probe_subplans(pg)
        finally:
            pg.stop()
        return 0
    try:
        with (pg.datadir / "postgresql.conf").open("a") as conf:
            conf.write(
                "shared_preload_libraries = 'pg_stat_statements'\n"
                "pg_stat_statements.track = 'all'\n"
                "pg_stat_statements.track_planning = on\n"
            )
        pg._run(
            str(pg.bindir / "pg_ctl"), "-D", str(pg.datadir), "-l", str(pg.logfile),
            "-o", f"-p {pg.port}", "-w", "restart",
        )  # fmt: skip
        pg.create_database("prof", owner=pg.owner)
        store = Store.open(pg.owner_url("prof"), audit_key=BENCH_AUDIT_KEY)
        seed(store, args.items, "prof")
        seats = login_seats(store, args.workstations, lambda role, pw: pg.url("prof", role, pw))
        vet(store, [uid for _url, uid in seats])
        if args.exists_policies:
            with store.engine.begin() as conn:
                for sql in exists_policies():
                    conn.exec_driver_sql(sql)
        store.close()
        su = psycopg.connect(
            host=pg.host, port=pg.port, user=pg.superuser, dbname="prof", autocommit=True
        )
        su.execute("CREATE EXTENSION pg_stat_statements")
        stores = [
            Store.open(
                pg.owner_url("prof") if args.owner else url,
                migrate=False,
                audit_key=BENCH_AUDIT_KEY,
            )
            for url, _ in seats
        ]

        def cycle(i: int) -> None:
            me, uid, name = stores[i], seats[i][1], f"ws{i:02d}"
            check = None if args.no_check else Check(uid, name, Operation.CLAIM)
            c = me.claims.claim_next(uid, lease_seconds=600, check=check)
            assert c is not None
            check = (
                None if args.no_check else Check(uid, name, Operation.SUBMIT, claim_id=c.claim_id)
            )
            me.claims.submit_decision(c, GRADE, SEEN, str(uuid.uuid4()), check=check)

        def run(i: int, n: int) -> None:
            for _ in range(n):
                cycle(i)

        def all_run(n: int) -> None:
            threads = [threading.Thread(target=run, args=(i, n)) for i in range(len(stores))]
            for t in threads:
                t.start()
            for t in threads:
                t.join()

        all_run(10)
        su.execute("SELECT pg_stat_statements_reset()")
        pm = int((pg.datadir / "postmaster.pid").read_text().split()[0])
        cpu0 = server_cpu(pm)
        t0 = time.perf_counter()
        per = max(1, args.cycles // len(stores))
        all_run(per)
        args.cycles = per * len(stores)
        wall = (time.perf_counter() - t0) / args.cycles
        cpu = (server_cpu(pm) - cpu0) / args.cycles
        print(f"server CPU per cycle (all backends): {cpu * 1e3:.3f} ms")
        in_db = "dbid = (SELECT oid FROM pg_database WHERE datname = 'prof')"
        rows = su.execute(
            "SELECT calls, total_exec_time, total_plan_time, toplevel, query"
            f" FROM pg_stat_statements WHERE {in_db} ORDER BY total_exec_time DESC LIMIT 40"
        ).fetchall()
        total_top = sum(r[1] + r[2] for r in rows if r[3])
        print(
            f"client wall per cycle: {wall * 1e3:.3f} ms; server exec+plan of top-level"
            f" statements per cycle: {total_top / args.cycles:.3f} ms"
        )
        for calls, ex, plan, top, query in rows:
            q = " ".join(query.split())
            per = 1e3 / max(1, calls)
            where = "top" if top else "nest"
            timing = f"{ex * per:>8.1f}us exec {plan * per:>7.1f}us plan"
            print(f"{calls:>7} {timing} {where} | {q[:200]}")
        if args.replans:
            replan_cost(su, pm, lambda: cycle(0), args.replans)
        explain(stores[0], seats[0][1])
        for me in stores:
            me.close()
        su.close()
    finally:
        pg.stop()
    return 0


def replan_cost(su: Any, postmaster: int, cycle: Callable[[], None], times: int) -> None:
    """What one claim + decision costs the server when its plans were just invalidated,
    beyond an ordinary one. Anything that changes a table's catalogue entry (an
    autovacuum or autoanalyze that updates its row counts, a GRANT) makes every backend
    plan again each prepared statement over that table. The pick and the decision both
    read `items` (since migration 0027 neither reads `users` in its own plan: the
    account's facts are functions), so here an ALTER of a column's statistics target on
    items, by the superuser, stands in for an analyze of it. Server CPU from the
    backends' schedstat (nanoseconds; /proc's tick counts are too coarse for one
    cycle)."""
    extra = []
    for n in range(times):
        before = _server_ns(postmaster)
        cycle()
        plain = _server_ns(postmaster) - before
        su.execute(f"ALTER TABLE items ALTER COLUMN source SET STATISTICS {100 + n % 2}")
        before = _server_ns(postmaster)
        cycle()
        extra.append((_server_ns(postmaster) - before - plain) / 1e6)
    extra.sort()
    print(
        f"server CPU of a claim + decision right after an invalidation, beyond an ordinary"
        f" one: median {extra[len(extra) // 2]:.2f} ms (min {extra[0]:.2f}, max {extra[-1]:.2f},"
        f" {times} times)"
    )


def _server_ns(postmaster: int) -> int:
    """CPU nanoseconds the server's live processes have run (schedstat's first field)."""
    total = 0
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        with contextlib.suppress(OSError, IndexError, ValueError):
            with open(f"/proc/{name}/stat") as f:
                parent = int(f.read().rsplit(")", 1)[1].split()[1])
            if parent == postmaster or int(name) == postmaster:
                with open(f"/proc/{name}/schedstat") as f:
                    total += int(f.read().split()[0])
    return total


def explain(me: Store, uid: int) -> None:
    """EXPLAIN ANALYZE, BUFFERS of the pick and the decision, as the login role, in a
    transaction rolled back."""
    from datetime import timedelta

    from db.prepared import execute_driver_sql

    sql = me.claims.statements
    with me.engine.connect() as conn:
        tx = conn.begin()
        pick = sql.take[(False, "none", False)]
        params = {"p_lease": timedelta(seconds=600), "p_user": uid, "p_queue": None}
        rows, _ = execute_driver_sql(
            conn, "EXPLAIN (ANALYZE, BUFFERS) " + pick.sql, pick._params(params)
        )
        print("\n-- pick")
        print("\n".join(r[0] for r in rows))
        plan_nodes("pick", rows)
        got = pick.first(conn, params)
        assert got is not None
        m = pick.mapping(got)
        claim = Claim(m["claim_id"], to_view(m), uid, m["lease_expires_at"])
        dp = ClaimsRepo.closing_params(claim, SEEN, me.stamp())
        record = GRADE.to_record()
        dp.update({f"p_{c}": record[c] for c in DECISION_COLS}, p_token=str(uuid.uuid4()))
        dp.update(p_status="decided", p_outcome="decided")
        assert sql.decide is not None
        rows, _ = execute_driver_sql(
            conn, "EXPLAIN (ANALYZE, BUFFERS) " + sql.decide.sql, sql.decide._params(dp)
        )
        print("\n-- decide")
        print("\n".join(r[0] for r in rows))
        plan_nodes("decide", rows)
        tx.rollback()


def plan_nodes(label: str, rows: list[tuple[Any, ...]]) -> None:
    """How many plan nodes the statement carries, and how many of them never ran: the
    executor sets up every node of the plan on each execution, run or not."""
    lines = [str(r[0]) for r in rows]
    nodes = [line for line in lines if "->" in line]
    idle = sum(1 for line in nodes if "never executed" in line)
    print(f"-- {label}: {len(nodes)} plan nodes, {idle} never executed")


def exists_policies() -> list[str]:
    """An experiment, not a migration: migration 0023's policies with each rule written
    as ONE correlated EXISTS over the account as it is now (reviewer_account_now of
    0018), instead of an InitPlan per fact of the account per reference. Fewer plan
    nodes per statement; the sub-select runs per row checked instead of once per
    statement. Returns the DROP/CREATE statements, run by the owner."""
    path = REPO / "db" / "migrations" / "versions" / "0023_cheap_policies.py"
    source = path.read_text()
    # Re-run the module with `may` replaced before POLICIES is built from it.
    source = source.replace("\n_ITEM = dict(", "\nmay = _exists_may\n_ITEM = dict(", 1)
    namespace: dict[str, Any] = {"__name__": "policies_experiment"}

    def exists_may(
        name: str,
        queue: str = "NULL",
        subject: str = "NULL",
        queues_of: str = "NULL",
        state: str = "NULL",
        stale: str = "false",
    ) -> str:
        row = dict(queue=queue, subject=subject, queues_of=queues_of, state=state, stale=stale)
        ns = namespace
        # The account's columns renamed, so that none hides a column of the row
        # (claims.user_id, say) inside the sub-select.
        account = {k: f"me.me_{k}" for k in ns["_FUNCTION_ACCOUNT"]}
        body = ns["rule"](name, account, row)
        return (
            "EXISTS (SELECT 1 FROM (SELECT (v.me).* FROM public.reviewer_account_now v)"
            f" me (me_uid, me_mod, me_qa, me_lead, me_admin, me_queues) WHERE {body})"
        )

    namespace["_exists_may"] = exists_may
    exec(compile(source, str(path), "exec"), namespace)
    out = []
    for table, command, using, check in namespace["POLICIES"]:
        out.append(f"DROP POLICY IF EXISTS {table}_{command.lower()} ON {table}")
        out.append(namespace["_policy_sql"](table, command, using, check))
    return out


def probe_subplans(pg: PgServer, runs: int = 3000) -> None:
    """What sub-plans cost a prepared statement when they never run. A one-row lookup by
    primary key, as the owner (no policy), with 0, 20 and 60 uncorrelated sub-selects of
    the form the policies use for the account's facts, behind an OR that a true
    condition cuts short: the plan grows, the work done does not."""
    pg.create_database("probe", owner=pg.owner)
    dsn = pg.owner_url("probe").replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(dsn, autocommit=True) as c:
        c.execute("CREATE TABLE u (id int, db_role text, disabled bool)")
        c.execute("INSERT INTO u SELECT g, 'r' || g, false FROM generate_series(1, 50) g")
        c.execute("CREATE TABLE t (id int PRIMARY KEY, v int)")
        c.execute("INSERT INTO t SELECT g, g FROM generate_series(1, 1000) g")
        c.execute("ANALYZE")
        for n in (0, 20, 60):
            facts = " OR ".join(
                f"(v = -1 AND id = (SELECT u.id FROM u WHERE u.db_role = session_user"
                f" AND NOT u.disabled AND u.id > {i}))"
                for i in range(n)
            )
            query = "SELECT v FROM t WHERE id = %s" + (f" AND (v > 0 OR {facts})" if n else "")
            for i in range(10):  # prepared from the fifth run on
                c.execute(query, (i + 1,), prepare=True).fetchall()
            t0 = time.perf_counter()
            for i in range(runs):
                c.execute(query, (i % 1000 + 1,), prepare=True).fetchall()
            per = (time.perf_counter() - t0) / runs
            print(f"{n:>3} sub-plans never run: {per * 1e6:7.1f} us per execution (client wall)")


if __name__ == "__main__":
    raise SystemExit(main())
