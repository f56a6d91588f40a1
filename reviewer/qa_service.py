"""QA services: the QA reviewer's blind re-grade session, and what leads, admins and
moderators may do with QA results. (The sampling hook on a moderator's session is
reviewer.review_service.CalibratedReviewService, which uses QaPort from here.)

Every rule is enforced by the permission gate (reviewer.permissions, db.gate), not by
hiding controls:
- a QA reviewer's session returns items (reviewer.model.Claim), never the first grade;
- a moderator sees the outcome for their own decisions only once a lead adjudicated;
- QA grades before adjudication need SEE_QA_GRADES (leads).

Sampling cannot be lost: the decision's own transaction queues it (a trigger adds a
qa_sampling_due row, migration 0014), and every moderator's submit then works that
outbox off (db.qa.QaRepo.sample_due), its own decision and any a crashed workstation
left behind. The team's seed is a secret the database never holds, so the sampler
itself runs in the service, after COMMIT.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from reviewer.accounts import Account
from reviewer.agreement import AgreementReport, GradePair, agreement, agreement_by_moderator
from reviewer.clock import Clock
from reviewer.grading import Grading
from reviewer.model import Claim, DecisionReceipt, Exposure, QueueSummary, User
from reviewer.permissions import Check, Operation
from reviewer.qa_model import CalibrationNote, Dispute, GoldCandidate, GoldItem, QaSettings
from reviewer.sampling import GoldenMix, Sampler, SampleReason, Seed
from reviewer.sessions import (
    DEFAULT_LEASE_SECONDS,
    MAX_OPT_OUT_SKIPS,
    QA_REGRADE,
    EventsPort,
    LeasedSession,
    MediaPort,
    counted_release,
)
from reviewer.untrusted import MAX_NOTE, text
from reviewer.vocabulary import SkipReason
from reviewer.welfare_service import WelfareSession


class QaPort(EventsPort, Protocol):
    """The subset of db.qa.QaRepo the services use (besides the events every session
    meters); `check` is the gate's question, answered in the call's own transaction."""

    def settings(self) -> QaSettings: ...
    def set_settings(self, user_id: int, new: QaSettings, *, check: Check) -> None: ...
    def sample_decision(
        self,
        decision_id: int,
        sampler: Sampler,
        requested_by: int | None = ...,
        *,
        check: Check | None = ...,
    ) -> SampleReason | None: ...
    def sample_due(self, sampler: Sampler, limit: int = ...) -> int: ...
    def qa_queue(self, qa_user_id: int, *, check: Check) -> QueueSummary: ...
    def claim_sample(
        self, qa_user_id: int, lease_seconds: float, *, check: Check
    ) -> Claim | None: ...
    def renew_sample(self, claim: Claim, lease_seconds: float, *, check: Check) -> Claim: ...
    def submit_qa_grade(
        self,
        claim: Claim,
        grading: Grading,
        exposure: Exposure,
        client_token: str,
        *,
        check: Check,
    ) -> DecisionReceipt: ...
    def release_sample(
        self,
        claim: Claim,
        exposure: Exposure,
        why: str,
        skip_reason: SkipReason | None = ...,
        note: str = ...,
        *,
        check: Check,
    ) -> None: ...
    def disputes(self, *, check: Check) -> list[Dispute]: ...
    def qa_grade_of(self, sample_id: int, *, check: Check) -> Grading | None: ...
    def adjudicate(
        self, sample_id: int, lead_id: int, final: Grading, reason: str, *, check: Check
    ) -> None: ...
    def calibration_notes(self, moderator_id: int, *, check: Check) -> list[CalibrationNote]: ...
    def mark_notes_seen(self, moderator_id: int, sample_ids: list[int], *, check: Check) -> int: ...
    def qa_pairs(self, since: datetime, until: datetime, *, check: Check) -> list[GradePair]: ...
    def gold_pairs(self, since: datetime, until: datetime, *, check: Check) -> list[GradePair]: ...
    def mark_gold(self, item_id: int, expected: Grading, admin_id: int, *, check: Check) -> int: ...
    def unmark_gold(self, gold_id: int, admin_id: int, *, check: Check) -> None: ...
    def gold_items(self, *, check: Check) -> list[GoldItem]: ...
    def gold_candidates(self, limit: int = ..., *, check: Check) -> list[GoldCandidate]: ...
    def serve_gold(
        self,
        user_id: int,
        queue_id: int | None,
        lease_seconds: float,
        mix: GoldenMix,
        *,
        check: Check,
    ) -> Claim | None: ...


def per_user_seed(seed: Seed, user_id: int) -> bytes:
    """Each moderator gets their own gold schedule from the team seed."""
    raw = seed if isinstance(seed, bytes) else str(seed).encode()
    return raw + b":user:" + str(user_id).encode()


class QaReviewSession(LeasedSession):
    """A QA reviewer's blind re-grade session. It has the shape of ReviewService, so the
    review screen (protected image, grading panel, metered reveal, leases, prefetch)
    serves QA unchanged; the gate decides every call (QA role, current vetting, the
    sample's queue, the reviewer's own claim).

    Re-grading is exposure too: given the reviewer's `welfare` session (the one their
    sign-in started), claims are refused during a pause, a break, at a cap or after the
    shift, exactly as in review, and what is revealed counts towards the same caps."""

    def __init__(
        self,
        qa: QaPort,
        media: MediaPort,
        account: Account,
        clock: Clock,
        lease_seconds: float = DEFAULT_LEASE_SECONDS,
        *,
        welfare: WelfareSession,
    ) -> None:
        super().__init__(qa, media, account, welfare, QA_REGRADE, lease_seconds)
        self._qa = qa
        self._clock = clock
        self.user = User(account.id, account.name, account.role)
        # The review screen asks for this on any service. QA re-grades blind: no
        # known-match shortcut (it would show the list's grade).
        self.show_less = None

    def queues(self) -> list[QueueSummary]:
        return [self._qa.qa_queue(self.user.id, check=self._check(Operation.QA_QUEUE))]

    def claim_next(self, queue_id: int | None = None) -> Claim | None:
        """The next sample, or None. Raises wellbeing.policy.ReviewLocked while the
        welfare policy locks review; samples of an opted-out queue or kind are passed
        by (skipped as "opted out", so this reviewer is not offered them again)."""
        welfare = self.welfare
        welfare.ensure_can_claim()
        for _ in range(MAX_OPT_OUT_SKIPS):
            claim = self._qa.claim_sample(
                self.user.id, self.lease_seconds, check=self._check(Operation.QA_CLAIM)
            )
            if claim is None or welfare.allows(claim):
                return claim
            self._qa.release_sample(
                claim,
                Exposure(),
                "skip",
                SkipReason.OPTED_OUT,
                check=self._check(Operation.QA_SKIP, claim),
            )
        return None

    def _renew(self, claim: Claim, check: Check) -> Claim:
        return self._qa.renew_sample(claim, self.lease_seconds, check=check)

    def submit(
        self, claim: Claim, grading: Grading, exposure: Exposure, client_token: str
    ) -> DecisionReceipt:
        """Store the blind re-grade. The receipt says it was stored, not whether it
        agreed: the outcome goes to a lead, so the reviewer's next grade stays blind."""
        receipt = self._qa.submit_qa_grade(
            claim,
            grading.validated(),
            exposure,
            client_token,
            check=self._check(Operation.QA_SUBMIT, claim),
        )
        # As a decision: the revealed time counts, and a Category A re-grade pauses.
        if grading.severity is not None:
            self.welfare.decision_recorded(grading.severity, exposure)
        return receipt

    def skip(self, claim: Claim, reason: SkipReason, note: str, exposure: Exposure) -> None:
        text("note", note, MAX_NOTE)  # Untrusted (a ValueError) before anything changes
        with counted_release(self.welfare, exposure):
            self._qa.release_sample(
                claim, exposure, "skip", reason, note, check=self._check(Operation.QA_SKIP, claim)
            )

    def release(self, claim: Claim, exposure: Exposure, why: str = "released") -> None:
        with counted_release(self.welfare, exposure):
            self._qa.release_sample(
                claim, exposure, why, check=self._check(Operation.QA_RELEASE, claim)
            )


