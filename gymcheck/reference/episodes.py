"""Synthetic tool-calling episodes the reference model is trained on, generated from a seed.

Each episode is an OpenAI-style message list: a user question, an assistant turn that reasons
in ``<think>`` and calls one tool, the tool's result, and an assistant turn that reasons and
answers. Some episodes need no tool. The reasoning mixes fixed phrasing (learned well, so the
format and the tool calls are reliable) with random filler words (never learned well, so the
sampled tokens there are often not the canonical encoding of their text, which is what the
``retokenize`` fault needs to show).
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from typing import Any

Message = dict[str, Any]

REFERENCE_TOOLS: list[dict[str, Any]] = [
    {
        "type": "function",
        "function": {
            "name": "get_weather",
            "description": "Get the current weather in a city.",
            "parameters": {
                "type": "object",
                "properties": {"city": {"type": "string", "description": "The city name."}},
                "required": ["city"],
            },
        },
    },
    {
        "type": "function",
        "function": {
            "name": "lookup_synonym",
            "description": "Find a synonym of an English word.",
            "parameters": {
                "type": "object",
                "properties": {"word": {"type": "string", "description": "The word."}},
                "required": ["word"],
            },
        },
    },
    {
        "type": "function",
        "function": {
            "name": "add_numbers",
            "description": "Add two integers.",
            "parameters": {
                "type": "object",
                "properties": {"a": {"type": "integer"}, "b": {"type": "integer"}},
                "required": ["a", "b"],
            },
        },
    },
]

CITIES = [
    "Paris", "London", "Tokyo", "Berlin", "Madrid", "Rome", "Oslo", "Lima", "Cairo", "Delhi",
    "Sydney", "Toronto", "Boston", "Denver", "Austin", "Seattle", "Dublin", "Vienna", "Prague",
    "Warsaw", "Lisbon", "Athens", "Nairobi", "Santiago", "Bogota", "Hanoi", "Seoul", "Manila",
]  # fmt: skip
CONDITIONS = ["sunny", "cloudy", "rainy", "windy", "snowy", "foggy", "stormy", "clear"]
SYNONYMS = {
    "happy": "glad", "big": "large", "small": "tiny", "fast": "quick", "smart": "clever",
    "angry": "cross", "tired": "weary", "brave": "bold", "calm": "serene", "cold": "chilly",
    "funny": "comic", "rich": "wealthy", "sad": "unhappy", "thin": "skinny", "loud": "noisy",
    "old": "ancient", "easy": "simple", "hard": "difficult", "pretty": "lovely", "wet": "damp",
}  # fmt: skip
# Filler for the reasoning: common and rare words, so the model stays unsure of them.
_FILLER_TEXT = (
    "maybe perhaps skinny heron lantern quietly marble orchard velvet pebble thistle umbrella "
    "whisper crimson saddle copper meadow tangle hollow breeze kettle ember fable gravel "
    "harbor inkwell juniper kindle lattice mosaic nectar oyster parcel quiver ripple spindle "
    "timber unravel vessel willow yonder zephyr almond bramble cobalt dapple falcon glimmer "
    "hazel ivory jasper kestrel lilac marigold nimbus opal pastel quartz russet sable tundra"
)
FILLER = _FILLER_TEXT.split()
CHAT_TOPICS = [
    ("Say hello.", "Hello! How can I help you today?"),
    ("Who are you?", "I am a small helpful assistant."),
    ("Thank you!", "You are welcome."),
    ("Tell me a color.", "Blue is a fine color."),
    ("What day comes after Monday?", "Tuesday comes after Monday."),
    ("Name a fruit.", "An apple is a fruit."),
    ("Count to three.", "One, two, three."),
    ("Is water wet?", "Yes, water makes things wet."),
]


def _filler(rng: random.Random) -> str:
    words = rng.sample(FILLER, rng.randint(3, 7))
    return " ".join(words).capitalize() + "."


def _reasoning(rng: random.Random, core: str) -> str:
    return f"{core} {_filler(rng)}" if rng.random() < 0.8 else core


def _tool_episode(
    rng: random.Random,
    question: str,
    name: str,
    arguments: dict[str, Any],
    result: dict[str, Any],
    call_reason: str,
    answer_reason: str,
    answer: str,
) -> list[Message]:
    call_id = f"call_{rng.getrandbits(32):08x}"
    return [
        {"role": "user", "content": question},
        {
            "role": "assistant",
            "reasoning_content": _reasoning(rng, call_reason),
            "content": "",
            "tool_calls": [
                {
                    "id": call_id,
                    "type": "function",
                    "function": {"name": name, "arguments": json.dumps(arguments)},
                }
            ],
        },
        {"role": "tool", "tool_call_id": call_id, "content": json.dumps(result)},
        {
            "role": "assistant",
            "reasoning_content": _reasoning(rng, answer_reason),
            "content": answer,
        },
    ]


def weather_episode(rng: random.Random) -> list[Message]:
    city = rng.choice(CITIES)
    condition, temp = rng.choice(CONDITIONS), rng.randint(-10, 35)
    question = rng.choice(
        [
            f"What is the weather in {city}?",
            f"How is the weather in {city} today?",
            f"Is it warm in {city}?",
            f"Tell me the weather for {city}.",
        ]
    )
    return _tool_episode(
        rng,
        question,
        "get_weather",
        {"city": city},
        {"city": city, "condition": condition, "temperature_c": temp},
        f"The user asks about the weather in {city}. I should call get_weather.",
        f"The tool says {condition} and {temp} degrees.",
        f"The weather in {city} is {condition}, {temp} degrees Celsius.",
    )


def synonym_episode(rng: random.Random) -> list[Message]:
    word, synonym = rng.choice(sorted(SYNONYMS.items()))
    question = rng.choice(
        [
            f"Give me a synonym for {word}.",
            f"What is another word for {word}?",
            f"Find a synonym of {word}.",
        ]
    )
    return _tool_episode(
        rng,
        question,
        "lookup_synonym",
        {"word": word},
        {"word": word, "synonym": synonym},
        f"The user wants a synonym for {word}. I should call lookup_synonym.",
        f"The tool found {synonym}.",
        f"A synonym for {word} is {synonym}.",
    )


def addition_episode(rng: random.Random) -> list[Message]:
    a, b = rng.randint(0, 99), rng.randint(0, 99)
    question = rng.choice([f"What is {a} plus {b}?", f"Add {a} and {b}.", f"Compute {a} + {b}."])
    return _tool_episode(
        rng,
        question,
        "add_numbers",
        {"a": a, "b": b},
        {"result": a + b},
        f"The user wants {a} plus {b}. I should call add_numbers.",
        f"The tool returned {a + b}.",
        f"{a} plus {b} is {a + b}.",
    )


def chat_episode(rng: random.Random) -> list[Message]:
    question, answer = rng.choice(CHAT_TOPICS)
    return [
        {"role": "user", "content": question},
        {
            "role": "assistant",
            "reasoning_content": _reasoning(rng, "No tool is needed here."),
            "content": answer,
        },
    ]


TOOL_EPISODES: list[Callable[[random.Random], list[Message]]] = [
    weather_episode,
    synonym_episode,
    addition_episode,
]


def make_episode(rng: random.Random) -> tuple[list[Message], list[dict[str, Any]] | None]:
    """One episode and the tools offered in it (``None``: no tools in the prompt)."""
    if rng.random() < 0.12:
        tools = rng.sample(REFERENCE_TOOLS, rng.randint(1, 3)) if rng.random() < 0.5 else None
        return chat_episode(rng), tools
    make = rng.choice(TOOL_EPISODES)
    messages = make(rng)
    name = messages[1]["tool_calls"][0]["function"]["name"]
    wanted = next(t for t in REFERENCE_TOOLS if t["function"]["name"] == name)
    others = [t for t in REFERENCE_TOOLS if t is not wanted]
    tools = [wanted, *rng.sample(others, rng.randint(0, len(others)))]
    rng.shuffle(tools)
    if rng.random() < 0.2:
        messages = [{"role": "system", "content": "You are a careful assistant."}, *messages]
    return messages, tools


def make_episodes(seed: int, count: int) -> list[tuple[list[Message], list[dict[str, Any]] | None]]:
    rng = random.Random(seed)
    return [make_episode(rng) for _ in range(count)]
