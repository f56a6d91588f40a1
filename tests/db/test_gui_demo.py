"""The GUI's first-run demo queue reaches every path of the review screen: besides
ordinary items it holds items on a (synthetic) graded hash list, which open the
confirm-known-match panel, and near-duplicates."""

from __future__ import annotations

import pytest
import wiring
from sign_in import sign_in

from db.media_store import MediaStore
from db.store import Store
from reviewer import cli


def test_the_gui_demo_imports_a_hash_list_that_some_items_match(
    store: Store, media: MediaStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(cli, "GUI_DEMO_ITEMS", 2)  # the ordinary items are not the point
    seen: list[tuple[int, int]] = []
    added = cli.seed_gui_demo(store, media, store.videos, lambda d, n: seen.append((d, n)))
    assert added == 2 + cli.GUI_MATCH_ITEMS == store.items.item_count()
    assert seen[-1] == (added, added)
    workstation = wiring.workstation(store, media)  # the composition root's ShowLess
    service = sign_in(workstation, "moderator-1")
    assert service.show_less is not None
    matched = [i for i in range(1, added + 1) if service.show_less.graded_matches(i)]
    assert len(matched) == 3  # the known share of GUI_MATCH_ITEMS
