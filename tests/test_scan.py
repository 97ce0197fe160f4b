"""The streaming scan in-process: one pass per record, findings created at their file position."""

from __future__ import annotations

import copy
import gc
import itertools
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest
from rollout_builders import make_record, plant_retokenized, tito_turns

from gymcheck import scan as scan_module
from gymcheck.scan import scan, scan_rollouts


def write_file(path: Path, lines: list[bytes]) -> None:
    path.write_bytes(b"\n".join(lines) + b"\n")


@pytest.fixture
def mixed_lines(qwen3_tokenizer) -> list[bytes]:
    """Clean and broken records with blank lines between them, so that lines and records
    counts differ."""
    clean = make_record(tito_turns(qwen3_tokenizer, 3))
    broken = make_record(plant_retokenized(qwen3_tokenizer))
    bad_reward = copy.deepcopy(clean)
    bad_reward["reward"] = 7.0
    lines: list[bytes] = []
    for k in range(12):
        lines.append(orjson.dumps([clean, broken, bad_reward][k % 3]))
        if k % 4 == 1:
            lines.append(b"   ")
    lines.append(b"not json")
    return lines


def located(report) -> list[tuple[int | None, int | None, str]]:
    return [(f.line, f.rollout_index, f.code) for f in report.findings]


def test_findings_carry_file_line_and_record_index(mixed_lines, qwen3_tokenizer, tmp_path):
    path = tmp_path / "mixed.jsonl"
    write_file(path, mixed_lines)
    report = scan_rollouts([path], tokenizer=qwen3_tokenizer)
    for finding in report.findings:
        assert finding.source == str(path)
        assert mixed_lines[finding.line - 1].strip(), finding  # never a blank line
        records_before = sum(1 for line in mixed_lines[: finding.line - 1] if line.strip())
        assert finding.rollout_index == records_before
    codes = {code for _, _, code in located(report)}
    assert codes == {"continuity_break", "reward_invalid", "schema"}


@pytest.fixture
def thawed_heap() -> Iterator[None]:
    """Nothing frozen during the test; the session's heap, which conftest freezes, is frozen
    again after it."""
    gc.unfreeze()
    yield
    gc.freeze()


def test_workers_fork_from_a_frozen_heap_which_is_thawed_after(
    mixed_lines, qwen3_tokenizer, tmp_path, monkeypatch, thawed_heap
):
    """The parent's objects are frozen while the pool runs (so that forked workers do not
    copy their pages) and handed back to the collector when the scan ends."""
    path = tmp_path / "mixed.jsonl"
    write_file(path, mixed_lines)
    monkeypatch.setattr(scan_module, "_MIN_RANGE_BYTES", 1)
    monkeypatch.setattr(scan_module, "_RANGE_BYTES", path.stat().st_size // 3)
    frozen: list[int] = []
    scan(
        [path],
        tokenizer=qwen3_tokenizer,
        workers=2,
        progress=lambda _: frozen.append(gc.get_freeze_count()),
    )
    assert len(frozen) >= 3 and min(frozen) > 0
    assert gc.get_freeze_count() == 0


def test_a_heap_frozen_by_someone_else_stays_frozen(mixed_lines, tmp_path, monkeypatch):
    path = tmp_path / "mixed.jsonl"
    write_file(path, mixed_lines)
    monkeypatch.setattr(scan_module, "_MIN_RANGE_BYTES", 1)
    gc.freeze()  # as conftest freezes the session's heap
    frozen = gc.get_freeze_count()
    scan([path], workers=2)
    assert gc.get_freeze_count() == frozen


@pytest.mark.parametrize("spool", [False, True])
def test_parallel_ranges_locate_findings_as_one_pass_does(
    mixed_lines, qwen3_tokenizer, tmp_path, monkeypatch, spool
):
    """Each range is scanned from line 1 and its findings shifted after: kept and spooled
    findings come out as one pass creates them."""
    path = tmp_path / "mixed.jsonl"
    write_file(path, mixed_lines)
    one = scan([path], tokenizer=qwen3_tokenizer, spool_findings=spool)
    # Ranges of a few lines each, so that several ranges start past blank lines.
    monkeypatch.setattr(scan_module, "_MIN_RANGE_BYTES", 1)
    monkeypatch.setattr(scan_module, "_RANGE_BYTES", path.stat().st_size // 6)
    many = scan([path], tokenizer=qwen3_tokenizer, workers=2, spool_findings=spool)
    assert located(many.to_report()) == located(one.to_report())
    assert [f.to_dict() for f in many.to_report().findings] == [
        f.to_dict() for f in one.to_report().findings
    ]
    assert [list(r.finding_json_lines()) for r in many.results()] == [
        list(r.finding_json_lines()) for r in one.results()
    ]
    assert many.lines == one.lines == len(mixed_lines)


def test_an_empty_file_is_one_schema_finding(tmp_path):
    path = tmp_path / "empty.jsonl"
    path.write_bytes(b"\n\n")
    [finding] = scan_rollouts([path]).findings
    assert (finding.code, finding.source, finding.line) == ("schema", str(path), None)


@pytest.mark.parametrize("size", [1, 3 << 20, 200 << 20, 1100 << 20])
@pytest.mark.parametrize("workers", [2, 8])
def test_ranges_shrink_towards_the_end_of_the_file(size, workers):
    cuts = scan_module.range_cuts(size, workers)
    sizes = [end - start for start, end in itertools.pairwise([0, *cuts, size])]
    assert all(0 < s <= scan_module._RANGE_BYTES for s in sizes)
    # The last ranges a worker can be waited on for are each at most a minimum range.
    assert all(s <= scan_module._MIN_RANGE_BYTES for s in sizes[-workers:])
    assert sizes[:-1] == sorted(sizes[:-1], reverse=True)  # the last is what is left
