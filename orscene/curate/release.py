"""``cli.py release``: package an anonymized session for sharing.

::

    <TO>/
      images/<camera>/<frame>.jpg, masks/..., video/<camera>.mp4   as ``process`` wrote them
      faces.json                 face regions per view (the project's face format)
      annotations/coco.json      the same as COCO detection JSON (one image per written view)
      annotations/wider_face.txt the same as WIDER FACE ground-truth text
      calibration.json           every camera's intrinsics and world pose (metres)
      summary.json, review.json, review_log.json, audit.json, config.yaml, report/
      README.md                  datasheet: what this is, the session's figures, the review state
      manifest.json              sha256 and size of every other file, the release's options
      SHA256SUMS                 the same for ``sha256sum -c`` (manifest included)

The package has the layout of a ``process`` output folder, so ``cli.py evaluate
--predictions <TO>`` scores it. A release is refused while frame-sets flagged for review
are neither accepted nor fixed (``--accept-unreviewed`` overrides; the manifest records
it and lists them), and whenever a file to package has the checksum of an input file of
the run (``audit.json``'s inputs): an original image is never copied. It is written to a
temporary folder beside ``--to`` and renamed into place at the end: nothing half-written.
The private resume state (``.state/``) and hidden files are never packaged.
"""

import dataclasses
import json
import logging
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from orscene.curate.export import coco_faces, package_image_files, wider_face_text
from orscene.curate.state import CurateError, RunOutputs, load_review_log, load_run_outputs, now_utc, unresolved_frames
from orscene.pipeline.outputs import OutputLock, file_sha256
from orscene.recording.faces import FaceAnnotations, load_faces
from orscene.recording.session import calibration_to_dict, default_outputs_dir, default_recordings_root, session_dir

