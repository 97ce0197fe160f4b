"""The reference model: a tiny Qwen2-architecture causal LM and byte-level BPE tokenizer.

Built offline and deterministically from a seed on first use, then cached: the tokenizer is
trained on the corpus shipped in ``reference/data`` plus synthetic tool-calling episodes
(``episodes.py``), and the model is trained briefly on those episodes so that it really reasons
in ``<think>`` and really calls tools. The directory loads with ``AutoTokenizer`` /
``AutoModelForCausalLM`` and with vLLM (head_dim 64).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import shutil
import tempfile
import time
from collections.abc import Iterator
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gymcheck.errors import GymcheckError
from gymcheck.loading import quiet_transformers
from gymcheck.reference.chat_template import CHAT_TEMPLATE
from gymcheck.reference.episodes import make_episodes
from gymcheck.user_dirs import cache_dir as user_cache_dir

if TYPE_CHECKING:
    from transformers import PreTrainedTokenizerFast

logger = logging.getLogger(__name__)

REFERENCE_MODEL_NAME = "gymcheck-tiny"

# Bump when anything below changes what gets built: the cache key includes it.
BUILD_REVISION = 3
SEED = 1234
VOCAB_SIZE = 2048
TOKENIZER_EPISODES = 400
TRAIN_EPISODES = 3000
TRAIN_STEPS = 260
BATCH_SIZE = 8
LEARNING_RATE = 3e-3
WARMUP_STEPS = 20
MAX_POSITION_EMBEDDINGS = 4096
SPLIT_RATE = 0.04
"""Share of multi-character prose tokens the training data writes as two pieces."""

MODEL_CONFIG: dict[str, Any] = {
    "hidden_size": 128,
    "intermediate_size": 384,
    "num_hidden_layers": 2,
    "num_attention_heads": 2,
    "num_key_value_heads": 2,
    "head_dim": 64,
    "max_position_embeddings": MAX_POSITION_EMBEDDINGS,
    "rope_theta": 10000.0,
    "rms_norm_eps": 1e-6,
    "tie_word_embeddings": True,
    "use_sliding_window": False,
}

EOS_TOKEN = "<|im_end|>"
PAD_TOKEN = "<|endoftext|>"
SPECIAL_TOKENS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
# transformers 5 loads any model_type "qwen2" directory with Qwen2Tokenizer, which rebuilds the
# pipeline from vocab + merges with Qwen's split regex and an NFC normalizer. The tokenizer is
# trained with exactly that pipeline, so every loader (AutoTokenizer, vLLM, tokenizer.json)
# gives the same ids. NFC does not break the ids round trip: encode(decode(ids)) == ids.
QWEN2_PRETOKENIZE_REGEX = (
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*"
    r"|\s*[\r\n]+|\s+(?!\S)|\s+"
)
# Added but not special, as in Qwen: they decode with skip_special_tokens=True.
MARKUP_TOKENS = ["<think>", "</think>", "<tool_call>", "</tool_call>"]


def _corpus_text() -> str:
    return (resources.files("gymcheck.reference") / "data" / "corpus.txt").read_text("utf-8")


def build_key() -> str:
    """A hash of everything that decides the built model, so a change builds a new one."""
    spec = {
        "revision": BUILD_REVISION,
        "seed": SEED,
        "vocab": VOCAB_SIZE,
        "episodes": [TOKENIZER_EPISODES, TRAIN_EPISODES],
        "train": [TRAIN_STEPS, BATCH_SIZE, LEARNING_RATE, WARMUP_STEPS, SPLIT_RATE],
        "model": MODEL_CONFIG,
        "template": CHAT_TEMPLATE,
        "corpus": hashlib.sha256(_corpus_text().encode()).hexdigest(),
        # A sample of the synthetic episodes, so a change to their generator rebuilds too.
        "episodes_sample": hashlib.sha256(
            json.dumps(make_episodes(SEED, 20), sort_keys=True).encode()
        ).hexdigest(),
    }
    return hashlib.sha256(json.dumps(spec, sort_keys=True).encode()).hexdigest()[:12]


def reference_model_dir(cache_dir: Path | None = None) -> Path:
    """Where this build recipe's model lives (it may not be built yet)."""
    root = Path(cache_dir).expanduser() if cache_dir is not None else user_cache_dir()
    return root / f"reference-{build_key()}"


def reference_model_is_built(cache_dir: Path | None = None) -> bool:
    return _is_complete(reference_model_dir(cache_dir))


def ensure_reference_model(cache_dir: Path | None = None) -> Path:
    """The directory of the reference model and tokenizer, built on first use (about a minute).

    ``cache_dir`` (default ``$GYMCHECK_CACHE_DIR`` or ``~/.cache/gymcheck``) holds one
    ``reference-<hash>`` directory per build recipe. Building happens in a temporary directory
    renamed into place, under a file lock, so concurrent first runs neither corrupt nor repeat it.
    """
    target = reference_model_dir(cache_dir)
    root = target.parent
    if _is_complete(target):
        return target
    root.mkdir(parents=True, exist_ok=True)
    with _file_lock(root / f"{target.name}.lock"):
        if _is_complete(target):
            return target
        tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=root))
        try:
            build_reference_model(tmp)
            tmp.chmod(0o755)  # mkdtemp makes it private; the cache is an ordinary directory
            if target.exists():  # a stale, incomplete directory from an interrupted build
                shutil.rmtree(target, ignore_errors=True)
            os.replace(tmp, target)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    return target


