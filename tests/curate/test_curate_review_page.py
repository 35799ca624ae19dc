"""The review page: 127.0.0.1 only, a token per run, and a face marked in a real browser."""

import json
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from orscene.curate.review import ReviewConfig, review_actions
from orscene.curate.serve import ReviewServer
from orscene.curate.state import load_review_log
from orscene.evaluate.run import EvaluateConfig, evaluate_session
from orscene.recording.faces import load_faces

pytestmark = pytest.mark.slow
CHROMIUM = Path("/usr/bin/chromium")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run"]
FAIL = 1


@pytest.fixture
def server(curate_session, outputs_copy):
    cfg = ReviewConfig(session="CUR", recordings=curate_session.parent, outputs=outputs_copy, user="browser")
    s = ReviewServer(outputs_copy, *review_actions(cfg, outputs_copy))
    s.start()
    yield s
    s.close()


def _request(url: str, data: dict | None = None, headers: dict | None = None) -> tuple[int, bytes]:
    req = urllib.request.Request(url, data=None if data is None else json.dumps(data).encode(), headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=60) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def test_page_refuses_requests_without_its_token_and_listens_on_loopback_only(server, outputs_copy):
    assert server.httpd.server_address[0] == "127.0.0.1"  # bound to loopback, not 0.0.0.0
    base = f"http://127.0.0.1:{server.port}"
    assert _request(base + "/")[0] == 403
    assert _request(base + "/?token=wrong")[0] == 403
    assert _request(base + "/image?frame=0&camera=cam0")[0] == 403
    assert _request(base + "/accept", {"frame": 0})[0] == 403
    assert _request(base + "/accept", {"frame": 0}, {"X-Orscene-Token": "x" * 32})[0] == 403
    assert load_review_log(outputs_copy).decisions == ()  # nothing was decided
    code, body = _request(server.url)
    assert code == 200 and b"Review: CUR" in body
    code, body = _request(f"{base}/image?frame=0&camera=cam0&token={server.token}")
    assert code == 200 and body == (outputs_copy / "images" / "cam0" / "000000.jpg").read_bytes()  # the anonymized view
    code, _ = _request(base + "/accept", {"frame": 0}, {"X-Orscene-Token": server.token})
    assert code == 200 and load_review_log(outputs_copy).accepted() == {0}


def test_face_marked_in_the_browser_is_covered_in_every_view(server, curate_session, outputs_copy):
    if not CHROMIUM.exists():
        pytest.fail("/usr/bin/chromium is missing: `make test` installs Debian's chromium")
    from playwright.sync_api import sync_playwright

    ev = lambda: evaluate_session(EvaluateConfig(session="CUR", recordings=str(curate_session.parent), predictions=str(outputs_copy), baselines=(), quality=False))  # noqa: E731
    before = {tuple(x[:3]) for x in ev()["leaks"]}
    gt = load_faces(curate_session / "annotations" / "faces.json")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=FLAGS, headless=True)
        try:
            page = browser.new_page(viewport={"width": 1600, "height": 1200})
            errors: list[str] = []
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.goto(server.url, wait_until="load")
            shown = page.evaluate("Array.from(document.querySelectorAll('#ranked > li')).map(li => Number(li.dataset.frame))")
            leaks = [k for k in before if k[0] in shown and k[0] != FAIL]
            if not leaks:
                pytest.fail(f"no leaked face in the frame-sets the page shows ({shown}): pick another seed in conftest.py")
            frame, cam, person = max(leaks, key=lambda k: (sum(1 for x in leaks if (x[0], x[2]) == (k[0], k[2])), -k[0]))
            (box,) = [f.box_xyxy_px for f in gt.faces if (f.frame, f.camera, f.person) == (frame, cam, person)]
            img = page.locator(f"img[data-frame='{frame}'][data-camera='{cam}']")
            img.scroll_into_view_if_needed()
            bb = img.bounding_box()
            s = bb["width"] / page.evaluate("i => i.naturalWidth", img.element_handle())
            page.mouse.move(bb["x"] + (box[0] + 0.5) * s, bb["y"] + (box[1] + 0.5) * s)
            page.mouse.down()
            page.mouse.move(bb["x"] + (box[2] + 0.5) * s, bb["y"] + (box[3] + 0.5) * s, steps=4)
            page.mouse.up()
            page.wait_for_function("document.getElementById('status').textContent.startsWith('face added')", timeout=300_000)
            assert errors == []
        finally:
            browser.close()
    (d,) = load_review_log(outputs_copy).decisions
    assert d["action"] == "add_face" and d["user"] == "browser" and (d["frame"], d["camera"]) == (frame, cam)
    after = {tuple(x[:3]) for x in ev()["leaks"]}
    assert not [k for k in after if (k[0], k[2]) == (frame, person)]  # the face, in every view of its frame-set
    assert after < before
