"""The team tools a signed-in person may open besides the review screen, chosen by their
permissions when they sign in (the services check again on every call)."""

from __future__ import annotations

from dataclasses import dataclass

from reviewer.dashboard_service import DashboardService
from reviewer.qa_service import QaReviewSession, QaService
from reviewer.referral_service import ReferralService


@dataclass(frozen=True)
class TeamServices:
    dashboard: DashboardService | None = None  # leads: queues, workload, exposure, QA
    qa_session: QaReviewSession | None = None  # QA reviewers: blind re-grades
    referrals: ReferralService | None = None  # leads and admins: packages for authorities
    adjudication: QaService | None = None  # leads: settle QA disputes
    calibration: QaService | None = None  # moderators: outcomes of their adjudicated decisions
    gold: QaService | None = None  # admins: the golden set

    @property
    def any(self) -> bool:
        """Anything for the Team menu (the golden set goes in the Admin menu)."""
        return any(
            (self.dashboard, self.qa_session, self.referrals, self.adjudication, self.calibration)
        )
