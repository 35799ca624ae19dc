"""Importers from other face / person annotation formats into the project's face format.

Each returns a :class:`orscene.recording.faces.FaceAnnotations` (plus, where the source
names image files, a mapping ``(frame, camera) -> image path``) so that the same metric
code scores every data set.

* dlib imglab XML (``voc_faces/training.xml``): one "camera" ``img``; each image is one
  frame (in file order); boxes ``top/left/width/height`` cover pixel columns
  ``left..left+width-1``, i.e. ``x0 = left - 0.5``, ``x1 = left + width - 0.5``.
  ``ignore='1'`` boxes become ``ignore=True``. Persons are unknown (-1).
* CMU Panoptic ``faces_gt.json`` (annotations via ``orscene.recording.importers.load_panoptic_faces``): cameras are the view names (``00_03``...), frames are the
  sorted distinct frame numbers (index 0, 1, ...), persons ``P<n>`` become ``n``; boxes
  ``[x1, y1, x2, y2]`` are taken as pixel edges. The ``ignore`` regions become
  ``ignore=True`` boxes with person -1 (detections there count neither way).
* MVOR COCO (``camma_mvor_2018.json``): its ``bbox`` entries are **person** boxes, not
  face boxes. :class:`MvorBoxKind` selects what the importer yields: ``PERSON`` (the person
  boxes as they are) or ``HEAD`` (default: a square head box derived from the 2D
  ``head`` and ``neck`` keypoints, side ``1.2 x |head - neck|`` centred on the head
  keypoint; annotations without a visible head keypoint become ``ignore=True`` person boxes,
  so that neither a hit nor a miss is counted there). Cameras ``cam1..cam3``; frames are the
  indices of ``multiview_images`` (732 three-view frame-sets); persons are MVOR's
  ``person_id`` (``-1`` where it has none).
"""

import enum
import json
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from orscene.errors import AnnotationError
from orscene.recording.faces import FaceAnnotations, merge_faces
from orscene.types import FaceBox

__all__ = ["MvorBoxKind", "load_imglab_xml", "load_panoptic_faces_json", "load_mvor_coco", "ImageIndex"]

ImageIndex = Mapping[tuple[int, str], Path]
"""(frame, camera) -> image file."""


def _read_json(path: Path) -> dict:
    try:
        return json.loads(Path(path).read_text())
    except FileNotFoundError:
        raise AnnotationError("annotation file not found", path) from None
    except json.JSONDecodeError as e:
        raise AnnotationError(f"malformed JSON: {e.msg} (line {e.lineno})", path) from None


def load_imglab_xml(path: str | Path, camera: str = "img") -> tuple[FaceAnnotations, dict[tuple[int, str], Path]]:
    """dlib imglab XML -> (annotations, images). Every listed image is an annotated frame."""
    path = Path(path)
    try:
        root = ET.parse(path).getroot()
    except FileNotFoundError:
        raise AnnotationError("annotation file not found", path) from None
    except ET.ParseError as e:
        raise AnnotationError(f"malformed imglab XML: {e}", path) from None
    images = root.find("images")
    if images is None:
        raise AnnotationError("imglab XML has no <images> element", path)
    faces: list[FaceBox] = []
    files: dict[tuple[int, str], Path] = {}
    for frame, img in enumerate(images.findall("image")):
        files[(frame, camera)] = path.parent / img.get("file", "")
        for b in img.findall("box"):
            try:
                top, left = float(b.get("top")), float(b.get("left"))
                width, height = float(b.get("width")), float(b.get("height"))
            except (TypeError, ValueError):
                raise AnnotationError(f"box without numeric top/left/width/height in image {img.get('file')!r}", path) from None
            faces.append(
                FaceBox(
                    frame=frame,
                    camera=camera,
                    person=-1,
                    box_xyxy_px=(left - 0.5, top - 0.5, left + width - 0.5, top + height - 0.5),
                    ignore=b.get("ignore", "0") == "1",
                )
            )
    return merge_faces(path.stem, [camera], range(len(files)), faces), files


