"""NeMo RL prefix splicing, on ids (the server-level test is in test_reference_server.py)."""

from __future__ import annotations

import pytest

from gymcheck.reference.splicing import (
    SplicingError,
    replace_prefix_tokens,
    required_prefix,
    strip_token_fields,
)

EOS = 2


def test_nemo_rl_docstring_example() -> None:
    # Turn 1 generated " 4" as [220, 17]; the template re-tokenizes it as [1001].
    assert replace_prefix_tokens(
        eos_token_id=EOS,
        model_prefix_ids=[11, 12, 13, 40, 41, 220, 17, 2],
        template_prefix_ids=[11, 12, 13, 40, 41, 1001, 2],
        template_ids=[11, 12, 13, 40, 41, 1001, 2, 21, 22, 40, 41],
    ) == [11, 12, 13, 40, 41, 220, 17, 2, 21, 22, 40, 41]


def test_generation_cut_by_max_tokens_gets_the_templates_eos() -> None:
    assert replace_prefix_tokens(
        eos_token_id=EOS,
        model_prefix_ids=[11, 40, 220, 17],
        template_prefix_ids=[11, 40, 1001, 2, 9],
        template_ids=[11, 40, 1001, 2, 9, 21, 40],
    ) == [11, 40, 220, 17, 2, 9, 21, 40]


def test_no_prefix_returns_the_render() -> None:
    assert replace_prefix_tokens(
        eos_token_id=EOS, model_prefix_ids=[], template_prefix_ids=[1], template_ids=[1, 2, 3]
    ) == [1, 2, 3]


def test_no_eos_in_the_render_is_an_error() -> None:
    with pytest.raises(SplicingError, match="no EOS"):
        replace_prefix_tokens(
            eos_token_id=EOS,
            model_prefix_ids=[5, 6],
            template_prefix_ids=[5, 7],
            template_ids=[5, 7, 8],
        )


def test_a_trajectory_that_does_not_grow_is_an_error() -> None:
    with pytest.raises(SplicingError, match="does not grow"):
        replace_prefix_tokens(
            eos_token_id=EOS,
            model_prefix_ids=[5, 2],
            template_prefix_ids=[5, 2, 9],
            template_ids=[5, 2, 9],
        )


def test_required_prefix_is_the_last_message_with_ids() -> None:
    messages = [
        {"role": "user", "content": "a"},
        {"role": "assistant", "content": "b", "prompt_token_ids": [1], "generation_token_ids": [2]},
        {"role": "tool", "content": "c"},
        {
            "role": "assistant",
            "content": "d",
            "prompt_token_ids": [1, 2, 3],
            "generation_token_ids": [4, 2],
        },
        {"role": "user", "content": "e"},
    ]
    assert required_prefix(messages) == (3, [1, 2, 3, 4, 2])
    assert required_prefix(messages[:1]) is None
    assert strip_token_fields(messages[3]) == {"role": "assistant", "content": "d"}


def test_top_level_required_prefix_wins_as_in_nemo_rl() -> None:
    # NeMo Gym's prefix supply sends a verified parent's tokens as required_prefix_token_ids.
    messages = [
        {"role": "user", "content": "a"},
        {"role": "assistant", "content": "b", "prompt_token_ids": [1], "generation_token_ids": [2]},
        {"role": "user", "content": "c"},
    ]
    assert required_prefix(messages, [7, 8, 2]) == (1, [7, 8, 2])
    stripped = [strip_token_fields(m) for m in messages]
    assert required_prefix(stripped, [7, 8, 2]) == (1, [7, 8, 2])  # the last assistant turn
    with pytest.raises(SplicingError, match="needs an earlier assistant turn"):
        required_prefix(messages[:1], [7])
