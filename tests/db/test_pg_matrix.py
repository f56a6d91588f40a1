"""The server's rule book (reviewer_may, migration 0018) and the services' permission
matrix (reviewer.permissions.MATRIX) agree: for every operation both decide, each app
role alone gets the same answer from both, on its own data and on someone else's, in
a queue it may see and in a restricted one it may not.

The policies are written in SQL in the migration (a migration is history: it must not
change when the matrix does); this test is what keeps the two in step. A new rule in
either place without the other fails here, or in the coverage check at the end.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from sqlalchemy import Connection, text

from db.store import Store
from reviewer.accounts import Role
from reviewer.permissions import MATRIX, Operation

pytestmark = pytest.mark.postgres_only

ME, SOMEONE_ELSE = 7, 8
VISIBLE, RESTRICTED = 1, 2  # the account may see queue 1, not queue 2

# reviewer_may op -> (matrix operation, the row's subject is the actor's own?, state).
# "own": the rule acts on the actor's own claim (own_claim) or must not touch the
# actor's own decision (not_own_decision); the other case is checked too.
AGREES: dict[str, tuple[tuple[Operation, ...], str | None]] = {
    # Changing an item: claiming a pending one (CLAIM), a lead handing back or
    # reassigning what another holds (RELEASE_HELD), an admin's disposal (RETENTION).
    "change_item": ((Operation.CLAIM, Operation.RELEASE_HELD, Operation.RETENTION), "pending"),
    # Deciding on a claim: SUBMIT (own claim only).
    "decide": ((Operation.SUBMIT,), None),
    # A QA grade: given by QA on its own claim (QA_SUBMIT).
    "qa_grade": ((Operation.QA_SUBMIT,), None),
    # Adjudicating: LEAD, never one's own decision.
    "adjudicate": ((Operation.ADJUDICATE,), None),
    # Overriding another's hold: RELEASE_HELD / REASSIGN.
    "override": ((Operation.RELEASE_HELD, Operation.REASSIGN), None),
    # Accounts: MANAGE_USERS.
    "manage_users": ((Operation.MANAGE_USERS,), None),
}
# Reads: another person's rows (p_subject = someone else).
READS: dict[str, Operation] = {
    "see_team": Operation.TEAM_HISTORY,  # other moderators' decisions: leads only
    "see_qa_grade": Operation.QA_GRADES,  # QA grades before adjudication: leads only
    # everyone's decisions, exposures and QA grades for retention and the hash export
    "admin_jobs": Operation.RETENTION,
}
# Rules with no matrix operation of their own, and why.
NOT_IN_MATRIX = {
    "see_queue": "which queues exist for this account: part of every queue rule",
    "see_item": "what an item-reading statement may see: CLAIM/OPEN for moderators, "
    "QA_OPEN for QA, the dashboard and referrals for leads and admins",
    "keep_item": "what an item may become: the new-row side of change_item",
    "own": "a row about oneself (claims, skips, exposures, welfare)",
    "qa_sample": "the sampling outbox written in a moderator's decision transaction",
    "ingest": "command-line ingest, for leads and admins (README), not a service call",
    "see_media": "media rows by the queues of their items: CLAIM/OPEN's queue rule",
}


@pytest.fixture
def conn(db_url: str) -> Iterator[Connection]:
    store = Store.open(db_url, audit_key=b"k" * 32)
    try:
        with store.engine.connect() as c:
            yield c
    finally:
        store.close()


def _may(
    conn: Connection, op: str, role: Role, queue: int, subject: int | None, state: str | None
) -> bool:
    flags = {r: r is role for r in Role}
    return bool(
        conn.execute(
            text(
                "SELECT reviewer_may(:op, ROW(:me, :mod, :qa, :lead, :admin, ARRAY[:visible])"
                "::reviewer_account, :queue, :subject, NULL, :state, false)"
            ),
            {
                "op": op,
                "me": ME,
                "mod": flags[Role.MODERATOR],
                "qa": flags[Role.QA],
                "lead": flags[Role.LEAD],
                "admin": flags[Role.ADMIN],
                "visible": VISIBLE,
                "queue": queue,
                "subject": subject,
                "state": state,
            },
        ).scalar()
    )


@pytest.mark.parametrize("op", sorted(AGREES))
def test_each_rule_gives_each_role_what_the_matrix_gives_it(conn: Connection, op: str) -> None:
    operations, state = AGREES[op]
    rules = [MATRIX[o] for o in operations]
    assert len({(r.own_claim, r.not_own_decision) for r in rules}) == 1, "one relation"
    rule = rules[0]
    for role in Role:
        allowed = any(role in r.roles for r in rules)
        if rule.own_claim:
            own, other = allowed, False
        elif rule.not_own_decision:
            own, other = False, allowed
        else:
            own = other = allowed
        # Pending items are nobody's: the claim rule has no subject.
        subject_own = None if state == "pending" else ME
        subject_other = None if state == "pending" else SOMEONE_ELSE
        got_own = _may(conn, op, role, VISIBLE, subject_own, state)
        got_other = _may(conn, op, role, VISIBLE, subject_other, state)
        assert (got_own, got_other) == (own, other), (op, role.value)
        # In a restricted queue the account may not see: only a rule without the queue
        # condition lets it. A rule on one's own claim needs none of its own: the claim
        # was only handed out from a queue the account may see (CLAIM, QA_CLAIM).
        if not rule.own_claim:
            unqueued = any(role in r.roles and not r.queue for r in rules)
            got = _may(conn, op, role, RESTRICTED, subject_other, state)
            assert got == (other and unqueued), (op, role.value, "restricted queue")


@pytest.mark.parametrize("op", sorted(READS))
def test_reading_others_rows_follows_the_matrix(conn: Connection, op: str) -> None:
    rule = MATRIX[READS[op]]
    for role in Role:
        got = _may(conn, op, role, VISIBLE, SOMEONE_ELSE, None)
        assert got == (role in rule.roles), (op, role.value)


def test_every_rule_of_the_server_is_accounted_for(conn: Connection) -> None:
    body = conn.execute(
        text("SELECT prosrc FROM pg_proc WHERE proname = 'reviewer_may'")
    ).scalar_one()
    ops = set(re.findall(r"WHEN '([a-z_]+)' THEN", body))
    assert ops == set(AGREES) | set(READS) | set(NOT_IN_MATRIX)
    # And a rule the server does not know is refused, for every role.
    for role in Role:
        assert not _may(conn, "no_such_rule", role, VISIBLE, ME, None)
