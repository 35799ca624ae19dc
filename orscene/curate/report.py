"""The QA report of a run: ``<outputs>/report/index.html``, static files that open from disk.

Written at the end of ``cli.py process`` and by ``cli.py report`` on an existing output
folder. It shows:

- the run's figures and settings (``summary.json``, ``audit.json``'s run options);
- per camera and over time how faces were covered (3D render, 2D head region, 2D detector,
  obscured, added in review), from the per-view records of ``audit.json`` and
  ``faces.json``; people per frame-set; the share of each path over time (inline SVG plots);
- the frame-sets to look at, ranked by risk, with a thumbnail of every view and the
  anonymized regions drawn over it.

Ranking: a frame-set's risk is its score in ``review.json`` (obscured views, rejected head
alignments, heads without a face pose, faces seen in one view only: see
:mod:`orscene.pipeline.summary`) plus :attr:`ReportConfig.track_start_weight` per track that
starts there (a newcomer: the first frames of a track are where the 3D path has least
evidence). Neighbouring frame-sets show the same people: a frame-set is shown only when no
higher-ranked shown one lies within :attr:`ReportConfig.window_s` of it, unless it has a view
obscured (those are always shown); the flagged frame-sets it stands for are listed with it.
``cli.py review --add-face`` propagates a marked face over the same window.

Thumbnails are made from the anonymized images of the output folder only (``images/``,
or a black tile where a view was withheld): the report never shows an original image. They
are ``.webp`` files and the plots are inline SVG, so the report adds no ``.jpg``/``.png``
beside the run's images and masks.
"""

import html
import io
import json
import logging
import shutil
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from orscene.curate.state import RunOutputs, load_review_log, load_run_outputs
from orscene.recording.session import default_outputs_dir

__all__ = ["ReportConfig", "RankedFrameset", "rank_framesets", "build_report", "write_report", "run_report"]

log = logging.getLogger(__name__)

SOURCES = ("render3d", "head2d", "detector2d", "obscured", "review")
COLORS = {"render3d": "#2ca02c", "head2d": "#1f77b4", "detector2d": "#ff7f0e", "obscured": "#7f7f7f", "review": "#d62728"}
"""Region colours per path (BGR for OpenCV from these)."""
_PATH_OPTIONS = ("out", "recordings", "config", "mkv")
"""Run options that are paths on the machine that ran it (left out of the report)."""


@dataclass(frozen=True)
class ReportConfig:
    """Write the QA report (``report/index.html``) of a ``cli.py process`` output folder."""

    session: str = "OR_03"
    """Session name: the output folder defaults to outputs/<SESSION>."""
    outputs: Path | None = None
    """The folder `cli.py process` wrote (default outputs/<SESSION>)."""
    max_shown: int = 40
    """At most this many frame-sets in the ranked list."""
    window_s: float = 0.4
    """A flagged frame-set within this many seconds of a higher-ranked shown one is listed
    with it rather than shown on its own (views obscured are always shown)."""
    track_start_weight: float = 0.5
    """Risk added per track that starts in a frame-set."""
    thumb_width_px: int = 320
    """Width of the view thumbnails."""


@dataclass(frozen=True)
class RankedFrameset:
    frame: int
    score: float
    reasons: tuple[str, ...]
    stands_for: tuple[int, ...] = ()
    """Flagged frame-sets nearby that this one is shown for."""


def _framesets(run: RunOutputs) -> dict[int, Mapping]:
    return {int(r["frame"]): r for r in run.audit["framesets"]}


def _times_s(run: RunOutputs) -> dict[int, float]:
    recs = _framesets(run)
    t = {f: r.get("timestamp_ns") for f, r in recs.items()}
    if any(v is None for v in t.values()):
        fps = 15.0
        return {f: f / fps for f in recs}
    t0 = min(t.values()) if t else 0
    return {f: (v - t0) / 1e9 for f, v in t.items()}