@dataclass(frozen=True)
class AgreementSummary:
    """Agreement over [since, until), per moderator and for the team, with the QA
    re-grades and the gold answers apart and together."""

    since: datetime
    until: datetime
    qa: dict[int, AgreementReport]
    gold: dict[int, AgreementReport]
    combined: dict[int, AgreementReport]
    team: AgreementReport


class QaService:
    """QA results for one signed-in person; the gate decides every call."""

    def __init__(self, qa: QaPort, account: Account, clock: Clock, seed: Seed) -> None:
        self._qa = qa
        self.account = account
        self._clock = clock
        self._seed = seed

    def _check(self, op: Operation, **on: int | None) -> Check:
        return Check(self.account.id, self.account.name, op, **on)

    # -- admins -------------------------------------------------------------------------

    def settings(self) -> QaSettings:
        return self._qa.settings()

    def set_settings(self, new: QaSettings) -> None:
        self._qa.set_settings(self.account.id, new, check=self._check(Operation.QA_SETTINGS))

    def mark_gold(self, item_id: int, expected: Grading) -> int:
        return self._qa.mark_gold(
            item_id, expected, self.account.id, check=self._check(Operation.GOLD)
        )

    def unmark_gold(self, gold_id: int) -> None:
        self._qa.unmark_gold(gold_id, self.account.id, check=self._check(Operation.GOLD))

    def gold_items(self) -> list[GoldItem]:
        return self._qa.gold_items(check=self._check(Operation.GOLD))

    def gold_candidates(self) -> list[GoldCandidate]:
        """Synthetic items that may be marked gold (only those: see qa_model)."""
        return self._qa.gold_candidates(check=self._check(Operation.GOLD))

    # -- leads --------------------------------------------------------------------------

    def request_sample(self, decision_id: int) -> SampleReason | None:
        """A lead sends a decision to QA on demand (audited with their name)."""
        sampler = Sampler(self._qa.settings().policy, self._seed)
        return self._qa.sample_decision(
            decision_id,
            sampler,
            requested_by=self.account.id,
            check=self._check(Operation.REQUEST_SAMPLE),
        )

    def disputes(self) -> list[Dispute]:
        return self._qa.disputes(check=self._check(Operation.DISPUTES))

    def qa_grade(self, sample_id: int) -> Grading | None:
        """A QA grade before adjudication: leads only."""
        return self._qa.qa_grade_of(sample_id, check=self._check(Operation.QA_GRADES))

    def adjudicate(self, sample_id: int, final: Grading, reason: str) -> None:
        """Settle a dispute; never one about the lead's own decision (or QA grade)."""
        text("reason", reason, MAX_NOTE)
        if not reason.strip():
            raise ValueError("Say why: the moderator will read this as calibration.")
        self._qa.adjudicate(
            sample_id,
            self.account.id,
            final,
            reason.strip(),
            check=self._check(Operation.ADJUDICATE, sample_id=sample_id),
        )

    def agreement(self, since: datetime, until: datetime) -> AgreementSummary:
        check = self._check(Operation.AGREEMENT)
        qa = self._qa.qa_pairs(since, until, check=check)
        gold = self._qa.gold_pairs(since, until, check=check)
        return AgreementSummary(
            since,
            until,
            agreement_by_moderator(qa),
            agreement_by_moderator(gold),
            agreement_by_moderator(qa + gold),
            agreement(qa + gold),
        )

    # -- moderators ---------------------------------------------------------------------

    def my_calibration(self) -> list[CalibrationNote]:
        """Adjudicated outcomes of my own decisions (nothing before adjudication)."""
        return self._qa.calibration_notes(self.account.id, check=self._check(Operation.CALIBRATION))

    def acknowledge(self, sample_ids: list[int]) -> int:
        return self._qa.mark_notes_seen(
            self.account.id, sample_ids, check=self._check(Operation.CALIBRATION)
        )
