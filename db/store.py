"""The database as the application sees it: the unit of work (db.unit_of_work: engine,
transactions, clock, permission gate, audit writer) and the repositories it hands out,
each built once per open database:

    store.items        queues, media, items, item views, listings (db.items)
    store.claims       the claim lifecycle: claim, renew, decide, skip, release, expire
                       (db.claims)
    store.accounts     accounts, roles, vetting, queue access, sign-in (db.accounts)
    store.welfare      welfare settings, day counters, breaks (db.welfare)
    store.qa           QA sampling, re-grades, disputes, gold (db.qa)
    store.hashes       hash lists, matches, near-duplicate groups (db.hashes)
    store.videos       video probes and keyframes (db.video)
    store.referrals    referral packages (db.referrals)
    store.retention    retention and legal holds (db.retention)
    store.mitigations  exposure mitigations export (db.mitigations)
    store.dashboard    the lead's dashboard (db.dashboard)
    store.checkpoints  signed audit checkpoints (db.audit_checkpoint)

Every public repository method is one transaction; the repositories reach the database
only through the unit of work's public door (db.repo.Repo). Services receive the
repositories (or this object) through the ports they declare; they never import db/.
"""

from __future__ import annotations

from sqlalchemy import Engine

from db.accounts import AccountsRepo
from db.audit_checkpoint import CheckpointRepo
from db.claims import ClaimsRepo
from db.dashboard import DashboardRepo
from db.hashes import HashRepo
from db.items import ItemsRepo
from db.mitigations import MitigationRepo
from db.qa import QaRepo
from db.referrals import ReferralRepo
from db.retention import RetentionRepo
from db.unit_of_work import UnitOfWork
from db.video import VideoRepo
from db.welfare import WelfareRepo
from reviewer.clock import Clock


class Store(UnitOfWork):
    """The unit of work with its repositories (see the module's docstring)."""

    def __init__(
        self, engine: Engine, clock: Clock | None = None, audit_key: bytes | None = None
    ) -> None:
        super().__init__(engine, clock, audit_key)
        self.items = ItemsRepo(self)
        self.claims = ClaimsRepo(self)
        self.accounts = AccountsRepo(self)
        self.welfare = WelfareRepo(self)
        self.qa = QaRepo(self, self.claims)
        self.hashes = HashRepo(self)
        self.videos = VideoRepo(self)
        self.referrals = ReferralRepo(self)
        self.retention = RetentionRepo(self)
        self.mitigations = MitigationRepo(self)
        self.dashboard = DashboardRepo(self)
        self.checkpoints = CheckpointRepo(self)
