"""``cli.py review``: fix a missed face once, in every view and the neighbouring frame-sets.

``--add-face FRAME CAMERA x0 y0 x1 y1`` (a box in pixels, ``docs/conventions.md``):

1. The box is lifted to a 3D head (:func:`lift_marked_face`): with the registered depth
   inside it; failing that, where its viewing ray first meets a surface that the other
   calibrated views' depth sees; failing that, along the ray at the distances where a face
   of 0.10 to 0.30 m has the box's height (every one of them is covered).
2. The head is carried over the frame-sets within ``--window-s`` of FRAME: along the 3D
   track whose head passes within ``--track-radius-m`` of it, where there is one (the
   track's head motion, offset to the marked head), else in place.
3. Every calibrated view that sees the head (a sphere of ``--head-radius-m``) at those
   frame-sets gets its image region (the marked box itself in the marked view) anonymized.

Anonymization is applied *on top of the written outputs*: the written image is read, the
new regions are anonymized with the run's 2D method (``anonymize2d`` in ``audit.json``;
blur where the run used a template), the mask gains them, and the JPEG, the mask and the
camera's MP4 frames are rewritten. Re-processing from the original inputs would put
original pixels back into images that are already anonymized and depend on re-running
every stage exactly; on top of the outputs, a decision can only hide more, never reveal
anything, and views and frame-sets it does not touch keep their bytes. Views obscured or
withheld are already wholly hidden and are left as they are. The regions go into
``faces.json`` (source ``review``), the decision with who and when into
``review_log.json``, and the QA report is rewritten.

``--accept FRAME ...`` marks flagged frame-sets as looked at and fine. ``--not-face FRAME
CAMERA x0 y0 x1 y1`` records that a region anonymized as a face is none: the pixels stay
anonymized, and a release leaves the face regions centred in it out of its annotations.
"""

import dataclasses
import logging
import pickle
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from orscene.anonymize2d import Anonymize2DConfig, AnonymizeMethod
from orscene.anonymize2d.anonymizers import anonymize_regions
from orscene.curate.state import CurateError, RunOutputs, append_decision, load_run_outputs
from orscene.geometry.camera import project_world, sphere_box_px, transform_points, unproject_px
from orscene.heads.lift import LiftConfig, face_ray_world, lift_face_with_depth
from orscene.pipeline.outputs import OutputLayout, OutputLock
from orscene.recording.faces import load_faces, merge_faces, save_faces
from orscene.recording.session import default_outputs_dir, default_recordings_root, session_dir
from orscene.types import FaceBox, FaceSource

__all__ = ["ReviewConfig", "lift_marked_face", "add_face", "accept_framesets", "run_review"]

log = logging.getLogger(__name__)

_FACE_HEIGHTS_M = (0.10, 0.15, 0.20, 0.25, 0.30)
"""Face heights (forehead to chin, detector-box sized) tried along the ray without depth."""
_MARKED_LIFT = LiftConfig(face_height_m=(0.02, 0.6), min_valid_px=2, min_valid_fraction=0.2)
"""A marked face is a face: the size gate only rules out the absurd."""
_SURFACE_TOL_M = 0.06
"""A point along the marked ray lies on a surface another view sees when its depth there agrees within this."""
_FACE_POINTS = (0, 1, 2, 3, 4)
"""COCO-17 nose, eyes, ears: a track's head is their mean."""


@dataclass(frozen=True)
class ReviewConfig:
    """Review a processed session without a browser: mark a missed face (--add-face) or
    accept flagged frame-sets (--accept)."""

    session: str = "OR_03"
    """Session name, looked up under --recordings (its depth and calibration lift a marked face)."""
    outputs: Path | None = None
    """The folder `cli.py process` wrote (default outputs/<SESSION>)."""
    recordings: Path = field(default_factory=default_recordings_root)
    """Recordings root (default ./recordings, or $ORSCENE_RECORDINGS)."""
    add_face: tuple[str, ...] = ()
    """FRAME CAMERA x0 y0 x1 y1: a face the run missed, as a box in one view."""
    accept: tuple[int, ...] = ()
    """Flagged frame-sets looked at and found fine."""
    not_face: tuple[str, ...] = ()
    """FRAME CAMERA x0 y0 x1 y1: a region anonymized as a face that is none. Recorded only:
    its pixels stay anonymized (a decision never reveals), and `release` leaves the face
    regions centred in it out of the COCO / WIDER FACE annotations."""
    window_s: float = 0.4
    """The marked face is carried to the frame-sets within this many seconds."""
    head_radius_m: float = 0.15
    """Radius of the head sphere projected into the other views."""
    track_radius_m: float = 0.35
    """A 3D track whose head passes within this distance of the marked head carries it."""
    user: str | None = None
    """Who decides (default $ORSCENE_REVIEWER, else the login name)."""
    serve: bool = False
    """Open the review page instead: a local web page (127.0.0.1 only, a random token per
    run in its URL) that walks the ranked frame-sets; stop it with Ctrl-C."""
    port: int = 0
    """Port of the review page (0: a free one)."""


