"""The connection to a team server drops between grading and submit."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from netcut import CuttableProxy
from sqlalchemy.engine import make_url

from db.store import Store
from reviewer.errors import StoreUnavailable
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
    user = ws.ensure_user("mod")
    claim = ws.claim_next(user.id)
    assert claim is not None
    token = str(uuid.uuid4())  # the workstation keeps this with the unsent grading
    link.cut()
    with pytest.raises(StoreUnavailable):
        ws.submit_decision(claim, GRADE, Exposure(seconds_revealed=2.0, reveal_count=1), token)
    assert direct.decisions(item) == [], "nothing may be stored while the link is down"
    link.restore()
    receipt = ws.submit_decision(
        claim, GRADE, Exposure(seconds_revealed=2.0, reveal_count=1), token
    )
    # A second retry (e.g. the reply to the first was lost) finds the same decision.
    again = ws.submit_decision(claim, GRADE, Exposure(seconds_revealed=2.0, reveal_count=1), token)
    assert again == receipt
    [d] = direct.decisions(item)
    assert d["id"] == receipt.decision_id and d["severity"] == "B"
    assert len(direct.exposures(item)) == 1
    assert len(direct.audit_events(item_id=item, kind="decision")) == 1


@pytest.mark.postgres_only
def test_unreachable_server_says_so_on_every_call(proxied) -> None:
    ws, link, _ = proxied
    ws.ensure_user("mod")
    link.cut()
    with pytest.raises(StoreUnavailable, match="unreachable"):
        ws.queue_summaries()
    link.restore()
    assert ws.queue_summaries() == []
