"""The report a person opens: `gymcheck demo --fault strip-reasoning --html --junit --json -`,
rendered by a real headless Chromium (Debian's package, installed by scripts/test.sh)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path
from xml.etree import ElementTree as ET

import pytest
from PIL import Image

pytestmark = pytest.mark.slow

CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--hide-scrollbars",
)
BANNER_RED = (0xCF, 0x22, 0x2E)


def chromium(profile: Path, *args: str) -> subprocess.CompletedProcess[str]:
    binary = shutil.which("chromium") or shutil.which("chromium-browser")
    assert binary, "Chromium is missing: scripts/test.sh installs it (apt-get install chromium)"
    return subprocess.run(
        [binary, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )


class RenderedPage(HTMLParser):
    """What the browser's DOM shows: cell texts by class, locators, images, scripts."""

    def __init__(self) -> None:
        super().__init__()
        self.cells: list[tuple[set[str], str]] = []
        self.locators: list[str] = []
        self.images: list[str] = []
        self.scripts = 0
        self._into: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        classes = set((dict(attrs).get("class") or "").split())
        if tag == "td":
            self.cells.append((classes, ""))
            self._into = ["cell"]
        elif tag == "div" and "loc" in classes:
            self.locators.append("")
            self._into = ["loc"]
        elif tag == "img":
            self.images.append(dict(attrs).get("src") or "")
        elif tag == "script":
            self.scripts += 1

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "div"):
            self._into = None

    def handle_data(self, data: str) -> None:
        if self._into == ["cell"]:
            classes, text = self.cells[-1]
            self.cells[-1] = (classes, text + data)
        elif self._into == ["loc"]:
            self.locators[-1] += data


def test_the_strip_reasoning_report_in_a_browser(tmp_path: Path) -> None:
    html, junit = tmp_path / "f.html", tmp_path / "f.xml"
    command = ["demo", "--fault", "strip-reasoning", "--html", str(html), "--junit", str(junit)]
    run = subprocess.run(
        [sys.executable, "-m", "gymcheck", *command, "--json", "-"],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert run.returncode == 1, run.stderr
    report = json.loads(run.stdout)  # the JSON alone on stdout; the console went to stderr
    assert "🔗 Testing token continuity..." in run.stderr
    breaks = [f for f in report["findings"] if f["code"] == "continuity_break"]
    assert breaks and {f["cause"] for f in breaks} == {"reasoning_stripped"}

    cases = list(ET.parse(junit).getroot().iter("testcase"))
    per_finding = [c for c in cases if c.get("name", "").startswith("continuity_break")]
    assert len(per_finding) == len(breaks)
    assert {c.get("classname") for c in per_finding} == {"token_continuity"}
    assert all(c.find("failure") is not None for c in per_finding)

    dom = chromium(tmp_path / "profile-dom", "--dump-dom", html.as_uri()).stdout
    page = RenderedPage()
    page.feed(dom)
    assert page.scripts == 0
    # Each break by its rollout, turn and token, as in the JSON (rollout 0-based).
    for finding in breaks:
        where = f"rollout {finding['rollout_index']}, turn {finding['turn']}"
        assert f"{where}, token {finding['token_index']}" in page.locators
    # The aligned token view marks the first divergent token on both sides: turn 1 generated
    # "<think>", the re-rendered prompt holds "<tool_call>" where the reasoning was.
    diverging = [text for classes, text in page.cells if "diverge" in classes]
    assert diverging[:2] == ["<think>", "<tool_call>"]
    assert len(diverging) == 2 * len(breaks)
    # logprob_agreement ran: its scatter plot is embedded, nothing is fetched.
    assert [src[:22] for src in page.images] == ["data:image/png;base64,"]

    shot = tmp_path / "report.png"
    chromium(
        tmp_path / "profile-shot", "--window-size=1280,1600", f"--screenshot={shot}", html.as_uri()
    )
    with Image.open(shot) as image:
        assert image.size == (1280, 1600)
        assert image.convert("RGB").getpixel((8, 8)) == BANNER_RED  # the verdict banner
