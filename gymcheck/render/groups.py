"""Findings grouped by what they are (check, code, cause): one fix, many places. The console,
HTML and JUnit renderers group alike."""

from __future__ import annotations

from dataclasses import dataclass, field

from gymcheck.render.location import finding_label
from gymcheck.report import CheckResult, Finding


@dataclass(slots=True)
class FindingGroup:
    """The findings of one check that share a code and a cause: one fix, many places."""

    check_id: str
    code: str
    cause: str | None
    severity: str
    members: list[Finding] = field(default_factory=list)
    total: int = 0
    """How many findings the group has, members or only counted (a file scan keeps the first)."""

    @property
    def count(self) -> int:
        return max(self.total, len(self.members))

    @property
    def label(self) -> str:
        return finding_label(self.code, self.cause)

    @property
    def fixes(self) -> list[str]:
        """The distinct fixes of the members, in order (almost always one)."""
        return list(dict.fromkeys(f.fix for f in self.members if f.fix))

    @property
    def anchor(self) -> str:
        """An id for HTML anchors and filters."""
        return "-".join(part for part in (self.check_id, self.code, self.cause) if part)


def group_findings(check: CheckResult) -> list[FindingGroup]:
    """The check's findings grouped by (code, cause), groups in order of first appearance."""
    groups: dict[tuple[str, str | None], FindingGroup] = {}
    for finding in check.findings:
        key = (finding.code, finding.cause)
        if key not in groups:
            groups[key] = FindingGroup(check.id, finding.code, finding.cause, finding.severity)
        groups[key].members.append(finding)
    if check.finding_store is not None:
        for key, count in check.finding_counts().items():
            if key in groups:
                groups[key].total = count
    return list(groups.values())


def plural(count: int, singular: str, plural_form: str | None = None) -> str:
    """``1 finding``, ``2 findings``."""
    return f"{count} {singular if count == 1 else plural_form or singular + 's'}"
