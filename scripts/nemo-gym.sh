#!/usr/bin/env bash
# The real NeMo Gym 0.7.0 peer for the tests (DESIGN.md section 6), in its own virtual environment.
#
#   bash scripts/nemo-gym.sh install                  create .venv-gym with nemo-gym (skips if complete)
#   bash scripts/nemo-gym.sh start WORKDIR POLICY_BASE_URL POLICY_MODEL [gym overrides...]
#                                                     `gym env start` in WORKDIR (foreground)
#   bash scripts/nemo-gym.sh eval HEAD_PORT AGENT INPUT OUTPUT [overrides...]
#                                                     `gym eval run --no-serve` against running servers
#   bash scripts/nemo-gym.sh python                   print the venv's python, if the venv is complete
#
# GYMCHECK_GYM_VENV overrides the venv location (default: .venv-gym in the repository root);
# GYMCHECK_GYM_RAY_TMPDIR is Ray's temp root for `start` (default: a new /tmp/gym-ray.XXXXXX).
#
# nemo-gym 0.7.0 asks for Python >= 3.13.14; pyenv's 3.13.0 runs it, installed with
# --ignore-requires-python. `gym env start` would build one venv per server with uv and pip
# install each server's requirements from the network: every server is pointed at this one venv
# (uv_venv_dir + skip_venv_if_present), so nothing is built or downloaded at start.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
VENV="${GYMCHECK_GYM_VENV:-$ROOT/.venv-gym}"
GYM_VERSION="0.7.0"
PYTHON313="${GYMCHECK_PYTHON313:-/root/.pyenv/versions/3.13.0/bin/python3.13}"
[ -x "$PYTHON313" ] || PYTHON313="$(command -v python3.13 || echo "$PYTHON313")"

is_complete() {
    # Gym imports, at the pinned version, with the packages its servers import at start.
    [ -x "$VENV/bin/python" ] && [ -x "$VENV/bin/gym" ] &&
        "$VENV/bin/python" - <<'PY' >/dev/null 2>&1
import importlib.metadata as md, sys
if md.version("nemo-gym") != "0.7.0":
    sys.exit(1)
import nemo_gym.server_utils, nemo_gym.rollout_collection, ray  # noqa: E401,F401
PY
}

install() {
    if is_complete; then
        echo "nemo-gym.sh: $VENV is complete (nemo-gym==$GYM_VERSION)"
        return 0
    fi
    [ -x "$PYTHON313" ] || { echo "nemo-gym.sh: Python 3.13 not found at $PYTHON313" >&2; exit 1; }
    "$PYTHON313" -m venv "$VENV"
    "$VENV/bin/pip" install -q --upgrade pip
    "$VENV/bin/pip" install -q --ignore-requires-python "nemo-gym==$GYM_VERSION"
    is_complete || { echo "nemo-gym.sh: $VENV is still incomplete after install" >&2; exit 1; }
    echo "nemo-gym.sh: installed nemo-gym==$GYM_VERSION into $VENV"
}

# The servers `start` runs: example_single_tool_call (its config also declares simple_agent and a
# legacy_agent environment server in front of it) and vllm_model as policy_model.
SERVERS="resources_servers/example_single_tool_call responses_api_agents/simple_agent
environment_servers/legacy_agent responses_api_models/vllm_model"

start() {
    local workdir="${1:?usage: nemo-gym.sh start WORKDIR POLICY_BASE_URL POLICY_MODEL [overrides...]}"
    local policy_base_url="${2:?usage: nemo-gym.sh start WORKDIR POLICY_BASE_URL POLICY_MODEL}"
    local policy_model="${3:?usage: nemo-gym.sh start WORKDIR POLICY_BASE_URL POLICY_MODEL}"
    shift 3
    is_complete || { echo "nemo-gym.sh: $VENV is missing; run: bash scripts/nemo-gym.sh install" >&2; exit 1; }
    mkdir -p "$workdir"
    workdir="$(cd "$workdir" && pwd)"
    # Gym runs each server from uv_venv_dir/<type>/<name>/.venv; with skip_venv_if_present an
    # existing one is used as is, so each is this venv.
    local server
    for server in $SERVERS; do
        mkdir -p "$workdir/venvs/$server"
        ln -sfn "$VENV" "$workdir/venvs/$server/.venv"
    done
    local site
    site="$("$VENV/bin/python" -c 'import nemo_gym, pathlib; print(pathlib.Path(nemo_gym.__file__).parent.parent)')"
    # vllm_model_for_training returns token ids; GYM_MODEL_CONFIGS can add e.g.
    # vllm_model_supply_prefix (space-separated names under vllm_model/configs/).
    local configs="$site/resources_servers/example_single_tool_call/configs/example_single_tool_call.yaml"
    local model_config
    for model_config in ${GYM_MODEL_CONFIGS:-vllm_model_for_training}; do
        configs="$configs,$site/responses_api_models/vllm_model/configs/$model_config.yaml"
    done
    cd "$workdir"
    ray_on_loopback
    # Ray's own temp dir: ray.init() joins the cluster named in <temp>/ray/ray_current_cluster
    # (left by any earlier `ray start` on the machine, even a dead one); short, for its sockets.
    RAY_TMPDIR="${GYMCHECK_GYM_RAY_TMPDIR:-$(mktemp -d /tmp/gym-ray.XXXXXX)}"
    export RAY_TMPDIR
    unset RAY_ADDRESS
    exec "$VENV/bin/gym" env start \
        "+config_paths=[$configs]" \
        "+policy_base_url=$policy_base_url" "+policy_api_key=EMPTY" "+policy_model_name=$policy_model" \
        "+uv_venv_dir=$workdir/venvs" "+skip_venv_if_present=true" \
        "+default_host=127.0.0.1" "+use_absolute_ip=false" \
        "+results_dir=$workdir/results" "+cache_dir=$workdir/cache" \
        "$@"
}

ray_on_loopback() {
    # Ray binds to loopback only when it believes it is a single-machine install; no usage
    # statistics are sent anywhere.
    export RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0 RAY_USAGE_STATS_ENABLED=0
    export NO_PROXY="127.0.0.1,localhost" no_proxy="127.0.0.1,localhost"
}

eval_run() {
    local port="${1:?usage: nemo-gym.sh eval HEAD_PORT AGENT INPUT OUTPUT [overrides...]}"
    local agent="${2:?usage: nemo-gym.sh eval HEAD_PORT AGENT INPUT OUTPUT}"
    local input="${3:?usage: nemo-gym.sh eval HEAD_PORT AGENT INPUT OUTPUT}"
    local output="${4:?usage: nemo-gym.sh eval HEAD_PORT AGENT INPUT OUTPUT}"
    shift 4
    is_complete || { echo "nemo-gym.sh: $VENV is missing; run: bash scripts/nemo-gym.sh install" >&2; exit 1; }
    ray_on_loopback
    exec "$VENV/bin/gym" eval run --no-serve "+head_server.port=$port" "+agent_name=$agent" \
        "+input_jsonl_fpath=$input" "+output_jsonl_fpath=$output" "$@"
}

case "${1:-}" in
    install) install ;;
    start) shift; start "$@" ;;
    eval) shift; eval_run "$@" ;;
    python) is_complete && echo "$VENV/bin/python" ;;
    *) echo "usage: $0 {install|start WORKDIR POLICY_BASE_URL POLICY_MODEL [overrides...]|eval HEAD_PORT AGENT INPUT OUTPUT|python}" >&2; exit 2 ;;
esac
