"""Face annotations of a run for downstream users: COCO JSON and WIDER FACE text.

The boxes are those of ``faces.json`` (every anonymized face region, with the path that
anonymized it, and the faces added in review), one COCO image per written view.

Coordinates: orscene boxes put pixel centres on integers (``docs/conventions.md``: the
image spans ``[-0.5, W-0.5]``); COCO and WIDER FACE put the top-left pixel's corner at 0,
so a box moves by +0.5 and is clipped to the image. Whole views obscured after a failure
(``source: obscured``) are not faces: they are left out of the face annotations and their
images carry ``"obscured": true``.
"""

from collections.abc import Mapping
from pathlib import Path

from orscene.recording.faces import FaceAnnotations
from orscene.types import FaceSource

__all__ = ["coco_faces", "wider_face_text"]

CATEGORY_FACE = 1


def _views(faces: FaceAnnotations, sizes: Mapping[str, tuple[int, int]], files: Mapping[tuple[int, str], str]) -> list[tuple[int, str]]:
    """(frame, camera) of every view with a written image, in frame then camera order."""
    return [(f, c) for f in faces.frames for c in faces.cameras if (f, c) in files and c in sizes]


def _coco_box(box, size_wh: tuple[int, int]) -> list[float] | None:
    W, H = size_wh
    x0, y0 = max(0.0, box[0] + 0.5), max(0.0, box[1] + 0.5)
    x1, y1 = min(float(W), box[2] + 0.5), min(float(H), box[3] + 0.5)
    if x1 <= x0 or y1 <= y0:
        return None
    return [round(x0, 2), round(y0, 2), round(x1 - x0, 2), round(y1 - y0, 2)]


def coco_faces(faces: FaceAnnotations, sizes: Mapping[str, tuple[int, int]], files: Mapping[tuple[int, str], str], description: str = "") -> dict:
    """COCO detection JSON of the face boxes. ``sizes``: camera -> (width, height);
    ``files``: (frame, camera) -> the view's image path inside the package (views without
    a file get no image entry and no annotations)."""
    by_view = faces.by_frame_camera()
    images, annotations = [], []
    for frame, cam in _views(faces, sizes, files):
        image_id = len(images) + 1
        view_faces = by_view.get((frame, cam), [])
        obscured = any(f.source is FaceSource.OBSCURED for f in view_faces)
        W, H = sizes[cam]
        images.append({"id": image_id, "file_name": files[(frame, cam)], "width": W, "height": H, "frame": frame, "camera": cam, "obscured": obscured})
        for f in view_faces:
            if f.source is FaceSource.OBSCURED:
                continue
            bbox = _coco_box(f.box_xyxy_px, (W, H))
            if bbox is None:
                continue
            annotations.append(
                {
                    "id": len(annotations) + 1, "image_id": image_id, "category_id": CATEGORY_FACE,
                    "bbox": bbox, "area": round(bbox[2] * bbox[3], 2), "iscrowd": 0,
                    "score": round(float(f.score), 5), "track_id": int(f.person), "source": f.source.value,
                }
            )  # fmt: skip
    return {
        "info": {"description": description or f"orscene face regions of session {faces.session}", "version": "1"},
        "images": images,
        "annotations": annotations,
        "categories": [{"id": CATEGORY_FACE, "name": "face", "supercategory": "person"}],
    }


def wider_face_text(coco: Mapping) -> str:
    """The WIDER FACE ground-truth text form of a :func:`coco_faces` document: per image its
    file name, the number of faces, then ``x y w h blur expression illumination invalid
    occlusion pose`` per face (integer pixels; the attributes are not known: 0), and a
    line of zeros for an image without faces (as WIDER FACE's own files do)."""
    per_image: dict[int, list] = {}
    for a in coco["annotations"]:
        per_image.setdefault(a["image_id"], []).append(a["bbox"])
    lines = []
    for im in coco["images"]:
        boxes = per_image.get(im["id"], [])
        lines += [im["file_name"], str(len(boxes))]
        for x, y, w, h in boxes:
            lines.append(f"{int(round(x))} {int(round(y))} {max(1, int(round(w)))} {max(1, int(round(h)))} 0 0 0 0 0 0")
        if not boxes:
            lines.append("0 0 0 0 0 0 0 0 0 0")
    return "\n".join(lines) + "\n"


def package_image_files(root: Path, faces: FaceAnnotations) -> dict[tuple[int, str], str]:
    """(frame, camera) -> relative path of the written image under ``root`` (``images/``),
    or of the camera's MP4 with the frame's index (``video/<camera>.mp4#<k>``) when the
    run wrote videos only."""
    out: dict[tuple[int, str], str] = {}
    for cam in faces.cameras:
        video = root / "video" / f"{cam}.mp4"
        for k, frame in enumerate(faces.frames):
            rel = f"images/{cam}/{frame:06d}.jpg"
            if (root / rel).is_file():
                out[(frame, cam)] = rel
            elif not (root / "images").is_dir() and video.is_file():
                out[(frame, cam)] = f"video/{cam}.mp4#{k}"
    return out