def _parse_add_face(args: tuple[str, ...], cameras, flag: str = "--add-face") -> tuple[int, str, tuple[float, float, float, float]]:
    if len(args) != 6:
        raise CurateError(f"{flag} takes FRAME CAMERA x0 y0 x1 y1, got {len(args)} values")
    try:
        frame = int(args[0])
        box = tuple(float(v) for v in args[2:])
    except ValueError:
        raise CurateError(f"{flag}: FRAME must be an integer and the box four numbers, got {' '.join(args)}") from None
    if args[1] not in cameras:
        raise CurateError(f"{flag}: no camera {args[1]!r} (cameras: {', '.join(cameras)})")
    if not all(np.isfinite(box)) or box[2] <= box[0] or box[3] <= box[1]:
        raise CurateError(f"{flag}: the box must be x0 < x1, y0 < y1, got {box}")
    return frame, args[1], box


def lift_marked_face(box, frameset, cameras: Mapping, cam: str, lift: LiftConfig = _MARKED_LIFT) -> tuple[str, list[np.ndarray]]:
    """The marked face as 3D head centres, by the first of:

    - ``depth``: the registered depth inside the box (:func:`lift_face_with_depth`, with
      the face-size gate widened: a person marked it, however small or cut it is);
    - ``other_views_depth``: the first point along the box's viewing ray that another
      calibrated view's depth sees as a surface (within ``_SURFACE_TOL_M``);
    - ``size_prior``: points along the ray at the distances where a face of
      :data:`_FACE_HEIGHTS_M` has the box's height (the region covering all of them is
      fail-closed).
    """
    camera = cameras[cam]
    view = frameset.views.get(cam) if frameset is not None else None
    if view is not None:
        obs = lift_face_with_depth(box, 1.0, view, camera, lift)
        if obs is not None:
            return "depth", [np.asarray(obs.center_world_m, np.float64)]
    origin, ray = face_ray_world(camera, box)
    s = np.arange(lift.depth_range_m[0], lift.depth_range_m[1], 0.02)
    pts = origin + s[:, None] * ray
    agree = np.zeros(len(s), bool)
    for name, other in cameras.items():
        v = frameset.views.get(name) if frameset is not None else None
        if name == cam or v is None or v.depth_m is None:
            continue
        uv, z = project_world(other, pts)
        H, W = v.depth_m.shape
        c, r = np.round(uv[:, 0]).astype(int), np.round(uv[:, 1]).astype(int)
        inside = (z > 0) & (c >= 0) & (c < W) & (r >= 0) & (r < H)
        d = np.zeros(len(s))
        d[inside] = v.depth_m[r[inside], c[inside]]
        agree |= inside & (d > 0) & (np.abs(d - z) <= _SURFACE_TOL_M)
    if agree.any():
        face = pts[int(np.argmax(agree))]
        return "other_views_depth", [face + lift.face_to_head_center_m * ray]
    cx, cy = 0.5 * (box[0] + box[2]) - 0.5, 0.5 * (box[1] + box[3]) - 0.5
    out = []
    for h_m in _FACE_HEIGHTS_M:
        z = h_m * camera.color.K_px[1, 1] / max(1.0, box[3] - box[1])
        face_cam = unproject_px(camera.color, np.array([cx, cy]), np.array(z + lift.face_to_head_center_m))
        out.append(transform_points(camera.world_from_cam, face_cam))
    return "size_prior", out


