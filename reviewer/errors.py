"""Errors that cross layers: raised by the store, shown by the UI to a person."""

from __future__ import annotations


class StoreError(Exception):
    """Base for persistence errors the UI explains to the moderator."""


class StoreUnavailable(StoreError):
    """The database could not be reached; nothing was stored by the failed call.

    (Its subclass OutcomeUnknown is the one case where that is not known.)"""


class OutcomeUnknown(StoreUnavailable):
    """The connection was lost after COMMIT was sent and before the server answered:
    the change may or may not be stored. Retrying with the same client token settles
    it (a stored decision returns its receipt, one not stored is stored now)."""


class AuditChainMoved(StoreError):
    """Nothing was stored: the change's audit event was refused because this session's
    audit chain had been written since its last event (by another session, or by a
    COMMIT whose outcome this one never saw). The next attempt checks the chain first
    and goes through."""


class LeaseLost(StoreError):
    """The item is no longer held by this claim (its lease expired and it went back to
    the queue). The moderator's exposure was still recorded; the grading was not."""


class NotFound(StoreError):
    pass


class MediaMissing(StoreError):
    """The media store has no blob for a hash the database names."""
