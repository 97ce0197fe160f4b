"""The ``--json`` report (DESIGN.md section 2), streamed: findings are written one by one from
wherever the checks keep them (memory or a spool file), so the report never sits in memory."""

from __future__ import annotations

import io
from typing import IO

import orjson

from gymcheck.redact import redact
from gymcheck.render.words import step_text
from gymcheck.report import Report


def render(report: Report) -> str:
    out = io.StringIO()
    write(report, out)
    return out.getvalue()


def write(report: Report, out: IO[str]) -> None:
    """Write the report to ``out``, every part redacted, one finding per line."""
    data = report.to_dict_without_findings()
    # Each step's sentence, as the console shows it, beside its data.
    for check, entry in zip(report.checks, data["checks"], strict=True):
        for step, step_entry in zip(check.steps, entry["steps"], strict=True):
            step_entry["message"] = step_text(check.id, step)
    head = orjson.dumps(data, option=orjson.OPT_INDENT_2).decode()
    out.write(redact(head[: head.rindex("}")].rstrip()))
    out.write(',\n  "findings": [')
    separator = "\n    "
    for check in report.checks:
        for line in check.finding_json_lines():
            out.write(separator)
            out.write(redact(line.decode()))
            separator = ",\n    "
    out.write("\n  ]\n}\n" if separator != "\n    " else "]\n}\n")
