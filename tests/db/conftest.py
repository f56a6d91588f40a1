from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from db.media_store import MediaStore
from db.store import Store
from reviewer.clock import FakeClock
from reviewer.model import NewItem
from reviewer.vocabulary import Severity, Source


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def store(migrated_db_url: str, clock: FakeClock) -> Iterator[Store]:
    s = Store.open(migrated_db_url, clock=clock)
    yield s
    s.close()


@pytest.fixture
def media(tmp_path: Path) -> MediaStore:
    return MediaStore(tmp_path / "media", os.urandom(32))


@pytest.fixture
def enqueue() -> Callable[..., list[int]]:
    """Builder: enqueue items whose media rows exist (no blobs needed for queue tests)."""
    return _enqueue


def _enqueue(
    store: Store,
    n: int,
    source: Source = Source.CLASSIFIER,
    queue: str = "General",
    imminent_risk: bool = False,
    tag: str = "",
    suspected: Severity | None = None,
) -> list[int]:
    ids = []
    for i in range(n):
        sha = hashlib.sha256(f"{tag}{source}{queue}{i}".encode()).hexdigest()
        store.items.add_media(sha, 100, "JPEG", 10, 10, None)
        item_id, _ = store.items.add_item(
            NewItem(
                queue=queue,
                source=source,
                media_sha256=sha,
                dedupe_key=sha,
                imminent_risk=imminent_risk,
                suspected_category=suspected,
            )
        )
        ids.append(item_id)
    return ids
