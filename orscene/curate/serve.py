"""The review page: ``cli.py review --serve``, a local web page over the same decisions.

Bound to 127.0.0.1 only, on a free port (``--port``), with a random token made per run:
every request must carry it (``?token=`` in the URL the command prints, or the
``X-Orscene-Token`` header); any other request gets 403 and nothing else. The page walks
the ranked frame-sets of the QA report, shows the anonymized views (never an original),
and lets a reviewer draw a box over a missed face (``add_face``: see
:mod:`orscene.curate.review`) or accept a frame-set; each action runs the scriptable
review and the page reloads the frame-set's views.
"""

import hmac
import html
import json
import logging
import secrets
import threading
import urllib.parse
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from orscene.curate.report import ReportConfig, rank_framesets
from orscene.curate.state import CurateError, load_run_outputs

__all__ = ["ReviewServer", "HOST"]

log = logging.getLogger(__name__)

HOST = "127.0.0.1"
"""The only interface the page listens on."""

_PAGE = """<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>orscene review: {session}</title><link rel="icon" href="data:,">
<style>body{{font-family:system-ui,sans-serif;margin:1em}}.v{{display:inline-block;position:relative;margin:3px}}
.v img{{display:block;cursor:crosshair;max-width:640px}}.sel{{position:absolute;border:2px solid #d62728;pointer-events:none}}
li{{margin:1em 0}}</style></head><body><h1>Review: {session}</h1><p id="status">draw a box over a missed face, or accept a frame-set</p>
<ol id="ranked">{items}</ol>
<script>
const TOKEN = {token};
async function post(path, body) {{
  const r = await fetch(path, {{method: "POST", headers: {{"Content-Type": "application/json", "X-Orscene-Token": TOKEN}}, body: JSON.stringify(body)}});
  const j = await r.json(); document.getElementById("status").textContent = j.message; return r.ok;
}}
function reload(frame) {{
  document.querySelectorAll(`img[data-frame="${{frame}}"]`).forEach(i => {{ i.src = i.src.split("&t=")[0] + "&t=" + Date.now(); }});
}}
document.querySelectorAll(".v img").forEach(img => {{
  let start = null, box = null;
  img.addEventListener("mousedown", e => {{
    e.preventDefault(); start = [e.offsetX, e.offsetY];
    box = document.createElement("div"); box.className = "sel"; img.parentElement.appendChild(box);
  }});
  img.addEventListener("mousemove", e => {{
    if (!start) return;
    const [x0, y0] = start;
    Object.assign(box.style, {{left: Math.min(x0, e.offsetX) + "px", top: Math.min(y0, e.offsetY) + "px", width: Math.abs(e.offsetX - x0) + "px", height: Math.abs(e.offsetY - y0) + "px"}});
  }});
  img.addEventListener("mouseup", async e => {{
    if (!start) return;
    const s = img.naturalWidth / img.clientWidth, [x0, y0] = start; start = null; box.remove();
    const b = [Math.min(x0, e.offsetX), Math.min(y0, e.offsetY), Math.max(x0, e.offsetX), Math.max(y0, e.offsetY)].map(v => v * s - 0.5);
    if (b[2] - b[0] < 2 || b[3] - b[1] < 2) return;
    if (await post("/add-face", {{frame: Number(img.dataset.frame), camera: img.dataset.camera, box: b}})) reload(img.dataset.frame);
  }});
}});
document.querySelectorAll("button.accept").forEach(b => b.addEventListener("click", () => post("/accept", {{frame: Number(b.dataset.frame)}})));
</script></body></html>
"""


