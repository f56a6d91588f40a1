"""The permission matrix: every operation a service offers, and what must hold for it.

One table, as data, so that the gate (db/gate.py) decides every call from it, the
README's role table is checked against it, and PostgreSQL grants and policies can be
generated from or compared with it. Pure: no database, no screens.

What a rule can ask for, checked in this order (the first failure is the refusal):
1. the account exists and is enabled;
2. it holds one of the rule's roles;
3. for work that shows material, a current vetting (reviewer.accounts.VETTING_VALID_DAYS);
4. for an item in a restricted queue, access to that queue granted to the account;
5. relation to the data: the claim acted on is the account's own; the decision being
   settled is not the account's own (nor a QA grade it gave).

Everything is read by the gate from the database inside the action's own transaction,
never taken from the caller: a Claim object names its claim, the gate reads whose it is.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum
from typing import TypedDict

from reviewer.accounts import Account, Role

ALL_ROLES = frozenset(Role)
MOD = frozenset({Role.MODERATOR})
QA = frozenset({Role.QA})
LEAD = frozenset({Role.LEAD})
ADMIN = frozenset({Role.ADMIN})


class Operation(StrEnum):
    # -- review: a moderator's queue
    CLAIM = "claim"  # also a golden-set serve: it is handed out as a claim
    OPEN = "open"
    VIEW_MEDIA = "view_media"
    REVEAL = "reveal"  # reveal on/off, unmuting sound
    RENEW = "renew"
    SUBMIT = "submit"
    SKIP = "skip"
    RELEASE = "release"
    PROPAGATE_GROUP = "propagate_group"  # a grade offered to a near-duplicate group
    OWN_HISTORY = "own_history"
    TEAM_HISTORY = "team_history"
    CALIBRATION = "calibration"  # adjudicated outcomes of one's own decisions
    # -- QA: blind re-grades of sampled decisions
    QA_QUEUE = "qa_queue"
    QA_CLAIM = "qa_claim"
    QA_OPEN = "qa_open"
    QA_VIEW_MEDIA = "qa_view_media"
    QA_REVEAL = "qa_reveal"
    QA_RENEW = "qa_renew"
    QA_SUBMIT = "qa_submit"
    QA_SKIP = "qa_skip"
    QA_RELEASE = "qa_release"
    # -- leads: QA results and the dashboard
    QA_GRADES = "qa_grades"  # QA grades before adjudication
    DISPUTES = "disputes"
    ADJUDICATE = "adjudicate"
    REQUEST_SAMPLE = "request_sample"
    AGREEMENT = "agreement"
    DASHBOARD = "dashboard"
    RELEASE_HELD = "release_held"  # hand back what another person holds
    REASSIGN = "reassign"
    END_BREAK = "end_break"
    # -- referrals and retention
    REFERRAL_BUILD = "referral_build"
    REFERRAL_READ = "referral_read"
    REFERRAL_EXPORT = "referral_export"
    RETENTION = "retention"  # holds, erasure requests, disposal runs
    # -- administration
    MANAGE_USERS = "manage_users"
    SECURITY_SETTINGS = "security_settings"
    QA_SETTINGS = "qa_settings"
    WELFARE_SETTINGS = "welfare_settings"
    REPORTING_SETTINGS = "reporting_settings"
    GOLD = "gold"  # the golden set: mark, unmark, list

    @property
    def label(self) -> str:
        """What the person tried, in words that finish "may not ..."."""
        return _LABELS.get(self, self.value.replace("_", " "))


_LABELS = {
    Operation.CLAIM: "review items (claim one)",
    Operation.OPEN: "open this item",
    Operation.VIEW_MEDIA: "view this item",
    Operation.REVEAL: "reveal this item",
    Operation.RENEW: "keep holding this item",
    Operation.SUBMIT: "submit a decision on this item",
    Operation.SKIP: "skip this item",
    Operation.RELEASE: "hand this item back",
    Operation.PROPAGATE_GROUP: "grade this item's near-duplicates",
    Operation.OWN_HISTORY: "see their own decisions",
    Operation.TEAM_HISTORY: "see other people's decisions",
    Operation.CALIBRATION: "see calibration notes",
    Operation.QA_QUEUE: "see the QA queue",
    Operation.QA_CLAIM: "re-grade samples for QA",
    Operation.QA_OPEN: "open a QA sample",
    Operation.QA_VIEW_MEDIA: "view a QA sample",
    Operation.QA_REVEAL: "reveal a QA sample",
    Operation.QA_RENEW: "keep holding a QA sample",
    Operation.QA_SUBMIT: "submit a QA re-grade",
    Operation.QA_SKIP: "skip a QA sample",
    Operation.QA_RELEASE: "hand a QA sample back",
    Operation.QA_GRADES: "see QA grades before adjudication",
    Operation.REQUEST_SAMPLE: "send a decision to QA",
    Operation.REFERRAL_BUILD: "build a referral",
    Operation.REFERRAL_READ: "read referrals",
    Operation.REFERRAL_EXPORT: "export a referral",
    Operation.RETENTION: "place holds, request erasure, run disposal",
    Operation.SECURITY_SETTINGS: "change the idle-lock settings",
    Operation.QA_SETTINGS: "change the QA settings",
    Operation.WELFARE_SETTINGS: "change the welfare settings",
    Operation.REPORTING_SETTINGS: "change the reporting settings",
    Operation.DISPUTES: "see QA disputes",
    Operation.ADJUDICATE: "adjudicate",
    Operation.AGREEMENT: "see agreement figures",
    Operation.DASHBOARD: "see the team dashboard",
    Operation.RELEASE_HELD: "hand back someone else's items",
    Operation.REASSIGN: "reassign someone else's items",
    Operation.END_BREAK: "end someone's break early",
    Operation.MANAGE_USERS: "manage users",
    Operation.GOLD: "manage the golden set",
}


@dataclass(frozen=True)
class Rule:
    """What must hold for one operation (beyond an enabled account)."""

    roles: frozenset[Role]  # any one of them
    vetted: bool = False  # shows material: needs a current vetting
    queue: bool = False  # an item's restricted queue needs granted access
    own_claim: bool = False  # acts on a claim, which must be the account's own
    not_own_decision: bool = False  # settles a decision that must not be the account's
    note: str = field(default="", compare=False)


class _Work(TypedDict):
    """The shared part of the rules for work that shows material (typed so ** checks)."""

    roles: frozenset[Role]
    vetted: bool
    queue: bool


_REVIEW: _Work = {"roles": MOD, "vetted": True, "queue": True}
_QA_WORK: _Work = {"roles": QA, "vetted": True, "queue": True}

MATRIX: dict[Operation, Rule] = {
    Operation.CLAIM: Rule(**_REVIEW, note="restricted queues only with access, gold too"),
    Operation.OPEN: Rule(**_REVIEW, own_claim=True),
    Operation.VIEW_MEDIA: Rule(**_REVIEW, own_claim=True),
    Operation.REVEAL: Rule(**_REVIEW, own_claim=True),
    Operation.RENEW: Rule(**_REVIEW, own_claim=True),
    Operation.SUBMIT: Rule(**_REVIEW, own_claim=True),
    # Handing an item back shows nothing: no vetting needed, so a lapsed vetting does
    # not trap an item until its lease runs out.
    Operation.SKIP: Rule(MOD, own_claim=True),
    Operation.RELEASE: Rule(MOD, own_claim=True),
    Operation.PROPAGATE_GROUP: Rule(**_REVIEW, own_claim=True),
    Operation.OWN_HISTORY: Rule(ALL_ROLES),
    Operation.TEAM_HISTORY: Rule(LEAD),
    Operation.CALIBRATION: Rule(ALL_ROLES),
    Operation.QA_QUEUE: Rule(QA, vetted=True, queue=True, note="counts what may be claimed"),
    Operation.QA_CLAIM: Rule(**_QA_WORK, note="never one's own decision"),
    Operation.QA_OPEN: Rule(**_QA_WORK, own_claim=True),
    Operation.QA_VIEW_MEDIA: Rule(**_QA_WORK, own_claim=True),
    Operation.QA_REVEAL: Rule(**_QA_WORK, own_claim=True),
    Operation.QA_RENEW: Rule(**_QA_WORK, own_claim=True),
    Operation.QA_SUBMIT: Rule(**_QA_WORK, own_claim=True),
    Operation.QA_SKIP: Rule(QA, own_claim=True),
    Operation.QA_RELEASE: Rule(QA, own_claim=True),
    Operation.QA_GRADES: Rule(LEAD),
    Operation.DISPUTES: Rule(LEAD),
    Operation.ADJUDICATE: Rule(LEAD, not_own_decision=True),
    Operation.REQUEST_SAMPLE: Rule(LEAD),
    Operation.AGREEMENT: Rule(LEAD),
    Operation.DASHBOARD: Rule(LEAD),
    Operation.RELEASE_HELD: Rule(LEAD),
    Operation.REASSIGN: Rule(LEAD, queue=True, note="the target queue: the lead needs access"),
    Operation.END_BREAK: Rule(LEAD),
    Operation.REFERRAL_BUILD: Rule(LEAD | ADMIN),
    Operation.REFERRAL_READ: Rule(LEAD | ADMIN),
    Operation.REFERRAL_EXPORT: Rule(LEAD | ADMIN),
    Operation.RETENTION: Rule(ADMIN),
    Operation.MANAGE_USERS: Rule(ADMIN),
    Operation.SECURITY_SETTINGS: Rule(ADMIN),
    Operation.QA_SETTINGS: Rule(ADMIN),
    Operation.WELFARE_SETTINGS: Rule(ADMIN),
    Operation.REPORTING_SETTINGS: Rule(ADMIN),
    Operation.GOLD: Rule(ADMIN),
}


@dataclass(frozen=True)
class Check:
    """What a service asks the gate before one call: who acts (the account the service
    was built for, never an id from its caller), which operation, on which data. The
    gate reads everything else (the account, the claim's holder, the queue's
    restriction, the decision's author) from the database in the action's transaction."""

    actor_id: int
    actor_name: str
    op: Operation
    queue_id: int | None = None  # a queue asked for (claim from it, reassign to it)
    claim_id: int | None = None  # the claim acted on
    sample_id: int | None = None  # the QA sample being settled
    item_id: int | None = None  # an item whose queue's restriction applies


@dataclass(frozen=True)
class Facts:
    """What the gate read about the data an operation touches (None: not concerned)."""

    queue_id: int | None = None
    queue_restricted: bool = False
    claim_user_id: int | None = None
    claim_found: bool = True
    decided_by: frozenset[int] = frozenset()  # the decision's and QA grade's authors


def refusal(op: Operation, account: Account | None, today: date, facts: Facts) -> str | None:
    """Why `account` may not do `op` on the data described by `facts`; None: it may.

    The reason is in plain words for the person refused (and the audit trail)."""
    rule = MATRIX[op]
    if account is None:
        return "This account no longer exists."
    who = account.name
    if account.disabled:
        return f"{who}'s account is disabled."
    if not rule.roles & account.roles:
        return f"{who} ({account.role}) may not {op.label}."
    if rule.vetted and not account.vetting_current(today):
        return f"{who}'s vetting is not current; work that shows material needs a current vetting."
    if (
        rule.queue
        and facts.queue_restricted
        and facts.queue_id is not None
        and facts.queue_id not in account.queue_ids
    ):
        return "This queue is restricted and your account has no access to it."
    if rule.own_claim and (not facts.claim_found or facts.claim_user_id != account.id):
        return f"{who} may not {op.label} an item held by someone else."
    if rule.not_own_decision and account.id in facts.decided_by:
        return f"{who} may not {op.label} a decision of their own."
    return None


def allowed_roles(op: Operation) -> frozenset[Role]:
    return MATRIX[op].roles


def offers(account: Account, ops: Collection[Operation]) -> bool:
    """For screens choosing what to show: the account's roles allow one of `ops`. The
    gate decides each call again, with the account as stored at that moment."""
    return not account.disabled and any(MATRIX[op].roles & account.roles for op in ops)


def role_table_markdown() -> str:
    """The matrix as README's role table (tests/unit/test_permission_matrix.py keeps the
    README equal to this): per operation, per role, "yes", "vetted" (a current vetting
    needed) or "-"; the last column says what else must hold."""
    roles = (Role.MODERATOR, Role.QA, Role.LEAD, Role.ADMIN)
    lines = [
        "| operation | " + " | ".join(r.label for r in roles) + " | also |",
        "|---|" + "---|" * len(roles) + "---|",
    ]
    for op, rule in MATRIX.items():
        cell = "vetted" if rule.vetted else "yes"
        also = [
            text
            for flag, text in (
                (rule.queue, "restricted queue: access"),
                (rule.own_claim, "own claim"),
                (rule.not_own_decision, "not own decision"),
            )
            if flag
        ]
        cells = [cell if r in rule.roles else "-" for r in roles]
        lines.append(f"| {op.label} | " + " | ".join(cells) + f" | {', '.join(also)} |")
    return "\n".join(lines) + "\n"