def load_panoptic_faces_json(path: str | Path) -> tuple[FaceAnnotations, dict[tuple[int, str], Path]]:
    """CMU Panoptic ``faces_gt.json`` -> (annotations, images).

    The annotations come from ``orscene.recording.importers.load_panoptic_faces`` (frame-set
    ``k`` = the k-th sorted frame id, ``P<n>`` -> person ``n``, ``ignore`` regions -> ignore
    boxes); this adds the image file of each (frame, view)."""
    from orscene.recording.importers import load_panoptic_faces

    path = Path(path)
    ann = load_panoptic_faces(path)
    data = _read_json(path)
    try:
        ids = sorted({int(i["frame"]) for i in data["images"]})
        files = {(ids.index(int(i["frame"])), str(i["view"])): path.parent / i["file"] for i in data["images"]}
    except (KeyError, TypeError, ValueError) as e:
        raise AnnotationError(f"unexpected Panoptic faces_gt structure: {type(e).__name__} {e}", path) from None
    return ann, files


class MvorBoxKind(enum.Enum):
    PERSON = "person"
    """MVOR's person boxes as they are."""
    HEAD = "head"
    """A head box from the head and neck keypoints (person box with ignore where absent)."""


def load_mvor_coco(path: str | Path, kind: MvorBoxKind = MvorBoxKind.HEAD, head_scale: float = 1.2) -> FaceAnnotations:
    """MVOR-style COCO JSON -> annotations (no images: MVOR ships none here)."""
    path = Path(path)
    data = _read_json(path)
    try:
        cam_name = {}
        frame_of_image: dict[int, int] = {}
        for frame, mv in enumerate(data["multiview_images"]):
            for img in mv["images"]:
                frame_of_image[int(img["id"])] = frame
                cam_name[int(img["id"])] = f"cam{int(img['cam_id'])}"
        names = [c["keypoints"] for c in data["categories"] if str(c.get("name")) == "person"]
        kp_names = names[0] if names else []
        i_head = kp_names.index("head") if "head" in kp_names else None
        i_neck = kp_names.index("neck") if "neck" in kp_names else None
        faces: list[FaceBox] = []
        for a in data["annotations"]:
            iid = int(a["image_id"])
            if iid not in frame_of_image:
                continue
            x, y, w, h = (float(v) for v in a["bbox"])
            person_box = (x - 0.5, y - 0.5, x + w - 0.5, y + h - 0.5)
            pid = int(a.get("person_id", -1))
            common = dict(frame=frame_of_image[iid], camera=cam_name[iid], person=pid)
            if kind is MvorBoxKind.PERSON:
                faces.append(FaceBox(box_xyxy_px=person_box, **common))
                continue
            kp = np.asarray(a.get("keypoints") or [], dtype=np.float64).reshape(-1, 3)
            ok = i_head is not None and i_neck is not None and kp.shape[0] > max(i_head, i_neck)
            if ok and kp[i_head, 2] > 0 and kp[i_neck, 2] > 0:
                side = head_scale * float(np.linalg.norm(kp[i_head, :2] - kp[i_neck, :2]))
                if side >= 2.0:
                    cx, cy = kp[i_head, :2]
                    box = (cx - side / 2, cy - side / 2, cx + side / 2, cy + side / 2)
                    faces.append(FaceBox(box_xyxy_px=box, **common))
                    continue
            faces.append(FaceBox(box_xyxy_px=person_box, ignore=True, **common))
        cameras = sorted(set(cam_name.values()))
        return merge_faces(path.stem, cameras, range(len(data["multiview_images"])), faces)
    except (KeyError, TypeError, ValueError) as e:
        raise AnnotationError(f"unexpected MVOR COCO structure: {type(e).__name__} {e}", path) from None
