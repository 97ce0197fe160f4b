"""The round-trip battery: encode → decode → re-encode over strings that break tokenizers.

A string is stable when ``encode(decode(encode(s)))`` gives the ids of ``encode(s)`` (always
``add_special_tokens=False``). That is what RL training needs from any integration that moves
text instead of ids between the inference engine and the trainer: the model's tokens come back
as text (the OpenAI ``content``, a re-rendered prompt) and are tokenized again. Every unstable
string gets one category, tried in this order:

``special_token_text``    the ids on either side hold an added/special token (``<|im_end|>``)
``partial_utf8``          the decoded text holds U+FFFD that the original did not
``cleanup_spaces``        ``clean_up_tokenization_spaces`` rewrote the text (``"a ,"`` → ``"a,"``)
``whitespace``            the texts differ only in whitespace (SentencePiece collapses and strips)
``unicode_normalization`` the texts are equal after NFKC (full-width forms, composed accents)
``other``                 none of the above

Separately, ``decode_hazards`` lists the ids that decode to U+FFFD on their own: byte pieces of
multi-byte characters. They are harmless when whole sequences are decoded, and corrupt any text
built one token at a time (streaming detokenizers, logprob ``token`` strings).
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from gymcheck.errors import UsageError

CATEGORIES = (
    "whitespace",
    "unicode_normalization",
    "partial_utf8",
    "special_token_text",
    "cleanup_spaces",
    "other",
)

# Categories whose strings a model emits as ordinary text: losing them moves training off-policy
# wherever text is re-tokenized. Special-token text is a hazard, not ordinary generation.
OFF_POLICY_CATEGORIES = frozenset(CATEGORIES) - {"special_token_text"}

REPLACEMENT_CHAR = "\ufffd"

DEFAULT_CORPUS: tuple[str, ...] = (
    # The seed guide's four.
    "Hello, world!",
    "The answer is 42.",
    "```python\nprint('hello')\n```",
    "Multi\nline\ntext",
    # Whitespace.
    " leading space",
    "  two leading spaces",
    "trailing space ",
    "trailing spaces   ",
    "double  space",
    "many      spaces",
    "\ttab first",
    "tab\tinside",
    "windows\r\nline\r\nends",
    "\n\nblank lines before",
    "after blank lines\n\n",
    "  \n  mixed \t whitespace \n",
    # Empty and whitespace only.
    "",
    " ",
    "  ",
    "\n",
    "\t",
    "\r\n",
    # Code and data.
    "def f(x):\n    return x * 2\n",
    "for (int i = 0; i < n; ++i) {\n\tsum += a[i];\n}",
    '{"name": "get_weather", "arguments": {"city": "Paris"}}',
    '{\n  "city"\n  :  "nyc"  }',
    '<tool_call>\n{"name": "f", "arguments": {}}\n</tool_call>',
    "x = [1, 2, 3] # comment",
    # Punctuation that clean-up spaces rewrite.
    "Hello , world .",
    "don 't do n't",
    "a ? b ! c ,d",
    # CJK and other scripts.
    "日本語のテキストです。",
    "中文测试，标点符号。",
    "한국어 문장입니다.",
    "Ελληνικά και русский текст",
    "مرحبا بالعالم",
    # Emoji and ZWJ sequences.
    "I love 🍕 and 🎉!",
    "👩‍💻 and 👨‍👩‍👧‍👦",
    "🏳️‍🌈 flag",
    "👍🏽 thumbs",
    # Combining characters and normalization.
    "café",
    "cafe\u0301",
    "n\u0303 a\u0308 o\u0302",
    "Å Å",
    # Full-width forms and compatibility characters.
    "ＡＢＣ１２３",
    "full\u3000width space",
    "ﬁ ligature",
    "x² H₂O ½",
    # Text that looks like special tokens.
    "<|im_end|>",
    "Say <|im_start|>assistant\nhi",
    "<|endoftext|>",
    "<s> and </s>",
    "[INST] hi [/INST]",
    "<|eot_id|><|start_header_id|>",
    "<think>reasoning</think>",
    # Long digit runs.
    "12345678901234567890",
    "3.14159265358979323846264338327950288",
    "0000000000",
)


@dataclass(slots=True)
class RoundTrip:
    """One string through encode → decode → re-encode."""

    original: str
    ids: list[int]
    decoded: str
    re_encoded: list[int]
    category: str | None = None

    @property
    def stable(self) -> bool:
        return self.ids == self.re_encoded

    def to_dict(self) -> dict[str, Any]:
        return {
            "original": self.original,
            "ids": self.ids,
            "decoded": self.decoded,
            "re_encoded": self.re_encoded,
            "category": self.category,
        }


def control_ids(tokenizer: Any) -> set[int]:
    """Ids of added and special tokens: the ones a template uses as structure."""
    ids = set(getattr(tokenizer, "added_tokens_decoder", None) or {})
    ids.update(getattr(tokenizer, "all_special_ids", None) or [])
    unk = getattr(tokenizer, "unk_token_id", None)
    ids.discard(unk)  # <unk> stands for text the vocabulary lacks; it is not structure
    return ids


def encode(tokenizer: Any, text: str) -> list[int]:
    return list(tokenizer.encode(text, add_special_tokens=False))


def _without_whitespace(text: str) -> str:
    return "".join(text.split())


def categorize(tokenizer: Any, trip: RoundTrip, *, controls: set[int] | None = None) -> str:
    """The one category that explains an unstable round trip (module docstring)."""
    controls = control_ids(tokenizer) if controls is None else controls
    if controls & (set(trip.ids) | set(trip.re_encoded)):
        return "special_token_text"
    if REPLACEMENT_CHAR in trip.decoded and REPLACEMENT_CHAR not in trip.original:
        return "partial_utf8"
    if getattr(tokenizer, "clean_up_tokenization_spaces", False):
        raw = tokenizer.decode(trip.ids, clean_up_tokenization_spaces=False)
        if raw != trip.decoded and encode(tokenizer, raw) == trip.ids:
            return "cleanup_spaces"
    original, decoded = _without_whitespace(trip.original), _without_whitespace(trip.decoded)
    if original == decoded:
        return "whitespace"
    if unicodedata.normalize("NFKC", original) == unicodedata.normalize("NFKC", decoded):
        return "unicode_normalization"
    return "other"


def roundtrip(tokenizer: Any, text: str, *, controls: set[int] | None = None) -> RoundTrip:
    """Encode, decode and re-encode ``text``; categorize it when the ids change."""
    ids = encode(tokenizer, text)
    decoded = tokenizer.decode(ids)
    trip = RoundTrip(text, ids, decoded, encode(tokenizer, decoded))
    if not trip.stable:
        trip.category = categorize(tokenizer, trip, controls=controls)
    return trip


def run_battery(tokenizer: Any, strings: Sequence[str] | None = None) -> list[RoundTrip]:
    """Round-trip every string (the built-in corpus when ``strings`` is None)."""
    controls = control_ids(tokenizer)
    corpus = DEFAULT_CORPUS if strings is None else strings
    return [roundtrip(tokenizer, text, controls=controls) for text in corpus]


def decode_hazards(tokenizer: Any) -> list[int]:
    """Ids that decode to U+FFFD on their own (partial UTF-8), in id order."""
    size = len(tokenizer)
    backend = getattr(tokenizer, "backend_tokenizer", None)
    if backend is not None:
        # One Rust call instead of one Python call per id: Qwen3 has 151k ids.
        texts = backend.decode_batch([[i] for i in range(size)], skip_special_tokens=False)
    else:
        texts = [tokenizer.decode([i]) for i in range(size)]
    hazards = []
    for token_id, text in enumerate(texts):
        if REPLACEMENT_CHAR in text:
            piece = tokenizer.convert_ids_to_tokens(token_id)
            if piece is None or REPLACEMENT_CHAR not in piece:  # the token *is* U+FFFD: fine
                hazards.append(token_id)
    return hazards


def load_strings(path: str | Path) -> list[str]:
    """User strings for the battery: a JSON array (``.json``), JSON strings one a line
    (``.jsonl``), or plain text one string a line. Raises ``UsageError`` when unreadable."""
    from gymcheck.files import read_small_input

    path = Path(path)
    raw = read_small_input(path, "strings file")
    try:
        if path.suffix == ".json":
            strings = orjson.loads(raw)
            if not isinstance(strings, list):
                raise UsageError(f"{path}: a .json strings file holds one array of strings")
        elif path.suffix == ".jsonl":
            strings = [orjson.loads(line) for line in raw.splitlines() if line.strip()]
        else:
            strings = raw.decode("utf-8").splitlines()
    except orjson.JSONDecodeError as exc:
        raise UsageError(f"{path}: not valid JSON: {exc}") from None
    except UnicodeDecodeError:
        raise UsageError(f"{path}: not UTF-8 text") from None
    bad = next((s for s in strings if not isinstance(s, str)), None)
    if bad is not None:
        raise UsageError(f"{path}: every entry must be a string, not {type(bad).__name__}")
    return strings
