"""Sign-in names and other identity text a caller supplies: refused with a clear reason
when no account could have them (a megabyte, control characters, a lone surrogate, a
right-to-left override), and never stored whole: not as an account, not in the
`login_failed` event that records the attempt, not in an `access_denied` event made
for a forged account object. Runs on SQLite and PostgreSQL.
"""

from __future__ import annotations

import dataclasses
import json

import pytest
import wiring

from db import audit
from db.accounts import AccountsRepo
from db.media_store import MediaStore
from db.store import Store
from db.team import team_sign_in
from reviewer.accounts import AccessDenied, Account, LoginFailed, Role
from reviewer.clock import FakeClock
from reviewer.review_service import Workstation
from reviewer.untrusted import MAX_SIGN_IN_NAME, RECORDED_NAME_CHARS, Untrusted

ADMIN_PW = "admin password 1"
MOD_PW = "moderator password 1"

HOSTILE = {
    "one megabyte": "A" * 1_000_000,
    "just too long": "n" * (MAX_SIGN_IN_NAME + 1),
    "terminal escape": "Mo\x1b[2J\x1b[31mroot",
    "NUL": "Mo\0Derator",
    "lone surrogate": "Mo\ud800",
    "right-to-left override": "Mo\u202egnp.exe",
    "bell and backspace": "Mo\x07\x08\x08Ada Admin",
    "zero-width joiner": "Ad\u200da Admin",
}
# How long any stored form of a hostile name may be: the escaped excerpt and its length.
STORED_MAX = 4 * RECORDED_NAME_CHARS + 40


@dataclasses.dataclass
class World:
    store: Store
    repo: AccountsRepo
    ws: Workstation
    admin: Account


@pytest.fixture
def world(store: Store, media: MediaStore, clock: FakeClock) -> World:
    repo = store.accounts
    ws = wiring.workstation(store, media, accounts=repo, clock=clock)
    admin = ws.enrol_first_admin("Ada Admin", ADMIN_PW).account
    return World(store, repo, ws, admin)


def _longest_string(value: object) -> int:
    if isinstance(value, str):
        return len(value)
    if isinstance(value, dict):
        return max([0, *(max(len(k), _longest_string(v)) for k, v in value.items())])
    if isinstance(value, list):
        return max([0, *(_longest_string(v) for v in value)])
    return 0


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_a_hostile_sign_in_name_is_refused_clearly_and_recorded_short(
    world: World, case: str
) -> None:
    name = HOSTILE[case]
    before = len(world.store.audit_events())
    with pytest.raises(LoginFailed, match="This sign-in name cannot be used: 'name' ") as exc:
        world.ws.log_in(name, ADMIN_PW)
    assert len(str(exc.value)) < 300
    new = world.store.audit_events()[before:]
    assert [e.kind for e in new] == ["login_failed"]
    detail = new[0].detail
    assert detail["reason"] == "malformed_name" and new[0].user_id is None
    assert _longest_string(detail) <= STORED_MAX, detail
    stored = json.dumps(detail)
    assert "\x1b" not in detail["name"] and "\u202e" not in detail["name"]
    assert len(stored) < 2 * STORED_MAX + 200
    if len(name) > RECORDED_NAME_CHARS:
        assert f"({len(name):,} characters)" in detail["name"]
    # The audit trail still verifies: nothing unstorable went into it.
    assert audit.verify(world.store.engine, world.store.audit_key()).ok


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_an_account_cannot_be_created_with_a_hostile_name(world: World, case: str) -> None:
    before = [a.name for a in world.repo.accounts(world.admin)]
    events = len(world.store.audit_events())
    with pytest.raises(Untrusted, match="'name' "):
        world.repo.create_user(world.admin, HOSTILE[case], MOD_PW, {Role.MODERATOR})
    assert [a.name for a in world.repo.accounts(world.admin)] == before
    assert len(world.store.audit_events()) == events


def test_the_longest_allowed_name_signs_in_and_is_recorded_whole(world: World) -> None:
    name = "Ann " + "L" * (MAX_SIGN_IN_NAME - 4)
    made = world.repo.create_user(world.admin, name, MOD_PW, {Role.MODERATOR})
    assert world.ws.log_in(f"  {name} ", MOD_PW).account.id == made.id
    assert world.store.audit_events(kind="login_ok")[-1].detail["name"] == name


def test_access_denied_for_a_forged_account_object_records_a_short_name(world: World) -> None:
    """An insider builds a service around an Account whose name is a megabyte: the gate
    refuses by the account as stored and records only an excerpt of the name given."""
    mod = world.repo.create_user(world.admin, "Mo", MOD_PW, {Role.MODERATOR})
    forged = dataclasses.replace(world.repo.account(mod.id), name="M\x1b" * 500_000)
    service = world.ws._service(forged)
    with pytest.raises(AccessDenied):
        service.history_of(world.admin.id)
    [denied] = world.store.audit_events(kind="access_denied")
    assert denied.user_id == mod.id
    assert _longest_string(denied.detail) <= STORED_MAX, denied.detail
    assert "\x1b" not in denied.detail["name"] and "1,000,000 characters" in denied.detail["name"]
    assert audit.verify(world.store.engine, world.store.audit_key()).ok


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_team_sign_in_refuses_a_hostile_name_before_asking_the_server(case: str) -> None:
    # Nothing listens there: a name sent on to the server would fail as unreachable.
    url = "postgresql+psycopg://nobody@127.0.0.1:9/reviewer"
    with pytest.raises(LoginFailed, match="This sign-in name cannot be used"):
        team_sign_in(url, HOSTILE[case], MOD_PW)