__all__ = ["ReleaseConfig", "release_session", "run_release"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ReleaseConfig:
    """Package an anonymized session: its outputs, calibration, face annotations (COCO,
    WIDER FACE), a manifest with sha256 of every file, and a datasheet."""

    to: Path
    """Folder to write the package to (must not exist, or be empty)."""
    session: str = "OR_03"
    """Session name, looked up under --recordings (for its calibration)."""
    outputs: Path | None = None
    """The folder `cli.py process` wrote (default outputs/<SESSION>)."""
    recordings: Path = field(default_factory=default_recordings_root)
    """Recordings root (default ./recordings, or $ORSCENE_RECORDINGS)."""
    accept_unreviewed: bool = False
    """Release even though frame-sets flagged for review are neither accepted nor fixed
    (recorded in the manifest, with their list)."""


def _inside(a: Path, b: Path) -> bool:
    a, b = Path(os.path.realpath(a)), Path(os.path.realpath(b))
    return a == b or b in a.parents


def _package_files(out: Path) -> list[Path]:
    """Files of the output folder to package (relative), refusing links; hidden ones
    (``.state/``, the lock, temporary files) are not packaged."""
    files = []
    for dirpath, dirnames, filenames in os.walk(out):
        d = Path(dirpath)
        dirnames[:] = sorted(n for n in dirnames if not n.startswith("."))
        for n in list(dirnames):
            if (d / n).is_symlink():
                raise CurateError("is a symbolic link: refusing to package through it", d / n)
        for n in sorted(filenames):
            if n.startswith("."):
                continue
            p = d / n
            if p.is_symlink() or not p.is_file():
                raise CurateError("is not a regular file: refusing to package it", p)
            files.append(p.relative_to(out))
    return files


def _image_sizes(cameras, reader) -> dict[str, tuple[int, int]]:
    """camera -> (width, height) of the colour views (those the run wrote have this size)."""
    return {cam: tuple(int(v) for v in reader.color_size(cam)) for cam in cameras if cam in reader.camera_names}


def _duration_s(run: RunOutputs) -> float | None:
    ts = [r.get("timestamp_ns") for r in run.audit["framesets"] if r.get("timestamp_ns") is not None]
    return (max(ts) - min(ts)) / 1e9 if len(ts) > 1 else None


def _datasheet(run: RunOutputs, sizes: dict, n_images: int, n_faces: int, review_state: dict, accept_unreviewed: bool, created: str) -> str:
    s = run.summary
    r = run.review
    by_path = s.get("faces_by_path", {})
    dur = _duration_s(run)
    cams = ", ".join(f"{c} ({w}x{h})" for c, (w, h) in sizes.items()) or ", ".join(run.cameras)
    lines = [
        f"# {run.session}: anonymized multi-view recording",
        "",
        f"Released {created} by orscene {run.audit.get('versions', {}).get('orscene', '')}. Every face region found in any",
        "view was anonymized: by a face template rendered from a 3D head aligned to the depth,",
        "by a 2D head region projected from a 3D skeleton, or by a 2D face detector; a view whose",
        "processing failed was obscured whole (or withheld). Reviewers' decisions are in `review_log.json`.",
        "",
        "## Contents",
        "",
        "| path | what |",
        "|---|---|",
        "| `images/<camera>/<frame>.jpg`, `video/<camera>.mp4` | anonymized colour (as written by the run) |",
        "| `masks/<camera>/<frame>.png` | the anonymized pixels of each view (255) |",
        "| `faces.json` | face regions per frame-set, camera and person, with the path that anonymized each |",
        "| `annotations/coco.json`, `annotations/wider_face.txt` | the same face regions as COCO JSON and WIDER FACE text |",
        "| `calibration.json` | per camera intrinsics (pixels) and world pose (metres) |",
        "| `summary.json`, `review.json`, `audit.json`, `config.yaml`, `report/` | the run's figures, what was uncertain, what was done per frame-set, its settings, the QA report |",
        "| `manifest.json`, `SHA256SUMS` | sha256 of every file |",
        "",
        "Depth and the original colour images are not included.",
        "",
        "## Figures",
        "",
        f"- cameras: {len(sizes) or len(run.cameras)}: {cams}",
        f"- frame-sets: {s.get('framesets')}" + (f" over {dur:.1f} s" if dur is not None else ""),
        f"- views written: {n_images}; views obscured or withheld: {s.get('views_obscured_or_withheld', 0)}",
        f"- people tracked: {s.get('people')}",
        f"- face regions: {s.get('faces')} ({', '.join(f'{v} {k}' for k, v in by_path.items())}); in the annotations: {n_faces}",
        f"- head alignments: {r.get('heads_aligned')} accepted, {r.get('heads_rejected')} rejected; heads without a face pose: {r.get('heads_without_face_pose')}; faces seen in one view only: {r.get('faces_one_view')}",
        "",
        "## Review",
        "",
        f"- frame-sets flagged for review: {review_state['flagged']} of {s.get('framesets')}",
        f"- accepted: {review_state['accepted']}; fixed (a face marked): {review_state['fixed']}; faces added in review: {review_state['faces_added']}",
        f"- unresolved: {len(review_state['unresolved'])}" + (" (released with --accept-unreviewed: these frame-sets were not checked by a person)" if accept_unreviewed and review_state["unresolved"] else ""),
        "",
        "## Limitations",
        "",
        "Automatic anonymization misses faces (see `review.json` for where it was unsure); the",
        "regions in `faces.json` are what was anonymized, not checked ground truth. The licence",
        "and intended use of this data are set by its owner.",
        "",
    ]
    return "\n".join(lines)


def _without_not_faces(faces: FaceAnnotations, marks) -> FaceAnnotations:
    """The face regions less those centred in a region a reviewer marked as not a face."""
    def marked(f) -> bool:
        cx, cy = 0.5 * (f.box_xyxy_px[0] + f.box_xyxy_px[2]), 0.5 * (f.box_xyxy_px[1] + f.box_xyxy_px[3])
        return any(fr == f.frame and c == f.camera and b[0] <= cx <= b[2] and b[1] <= cy <= b[3] for fr, c, b in marks)

    return dataclasses.replace(faces, faces=tuple(f for f in faces.faces if not marked(f))) if marks else faces


def release_session(cfg: ReleaseConfig) -> Path:
    """Write the package (see the module doc); returns its folder."""
    out = Path(cfg.outputs) if cfg.outputs is not None else default_outputs_dir(cfg.session)
    to = Path(cfg.to)
    run = load_run_outputs(out)
    sess_path = session_dir(cfg.recordings, cfg.session)
    if not sess_path.is_dir():
        raise CurateError("session not found (its calibration goes into the package)", sess_path)
    for a, b, what in ((to, out, "the output folder"), (out, to, "the output folder"), (to, sess_path, "the session"), (sess_path, to, "the session")):
        if _inside(a, b):
            raise CurateError(f"the package folder must not be inside or over {what}", to)
    if to.exists() and (not to.is_dir() or any(to.iterdir())):
        raise CurateError("already exists and is not an empty folder", to)
    inputs = run.audit.get("inputs")
    if not isinstance(inputs, dict) or not inputs:
        raise CurateError("audit.json lists no input checksums: cannot check that no original is packaged", out / "audit.json")

    lock = OutputLock(out) if os.access(out, os.W_OK) else None  # no run or review writes it meanwhile
    try:
        review_log = load_review_log(out)
        unresolved = unresolved_frames(run, review_log)
        if unresolved and not cfg.accept_unreviewed:
            first = ", ".join(map(str, unresolved[:5]))
            raise CurateError(
                f"{len(unresolved)} of {len(run.flagged_frames)} frame-sets flagged for review are neither accepted nor fixed "
                f"(most uncertain first: {first}): review them (cli.py review) or pass --accept-unreviewed",
                out / "review.json",
            )
        files = _package_files(out)
        from orscene.recording.reader import open_session

        reader = open_session(sess_path)
        faces = load_faces(out / "faces.json")
        manifest_name = sess_path / "session.yaml"
        own = {str(p) for p in (manifest_name.name, Path(reader.calibration_path).name)}
        originals = {h: name for name, h in inputs.items() if name not in own}

        to.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{to.name}.partial-", dir=to.parent))
        try:
            sums: dict[str, dict] = {}
            for rel in files:
                dst = tmp / rel
                dst.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(out / rel, dst)
                h = file_sha256(dst)
                if h in originals:
                    raise CurateError(f"has the checksum of the input file {originals[h]}: an original is never released", out / rel)
                sums[rel.as_posix()] = {"sha256": h, "bytes": dst.stat().st_size}
            extra: dict[str, bytes] = {"calibration.json": json.dumps(calibration_to_dict(reader.calibration), indent=1).encode()}
            image_files = package_image_files(tmp, faces)
            sizes = _image_sizes(faces.cameras, reader)
            coco = coco_faces(_without_not_faces(faces, review_log.not_faces()), sizes, image_files)
            extra["annotations/coco.json"] = json.dumps(coco).encode()
            extra["annotations/wider_face.txt"] = wider_face_text(coco).encode()
            created = now_utc()
            state = {
                "flagged": len(run.flagged_frames),
                "accepted": len(review_log.accepted() & set(run.flagged_frames)),
                "fixed": len(review_log.fixed() & set(run.flagged_frames)),
                "faces_added": sum(1 for d in review_log.decisions if d.get("action") == "add_face"),
                "not_faces": len(review_log.not_faces()),
                "unresolved": list(unresolved),
            }
            extra["README.md"] = _datasheet(run, sizes, len(coco["images"]), len(coco["annotations"]), state, cfg.accept_unreviewed, created).encode()
            for rel, data in extra.items():
                if rel in sums:
                    raise CurateError(f"the output folder already holds {rel}: refusing to overwrite it in the package", out / rel)
                (tmp / rel).parent.mkdir(parents=True, exist_ok=True)
                (tmp / rel).write_bytes(data)
                sums[rel] = {"sha256": file_sha256(tmp / rel), "bytes": len(data)}
            manifest = {
                "format": "orscene-release",
                "version": 1,
                "session": run.session,
                "created_utc": created,
                "orscene": run.audit.get("versions", {}).get("orscene"),
                "source_outputs": str(out),
                "accept_unreviewed": bool(cfg.accept_unreviewed),
                "review": state,
                "files": dict(sorted(sums.items())),
            }
            (tmp / "manifest.json").write_text(json.dumps(manifest, indent=1))
            sums["manifest.json"] = {"sha256": file_sha256(tmp / "manifest.json")}
            (tmp / "SHA256SUMS").write_text("".join(f"{v['sha256']}  {k}\n" for k, v in sorted(sums.items())))
            if to.is_dir():
                to.rmdir()  # empty (checked above)
            os.replace(tmp, to)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
    finally:
        if lock is not None:
            lock.release()
    log.info("released %s: %d files -> %s", run.session, len(files) + 5, to)
    return to


def run_release(cfg: ReleaseConfig) -> int:
    to = release_session(cfg)
    manifest = json.loads((to / "manifest.json").read_text())
    unresolved = manifest["review"]["unresolved"]
    print(
        f"{manifest['session']}: {len(manifest['files'])} files, sha256 in {to / 'manifest.json'}"
        + (f"; {len(unresolved)} flagged frame-sets released unreviewed (--accept-unreviewed)" if unresolved else "")
    )
    return 0

