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


def test_shift_moves_kept_and_spooled_findings_down_the_file():
    store = FindingStore(keep=2, spool=True)
    shared = Finding("schema", "not JSON", line=1, rollout_index=0, details={"x": [1.5, None]})
    store.extend([shared, Finding("schema", "nowhere"), Finding("schema", "third", line=9)])
    other = FindingStore(keep=2)
    other.append(shared)  # the same object in two stores: each moves it once
    store.shift(10, 4)
    other.shift(10, 4)
    assert [(f.line, f.rollout_index) for f in store.kept] == [(11, 4), (None, None)]
    assert [(f.line, f.rollout_index) for f in other.kept] == [(11, 4)]
    assert (shared.line, shared.rollout_index) == (1, 0)
    moved = [
        Finding("schema", "not JSON", line=11, rollout_index=4, details={"x": [1.5, None]}),
        Finding("schema", "nowhere"),
        Finding("schema", "third", line=19),
    ]
    assert list(store.json_lines()) == [f.to_json_bytes() for f in moved]


def test_shift_by_nothing_leaves_the_store_as_it_is():
    store = filled(4)
    store.shift(0, 0)
    assert lines(store) == [1, 2, 3, 4]
