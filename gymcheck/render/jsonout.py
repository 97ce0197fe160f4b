"""The ``--json`` report (DESIGN.md section 2)."""

from __future__ import annotations

import orjson

from gymcheck.report import Report


def render(report: Report) -> str:
    return orjson.dumps(report.to_dict(), option=orjson.OPT_INDENT_2).decode() + "\n"
