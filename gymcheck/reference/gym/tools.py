"""The tools the embedded environments offer: deterministic, so rewards are reproducible."""

from __future__ import annotations

import zlib
from collections.abc import Mapping
from typing import Any

from gymcheck.reference.gym.resources import int_arg, string_arg

CONDITIONS = ("sunny", "cloudy", "rainy", "windy", "snowy", "foggy", "stormy", "clear")
SYNONYMS = {
    "happy": "glad",
    "big": "large",
    "small": "tiny",
    "fast": "quick",
    "smart": "clever",
    "cold": "chilly",
    "sad": "unhappy",
    "easy": "simple",
}


def get_weather(arguments: Mapping[str, Any]) -> dict[str, Any]:
    city = string_arg(arguments, "city")
    digest = zlib.crc32(city.lower().encode())
    return {
        "city": city,
        "condition": CONDITIONS[digest % len(CONDITIONS)],
        "temperature_c": digest % 46 - 10,
    }


def lookup_synonym(arguments: Mapping[str, Any]) -> dict[str, Any]:
    word = string_arg(arguments, "word")
    return {"word": word, "synonym": SYNONYMS.get(word.lower(), word)}


def add_numbers(arguments: Mapping[str, Any]) -> dict[str, Any]:
    return {"result": int_arg(arguments, "a") + int_arg(arguments, "b")}


# The tools the reference model was trained to call (reference.episodes.REFERENCE_TOOLS).
REFERENCE_TOOL_HANDLERS = {
    "get_weather": get_weather,
    "lookup_synonym": lookup_synonym,
    "add_numbers": add_numbers,
}