def _track_heads(root: Path) -> list[tuple[int, np.ndarray, np.ndarray]]:
    """(track id, frame indices, head centres) of every 3D track of the run (``.state/tracks.pkl``)."""
    path = root / ".state" / "tracks.pkl"
    if not path.is_file():
        return []
    try:
        tracks = pickle.loads(path.read_bytes())
    except Exception as e:  # noqa: BLE001 - an unreadable resume state only loses the track following
        log.warning("%s: cannot read the run's tracks (%s); the marked face is carried in place", path, e)
        return []
    out = []
    for t in tracks:
        conf = np.asarray(t.confidence)[:, _FACE_POINTS]
        pts = np.asarray(t.joints_world_m, np.float64)[:, _FACE_POINTS]
        w = (conf > 0).astype(np.float64)
        ok = w.sum(axis=1) > 0
        head = np.where(ok[:, None], (pts * w[..., None]).sum(axis=1) / np.maximum(w.sum(axis=1), 1)[:, None], np.nan)
        out.append((int(t.track_id), np.asarray(t.frame_indices), head))
    return out


def _carry(centres: list[np.ndarray], frame: int, frames: list[int], tracks, radius_m: float) -> tuple[dict[int, list[np.ndarray]], int | None]:
    """Head centres per frame-set of the window: along the nearest track within
    ``radius_m`` at ``frame`` (its motion added to the marked head), else in place."""
    best, best_d = None, radius_m
    for k, (_, fi, head) in enumerate(tracks):
        hit = np.nonzero(fi == frame)[0]
        if hit.size and np.isfinite(head[hit[0]]).all():
            d = min(float(np.linalg.norm(head[hit[0]] - c)) for c in centres)
            if d <= best_d:
                best, best_d = k, d
    out = {}
    for f in frames:
        delta = np.zeros(3)
        if best is not None:
            _, fi, head = tracks[best]
            h0 = head[np.nonzero(fi == frame)[0][0]]
            hit = np.nonzero(fi == f)[0]
            if hit.size and np.isfinite(head[hit[0]]).all():
                delta = head[hit[0]] - h0
        out[f] = [c + delta for c in centres]
    return out, (None if best is None else tracks[best][0])


def _union_box(boxes) -> tuple[float, float, float, float] | None:
    boxes = [b for b in boxes if b is not None]
    if not boxes:
        return None
    # sphere_box_px gives half-open pixel ranges; faces.json boxes have pixel edges at -0.5
    return (min(b[0] for b in boxes) - 0.5, min(b[1] for b in boxes) - 0.5, max(b[2] for b in boxes) - 0.5, max(b[3] for b in boxes) - 0.5)


def _anonymizer(run: RunOutputs) -> Anonymize2DConfig:
    d = dict(run.audit.get("config", {}).get("anonymize2d", {}))
    method = AnonymizeMethod(d.get("method", "blur"))
    if method is AnonymizeMethod.TEMPLATE:
        method = AnonymizeMethod.BLUR  # the template image is not at hand here: blur hides as well
    return Anonymize2DConfig(method=method, margin=0.0, blur_kernel_px=int(d.get("blur_kernel_px", 61)), pixel_blocks=int(d.get("pixel_blocks", 8)))


def _rewrite_videos(layout: OutputLayout, frames_order: list[int], regions: Mapping[str, dict[int, tuple]], cfg2d: Anonymize2DConfig, preset: str) -> None:
    """Re-encode each affected camera's MP4 with its new regions anonymized on top of the
    decoded (already anonymized) frames; timing kept."""
    import av

    from orscene.recording.writers import Mp4Writer

    index = {f: k for k, f in enumerate(frames_order)}
    for cam, by_frame in regions.items():
        path = layout.video_path(cam)
        if not path.is_file():
            continue
        todo = {index[f]: box for f, box in by_frame.items() if f in index}
        with av.open(str(path)) as src:
            stream = src.streams.video[0]
            rate = float(stream.average_rate or 15)
            writer = None
            try:
                for k, frame in enumerate(src.decode(stream)):
                    rgb = frame.to_ndarray(format="rgb24")
                    if k in todo:
                        rgb, _ = anonymize_regions(rgb, [todo[k]], cfg2d)
                    if writer is None:
                        writer = Mp4Writer(path, rgb.shape[1], rgb.shape[0], fps=rate, preset=preset)
                    writer.write(rgb, int(round(float(frame.pts * frame.time_base) * 1e9)))
            except BaseException:
                if writer is not None:
                    writer.abort()
                raise
        if writer is not None:
            writer.close()


