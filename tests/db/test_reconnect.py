"""The connection to a team server drops between grading and submit."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import psycopg
import pytest
from netcut import CuttableProxy
from sqlalchemy.engine import make_url

from db import engine as db_engine
from db.store import Store
from reviewer.errors import OutcomeUnknown, StoreUnavailable
from reviewer.grading import Grading
from reviewer.model import Exposure
from reviewer.vocabulary import AgeBand, AgeConfidence, ProductionContext, Severity

GRADE = Grading(
    severity=Severity.B,
    age_band=AgeBand.B11_13,
    age_confidence=AgeConfidence.PROBABLE,
    production_context=ProductionContext.GROOMED,
)


@pytest.fixture
def proxied(db_url: str) -> Iterator[tuple[Store, CuttableProxy, Store]]:
    """(workstation store through a cuttable link, the link, a direct admin store)."""
    direct = Store.open(db_url)
    url = make_url(db_url)
    proxy = CuttableProxy(url.host or "127.0.0.1", url.port or 5432)
    through = Store.open(url.set(port=proxy.port).render_as_string(hide_password=False))
    yield through, proxy, direct
    through.close()
    proxy.close()
    direct.close()


@pytest.mark.postgres_only
def test_decision_is_stored_once_after_reconnection(proxied, enqueue) -> None:
    ws, link, direct = proxied
    [item] = enqueue(direct, 1)
    user = ws.accounts.ensure_user("mod")
    claim = ws.claims.claim_next(user.id)
    assert claim is not None
    token = str(uuid.uuid4())  # the workstation keeps this with the unsent grading
    link.cut()
    with pytest.raises(StoreUnavailable):
        ws.claims.submit_decision(
            claim, GRADE, Exposure(seconds_revealed=2.0, reveal_count=1), token
        )
    assert direct.items.decisions(item) == [], "nothing may be stored while the link is down"
    link.restore()
    receipt = ws.claims.submit_decision(
        claim, GRADE, Exposure(seconds_revealed=2.0, reveal_count=1), token
    )
    # A second retry (e.g. the reply to the first was lost) finds the same decision.
    again = ws.claims.submit_decision(
        claim, GRADE, Exposure(seconds_revealed=2.0, reveal_count=1), token
    )
    assert again == receipt
    [d] = direct.items.decisions(item)
    assert d["id"] == receipt.decision_id and d["severity"] == "B"
    assert len(direct.items.exposures(item)) == 1
    assert len(direct.audit_events(item_id=item, kind="decision")) == 1


@pytest.mark.postgres_only
def test_unreachable_server_says_so_on_every_call(proxied) -> None:
    ws, link, _ = proxied
    ws.accounts.ensure_user("mod")
    link.cut()
    with pytest.raises(StoreUnavailable, match="unreachable"):
        ws.items.queue_summaries()
    link.restore()
    assert ws.items.queue_summaries() == []


@pytest.mark.postgres_only
def test_a_lost_commit_says_the_outcome_is_unknown_and_the_retry_returns_the_receipt(
    proxied, enqueue
) -> None:
    """The line fails after COMMIT went out: the server stores the decision, the
    workstation never hears so. It must not say "not stored"; the retry with the same
    client token must return the stored receipt, and nothing is stored twice."""
    ws, link, direct = proxied
    [item] = enqueue(direct, 1)
    user = ws.accounts.ensure_user("mod")
    claim = ws.claims.claim_next(user.id)
    assert claim is not None
    token = str(uuid.uuid4())
    seen = Exposure(seconds_revealed=2.0, reveal_count=1)

    # COMMIT will arrive (with the decision's audit event, in one round trip), its
    # answer will not.
    link.swallow_replies_from(b"COMMIT")
    with pytest.raises(OutcomeUnknown, match="committing"):
        ws.claims.submit_decision(claim, GRADE, seen, token)
    [stored] = direct.items.decisions(item)  # it did land
    link.restore()
    receipt = ws.claims.submit_decision(claim, GRADE, seen, token)
    assert receipt.decision_id == stored["id"]
    assert len(direct.items.decisions(item)) == 1
    assert len(direct.audit_events(item_id=item, kind="decision")) == 1
    assert direct.verify_audit().ok


@pytest.mark.postgres_only
def test_a_cut_before_commit_says_not_stored(proxied, enqueue) -> None:
    """Cut while the decision's statements are on their way: that is known not stored,
    and says so (StoreUnavailable, not OutcomeUnknown)."""
    ws, link, direct = proxied
    [item] = enqueue(direct, 1)
    user = ws.accounts.ensure_user("mod")
    claim = ws.claims.claim_next(user.id)
    assert claim is not None
    link.cut()
    with pytest.raises(StoreUnavailable) as err:
        ws.claims.submit_decision(claim, GRADE, Exposure(), str(uuid.uuid4()))
    assert not isinstance(err.value, OutcomeUnknown)
    assert direct.items.decisions(item) == []


@pytest.mark.postgres_only
def test_stale_pooled_connections_are_not_used_after_an_outage(proxied, enqueue) -> None:
    """The server restarts (here: every connection through the link is dropped) while
    the workstation's pool holds idle connections: the very first call afterwards
    works, on a fresh connection, instead of failing on a dead pooled one."""
    ws, link, direct = proxied
    enqueue(direct, 2)
    user = ws.accounts.ensure_user("mod")
    # Three connections into the pool, all idle for well under the idle-ping time.
    held = [ws.engine.connect() for _ in range(3)]
    for conn in held:
        conn.exec_driver_sql("SELECT 1")
    for conn in held:
        conn.close()
    link.cut()
    link.restore()
    claim = ws.claims.claim_next(user.id)
    assert claim is not None
    ws.claims.submit_decision(claim, GRADE, Exposure(), str(uuid.uuid4()))
    assert ws.items.queue_summaries()[0].pending == 1


@pytest.mark.postgres_only
def test_the_kept_write_connection_is_checked_as_a_pooled_one(
    proxied, enqueue, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A workstation keeps one connection for its writes between transactions. Before
    each reuse it is checked as the pool checks a pooled one (db.engine): used a moment
    ago and nothing to read, it goes without a round trip; idle for IDLE_PING_S (a line
    dropped silently leaves nothing to read) it is pinged; one whose ping fails is
    replaced, and the write goes through on a fresh connection."""
    ws, _link, direct = proxied
    enqueue(direct, 3)
    user = ws.accounts.ensure_user("mod")
    dialect = ws.engine.dialect
    real_ping = dialect.do_ping
    pinged: list[object] = []
    dead: list[object] = []

    def ping(dbapi_conn: object) -> bool:
        pinged.append(dbapi_conn)
        if dbapi_conn in dead:
            raise psycopg.OperationalError("server closed the connection unexpectedly")
        return real_ping(dbapi_conn)

    monkeypatch.setattr(dialect, "do_ping", ping)
    claim = ws.claims.claim_next(user.id)
    assert claim is not None
    assert pinged == []
    monkeypatch.setattr(db_engine, "IDLE_PING_S", 0.0)
    ws.claims.submit_decision(claim, GRADE, Exposure(), str(uuid.uuid4()))
    [kept] = pinged
    dead.append(kept)
    claim = ws.claims.claim_next(user.id)
    assert claim is not None
    assert pinged[1] is kept  # its ping failed, so it was not used
    ws.claims.submit_decision(claim, GRADE, Exposure(), str(uuid.uuid4()))
    assert pinged[-1] is not kept
    assert len(direct.audit_events(kind="decision")) == 2
