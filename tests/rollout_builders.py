"""Build NeMo Gym rollout records from real token sequences (the Qwen3 tokenizer and template).

``tito_turns`` gives a clean token-in-token-out episode: each prompt is the previous prompt +
generation + the template's rendering of the tool result. Each ``plant_*`` function makes one
fault the way the real bug makes it (re-tokenized text, the template stripping reasoning or
re-serializing a tool call, dropped turns, an edited system prompt, lost template whitespace).
"""

from __future__ import annotations

import json
from typing import Any

SYSTEM = "You are a weather assistant. Answer briefly."
TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "get_weather",
            "description": "Current weather of a city.",
            "parameters": {
                "type": "object",
                "properties": {"city": {"type": "string"}},
                "required": ["city"],
            },
        },
    }
]
CITIES = ("nyc", "paris", "tokyo", "lima", "oslo")


def encode(tokenizer: Any, text: str) -> list[int]:
    return list(tokenizer.encode(text, add_special_tokens=False))


def render(tokenizer: Any, messages: list[dict[str, Any]]) -> list[int]:
    text = tokenizer.apply_chat_template(
        messages, tools=TOOLS, add_generation_prompt=True, tokenize=False
    )
    return encode(tokenizer, text)


def first_messages(question: str = "What is the weather in nyc?") -> list[dict[str, Any]]:
    return [{"role": "system", "content": SYSTEM}, {"role": "user", "content": question}]


def tool_output(k: int) -> str:
    return json.dumps({"city": CITIES[k % len(CITIES)], "temp_c": 10 + 3 * k})


def generation_text(k: int, *, final: bool = False) -> str:
    city = CITIES[k % len(CITIES)]
    reasoning = f"<think>\nStep {k}: I need the weather for {city}.\n</think>\n\n"
    if final:
        return reasoning + f"It is {10 + 3 * (k - 1)} degrees. Skinny jeans weather."
    call = json.dumps({"name": "get_weather", "arguments": {"city": city}})
    return reasoning + f"<tool_call>\n{call}\n</tool_call>"


def continuation(k: int) -> str:
    """What the template adds after generation ``k``: the tool result, then a new turn."""
    return (
        f"\n<|im_start|>user\n<tool_response>\n{tool_output(k)}\n</tool_response><|im_end|>\n"
        "<|im_start|>assistant\n"
    )


def tito_turns(tokenizer: Any, n_turns: int = 3) -> list[tuple[list[int], list[int]]]:
    """``(prompt_ids, generation_ids)`` per turn of a contiguous tool-calling episode."""
    im_end = tokenizer.convert_tokens_to_ids("<|im_end|>")
    prompt = render(tokenizer, first_messages())
    turns = []
    for k in range(n_turns):
        generated = [*encode(tokenizer, generation_text(k, final=k == n_turns - 1)), im_end]
        turns.append((prompt, generated))
        prompt = prompt + generated + encode(tokenizer, continuation(k))
    return turns