def add_face(cfg: ReviewConfig, out: Path, run: RunOutputs, sess_path: Path) -> dict:
    """Mark, lift, carry, anonymize, record (see the module doc); returns the decision."""
    from orscene.recording.reader import open_session

    reader = open_session(sess_path)
    frame, cam, box = _parse_add_face(cfg.add_face, reader.camera_names)
    recs = {int(r["frame"]): r for r in run.audit["framesets"]}
    if frame not in recs:
        raise CurateError(f"--add-face: frame-set {frame} was not processed (0..{max(recs)})")
    cameras = reader.calibration.cameras
    frameset = None
    for frameset in reader.framesets(frame, frame + 1):
        pass
    how, centres = ("none", [])  # an uncalibrated camera: the marked view only
    if cam in cameras:
        how, centres = lift_marked_face(box, frameset, cameras, cam)
    ts = {f: int(r.get("timestamp_ns", 0)) for f, r in recs.items()}
    window = [f for f in sorted(recs) if abs(ts[f] - ts[frame]) <= cfg.window_s * 1e9]
    tracks = _track_heads(out)
    carried, track = _carry(centres, frame, window, tracks, cfg.track_radius_m) if centres else ({}, None)

    regions: dict[str, dict[int, tuple]] = {}
    regions.setdefault(cam, {})[frame] = box
    for f, cs in carried.items():
        for name, c in cameras.items():
            b = _union_box([sphere_box_px(c, x, cfg.head_radius_m) for x in cs])
            if b is None:
                continue
            if name == cam and f == frame:
                b = (min(b[0], box[0]), min(b[1], box[1]), max(b[2], box[2]), max(b[3], box[3]))
            regions.setdefault(name, {})[f] = b

    layout = OutputLayout(out.resolve())
    cfg2d = _anonymizer(run)
    faces = load_faces(out / "faces.json")
    added: list[FaceBox] = []
    covered: dict[str, dict[str, list]] = {}
    for name, by_frame in regions.items():
        for f, b in sorted(by_frame.items()):
            status = recs[f].get("views", {}).get(name, {}).get("status", "anonymized")
            if status != "anonymized":
                continue  # obscured or withheld: already wholly hidden
            img_path, mask_path = layout.image_path(name, f), layout.mask_path(name, f)
            if img_path.is_file():
                bgr = cv2.imread(str(img_path), cv2.IMREAD_COLOR)
                if bgr is None:
                    raise CurateError("cannot decode the written image", img_path)
                rgb, m = anonymize_regions(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB), [b], cfg2d)
                layout.write_image(name, f, rgb)
            else:
                W, H = reader.color_size(name)
                _, m = anonymize_regions(np.zeros((H, W, 3), np.uint8), [b], cfg2d)
            if mask_path.is_file():
                old = cv2.imread(str(mask_path), cv2.IMREAD_GRAYSCALE)
                if old is None:
                    raise CurateError("cannot decode the written mask", mask_path)
                ok, buf = cv2.imencode(".png", np.where(m | (old > 127), 255, 0).astype(np.uint8))
                layout.write_bytes(mask_path, buf.tobytes())
            added.append(FaceBox(frame=f, camera=name, person=-1 if track is None else int(track), box_xyxy_px=tuple(float(v) for v in b), score=1.0, source=FaceSource.REVIEW))
            covered.setdefault(str(f), {})[name] = [round(float(v), 2) for v in b]
    preset = str(run.audit.get("run", {}).get("video_preset", "ultrafast"))
    per_camera: dict[str, dict[int, tuple]] = {}
    for f, views in covered.items():
        for name, b in views.items():
            per_camera.setdefault(name, {})[int(f)] = tuple(b)
    _rewrite_videos(layout, list(faces.frames), per_camera, cfg2d, preset)
    with layout.writing(layout.faces_path) as path:
        save_faces(path, merge_faces(faces.session, faces.cameras, faces.frames, [*faces.faces, *added]))
    decision = {"action": "add_face", "frame": frame, "camera": cam, "box": [round(v, 2) for v in box], "lifted": how, "track": track, "window_s": cfg.window_s}
    if centres:
        decision["head_world_m"] = [round(float(v), 4) for v in np.mean(centres, axis=0)]
    decision["covered"] = covered
    if cfg.user:
        decision["user"] = cfg.user
    return append_decision(out, run.session, decision)


