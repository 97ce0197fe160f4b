"""`gymcheck endpoint`: the ``http_endpoint`` check against one OpenAI-compatible server."""

from __future__ import annotations

from typing import Annotated

import typer

from gymcheck.cli._common import (
    api_key_from_env,
    console,
    exit_with,
    http_url,
    positive_seconds,
    usage_errors,
)
from gymcheck.cli.app import app
from gymcheck.cli.output import (
    FormatOpt,
    HtmlOpt,
    JsonOpt,
    JunitOpt,
    Output,
    OutputFormat,
    QuietOpt,
    VerboseOpt,
)
from gymcheck.running import run_checks


@app.command(
    "endpoint",
    epilog="Example: [bold]gymcheck endpoint --base-url http://localhost:8000/v1 "
    "--api-key-env OPENAI_API_KEY --junit endpoint.xml[/]",
)
def endpoint(
    base_url: Annotated[
        str,
        typer.Option(
            "--base-url",
            metavar="URL",
            help="The server's OpenAI-compatible base URL, e.g. http://localhost:8000/v1.",
            show_default=False,
            callback=http_url,
        ),
    ],
    model: Annotated[
        str | None,
        typer.Option(
            "--model", metavar="NAME", help="Model id to probe (default: the first one listed)."
        ),
    ] = None,
    api_key_env: Annotated[
        str | None,
        typer.Option(
            "--api-key-env",
            metavar="VAR",
            help="Environment variable holding the API key (sent as a bearer token, never "
            "printed).",
        ),
    ] = None,
    tokenizer: Annotated[
        str | None,
        typer.Option(
            "--tokenizer",
            metavar="PATH|NAME",
            help="Tokenizer directory or cached name, to decode the generated ids when the "
            "served model's directory is not on this machine.",
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
    json_path: JsonOpt = None,
    junit_path: JunitOpt = None,
    html_path: HtmlOpt = None,
    output_format: FormatOpt = OutputFormat.console,
    quiet: QuietOpt = False,
    verbose: VerboseOpt = False,
) -> None:
    """Probe a generation server the way NeMo Gym trains through it.

    Token ids and counts, /tokenize, decode, tool calls, multi-turn history, bad requests, a burst.
    """
    from gymcheck.checks.context import CheckContext, CheckOptions
    from gymcheck.checks.endpoint import CHECK_ID
    from gymcheck.render.console import render_header, render_summary

    output = Output(
        json_path, junit_path, html_path, output_format, quiet, verbose, target=base_url
    )
    api_key = api_key_from_env(api_key_env)
    loaded = None
    if tokenizer is not None:
        with usage_errors():
            from gymcheck.loading import load_tokenizer

            loaded = load_tokenizer(tokenizer)
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