def _is_complete(directory: Path) -> bool:
    return (directory / "model.safetensors").is_file() and (
        directory / "tokenizer_config.json"
    ).is_file()


@contextlib.contextmanager
def _file_lock(path: Path) -> Iterator[None]:
    try:
        import fcntl
    except ImportError:  # not POSIX: the atomic rename alone keeps the cache consistent
        yield
        return
    with open(path, "a+") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def build_reference_model(out_dir: Path) -> dict[str, float]:
    """Build tokenizer and model into ``out_dir``; returns timings and the final loss."""
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    started = time.monotonic()
    tokenizer = _save_and_reload_tokenizer(build_tokenizer(), out_dir)
    tokenizer_s = time.monotonic() - started
    from gymcheck.reference.model_training import train_model

    model, final_loss = train_model(tokenizer)
    train_s = time.monotonic() - started - tokenizer_s
    quiet_transformers()
    model.save_pretrained(out_dir, safe_serialization=True)
    stats = {"tokenizer_s": tokenizer_s, "train_s": train_s, "final_loss": final_loss}
    (out_dir / "gymcheck_build.json").write_text(
        json.dumps({"build_key": build_key(), **stats}, indent=2) + "\n", encoding="utf-8"
    )
    logger.info("built the reference model in %s: %s", out_dir, stats)
    return stats


def _save_and_reload_tokenizer(tokenizer: Any, out_dir: Path) -> Any:
    """Save, declare Qwen2Tokenizer, reload as users will, and check nothing changed."""
    from transformers import AutoTokenizer

    tokenizer.save_pretrained(out_dir)
    config_path = out_dir / "tokenizer_config.json"
    config = json.loads(config_path.read_text(encoding="utf-8"))
    config["tokenizer_class"] = "Qwen2Tokenizer"
    config_path.write_text(json.dumps(config, indent=2) + "\n", encoding="utf-8")
    # config.json must exist for AutoTokenizer to pick the class the way it will later.
    (out_dir / "config.json").write_text(json.dumps({"model_type": "qwen2"}), encoding="utf-8")
    reloaded = AutoTokenizer.from_pretrained(out_dir, local_files_only=True)
    sample = _corpus_text() + render_episode(*make_episodes(SEED, 1)[0])
    if reloaded.encode(sample, add_special_tokens=False) != tokenizer.encode(
        sample, add_special_tokens=False
    ):
        raise GymcheckError(
            "the reloaded reference tokenizer encodes differently from the built one"
        )
    return reloaded


def render_episode(messages: list[dict[str, Any]], tools: list[dict[str, Any]] | None) -> str:
    from transformers.utils.chat_template_utils import render_jinja_template

    rendered, _ = render_jinja_template(  # type: ignore[str-unpack]
        conversations=[messages],
        tools=tools,  # type: ignore[arg-type]
        chat_template=CHAT_TEMPLATE,
    )
    return str(rendered[0])


def build_tokenizer() -> PreTrainedTokenizerFast:
    """Byte-level BPE, no normalizer, no prefix space, trained on the corpus and episodes."""
    from tokenizers import (
        AddedToken,
        Regex,
        Tokenizer,
        decoders,
        models,
        normalizers,
        pre_tokenizers,
        processors,
    )
    from tokenizers import trainers as bpe_trainers
    from transformers import PreTrainedTokenizerFast

    texts = [_corpus_text()]
    for messages, tools in make_episodes(SEED + 1, TOKENIZER_EPISODES):
        text = render_episode(messages, tools)
        for token in SPECIAL_TOKENS + MARKUP_TOKENS:  # added tokens are never merged
            text = text.replace(token, "\n")
        texts.append(text)

    backend = Tokenizer(models.BPE())
    backend.normalizer = normalizers.NFC()
    backend.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Split(Regex(QWEN2_PRETOKENIZE_REGEX), behavior="isolated", invert=False),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
        ]
    )
    backend.decoder = decoders.ByteLevel()
    backend.post_processor = processors.ByteLevel(trim_offsets=False)
    trainer = bpe_trainers.BpeTrainer(
        vocab_size=VOCAB_SIZE - len(SPECIAL_TOKENS) - len(MARKUP_TOKENS),
        min_frequency=1,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    backend.train_from_iterator(texts, trainer)
    backend.add_special_tokens(
        [AddedToken(t, special=True, normalized=False) for t in SPECIAL_TOKENS]
    )
    backend.add_tokens([AddedToken(t, special=False, normalized=False) for t in MARKUP_TOKENS])

    return PreTrainedTokenizerFast(
        tokenizer_object=backend,
        eos_token=EOS_TOKEN,
        pad_token=PAD_TOKEN,
        bos_token=None,
        unk_token=None,
        clean_up_tokenization_spaces=False,
        model_max_length=MAX_POSITION_EMBEDDINGS,
        chat_template=CHAT_TEMPLATE,
        padding_side="left",
    )