class ReviewServer:
    """The review page of one output folder. ``add_face(frame, camera, box)`` and
    ``accept(frame)`` carry out a decision (the scriptable review's)."""

    def __init__(self, outputs: Path, add_face: Callable[[int, str, list[float]], dict], accept: Callable[[int], None], port: int = 0) -> None:
        self.outputs = Path(outputs)
        self.run = load_run_outputs(self.outputs)
        self.token = secrets.token_urlsafe(24)
        self._add_face, self._accept = add_face, accept
        self._lock = threading.Lock()  # one decision at a time
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, fmt, *args):  # through logging, not stderr
                log.debug("review page: " + fmt, *args)

            def _authorized(self, query: dict) -> bool:
                given = self.headers.get("X-Orscene-Token") or (query.get("token") or [""])[0]
                return hmac.compare_digest(given.encode(), server.token.encode())

            def _send(self, code: int, body: bytes, ctype: str = "application/json") -> None:
                self.send_response(code)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Cache-Control", "no-store")
                self.end_headers()
                self.wfile.write(body)

            def _json(self, code: int, message: str, **extra) -> None:
                self._send(code, json.dumps({"message": message, **extra}).encode())

            def do_GET(self):  # noqa: N802 - http.server's name
                url = urllib.parse.urlsplit(self.path)
                query = urllib.parse.parse_qs(url.query)
                if not self._authorized(query):
                    return self._json(403, "forbidden: this page needs the token of its run")
                if url.path == "/":
                    return self._send(200, server.page().encode(), "text/html; charset=utf-8")
                if url.path == "/image":
                    try:
                        frame, cam = int(query["frame"][0]), query["camera"][0]
                    except (KeyError, ValueError):
                        return self._json(400, "image needs frame and camera")
                    if cam not in server.run.cameras:
                        return self._json(404, "no such camera")
                    path = server.outputs / "images" / cam / f"{frame:06d}.jpg"  # the anonymized output only
                    if not path.is_file():
                        return self._json(404, "no image written for this view")
                    return self._send(200, path.read_bytes(), "image/jpeg")
                return self._json(404, "not found")

            def do_POST(self):  # noqa: N802
                url = urllib.parse.urlsplit(self.path)
                if not self._authorized(urllib.parse.parse_qs(url.query)):
                    return self._json(403, "forbidden: this page needs the token of its run")
                try:
                    body = json.loads(self.rfile.read(min(int(self.headers.get("Content-Length", 0)), 1 << 16)) or b"{}")
                    with server._lock:
                        if url.path == "/add-face":
                            d = server._add_face(int(body["frame"]), str(body["camera"]), [float(v) for v in body["box"]])
                            n = sum(len(v) for v in d["covered"].values())
                            return self._json(200, f"face added at frame-set {d['frame']}: {n} views covered in {len(d['covered'])} frame-sets", decision=d)
                        if url.path == "/accept":
                            server._accept(int(body["frame"]))
                            return self._json(200, f"frame-set {int(body['frame'])} accepted")
                    return self._json(404, "not found")
                except CurateError as e:
                    return self._json(400, str(e))
                except (KeyError, ValueError, TypeError, json.JSONDecodeError) as e:
                    return self._json(400, f"bad request: {e}")

        self.httpd = ThreadingHTTPServer((HOST, port), Handler)
        self.port = int(self.httpd.server_address[1])

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}/?token={self.token}"

    def page(self) -> str:
        ranked = rank_framesets(load_run_outputs(self.outputs), ReportConfig())
        items = []
        for r in ranked:
            views = "".join(
                f"<span class='v'><img data-frame='{r.frame}' data-camera='{html.escape(c)}' draggable='false' "
                f"src='/image?frame={r.frame}&camera={urllib.parse.quote(c)}&token={self.token}' alt='{html.escape(c)}'></span>"
                for c in self.run.cameras
                if (self.outputs / "images" / c / f"{r.frame:06d}.jpg").is_file()
            )
            reasons = html.escape("; ".join(r.reasons))
            items.append(f"<li data-frame='{r.frame}'><b>frame-set {r.frame}</b> (risk {r.score:g}): {reasons} "
                         f"<button class='accept' data-frame='{r.frame}'>accept</button><br>{views}</li>")  # fmt: skip
        return _PAGE.format(session=html.escape(self.run.session), items="".join(items), token=json.dumps(self.token))

    def serve_forever(self) -> None:
        self.httpd.serve_forever()

    def start(self) -> threading.Thread:
        t = threading.Thread(target=self.httpd.serve_forever, name="review-page", daemon=True)
        t.start()
        return t

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
