"""`gymcheck endpoint`: the ``http_endpoint`` check against one OpenAI-compatible server."""

from __future__ import annotations

from typing import Annotated

import typer

from gymcheck.cli._common import (
    api_key_from_env,
    console,
    exit_with,
    optional_tokenizer,
    positive_seconds,
    usage_errors,
)
from gymcheck.cli.app import app
from gymcheck.cli.options import option_groups, shared
from gymcheck.cli.output import Output
from gymcheck.running import run_checks


@app.command(
    "endpoint",
    epilog="Example: [bold]gymcheck endpoint --base-url http://localhost:8000/v1 "
    "--api-key-env OPENAI_API_KEY --junit endpoint.xml[/]",
)
@option_groups
def endpoint(
    base_url: Annotated[
        str,
        shared(
            "--base-url",
            "The server's OpenAI-compatible base URL, e.g. http://localhost:8000/v1.",
            show_default=False,
        ),
    ],
    model: Annotated[
        str | None, shared("--model", "Model id to probe (default: the first one listed).")
    ] = None,
    api_key_env: Annotated[
        str | None,
        shared(
            "--api-key-env",
            "Environment variable holding the API key (sent as a bearer token, never printed).",
        ),
    ] = None,
    tokenizer: Annotated[
        str | None,
        shared(
            "--tokenizer",
            "Tokenizer directory or cached name, to decode the generated ids when the served "
            "model's directory is not on this machine.",
        ),
    ] = None,
    timeout: Annotated[
        float,
        typer.Option(
            "--timeout",
            metavar="SECONDS",
            callback=positive_seconds,
            help="Seconds each request may take in all: connect, headers and body.",
        ),
    ] = 30.0,
    *,
    output: Output,
) -> None:
    """Probe a generation server the way NeMo Gym trains through it.

    Token ids and counts, /tokenize, decode, tool calls, multi-turn history, bad requests, a burst.
    """
    from gymcheck.checks.context import CheckContext, CheckOptions
    from gymcheck.checks.endpoint import CHECK_ID
    from gymcheck.render.console import render_header, render_summary

    output.start(target=base_url)
    api_key = api_key_from_env(api_key_env)
    with usage_errors():
        loaded = optional_tokenizer(tokenizer)
    context = CheckContext(
        base_url=base_url,
        model=model,
        api_key=api_key,
        tokenizer=loaded,
        options=CheckOptions(timeout=timeout),
    )
    title = "OpenAI-compatible endpoint"
    render_header(console, title)
    report = run_checks([CHECK_ID], context, title=title, on_result=output.check)
    render_summary(console, report)
    output.finish(report)
    exit_with(report.exit_code())
