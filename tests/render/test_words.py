"""Each check's words (heading, what it proves, its steps) are written render-side, from data."""

from __future__ import annotations

import ast
from pathlib import Path

from gymcheck.checks.registry import check_ids
from gymcheck.render.words import WORDS, heading, proves, step_text
from gymcheck.report import Status, Step


def test_every_registered_check_has_its_words_and_all_words_are_of_a_registered_check() -> None:
    assert set(WORDS) == set(check_ids())
    for check_id in check_ids():
        assert heading(check_id).endswith("...") and proves(check_id), check_id


def test_a_check_without_words_gets_a_plain_heading() -> None:
    assert heading("some_future_check") == "🔎 Running some_future_check..."
    assert proves("some_future_check") == ""


def test_the_checks_import_no_renderer() -> None:
    """Imports go one way: render and cli read the checks, the checks never the words."""
    package = Path(__file__).parents[2] / "gymcheck"
    for path in (package / "checks").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom):
                names = [f"{node.module}.{alias.name}" for alias in node.names]
            elif isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            else:
                continue
            assert not any(name.startswith("gymcheck.render") for name in names), path


def test_gradient_flow_words() -> None:
    assert (
        step_text(
            "gradient_flow", Step("loss_mask", Status.PASS, data={"causes": [], "generated": 7})
        )
        == "Loss mask is 1 exactly on the 7 generated tokens"
    )
    assert (
        step_text("gradient_flow", Step("loss", Status.FAIL, data={"problem": "zero"}))
        == "Loss is exactly zero"
    )
    update = Step("update", Status.PASS, data={"gain": 0.25, "lr": 0.001})
    assert step_text("gradient_flow", update).endswith("(+0.25 at lr 0.001)")


def test_logprob_agreement_words() -> None:
    step = Step(
        "token_mult_prob_error", Status.FAIL, data={"value": 1.2, "limit": 1.05, "tokens": 40}
    )
    assert (
        step_text("logprob_agreement", step)
        == "token_mult_prob_error 1.2000 (limit 1.05) over 40 tokens"
    )


def test_collection_words_for_one_and_many_rollouts() -> None:
    one = Step("collected", Status.PASS, data={"clean": 1, "rollouts": 1})
    many = Step("collected", Status.FAIL, data={"clean": 3, "rollouts": 4})
    assert step_text("rollout_collection", one) == "Rollout collected successfully"
    assert step_text("rollout_collection", many) == "3 of 4 rollouts collected successfully"


def test_a_step_without_words_shows_its_name() -> None:
    assert step_text("some_future_check", Step("probe", Status.PASS)) == "probe"
