"""The ``http_endpoint`` check: can NeMo Gym train through this OpenAI-compatible server?

One sub-check per ``Step`` with a stable name (``STEP_NAMES``), each probing one part of the
contract that Gym's ``vllm_model`` relies on (DESIGN.md section 3).
"""

from __future__ import annotations

from gymcheck.checks.endpoint.check import CHECK_ID, check_http_endpoint
from gymcheck.checks.endpoint.probe import STEP_NAMES

__all__ = ["CHECK_ID", "STEP_NAMES", "check_http_endpoint"]
