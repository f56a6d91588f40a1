"""Every collaborator a service needs is a required constructor argument: no parameter
whose default is None (or whose type admits None) standing for "not wired". The
composition root (reviewer.composition) builds each of them for the GUI and the CLI,
tests/wiring.py for the tests."""

from __future__ import annotations

import inspect

import pytest

from reviewer.admin_service import AdminService
from reviewer.dashboard_service import DashboardService
from reviewer.matching import ShowLess
from reviewer.qa_service import QaReviewSession, QaService
from reviewer.referral_service import ReferralService
from reviewer.retention_service import RetentionService
from reviewer.review_service import CalibratedReviewService, ReviewService, Workstation
from reviewer.welfare_service import WelfareSession

# Parameters that may be None on purpose, with what None means (never "not wired").
MEANINGFUL_NONE = {
    # The first-run demo queue: a team's workstation seeds none.
    (Workstation, "seed_demo"),
}


@pytest.mark.parametrize(
    "service",
    [
        Workstation,
        ReviewService,
        CalibratedReviewService,
        QaReviewSession,
        QaService,
        DashboardService,
        ReferralService,
        RetentionService,
        AdminService,
        WelfareSession,
        ShowLess,
    ],
    ids=lambda c: c.__name__,
)
def test_no_collaborator_is_optional(service: type) -> None:
    optional = [
        name
        for name, p in inspect.signature(service.__init__).parameters.items()
        if (service, name) not in MEANINGFUL_NONE
        and (p.default is None or "None" in str(p.annotation))
    ]
    assert optional == []