def rank_framesets(run: RunOutputs, cfg: ReportConfig = ReportConfig()) -> list[RankedFrameset]:
    """The frame-sets to show, most at risk first (see the module doc)."""
    recs = _framesets(run)
    times = _times_s(run)
    scores: dict[int, float] = {}
    reasons: dict[int, list[str]] = {}
    obscured: set[int] = set()
    for r in run.review.get("review", ()):
        f = int(r["frame"])
        scores[f] = float(r["score"])
        reasons[f] = list(r["reasons"])
        if any("obscured or withheld" in x for x in r["reasons"]):
            obscured.add(f)
    seen: set[int] = set()
    for f in sorted(recs):
        tracks = {int(p["track"]) for p in recs[f].get("persons", ())}
        new = sorted(tracks - seen)
        seen |= tracks
        if new and f != min(recs):  # at the first frame-set every track "starts"
            scores[f] = scores.get(f, 0.0) + cfg.track_start_weight * len(new)
            reasons.setdefault(f, []).append("track starts: person " + ", ".join(map(str, new)))
    order = sorted(scores, key=lambda f: (-scores[f], f))
    shown: list[int] = []
    stands: dict[int, list[int]] = {}
    for f in order:
        near = [s for s in shown if abs(times[s] - times[f]) <= cfg.window_s]
        if near and f not in obscured:
            stands[near[0]].append(f)
            continue
        if len(shown) < cfg.max_shown:
            shown.append(f)
            stands[f] = []
    return [RankedFrameset(f, round(scores[f], 3), tuple(reasons[f]), tuple(sorted(stands[f]))) for f in shown]


# ----------------------------------------------------------------------------- figures


def _faces_by_view(root: Path, run: RunOutputs) -> dict[tuple[int, str], list[dict]]:
    """(frame, camera) -> face regions (``faces.json`` when present, else the audit's)."""
    out: dict[tuple[int, str], list[dict]] = {}
    path = root / "faces.json"
    if path.is_file():
        for f in json.loads(path.read_text())["faces"]:
            out.setdefault((int(f["frame"]), f["camera"]), []).append({"source": f["source"], "box": f["box"], "person": f.get("person", -1)})
        return out
    for f, rec in _framesets(run).items():
        for cam, v in rec.get("views", {}).items():
            out[(f, cam)] = [dict(x) for x in v.get("faces", ())]
    return out


def _svg(fig) -> str:
    import matplotlib

    buf = io.StringIO()
    with matplotlib.rc_context({"svg.hashsalt": "orscene", "svg.fonttype": "none"}):
        fig.savefig(buf, format="svg", bbox_inches="tight", metadata={"Date": None})
    s = buf.getvalue()
    return s[s.index("<svg"):]


def _plots(run: RunOutputs, faces: Mapping[tuple[int, str], list[dict]]) -> dict[str, str]:
    from matplotlib.figure import Figure  # no pyplot: the caller's backend is left alone

    recs = _framesets(run)
    frames = sorted(recs)
    times = _times_s(run)
    t = np.array([times[f] for f in frames])
    cams = run.cameras
    out = {}
    fig = Figure(figsize=(8, 2.2))
    ax = fig.subplots()
    ax.step(t, [len(recs[f].get("persons", ())) for f in frames], where="mid", label="people tracked in 3D")
    ax.step(t, [sum(len(faces.get((f, c), ())) for c in cams) / max(1, len(cams)) for f in frames], where="mid", label="face regions per view")
    ax.set_xlabel("time (s)")
    ax.legend(loc="upper right", fontsize=8)
    ax.grid(alpha=0.3)
    out["people"] = _svg(fig)

    fig = Figure(figsize=(8, 1.6 * (len(cams) + 1)))
    axes = fig.subplots(len(cams) + 1, 1, sharex=True, squeeze=False)
    for ax, cam in zip(axes[:, 0], (None, *cams)):
        use = cams if cam is None else (cam,)
        counts = np.array([[sum(1 for c in use for x in faces.get((f, c), ()) if x["source"] == k) for f in frames] for k in SOURCES], float)
        total = counts.sum(axis=0)
        share = np.divide(counts, total, out=np.zeros_like(counts), where=total > 0)
        ax.stackplot(t, share, colors=[COLORS[s] for s in SOURCES], labels=SOURCES, step="mid")
        ax.set_ylim(0, 1)
        ax.set_ylabel("all views" if cam is None else cam, fontsize=8)
    axes[0, 0].legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=8)
    axes[-1, 0].set_xlabel("time (s): share of face regions per path")
    out["paths"] = _svg(fig)
    return out


# ----------------------------------------------------------------------------- thumbnails


def _hex_bgr(color: str) -> tuple[int, int, int]:
    r, g, b = (int(color[i : i + 2], 16) for i in (1, 3, 5))
    return (b, g, r)


