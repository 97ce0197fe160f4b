"""The checks: one module per check id, each a ``(ctx) -> CheckResult`` function registered in
``gymcheck.checks.registry`` that does the work. The public ``check_*`` functions library users
call are thin wrappers: they build a ``CheckContext`` from their arguments and call it.

Re-exports resolve lazily so importing one check does not import the others.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS: dict[str, str] = {
    "check_record": "gymcheck.checks.records",
    "diagnose_continuity": "gymcheck.checks.continuity",
    "check_token_continuity": "gymcheck.checks.continuity",
    "check_rollout_collection": "gymcheck.checks.collection",
    "check_http_endpoint": "gymcheck.checks.endpoint",
    "check_gradient_flow": "gymcheck.checks.gradients",
    "gradient_flow_on_sequences": "gymcheck.checks.gradients",
    "check_logprob_agreement": "gymcheck.checks.logprobs",
    "measure_logprob_agreement": "gymcheck.checks.logprobs",
}


def __getattr__(name: str) -> Any:
    module_name = _EXPORTS.get(name)
    if module_name is None:
        raise AttributeError(f"module 'gymcheck.checks' has no attribute {name!r}")
    return getattr(importlib.import_module(module_name), name)