def accept_framesets(cfg: ReviewConfig, out: Path, run: RunOutputs) -> list[dict]:
    known = {int(r["frame"]) for r in run.audit["framesets"]}
    bad = sorted(set(cfg.accept) - known)
    if bad:
        raise CurateError(f"--accept: frame-sets {bad} were not processed", out / "audit.json")
    extra = {"user": cfg.user} if cfg.user else {}
    return [append_decision(out, run.session, {"action": "accept", "frame": int(f), "flagged": int(f) in run.flagged_frames, **extra}) for f in cfg.accept]


def review_actions(cfg: ReviewConfig, out: Path):
    """``(add_face(frame, camera, box) -> decision, accept(frame))`` on an output folder, each
    followed by a rewrite of the QA report (the review page's actions)."""
    from orscene.curate.report import write_report

    sess_path = session_dir(cfg.recordings, cfg.session)

    def add(frame: int, camera: str, box) -> dict:
        if not sess_path.is_dir():
            raise CurateError("session not found (its depth and calibration lift the marked face)", sess_path)
        c = dataclasses.replace(cfg, add_face=(str(frame), camera, *(f"{float(v):.2f}" for v in box)), accept=())
        d = add_face(c, out, load_run_outputs(out), sess_path)
        write_report(out)
        return d

    def accept(frame: int) -> None:
        accept_framesets(dataclasses.replace(cfg, accept=(int(frame),), add_face=()), out, load_run_outputs(out))
        write_report(out)

    return add, accept


def mark_not_face(cfg: ReviewConfig, out: Path, run: RunOutputs) -> dict:
    frame, cam, box = _parse_add_face(cfg.not_face, run.cameras, "--not-face")
    if frame not in {int(r["frame"]) for r in run.audit["framesets"]}:
        raise CurateError(f"--not-face: frame-set {frame} was not processed", out / "audit.json")
    extra = {"user": cfg.user} if cfg.user else {}
    return append_decision(out, run.session, {"action": "not_face", "frame": frame, "camera": cam, "box": [round(v, 2) for v in box], **extra})


def run_review(cfg: ReviewConfig) -> int:
    out = cfg.outputs if cfg.outputs is not None else default_outputs_dir(cfg.session)
    if not cfg.add_face and not cfg.accept and not cfg.not_face and not cfg.serve:
        raise CurateError("nothing to do: give --add-face FRAME CAMERA x0 y0 x1 y1, --accept FRAME ..., --not-face FRAME CAMERA x0 y0 x1 y1, or --serve")
    run = load_run_outputs(out)
    lock = OutputLock(out)  # no run, release or other review meanwhile
    try:
        if cfg.serve:
            from orscene.curate.serve import ReviewServer

            server = ReviewServer(out, *review_actions(cfg, out), port=cfg.port)
            print(f"review page (this machine only; Ctrl-C to stop): {server.url}", flush=True)
            try:
                server.serve_forever()
            except KeyboardInterrupt:
                pass
            finally:
                server.close()
            return 0
        if cfg.add_face:
            sess_path = session_dir(cfg.recordings, cfg.session)
            if not sess_path.is_dir():
                raise CurateError("session not found (its depth and calibration lift the marked face)", sess_path)
            d = add_face(cfg, out, run, sess_path)
            n = sum(len(v) for v in d["covered"].values())
            print(f"face added at frame-set {d['frame']} ({d['camera']}; lifted: {d['lifted']}"
                  + (f", along track {d['track']}" if d.get("track") is not None else "")
                  + f"): {n} views covered in {len(d['covered'])} frame-sets")  # fmt: skip
        if cfg.accept:
            accept_framesets(cfg, out, run)
            print(f"accepted: {', '.join(map(str, cfg.accept))}")
        if cfg.not_face:
            d = mark_not_face(cfg, out, run)
            print(f"not a face: frame-set {d['frame']} {d['camera']} {d['box']} (stays anonymized; left out of the released annotations)")
        from orscene.curate.report import write_report

        write_report(out)
    finally:
        lock.release()
    return 0
