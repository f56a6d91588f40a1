"""Handing a grade on to near-duplicates: one transaction, through the permission gate.

Attacked as an insider would, through ShowLess (the service the review screen uses):
another moderator handing on someone else's decision, a moderator whose vetting was
revoked after sign-in, a member sitting in a restricted queue, and a failure half-way
(which must leave the group as it was). SQLite and PostgreSQL.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import pytest
import wiring
from sign_in import stored_account
from sqlalchemy import update
from test_hash_matching import SIZE, VARIANTS, _grading, _ingest

from db.hashes import HashRepo
from db.media_store import MediaStore
from db.models import ItemRow, UserRow
from db.store import Store
from reviewer import synthetic
from reviewer.accounts import AccessDenied, Account, Role, VettingStatus, hash_password
from reviewer.clock import FakeClock
from reviewer.matching import HashIngest, ShowLess
from reviewer.model import Exposure, User


@dataclass
class Group:
    rep: int
    members: list[int]
    group_id: int
    moderator: Account
    admin: Account


def _show(store: Store, repo: HashRepo, acc: Account) -> ShowLess:
    return ShowLess(repo, store, User(acc.id, acc.name, acc.role), wiring.NoMedia().get)


@pytest.fixture
def group(store: Store, media: MediaStore, clock: FakeClock) -> Group:
    repo = store.hashes
    hook = HashIngest(repo)
    img = synthetic.make_image(*SIZE, 31)
    rep = _ingest(store, media, hook, synthetic.encode(img, "JPEG"), "r")
    for name, make in VARIANTS.items():
        _ingest(store, media, hook, make(img), name)
    admin = stored_account(store, "Ada Admin", Role.ADMIN)
    with store.engine.begin() as conn:  # an admin who can sign in remains, whatever happens
        conn.execute(
            update(UserRow.__table__)
            .where(UserRow.__table__.c.id == admin.id)
            .values(password_hash=hash_password("admin password 1"))
        )
    moderator = stored_account(store, "Mo")
    service = wiring.session(store, media, moderator, accounts=store.accounts, clock=clock)
    claim = service.claim_next()
    assert claim is not None and claim.item.id == rep
    service.submit(claim, _grading(), Exposure(), str(uuid.uuid4()))
    found = _show(store, repo, moderator).group_after(rep)
    assert found is not None
    return Group(rep, [m.item_id for m in found.pending_except(rep)], found.id, moderator, admin)


def _denied(store: Store) -> list[str]:
    return [e.detail["operation"] for e in store.audit_events(kind="access_denied")]


def test_the_moderator_hands_on_their_own_grade(store: Store, group: Group) -> None:
    done = _show(store, store.hashes, group.moderator).settle(
        group.group_id, group.rep, group.members
    )
    assert set(done.decided) == set(group.members)


def test_nobody_hands_on_someone_elses_decision(store: Store, group: Group) -> None:
    other = stored_account(store, "Mallory")
    with pytest.raises(AccessDenied, match="someone else"):
        _show(store, store.hashes, other).settle(group.group_id, group.rep, group.members)
    assert _denied(store) == ["propagate_group"]
    assert {store.items.item_status(i) for i in group.members} == {"pending"}


def test_a_vetting_revoked_after_sign_in_counts_at_once(store: Store, group: Group) -> None:
    show = _show(store, store.hashes, group.moderator)
    store.accounts.set_vetting(group.admin, group.moderator.id, VettingStatus.REVOKED, None)
    with pytest.raises(AccessDenied, match="vetting"):
        show.settle(group.group_id, group.rep, group.members)
    assert _denied(store) == ["propagate_group"]
    assert {store.items.item_status(i) for i in group.members} == {"pending"}


def test_a_member_in_a_restricted_queue_is_not_decided(store: Store, group: Group) -> None:
    repo = store.accounts
    secret = store.items.ensure_queue("Restricted")
    repo.set_queue_restricted(group.admin, secret, True)
    hidden = group.members[0]
    with store.engine.begin() as conn:
        conn.execute(
            update(ItemRow.__table__)
            .where(ItemRow.__table__.c.id == hidden)
            .values(queue_id=secret)
        )
    done = _show(store, store.hashes, group.moderator).settle(
        group.group_id, group.rep, group.members
    )
    assert hidden in done.skipped and hidden not in done.decided
    assert store.items.item_status(hidden) == "pending"
    assert set(done.decided) == set(group.members[1:])


def test_detaching_and_handing_on_are_one_transaction(
    store: Store, media: MediaStore, clock: FakeClock, group: Group
) -> None:
    repo = store.hashes
    # An item of the moderator's own, decided, but in no group.
    unrelated = synthetic.encode(synthetic.make_image(*SIZE, 77), "JPEG")
    own = _ingest(store, media, HashIngest(repo), unrelated, "own")
    service = wiring.session(store, media, group.moderator, accounts=store.accounts, clock=clock)
    # Hold everything claimed ahead of it (a release would put it first in line again).
    held = []
    claim = service.claim_next()
    while claim is not None and claim.item.id != own:
        held.append(claim)
        claim = service.claim_next()
    assert claim is not None
    for other in held:
        service.release(other, Exposure())
    service.submit(claim, _grading(), Exposure(), str(uuid.uuid4()))
    lonely = group.members[-1]
    # Handing on from an item outside the group fails after the detach was written:
    # the detach must be rolled back with it.
    with pytest.raises(ValueError, match="not in group"):
        _show(store, repo, group.moderator).settle(
            group.group_id, own, group.members[:-1], [lonely]
        )
    after = repo.group_of(lonely)
    assert after is not None and after.id == group.group_id
    assert not store.audit_events(kind="group_member_detached")
    assert {store.items.item_status(i) for i in group.members} == {"pending"}
