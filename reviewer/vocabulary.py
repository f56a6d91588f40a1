"""The grading vocabulary of ../shared/design/DOMAIN.md, as stable string enums.

Values are what is stored in the database and written to audit and referral records,
so they never change once released; labels are what the UI shows.
"""

from __future__ import annotations

from enum import StrEnum


class Source(StrEnum):
    LIVESTREAM = "livestream"
    NGO = "ngo"
    TRUSTED_FLAGGER = "trusted_flagger"
    HASH_MATCH = "hash_match"
    CLASSIFIER = "classifier"
    USER_REPORT = "user_report"

    @property
    def label(self) -> str:
        return _SOURCE_LABELS[self]


_SOURCE_LABELS = {
    Source.LIVESTREAM: "Livestream capture",
    Source.NGO: "NGO / hotline report",
    Source.TRUSTED_FLAGGER: "Trusted flagger",
    Source.HASH_MATCH: "Known-hash match",
    Source.CLASSIFIER: "Classifier hit",
    Source.USER_REPORT: "User report",
}


class Severity(StrEnum):
    """UK Sentencing Council categories plus the non-graded outcomes."""

    A = "A"
    B = "B"
    C = "C"
    NOT_ILLEGAL = "not_illegal"
    NOT_ASSESSABLE = "not_assessable"
    ADULT = "adult"

    @property
    def label(self) -> str:
        return _SEVERITY_LABELS[self]

    @property
    def is_category(self) -> bool:
        """A, B or C: indecent imagery of a child, which needs an age band."""
        return self in (Severity.A, Severity.B, Severity.C)


_SEVERITY_LABELS = {
    Severity.A: "Category A",
    Severity.B: "Category B",
    Severity.C: "Category C",
    Severity.NOT_ILLEGAL: "Not illegal",
    Severity.NOT_ASSESSABLE: "Not assessable",
    Severity.ADULT: "Adult / not a child",
}


class AgeBand(StrEnum):
    """Band of the youngest person visible."""

    B0_2 = "0-2"
    B3_6 = "3-6"
    B7_10 = "7-10"
    B11_13 = "11-13"
    B14_15 = "14-15"
    B16_17 = "16-17"
    ADULT = "18+"

    @property
    def label(self) -> str:
        return self.value

    @property
    def ordinal(self) -> int:
        return list(AgeBand).index(self)


class AgeConfidence(StrEnum):
    CERTAIN = "certain"
    PROBABLE = "probable"
    UNCERTAIN = "uncertain"

    @property
    def label(self) -> str:
        return self.value.capitalize()


class ProductionContext(StrEnum):
    """First-person production context. UI wording avoids blaming the child."""

    NOT_FIRST_PERSON = "not_first_person"
    PEER = "fp_peer"
    GROOMED = "fp_groomed"
    COERCED = "fp_coerced"
    TRAFFICKED = "fp_trafficked"
    REDISTRIBUTED = "fp_redistributed"
    UNKNOWN = "unknown"

    @property
    def label(self) -> str:
        return _CONTEXT_LABELS[self]


_CONTEXT_LABELS = {
    ProductionContext.NOT_FIRST_PERSON: "Not first-person produced",
    ProductionContext.PEER: "First-person: shared voluntarily with a peer",
    ProductionContext.GROOMED: "First-person: groomed",
    ProductionContext.COERCED: "First-person: coerced or extorted",
    ProductionContext.TRAFFICKED: "First-person: trafficked or commercial",
    ProductionContext.REDISTRIBUTED: "First-person: redistributed without consent",
    ProductionContext.UNKNOWN: "Unknown",
}


class Action(StrEnum):
    REMOVE = "remove"
    REPORT = "report"
    ADD_HASH = "add_hash"
    CLOSE_ACCOUNT = "close_account"
    ESCALATE_URGENT = "escalate_urgent"
    SEND_TO_LEAD = "send_to_lead"

    @property
    def label(self) -> str:
        return _ACTION_LABELS[self]


_ACTION_LABELS = {
    Action.REMOVE: "Remove",
    Action.REPORT: "Report to authority",
    Action.ADD_HASH: "Add hash to our list",
    Action.CLOSE_ACCOUNT: "Close account",
    Action.ESCALATE_URGENT: "Escalate: child at risk",
    Action.SEND_TO_LEAD: "Send to lead",
}


class SkipReason(StrEnum):
    OPTED_OUT = "opted_out"
    NEEDS_SPECIALIST = "needs_specialist"
    CONFLICT_OF_INTEREST = "conflict_of_interest"
    WELFARE = "welfare"
    OTHER = "other"

    @property
    def label(self) -> str:
        return _SKIP_LABELS[self]


_SKIP_LABELS = {
    SkipReason.OPTED_OUT: "Outside my opt-in categories",
    SkipReason.NEEDS_SPECIALIST: "Needs a specialist (language, video)",
    SkipReason.CONFLICT_OF_INTEREST: "Conflict of interest",
    SkipReason.WELFARE: "Need to step away from this one",
    SkipReason.OTHER: "Other",
}


class NotAssessableReason(StrEnum):
    UNREADABLE = "unreadable"
    TOO_SMALL = "too_small"
    INSUFFICIENT_DETAIL = "insufficient_detail"
    OTHER = "other"

    @property
    def label(self) -> str:
        return _NA_LABELS[self]


_NA_LABELS = {
    NotAssessableReason.UNREADABLE: "File cannot be decoded",
    NotAssessableReason.TOO_SMALL: "Too small or low quality",
    NotAssessableReason.INSUFFICIENT_DETAIL: "Subject not discernible",
    NotAssessableReason.OTHER: "Other (say why in the note)",
}
