"""`gymcheck serve`: the reference OpenAI-compatible model server."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Annotated

import typer

from gymcheck.cli._common import err_console, usage_error
from gymcheck.cli.app import app
from gymcheck.reference.faults import FAULTS, Fault


@app.command(
    "serve",
    epilog="Example: [bold]gymcheck serve --port 8000 --fault drop-token-ids[/], then "
    "[bold]gymcheck endpoint --base-url http://127.0.0.1:8000/v1[/]",
)
def serve(
    model: Annotated[
        Path | None,
        typer.Option(
            "--model",
            metavar="DIR",
            help="A local Hugging Face causal LM directory (with tokenizer and chat template). "
            "Default: the tiny reference model, built offline on first use.",
        ),
    ] = None,
    host: Annotated[
        str, typer.Option("--host", metavar="HOST", help="Interface to bind.")
    ] = "127.0.0.1",
    port: Annotated[
        int, typer.Option("--port", metavar="PORT", min=1, max=65535, help="Port to bind.")
    ] = 8000,
    served_model_name: Annotated[
        str | None,
        typer.Option("--served-model-name", metavar="NAME", help="Model name clients must send."),
    ] = None,
    max_model_len: Annotated[
        int, typer.Option("--max-model-len", metavar="N", min=16, help="Context length in tokens.")
    ] = 2048,
    fault: Annotated[
        Fault | None,
        typer.Option(
            "--fault",
            metavar="NAME",
            help="Plant a server-side integration bug: "
            + ", ".join(f.value for f in Fault if FAULTS[f].layer == "server")
            + ".",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Serve a causal LM over HTTP the way vLLM / NeMo RL do, with token ids and logprobs."""
    from gymcheck.reference.faults import serve_with_wrong_tokenizer

    planted = fault
    if planted is not None and FAULTS[planted].layer != "server":
        usage_error(
            f"fault {planted.value!r} lives in the {FAULTS[planted].layer} layer, not the "
            "model server; use it with `gymcheck demo --fault`"
        )
    if model is not None and not (model / "config.json").is_file():
        usage_error(f"--model {model}: not a Hugging Face model directory (no config.json)")

    from gymcheck.reference.model import REFERENCE_MODEL_NAME, ensure_reference_model

    if model is None:
        err_console.print("Preparing the reference model (built once, then cached)...")
        model_dir = ensure_reference_model()
        name = served_model_name or REFERENCE_MODEL_NAME
    else:
        model_dir = model
        name = served_model_name or model.name
    with tempfile.TemporaryDirectory(prefix="gymcheck-serve-") as scratch:
        if planted is Fault.WRONG_TOKENIZER:
            model_dir = serve_with_wrong_tokenizer(model_dir, Path(scratch) / "model")
        _serve(model_dir, name, planted, host=host, port=port, max_model_len=max_model_len)


def _serve(
    model_dir: Path, name: str, planted: Fault | None, *, host: str, port: int, max_model_len: int
) -> None:
    import uvicorn

    from gymcheck.reference.server import create_app

    try:
        application = create_app(
            model_dir, served_model_name=name, fault=planted, max_model_len=max_model_len
        )
    except OSError as exc:
        usage_error(f"cannot load the model in {model_dir}: {exc}")
    err_console.print(
        f"Serving [bold]{name}[/] from {model_dir} on http://{host}:{port}"
        + (f" with fault [bold red]{planted.value}[/]" if planted else "")
    )
    uvicorn.run(application, host=host, port=port, log_level="warning")