def _thumbnail(root: Path, frame: int, cam: str, regions: list[dict], width: int) -> bytes | None:
    """A view of the anonymized output, shrunk, with its regions drawn; None when the run
    wrote no image of it (withheld, or videos only)."""
    path = root / "images" / cam / f"{frame:06d}.jpg"
    if not path.is_file():
        return None
    img = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if img is None:
        return None
    s = width / img.shape[1]
    img = cv2.resize(img, (width, max(1, round(img.shape[0] * s))), interpolation=cv2.INTER_AREA)
    for x in regions:
        if x["source"] == "obscured":
            continue
        x0, y0, x1, y1 = ((v + 0.5) * s for v in x["box"])
        cv2.rectangle(img, (round(x0), round(y0)), (round(x1), round(y1)), _hex_bgr(COLORS.get(x["source"], "#ffffff")), 1, cv2.LINE_AA)
    ok, buf = cv2.imencode(".webp", img, [cv2.IMWRITE_WEBP_QUALITY, 80])
    return buf.tobytes() if ok else None


# ----------------------------------------------------------------------------- page

_CSS = """
body{font-family:system-ui,sans-serif;margin:1.5em;color:#222;max-width:1400px}
h1{font-size:1.4em}h2{font-size:1.15em;margin-top:1.6em;border-bottom:1px solid #ddd}
table{border-collapse:collapse;font-size:.9em}td,th{border:1px solid #ddd;padding:2px 8px;text-align:right}
th:first-child,td:first-child{text-align:left}
.fs{border:1px solid #ccc;border-radius:6px;padding:.5em;margin:.6em 0}
.fs h3{margin:.1em 0 .3em;font-size:1em}.views{display:flex;flex-wrap:wrap;gap:6px}
.views figure{margin:0}.views figcaption{font-size:.8em;color:#555}
.missing{display:flex;align-items:center;justify-content:center;background:#111;color:#ccc;font-size:.8em}
.key span{display:inline-block;padding:0 .5em;margin-right:.4em;color:#fff;border-radius:3px}
pre{background:#f6f6f6;padding:.6em;font-size:.8em;overflow:auto;max-height:24em}
"""


def _table(header: list[str], rows: list[list]) -> str:
    h = "".join(f"<th>{html.escape(str(c))}</th>" for c in header)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in r) + "</tr>" for r in rows)
    return f"<table><tr>{h}</tr>{body}</table>"


