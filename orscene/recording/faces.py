"""The project's face-annotation format (``faces.json``), for annotations and predictions.

One JSON document per session::

    {
      "format": "orscene-faces", "version": 1,
      "session": "OR_03",
      "cameras": ["cam0", "cam1"],
      "frames": [0, 1, 2],                     # the frame-sets that were annotated / processed
      "faces": [
        {"frame": 0, "camera": "cam0", "person": 3,
         "box": [x0, y0, x1, y1],              # pixels, pixel-edge convention (docs/conventions.md)
         "score": 1.0, "visible_fraction": 0.82, "ignore": false, "source": "gt"}
      ]
    }

``frames`` matters: a frame listed with no face for a camera means "no face there" (a
detector firing there is a false positive), while an unlisted frame was not annotated.
Person ids are consistent across cameras and time; ``-1`` means unknown. The JSON Schema
is ``schemas/faces.schema.json``.
"""

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

import jsonschema

from orscene.errors import AnnotationError, excerpt
from orscene.recording.session import atomic_write_text
from orscene.types import FaceBox, FaceSource

__all__ = ["FaceAnnotations", "load_faces", "save_faces", "faces_to_dict", "faces_from_dict"]


@dataclass(frozen=True)
class FaceAnnotations:
    """All face boxes of a session (annotations or predictions)."""

    session: str
    cameras: tuple[str, ...]
    frames: tuple[int, ...]
    """Frame-set indices covered: a listed frame without boxes for a camera has no face."""
    faces: tuple[FaceBox, ...] = field(default_factory=tuple)

    def by_frame_camera(self) -> dict[tuple[int, str], list[FaceBox]]:
        out: dict[tuple[int, str], list[FaceBox]] = {}
        for f in self.faces:
            out.setdefault((f.frame, f.camera), []).append(f)
        return out


def _schema() -> dict:
    return json.loads(resources.files("orscene.recording").joinpath("schemas", "faces.schema.json").read_text())


def faces_to_dict(ann: FaceAnnotations) -> dict:
    return {
        "format": "orscene-faces",
        "version": 1,
        "session": ann.session,
        "cameras": list(ann.cameras),
        "frames": [int(f) for f in ann.frames],
        "faces": [
            {
                "frame": int(f.frame),
                "camera": f.camera,
                "person": int(f.person),
                "box": [round(float(v), 2) for v in f.box_xyxy_px],
                "score": round(float(f.score), 5),
                "visible_fraction": round(float(f.visible_fraction), 4),
                "ignore": bool(f.ignore),
                "source": f.source.value,
            }
            for f in ann.faces
        ],
    }


def faces_from_dict(data: dict, path: Path | None = None, schema_check: bool = True) -> FaceAnnotations:
    """Face annotations from their JSON form. ``schema_check=False`` skips the JSON-schema
    validation (about 0.5 ms per face) for data this program has just built itself; each
    box is still checked as it is made."""
    if schema_check:
        try:
            jsonschema.validate(data, _schema())
        except jsonschema.ValidationError as e:
            where = "/".join(str(p) for p in e.absolute_path) or "top level"
            raise AnnotationError(f"invalid face annotations at {where}: {excerpt(e.message)}", path) from None
    try:
        faces = tuple(
            FaceBox(
                frame=f["frame"],
                camera=f["camera"],
                person=f.get("person", -1),
                box_xyxy_px=tuple(f["box"]),
                score=f.get("score", 1.0),
                visible_fraction=f.get("visible_fraction", 1.0),
                ignore=f.get("ignore", False),
                source=FaceSource(f.get("source", "gt")),
            )
            for f in data["faces"]
        )
    except ValueError as e:
        raise AnnotationError(f"invalid face box: {excerpt(str(e))}", path) from None
    cameras = tuple(data["cameras"])
    unknown = sorted({f.camera for f in faces} - set(cameras))
    if unknown:
        raise AnnotationError(f"faces name cameras not listed in 'cameras': {unknown}", path)
    return FaceAnnotations(data.get("session", ""), cameras, tuple(data["frames"]), faces)


def load_faces(path: str | Path) -> FaceAnnotations:
    path = Path(path)
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise AnnotationError("face annotation file not found", path) from None
    except json.JSONDecodeError as e:
        raise AnnotationError(f"malformed JSON: {e.msg} (line {e.lineno})", path) from None
    return faces_from_dict(data, path)


def save_faces(path: str | Path, ann: FaceAnnotations) -> Path:
    path = Path(path)
    atomic_write_text(path, json.dumps(faces_to_dict(ann), separators=(",", ":")))
    return path


def merge_faces(session: str, cameras: Sequence[str], frames: Iterable[int], faces: Iterable[FaceBox]) -> FaceAnnotations:
    """Build a FaceAnnotations sorted by (frame, camera, person)."""
    fs = sorted(faces, key=lambda f: (f.frame, f.camera, f.person, f.box_xyxy_px))
    return FaceAnnotations(session, tuple(cameras), tuple(sorted(set(int(f) for f in frames))), tuple(fs))
