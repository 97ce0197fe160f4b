"""The causes of a continuity break (DESIGN.md section 4): one entry each, in the order the
diagnosis tries them, with what it means and how to fix it.

``retokenized``         the previous generation's text is there, as other ids
``reasoning_stripped``  the reasoning of an earlier generation is gone, the rest of it is there
``rerendered``          the previous generation is there as another rendering of the same
                        content (same JSON, same text modulo whitespace)
``history_truncated``   a whole earlier generation or tool result is missing
``history_edited``      only tokens outside earlier generations changed
``unknown``             none of the above, or no tokenizer to decode with
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class Cause:
    """A named cause: ``reason`` says what the break shows (``{evidence key}`` fields are
    filled from the diagnosis' evidence), ``fix`` what to change."""

    name: str
    reason: str
    fix: str

    def describe(self, evidence: Mapping[str, Any]) -> str:
        return self.reason.format_map(evidence)


_TITO = (
    "token-in-token-out: send the previous turn's token ids back (prompt_token_ids + "
    "generation_token_ids on the assistant message), as NeMo RL's required_prefix_token_ids "
    "does, so the server splices them into the next prompt instead of re-tokenizing text"
)

_GYM_KEEPS_TOKENS = (
    "keep the exact earlier tokens in one of NeMo Gym's two ways: (1) behind Gym's vllm_model "
    "with vllm_model_for_training.yaml, which sends each earlier assistant turn back with its "
    "prompt_token_ids, generation_token_ids and generation_log_probs, serve with a server that "
    "splices those ids into the next prompt (NeMo RL's server does; stock vLLM re-renders the "
    "history from text); (2) prefix supply, vllm_model_supply_prefix.yaml "
    "(supply_prefix_token_ids: true, with Gym's token_id_capture on), which sends a verified "
    "parent's tokens as a top-level required_prefix_token_ids: the server must start the prompt "
    "with them and return generation-time prompt_token_ids as proof"
)

_TABLE = (
    Cause(
        "retokenized",
        reason="the previous generation's text is there, but re-tokenized into different ids",
        fix="the earlier ids were rebuilt from text: " + _GYM_KEEPS_TOKENS,
    ),
    Cause(
        "reasoning_stripped",
        reason="the earlier turn's reasoning ({reasoning_chars} chars) is missing from the "
        "prompt; the chat template removed or emptied it",
        fix="keep earlier reasoning in the history: " + _TITO + "; or render with a chat "
        "template that keeps past <think> blocks (Qwen3's default template drops them)",
    ),
    Cause(
        "rerendered",
        reason="the previous generation was replaced by another rendering of the same content "
        "(e.g. a tool call parsed and re-serialized), text the model never generated",
        fix="the prompt holds text the model never generated (a parsed and re-serialized tool "
        "call, normalized whitespace): " + _GYM_KEEPS_TOKENS,
    ),
    Cause(
        "history_truncated",
        reason="earlier history (a whole generation or tool result) is missing from the prompt",
        fix="do not drop or summarize earlier turns inside one trainable episode; if the "
        "context must be cut, end the rollout there and start a new one",
    ),
    Cause(
        "history_edited",
        reason="tokens outside earlier generations changed (system prompt, tool definitions or "
        "template whitespace)",
        fix="render every turn with the same system prompt, tool definitions and chat "
        "template; the prompt must only grow by appending (run `gymcheck tokenizer` to test "
        "the template)",
    ),
    Cause(
        "unknown",
        reason="the cause could not be determined",
        fix="compare the expected and actual ids around the token index; pass --tokenizer to "
        "get the decoded text and a named cause",
    ),
)

CAUSES: Mapping[str, Cause] = {cause.name: cause for cause in _TABLE}