def make_record(
    turns: list[tuple[list[int], list[int]]],
    *,
    reward: Any = 1.0,
    logprobs: list[list[Any]] | None = None,
    task: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A NeMo Gym record: one ``function_call`` (or final ``message``) item per model call,
    the token fields on it, a ``function_call_output`` after each tool call."""
    output: list[dict[str, Any]] = []
    for k, (prompt, generated) in enumerate(turns):
        item: dict[str, Any]
        if k < len(turns) - 1:
            item = {
                "type": "function_call",
                "name": "get_weather",
                "call_id": f"call_{k}",
                "arguments": json.dumps({"city": CITIES[k % len(CITIES)]}),
            }
        else:
            item = {
                "type": "message",
                "role": "assistant",
                "content": [{"type": "output_text", "text": "done"}],
            }
        item["prompt_token_ids"] = prompt
        item["generation_token_ids"] = generated
        item["generation_log_probs"] = (
            logprobs[k] if logprobs is not None else [-0.25] * len(generated)
        )
        output.append(item)
        if k < len(turns) - 1:
            output.append(
                {"type": "function_call_output", "call_id": f"call_{k}", "output": tool_output(k)}
            )
    record: dict[str, Any] = {
        "responses_create_params": {"input": first_messages(), "tools": TOOLS},
        "response": {"id": "resp_1", "object": "response", "output": output},
        "reward": reward,
    }
    record.update(task or {})
    return record


# --- faults, each made the way the real bug makes it ---------------------------------------


def non_canonical_split(tokenizer: Any, word: str = " Skinny") -> tuple[list[int], list[int]]:
    """Two encodings of ``word``: a split the model may sample, and the canonical one."""
    canonical = encode(tokenizer, word)
    for cut in range(1, len(word)):
        split = encode(tokenizer, word[:cut]) + encode(tokenizer, word[cut:])
        if split != canonical and tokenizer.decode(split) == word:
            return split, canonical
    raise AssertionError(f"no non-canonical split of {word!r}")


def plant_retokenized(tokenizer: Any) -> list[tuple[list[int], list[int]]]:
    """Turn 1 samples a non-canonical split; the agent sends text back, the server re-encodes."""
    im_end = tokenizer.convert_tokens_to_ids("<|im_end|>")
    split, _ = non_canonical_split(tokenizer)
    prompt = render(tokenizer, first_messages())
    first = encode(tokenizer, "<think>\nThe user wants the weather. They said") + split
    first += [*encode(tokenizer, " jeans.\n</think>\n\nLet me check."), im_end]
    text = tokenizer.decode(prompt + first) + continuation(0)
    second_prompt = encode(tokenizer, text)
    second = [*encode(tokenizer, generation_text(1, final=True)), im_end]
    return [(prompt, first), (second_prompt, second)]


def plant_reasoning_stripped(tokenizer: Any) -> list[tuple[list[int], list[int]]]:
    """Qwen3's template drops the <think> block of assistant turns before the last user turn."""
    im_end = tokenizer.convert_tokens_to_ids("<|im_end|>")
    messages = first_messages()
    prompt = render(tokenizer, messages)
    answer = "<think>\nThe user asks about nyc; I recall it is mild.\n</think>\n\nIt is mild."
    first = [*encode(tokenizer, answer), im_end]
    history = [
        *messages,
        {"role": "assistant", "content": answer},
        {"role": "user", "content": "And in paris?"},
    ]
    second_prompt = render(tokenizer, history)
    second = [*encode(tokenizer, generation_text(1, final=True)), im_end]
    return [(prompt, first), (second_prompt, second)]


GENERATED_CALL = '{"name": "get_weather", "arguments": {\n  "city"\n  :  "nyc"  }}'


def plant_rerendered(tokenizer: Any) -> list[tuple[list[int], list[int]]]:
    """The model generates odd-whitespace JSON; the Hermes parser + template re-serialize it."""
    im_end = tokenizer.convert_tokens_to_ids("<|im_end|>")
    messages = first_messages()
    prompt = render(tokenizer, messages)
    reasoning = "I should call the tool."
    text = f"<think>\n{reasoning}\n</think>\n\n<tool_call>\n{GENERATED_CALL}\n</tool_call>"
    first = [*encode(tokenizer, text), im_end]
    parsed = json.loads(GENERATED_CALL)
    history = [
        *messages,
        {
            "role": "assistant",
            "content": "",
            "reasoning_content": reasoning,
            "tool_calls": [{"type": "function", "function": parsed}],
        },
        {"role": "tool", "content": tool_output(0)},
    ]
    second_prompt = render(tokenizer, history)
    second = [*encode(tokenizer, generation_text(1, final=True)), im_end]
    return [(prompt, first), (second_prompt, second)]


def plant_history_truncated(tokenizer: Any) -> list[tuple[list[int], list[int]]]:
    """The agent drops the oldest assistant turn and its tool result before the third call."""
    turns = tito_turns(tokenizer, 3)
    first_prompt, _ = turns[0]
    _, second = turns[1]
    third_prompt = first_prompt + second + encode(tokenizer, continuation(1))
    return [turns[0], turns[1], (third_prompt, turns[2][1])]


def plant_system_edited(tokenizer: Any) -> list[tuple[list[int], list[int]]]:
    """The agent renders turn 2 with another system prompt (a date stamp added)."""
    turns = tito_turns(tokenizer, 2)
    prompt, generated = turns[1]
    text = tokenizer.decode(prompt).replace(SYSTEM, SYSTEM + " Today is Monday.", 1)
    return [turns[0], (encode(tokenizer, text), generated)]


def plant_whitespace_dropped(tokenizer: Any) -> list[tuple[list[int], list[int]]]:
    """Turn 3's history loses the template's newline after turn 1's <|im_end|>."""
    turns = tito_turns(tokenizer, 3)
    prompt, generated = turns[2]
    cut = len(turns[0][0]) + len(turns[0][1])
    newline = encode(tokenizer, "\n")
    assert prompt[cut : cut + len(newline)] == newline
    return [turns[0], turns[1], (prompt[:cut] + prompt[cut + len(newline) :], generated)]