def build_report(root: Path, run: RunOutputs, cfg: ReportConfig = ReportConfig()) -> dict[str, bytes]:
    """The report's files (relative to ``report/``): ``index.html`` and ``thumbs/*.webp``."""
    faces = _faces_by_view(root, run)
    recs = _framesets(run)
    times = _times_s(run)
    cams = run.cameras
    ranked = rank_framesets(run, cfg)
    review_log = load_review_log(root)
    files: dict[str, bytes] = {}
    s, r = run.summary, run.review
    parts = [f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>orscene QA report: {html.escape(run.session)}</title><style>{_CSS}</style></head><body>"]
    parts.append(f"<h1>QA report: {html.escape(run.session)}</h1>")
    verdict = (f"review recommended: {len(run.flagged_frames)} of {r.get('framesets')} frame-sets had uncertain faces; "
               f"{len(ranked)} shown below, most at risk first" if run.flagged_frames else "all clear: nothing uncertain")  # fmt: skip
    parts.append(f"<p id='verdict'>{html.escape(verdict)}. Accepted in review: {len(review_log.accepted())}; faces added in review: {len(review_log.fixed())}.</p>")
    parts.append("<p class='key'>regions: " + "".join(f"<span style='background:{COLORS[k]}'>{k}</span>" for k in SOURCES) + "</p>")

    parts.append(f"<h2>Frame-sets to review ({len(ranked)} shown of {len(run.flagged_frames)} flagged)</h2><ol id='ranked'>")
    accepted, fixed = review_log.accepted(), review_log.fixed()
    for item in ranked:
        state = " (accepted)" if item.frame in accepted else " (fixed)" if item.frame in fixed else ""
        parts.append(f"<li class='fs' data-frame='{item.frame}'><h3>frame-set {item.frame} at {times.get(item.frame, 0):.2f} s: risk {item.score:g}{state}</h3>")
        parts.append("<ul>" + "".join(f"<li>{html.escape(x)}</li>" for x in item.reasons) + "</ul>")
        if item.stands_for:
            parts.append(f"<p>also flagged nearby: {html.escape(', '.join(map(str, item.stands_for)))}</p>")
        parts.append("<div class='views'>")
        for cam in cams:
            regions = faces.get((item.frame, cam), [])
            thumb = _thumbnail(root, item.frame, cam, regions, cfg.thumb_width_px)
            status = recs.get(item.frame, {}).get("views", {}).get(cam, {}).get("status", "anonymized")
            cap = html.escape(f"{cam}: {status}, {len(regions)} region{'s' * (len(regions) != 1)}")
            if thumb is None:
                parts.append(f"<figure><div class='missing' style='width:{cfg.thumb_width_px}px;height:{cfg.thumb_width_px * 9 // 16}px'>no image written</div><figcaption>{cap}</figcaption></figure>")
                continue
            name = f"thumbs/{item.frame:06d}_{cam}.webp"
            files[name] = thumb
            parts.append(f"<figure><img class='thumb' src='{html.escape(name)}' width='{cfg.thumb_width_px}' alt='{cap}'><figcaption>{cap}</figcaption></figure>")
        parts.append("</div></li>")
    parts.append("</ol>")

    parts.append("<h2>Figures</h2>")
    fig_rows = [
        ["frame-sets", s.get("framesets")], ["views", s.get("views")], ["people tracked", s.get("people")], ["face regions", s.get("faces")],
        *[[f"faces by {k}", v] for k, v in s.get("faces_by_path", {}).items()],
        ["views obscured or withheld", s.get("views_obscured_or_withheld")], ["views unreadable", s.get("views_unreadable")],
        ["head alignments accepted / rejected", f"{r.get('heads_aligned')} / {r.get('heads_rejected')}"],
        ["heads without a face pose", r.get("heads_without_face_pose")], ["faces seen in one view only", r.get("faces_one_view")],
        ["frame-sets flagged / shown", f"{len(run.flagged_frames)} / {len(ranked)}"],
    ]  # fmt: skip
    parts.append(_table(["", "value"], fig_rows))

    parts.append("<h2>Coverage per camera</h2>")
    rows = []
    for cam in cams:
        n = {k: sum(1 for f in recs for x in faces.get((f, cam), ()) if x["source"] == k) for k in SOURCES}
        status = [recs[f]["views"].get(cam, {}).get("status", "anonymized") for f in recs if cam in recs[f].get("views", {})]
        rows.append([cam, len(status), *(n[k] for k in SOURCES), sum(x != "anonymized" for x in status)])
    parts.append(_table(["camera", "views", *SOURCES, "views obscured/withheld"], rows))
    bins: dict[int, dict[str, int]] = {}
    for f in recs:
        b = bins.setdefault(int(times[f]), dict.fromkeys(SOURCES, 0))
        for cam in cams:
            for x in faces.get((f, cam), ()):
                b[x["source"]] = b.get(x["source"], 0) + 1
    parts.append("<h2>Coverage over time (per second, all views)</h2>")
    parts.append(_table(["second", *SOURCES], [[k, *(v[s_] for s_ in SOURCES)] for k, v in sorted(bins.items())]))
    try:
        plots = _plots(run, faces)
        parts.append("<h2>People per frame-set</h2>" + plots["people"])
        parts.append("<h2>Share per path over time</h2>" + plots["paths"])
    except ImportError as e:  # matplotlib is pinned; a trimmed install still gets the tables
        parts.append(f"<p>plots not drawn: {html.escape(str(e))}</p>")

    parts.append("<h2>Settings</h2>")
    # options without the machine's paths: the report is the same wherever the run wrote
    opts = [[k, json.dumps(v)] for k, v in run.audit.get("run", {}).items() if k not in _PATH_OPTIONS]
    parts.append(_table(["run option", "value"], opts))
    parts.append("<pre>" + html.escape(json.dumps(run.audit.get("config", {}), indent=1)) + "</pre>")
    parts.append(_table(["package", "version"], [[k, v] for k, v in run.audit.get("versions", {}).items()]))
    parts.append("</body></html>\n")
    files["index.html"] = "\n".join(parts).encode()
    return files


def write_report(root: str | Path, run: RunOutputs | None = None, cfg: ReportConfig = ReportConfig()) -> Path:
    """Write ``<root>/report/`` (replacing an older one) through the output layout's
    checked, atomic writes; returns the path of ``index.html``."""
    from orscene.pipeline.outputs import OutputLayout

    root = Path(root)
    run = run if run is not None else load_run_outputs(root)
    files = build_report(root, run, cfg)
    layout = OutputLayout(root.resolve())
    report = layout.root / "report"
    if report.is_symlink():
        from orscene.curate.state import CurateError

        raise CurateError("is a symbolic link: refusing to write through it", report)
    shutil.rmtree(report, ignore_errors=True)
    for rel, data in sorted(files.items()):
        layout.write_bytes(report / rel, data)
    return report / "index.html"


def run_report(cfg: ReportConfig) -> int:
    out = cfg.outputs if cfg.outputs is not None else default_outputs_dir(cfg.session)
    path = write_report(out, cfg=cfg)
    print(f"QA report: {path}")
    return 0
