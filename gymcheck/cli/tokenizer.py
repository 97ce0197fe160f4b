"""`gymcheck tokenizer`: the ``token_roundtrip`` check on one tokenizer and chat template."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from gymcheck.cli._common import console, exit_with, usage_errors
from gymcheck.cli.app import app
from gymcheck.cli.options import option_groups, shared
from gymcheck.cli.output import Output
from gymcheck.errors import UsageError
from gymcheck.report import Status
from gymcheck.running import run_checks


def read_chat_template(path: Path) -> str:
    """A Jinja chat template from a file; ``UsageError`` when it cannot be read."""
    from gymcheck.files import read_small_input

    try:
        text = read_small_input(path, "chat template").decode("utf-8")
    except UnicodeDecodeError as exc:
        raise UsageError(f"cannot read chat template {path}: {exc}") from None
    if not text.strip():
        raise UsageError(f"chat template {path} is empty")
    return text


@app.command(
    "tokenizer",
    epilog="Example: [bold]gymcheck tokenizer --tokenizer /models/qwen3 --html tokenizer.html[/]",
)
@option_groups
def tokenizer(
    tokenizer_source: Annotated[
        str,
        shared(
            "--tokenizer",
            "Tokenizer directory, or a model name already in the local Hugging Face cache.",
            show_default=False,
        ),
    ],
    strings_path: Annotated[
        Path | None,
        typer.Option(
            "--strings",
            metavar="FILE",
            help="More strings to round-trip: .json (an array), .jsonl (one JSON string a "
            "line) or plain text (one string a line).",
        ),
    ] = None,
    chat_template_path: Annotated[
        Path | None,
        typer.Option(
            "--chat-template",
            metavar="FILE",
            help="Jinja chat template to use instead of the tokenizer's.",
        ),
    ] = None,
    *,
    output: Output,
) -> None:
    """Round-trip tricky strings and check the chat template keeps token continuity."""
    from gymcheck.checks.context import CheckContext, CheckOptions
    from gymcheck.checks.roundtrip import load_strings
    from gymcheck.checks.tokenizer import CHECK_ID, VERDICTS
    from gymcheck.loading import load_tokenizer

    output.start(target=tokenizer_source)
    with usage_errors():
        strings = load_strings(strings_path) if strings_path is not None else None
        template = read_chat_template(chat_template_path) if chat_template_path else None
        loaded = load_tokenizer(tokenizer_source)

    context = CheckContext(
        tokenizer=loaded, options=CheckOptions(strings=strings, chat_template=template)
    )
    report = run_checks(
        [CHECK_ID], context, title="Tokenizer and chat template", on_result=output.check
    )
    [result] = report.checks
    console.print()
    if result.status is Status.FAIL:
        console.print(f"❌ fail: {VERDICTS['fail']}.", soft_wrap=True)
    elif result.status is Status.WARN:
        console.print(f"⚠️  warn: {VERDICTS['warn']}.", soft_wrap=True)
    else:
        console.print("✅ pass: round-trips are stable and the template keeps token continuity.")
    output.finish(report)
    exit_with(report.exit_code())
