"""The screenshots in docs/screenshots (taken by the browser tests with
COCKPIT_SCREENSHOTS=docs/screenshots, docs/cockpit.md): every image the README or a page of
docs/ shows exists, every screenshot is shown somewhere, and none is over 300 KB."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SCREENSHOTS = ROOT / "docs" / "screenshots"
MAX_BYTES = 300 * 1024
IMAGE = re.compile(r"!\[[^\]]*\]\(([^)\s]+\.png)\)")


def _shown() -> dict[Path, list[str]]:
    """Each image shown → the documents that show it."""
    shown: dict[Path, list[str]] = {}
    for document in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        for target in IMAGE.findall(document.read_text(encoding="utf-8")):
            shown.setdefault((document.parent / target).resolve(), []).append(document.name)
    return shown


def test_every_image_shown_exists_and_every_screenshot_is_shown():
    shown = _shown()
    missing = {str(p.relative_to(ROOT)): docs for p, docs in shown.items() if not p.exists()}
    assert not missing, f"shown but not there: {missing}"
    unshown = sorted(p.name for p in SCREENSHOTS.glob("*.png") if p.resolve() not in shown)
    assert not unshown, f"in docs/screenshots but shown nowhere: {unshown}"
    for main in ("dashboard.png", "plan.png", "report-over-time.png", "contact.png"):
        assert "README.md" in shown[(SCREENSHOTS / main).resolve()], f"the README does not show {main}"


def test_no_screenshot_is_over_300_kb():
    heavy = {p.name: p.stat().st_size for p in SCREENSHOTS.glob("*.png") if p.stat().st_size > MAX_BYTES}
    assert not heavy, f"cut them to their meaningful top (tests/browser/conftest.py, screenshot): {heavy}"
