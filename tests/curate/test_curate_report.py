"""The QA report that `process` writes, opened in headless Chromium (Debian's package)."""

import hashlib
from pathlib import Path

import pytest

from orscene.cli import main
from orscene.curate.report import ReportConfig, rank_framesets
from orscene.curate.state import load_run_outputs

pytestmark = pytest.mark.slow

CHROMIUM = Path("/usr/bin/chromium")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run"]
FAIL = 1  # conftest.py: the forced miss


def _open(path: Path):
    """(page's console errors, number of images, images loaded, ranked frame-sets) of a page."""
    if not CHROMIUM.exists():
        pytest.fail("/usr/bin/chromium is missing: `make test` installs Debian's chromium (apt-get install chromium chromium-driver)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=FLAGS, headless=True)
        try:
            page = browser.new_page()
            errors: list[str] = []
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.on("requestfailed", lambda r: errors.append(f"failed: {r.url}"))
            page.goto(path.as_uri(), wait_until="load")
            n_img = page.evaluate("document.querySelectorAll('img.thumb').length")
            loaded = page.evaluate("Array.from(document.querySelectorAll('img.thumb')).filter(i => i.complete && i.naturalWidth > 0).length")
            ranked = page.evaluate("Array.from(document.querySelectorAll('#ranked > li')).map(li => Number(li.dataset.frame))")
            svgs = page.evaluate("document.querySelectorAll('svg').length")
        finally:
            browser.close()
    return errors, n_img, loaded, ranked, svgs


def test_process_writes_a_report_that_opens_without_errors(curate_session, curate_outputs):
    index = curate_outputs / "report" / "index.html"
    assert index.is_file()
    errors, n_img, loaded, ranked, svgs = _open(index)
    assert errors == []
    assert n_img > 0 and loaded == n_img  # every thumbnail loads
    assert ranked and FAIL in ranked  # the forced miss (its views obscured) is listed
    assert svgs >= 2  # people per frame-set, share per path over time
    # the report never shows an original: no file of it has the md5 of an input image
    md5 = lambda p: hashlib.md5(p.read_bytes()).hexdigest()  # noqa: E731
    inputs = {md5(p) for p in curate_session.rglob("*") if p.is_file()}
    assert not inputs & {md5(p) for p in (curate_outputs / "report").rglob("*") if p.is_file()}
    assert not list((curate_outputs / "report").rglob("*.jpg")) and not list((curate_outputs / "report").rglob("*.png"))


def test_report_command_rewrites_the_same_report(outputs_copy):
    before = (outputs_copy / "report" / "index.html").read_bytes()
    (outputs_copy / "report" / "stale.webp").write_bytes(b"x")
    assert main(["report", "--outputs", str(outputs_copy)]) == 0
    assert (outputs_copy / "report" / "index.html").read_bytes() == before
    assert not (outputs_copy / "report" / "stale.webp").exists()


def test_ranking_shows_one_frameset_per_window_and_obscured_ones_always(curate_outputs):
    run = load_run_outputs(curate_outputs)
    all_flagged = rank_framesets(run, ReportConfig(window_s=0.0))
    assert {r.frame for r in all_flagged} >= set(run.flagged_frames)
    wide = rank_framesets(run, ReportConfig(window_s=10.0))  # the whole 0.8-s session is one window
    assert FAIL in [r.frame for r in wide] and len(wide) <= 1 + sum(1 for r in run.review["review"] if "obscured" in " ".join(r["reasons"]))
    assert sorted(f for r in wide for f in (r.frame, *r.stands_for)) == sorted(r.frame for r in all_flagged)
    assert len(rank_framesets(run, ReportConfig(window_s=0.0, max_shown=1))) == 1
