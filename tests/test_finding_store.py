"""FindingStore: counts all, keeps the first of each kind, spools all, and crosses processes."""

from __future__ import annotations

import os
import pickle

from gymcheck.finding_store import FindingStore
from gymcheck.report import Finding


def filled(count: int, *, keep: int = 3) -> FindingStore:
    store = FindingStore(keep=keep, spool=True)
    store.extend(Finding("reward_invalid", f"bad {k}", line=k + 1) for k in range(count))
    return store


def lines(store: FindingStore) -> list[int]:
    return [d["line"] for d in store.dicts()]


def test_keeps_the_first_counts_all_and_spools_all():
    store = filled(10)
    assert [f.line for f in store.kept] == [1, 2, 3]
    assert len(store) == 10 and store.counts == {("reward_invalid", None): 10}
    assert lines(store) == list(range(1, 11))


def test_merge_keeps_order_and_the_spools_of_both():
    first, second = filled(4), filled(5)
    first.merge(second)
    assert len(first) == 9
    assert lines(first) == [1, 2, 3, 4, 1, 2, 3, 4, 5]


def test_a_pickled_store_hands_its_spool_files_over():
    store = filled(6)
    copy = pickle.loads(pickle.dumps(store))
    del store
    assert lines(copy) == list(range(1, 7))


def test_a_portable_store_carries_its_findings_not_its_paths():
    store = filled(6)
    store.make_portable()
    payload = pickle.dumps(store)
    assert all(not os.path.exists(path) for path in store._files)  # taken into the payload
    copy = pickle.loads(payload)
    assert lines(copy) == list(range(1, 7))


def test_the_spool_files_are_removed_with_the_store():
    store = filled(6)
    paths = list(store._files)
    store.close()
    del store
    assert not any(os.path.exists(path) for path in paths)
