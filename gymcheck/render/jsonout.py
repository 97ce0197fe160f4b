"""The ``--json`` report (DESIGN.md section 2)."""

from __future__ import annotations

import orjson

from gymcheck.redact import redact
from gymcheck.render.words import step_text
from gymcheck.report import Report


def render(report: Report) -> str:
    data = report.to_dict()
    # Each step's sentence, as the console shows it, beside its data.
    for check, entry in zip(report.checks, data["checks"], strict=True):
        for step, step_entry in zip(check.steps, entry["steps"], strict=True):
            step_entry["message"] = step_text(check.id, step)
    return redact(orjson.dumps(data, option=orjson.OPT_INDENT_2).decode()) + "\n"
