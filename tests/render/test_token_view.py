"""The aligned token view of a continuity break, on a real Qwen3 rollout: console and HTML."""

from __future__ import annotations

import dataclasses
import json
from html.parser import HTMLParser
from io import StringIO

from rich.console import Console
from rollout_builders import make_record, non_canonical_split, plant_retokenized

from gymcheck.checks.continuity import diagnose_continuity
from gymcheck.render import console as console_renderer
from gymcheck.render import html
from gymcheck.render.tokens import token_rows
from gymcheck.report import CheckResult, Report, Status


def fixture_break(fixture_rollout_path, qwen3_tokenizer):
    record = json.loads(fixture_rollout_path.read_text())
    [finding] = diagnose_continuity(record, tokenizer=qwen3_tokenizer)
    finding.rollout_index = 0
    return finding


def test_the_break_carries_pieces_and_the_engines_logprobs(fixture_rollout_path, qwen3_tokenizer):
    finding = fixture_break(fixture_rollout_path, qwen3_tokenizer)
    rows = token_rows(finding)
    assert rows is not None
    [diverging] = [r for r in rows if r.diverges]
    assert diverging.position == 3089 and rows[0].position == 3085
    assert diverging.expected is not None and diverging.actual is not None
    # Turn 1 generated "<think>\nOkay…"; turn 2's prompt holds an emptied "<think>\n\n</think>".
    assert (diverging.expected.piece, diverging.actual.piece) == ("\n", "\n\n")
    assert diverging.expected.logprob is not None and diverging.expected.logprob <= 0
    assert diverging.actual.logprob is None  # a prompt token: no engine log-prob
    im_start = next(r for r in rows if r.expected and r.expected.piece == "<|im_start|>")
    assert im_start.expected is not None and im_start.expected.special


def test_console_token_view_fits_80_columns(fixture_rollout_path, qwen3_tokenizer):
    finding = fixture_break(fixture_rollout_path, qwen3_tokenizer)
    result = CheckResult(
        "token_continuity", Status.FAIL, "1 of 1 rollouts break", findings=[finding]
    )
    out = StringIO()
    console_renderer.render_check(Console(file=out, width=80, color_system=None), result)
    lines = out.getvalue().splitlines()
    assert max(len(line) for line in lines) <= 80
    [marked] = [line for line in lines if "▶" in line]
    assert marked.startswith("      ▶") and "3089" in marked
    assert "↵↵" in marked  # the actual side's "\n\n", made visible
    # Every wrapped line of the finding keeps its indent.
    body = lines[lines.index("   continuity_break (reasoning_stripped)") + 1 :]
    assert all(line.startswith("      ") for line in body if line.strip())
    assert sum("fix:" in line for line in lines) == 1


class Cells(HTMLParser):
    """The text of every ``<td>`` by its classes."""

    def __init__(self) -> None:
        super().__init__()
        self.cells: list[tuple[set[str], str]] = []
        self._open: set[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "td":
            self._open = set((dict(attrs).get("class") or "").split())
            self.cells.append((self._open, ""))

    def handle_endtag(self, tag: str) -> None:
        if tag == "td":
            self._open = None

    def handle_data(self, data: str) -> None:
        if self._open is not None:
            classes, text = self.cells[-1]
            self.cells[-1] = (classes, text + data)


def test_html_marks_the_retokenized_piece(qwen3_tokenizer):
    turns = plant_retokenized(qwen3_tokenizer)
    [finding] = diagnose_continuity(make_record(turns), tokenizer=qwen3_tokenizer)
    finding.rollout_index = 3
    split, canonical = non_canonical_split(qwen3_tokenizer)
    result = CheckResult("token_continuity", Status.FAIL, "1 of 1 rollouts", findings=[finding])
    page = html.render(Report([result]))
    parser = Cells()
    parser.feed(page)
    diverging = [text for classes, text in parser.cells if "diverge" in classes]
    # " " + "Skinny" was generated; the next prompt holds " Skinny" as one id.
    assert [qwen3_tokenizer.decode(split[:1]), qwen3_tokenizer.decode(canonical[:1])] == [
        " ",
        " Skinny",
    ]
    assert diverging == ["·", "·Skinny"]
    assert f"rollout 3, turn 2, token {finding.token_index}" in page


def test_a_large_group_stays_light(fixture_rollout_path, qwen3_tokenizer):
    finding = fixture_break(fixture_rollout_path, qwen3_tokenizer)
    many = []
    for k in range(600):
        copy = dataclasses.replace(finding, rollout_index=k)
        many.append(copy)
    result = CheckResult("token_continuity", Status.FAIL, "600 of 600 rollouts", findings=many)
    page = html.render(Report([result]))
    assert page.count('<table class="tokens">') == html.MEMBERS_IN_FULL
    assert "rollout 499, turn 2, token 3089" in page and "rollout 500," not in page
    assert "… and 100 more places (see --json)" in page
