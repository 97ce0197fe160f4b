"""What and where a finding is, in words: one label and one locator for the console, HTML, JUnit
and GitHub alike."""

from __future__ import annotations

from gymcheck.report import Finding


def finding_label(code: str, cause: str | None) -> str:
    """``"continuity_break (reasoning_stripped)"``: what a finding is, its code and its cause."""
    return code + (f" ({cause})" if cause else "")


def locate(finding: Finding) -> str:
    """``"rollouts.jsonl:17, rollout 16, turn 2, token 3089"``: every part the finding has.

    Lines and turns are 1-based, the rollout index is 0-based (as in the JSON report).
    """
    parts: list[str] = []
    if finding.source and finding.line:
        parts.append(f"{finding.source}:{finding.line}")
    elif finding.source:
        parts.append(finding.source)
    if finding.rollout_index is not None:
        parts.append(f"rollout {finding.rollout_index}")
    if finding.turn is not None:
        parts.append(f"turn {finding.turn}")
    if finding.token_index is not None:
        parts.append(f"token {finding.token_index}")
    return ", ".join(parts)
