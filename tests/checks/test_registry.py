"""The registry is the one source of the checks' ids, order, required flags and needs.

Their words (heading, what each proves) are render-side: ``tests/render/test_words.py``.
"""

from __future__ import annotations

import re
from pathlib import Path

from gymcheck.checks.registry import check_ids, registered, spec_of
from gymcheck.reference.faults import FAULTS

DESIGN_ORDER = [
    "http_endpoint",
    "token_roundtrip",
    "rollout_collection",
    "token_continuity",
    "gradient_flow",
    "logprob_agreement",
]


def test_the_checks_of_design_md_run_in_its_order() -> None:
    ids = check_ids()
    assert [i for i in ids if i in DESIGN_ORDER] == DESIGN_ORDER
    assert len(set(ids)) == len(ids)


def test_required_flags_follow_design_md() -> None:
    required = {spec.id: spec.required for spec in registered()}
    assert {i: required[i] for i in DESIGN_ORDER} == {
        "http_endpoint": True,
        "token_roundtrip": True,
        "rollout_collection": True,
        "token_continuity": True,
        "gradient_flow": False,
        "logprob_agreement": False,
    }


def test_every_check_says_what_it_needs() -> None:
    for spec in registered():
        assert set(spec.needs) <= {"base_url", "tokenizer", "rollouts", "train_model", "processor"}
    assert spec_of("http_endpoint").needs == ("base_url",)
    assert spec_of("gradient_flow").needs == ("rollouts", "train_model")


def test_every_fault_names_a_registered_check() -> None:
    ids = set(check_ids())
    assert {info.caught_by for info in FAULTS.values()} <= ids


def test_no_check_id_is_listed_by_hand_outside_the_registry() -> None:
    package = Path(__file__).parents[2] / "gymcheck"
    ids = "|".join(DESIGN_ORDER)
    for path in [
        package / "suite.py",
        package / "render" / "console.py",
        *package.glob("cli/*.py"),
    ]:
        assert not re.search(rf'"({ids})"', path.read_text()), path


def test_training_batch_sits_between_continuity_and_gradients_and_needs_a_processor() -> None:
    ids = list(check_ids())
    assert ids.index("token_continuity") < ids.index("training_batch") < ids.index("gradient_flow")
    training_batch = spec_of("training_batch")
    assert training_batch.required and "processor" in training_batch.needs


def test_the_public_check_functions_are_thin_wrappers_over_the_registered_checks(
    qwen3_tokenizer,
) -> None:
    """``check_*`` builds a context and calls the registered function: the same result."""
    from rollout_builders import make_record, plant_reasoning_stripped, tito_turns

    from gymcheck.checks import check_rollout_collection, check_token_continuity
    from gymcheck.checks.context import CheckContext
    from gymcheck.rollout_inputs import RecordList
    from gymcheck.running import run_check

    records = [
        make_record(tito_turns(qwen3_tokenizer, 3)),
        make_record(plant_reasoning_stripped(qwen3_tokenizer), reward=7.0),
    ]
    context = CheckContext(tokenizer=qwen3_tokenizer, rollouts=RecordList(records))
    for check_id, wrapper in (
        ("rollout_collection", lambda: check_rollout_collection(records)),
        ("token_continuity", lambda: check_token_continuity(records, tokenizer=qwen3_tokenizer)),
    ):
        registered_result = run_check(spec_of(check_id), context)
        registered_result.duration_s = None
        assert wrapper() == registered_result
