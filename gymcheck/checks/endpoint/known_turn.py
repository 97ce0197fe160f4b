"""A known turn 1 whose exact tokens only a splicing server keeps.

The ``multi_turn`` probe sends back, in place of turn 1's sampled answer, a fixed tool call
(``get_weather({"city": "Paris"})``) with a generation it wrote: the call as the chat template
renders it in the history, its JSON re-spaced the odd way a decoding grammar allows
(``{"name" :  "get_weather" ,  …}``). A splicing server keeps those ids in turn 2's prompt; a
server that re-renders history writes the template's spacing instead. One turn 2 then answers
the same way on every run, where a sampled call passes or breaks, and for one cause or another,
depending on how the model happened to format, tokenize and fill its call.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from gymcheck.checks.continuity.text import json_spans
from gymcheck.checks.endpoint.probe import Completion
from gymcheck.checks.endpoint.requests import WEATHER_TOOL, tool_results
from gymcheck.tokeninfo import TokenInfo

KNOWN_ARGUMENTS: dict[str, Any] = {"city": "Paris"}
# Valid JSON that no chat template's ``tojson`` writes.
ODD_SEPARATORS = (" ,  ", " :  ")


def respaced(text: str) -> str:
    """``text`` with every JSON object in it re-serialized with ``ODD_SEPARATORS``."""
    out: list[str] = []
    last = 0
    for start, end, value in json_spans(text, "{"):
        out += [text[last:start], json.dumps(value, ensure_ascii=False, separators=ODD_SEPARATORS)]
        last = end
    out.append(text[last:])
    return "".join(out)


def known_message(call_id: str) -> dict[str, Any]:
    """The fixed assistant message: one ``get_weather`` call, as an OpenAI server returns it."""
    function = {"name": WEATHER_TOOL["function"]["name"], "arguments": json.dumps(KNOWN_ARGUMENTS)}
    return {
        "role": "assistant",
        "content": "",
        "tool_calls": [{"id": call_id, "type": "function", "function": function}],
    }


def known_generation(
    tokenizer: Any, request: dict[str, Any], message: dict[str, Any], stops: Sequence[int]
) -> list[int] | None:
    """``message`` as ``tokenizer``'s chat template renders it in turn 2's history, re-spaced,
    up to the first of ``stops`` found; ``None`` when the template cannot render it so."""
    messages, tools = request.get("messages"), request.get("tools")
    if not isinstance(messages, list):
        return None
    # Servers hand the template parsed arguments (vLLM parses the JSON string).
    calls = [
        {**c, "function": {**c["function"], "arguments": json.loads(c["function"]["arguments"])}}
        for c in message["tool_calls"]
    ]
    try:
        head = tokenizer.apply_chat_template(
            messages, tools=tools, add_generation_prompt=True, tokenize=False
        )
        # As history, the way a re-rendering server writes it into turn 2's prompt (a template
        # may render the last assistant turn otherwise, e.g. Qwen3's empty think block).
        history = tokenizer.apply_chat_template(
            [*messages, {**message, "tool_calls": calls}, *tool_results(calls)],
            tools=tools,
            add_generation_prompt=True,
            tokenize=False,
        )
    except Exception:  # any template error: the probe falls back to sampled turns
        return None
    if not isinstance(head, str) or not isinstance(history, str) or not history.startswith(head):
        return None
    rendered = history[len(head) :]
    text = respaced(rendered)
    if text == rendered:
        return None
    ids = list(tokenizer.encode(text, add_special_tokens=False))
    end = next((ids.index(stop) + 1 for stop in stops if stop in ids), None)
    return ids[:end] if end is not None else None


def known_turn(tokenizer: Any, turn1: Completion) -> Completion | None:
    """``turn1`` with its answer replaced by the known call and generation, or ``None``."""
    info, calls = turn1.info, turn1.message.get("tool_calls")
    if tokenizer is None or info is None or not info.generation_token_ids or not calls:
        return None
    special = set(getattr(tokenizer, "all_special_ids", None) or ())
    stops = [s for s in (info.generation_token_ids[-1], tokenizer.eos_token_id) if s in special]
    if not stops:
        return None
    message = known_message(str(calls[0].get("id") or "call_0"))
    ids = known_generation(tokenizer, turn1.request, message, stops)
    if ids is None:
        return None
    choice = {**turn1.choice, "message": message}
    # The log-probs only travel with the ids; no server scores them.
    return Completion(
        request=turn1.request,
        body={**turn1.body, "choices": [choice]},
        seconds=turn1.seconds,
        info=TokenInfo(info.form, turn1.prompt_ids, ids, [0.0] * len(ids)),
        prompt_ids=turn1.prompt_ids,
    )
