"""`gymcheck tokenizer`: the ``token_roundtrip`` check on one tokenizer and chat template."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from gymcheck.cli._common import console, exit_with, usage_errors, write_outputs
from gymcheck.cli.app import app
from gymcheck.errors import UsageError
from gymcheck.report import Report, Status
from gymcheck.running import run_check


def read_chat_template(path: Path) -> str:
    """A Jinja chat template from a file; ``UsageError`` when it cannot be read."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = getattr(exc, "strerror", None) or exc
        raise UsageError(f"cannot read chat template {path}: {reason}") from None
    if not text.strip():
        raise UsageError(f"chat template {path} is empty")
    return text


@app.command("tokenizer")
def tokenizer(
    tokenizer_source: Annotated[
        str,
        typer.Option(
            "--tokenizer",
            help="Tokenizer directory, or a model name already in the local Hugging Face cache.",
            show_default=False,
        ),
    ],
    json_path: Annotated[
        Path | None, typer.Option("--json", help="Write the JSON report here.")
    ] = None,
    strings_path: Annotated[
        Path | None,
        typer.Option(
            "--strings",
            help="More strings to round-trip: .json (an array), .jsonl (one JSON string a "
            "line) or plain text (one string a line).",
        ),
    ] = None,
    chat_template_path: Annotated[
        Path | None,
        typer.Option(
            "--chat-template", help="Jinja chat template to use instead of the tokenizer's."
        ),
    ] = None,
) -> None:
    """Round-trip tricky strings and check the chat template keeps token continuity."""
    from gymcheck.checks.roundtrip import load_strings
    from gymcheck.checks.tokenizer import VERDICTS, check_token_roundtrip
    from gymcheck.loading import load_tokenizer
    from gymcheck.render.console import render_check

    with usage_errors():
        strings = load_strings(strings_path) if strings_path is not None else None
        template = read_chat_template(chat_template_path) if chat_template_path else None
        loaded = load_tokenizer(tokenizer_source)

    result = run_check(
        "token_roundtrip",
        lambda: check_token_roundtrip(loaded, strings=strings, chat_template=template),
    )
    report = Report(checks=[result], title="Tokenizer and chat template")
    render_check(console, result)
    console.print()
    if result.status is Status.FAIL:
        console.print(f"❌ fail: {VERDICTS['fail']}.", soft_wrap=True)
    elif result.status is Status.WARN:
        console.print(f"⚠️  warn: {VERDICTS['warn']}.", soft_wrap=True)
    else:
        console.print("✅ pass: round-trips are stable and the template keeps token continuity.")
    write_outputs(report, json_path=json_path)
    exit_with(report.exit_code())
