"""Close-up renders of the faces in a synthetic frame (for realism checks and figures).

A face that a session camera sees is rendered again through a narrow, distortion-free
pinhole camera at the same position and orientation, zoomed so that the face is about
``face_px`` pixels high and centred in a square image: the same scene, lights and person as
in the session, at a resolution where detectors can be run at any smaller size by
downscaling (``benchmarks.bench_realism``). The close-up's face box comes from its own id
buffer, like a session's (``annotate.annotate_faces``).
"""

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from orscene.synth.annotate import annotate_faces
from orscene.types import Box, Camera, Intrinsics

__all__ = ["FaceCloseup", "face_closeups"]


@dataclass(frozen=True)
class FaceCloseup:
    person_id: int
    camera: str
    """The session camera whose position the close-up shares."""
    rgb: np.ndarray
    """(size, size, 3) uint8 render, no sensor effects."""
    box_xyxy_px: Box
    """The face's ground-truth box in ``rgb``."""
    visible_fraction: float
    """Visible fraction of the face in the session camera."""


def face_closeups(world, t_s: float, min_visible_fraction: float = 0.85, face_px: float = 200.0,
                  size_px: int = 640) -> Iterator[FaceCloseup]:  # fmt: skip
    """Close-ups of every face seen unoccluded (``visible_fraction >= min_visible_fraction``,
    not flagged ignore) by a camera of ``world`` (``generate.make_world``) at ``t_s``."""
    from orscene.synth.generate import render_frame

    fr = render_frame(world, t_s, with_depth=False)
    posed = fr.posed
    for name, cam in world.cameras.items():
        boxes, _ = annotate_faces(cam, fr.color[name].ids, posed.person_ids, posed.vertices_world_m, posed.world_from_head, world.face_tris)
        for b in boxes:
            if b.ignore or b.visible_fraction < min_visible_fraction:
                continue
            p = int(np.nonzero(posed.person_ids == b.person)[0][0])
            c = np.linalg.inv(cam.world_from_cam) @ np.append(posed.world_from_head[p, :3, 3], 1.0)
            h = b.box_xyxy_px.height
            f = float(cam.color.K_px[1, 1]) * face_px / max(h, 1.0)
            u, v = f * c[0] / c[2], f * c[1] / c[2]
            K = np.array([[f, 0, size_px / 2 - u], [0, f, size_px / 2 - v], [0, 0, 1.0]])
            zoom = Camera("closeup", Intrinsics(K, np.zeros(8), size_px, size_px), cam.world_from_cam)
            ro = world.renderer.render(zoom.color, zoom.world_from_cam)
            zb, _ = annotate_faces(zoom, ro.ids, posed.person_ids, posed.vertices_world_m, posed.world_from_head, world.face_tris)
            zb = [z for z in zb if z.person == b.person and not z.ignore]
            if zb:
                yield FaceCloseup(int(b.person), name, ro.rgb, zb[0].box_xyxy_px, float(b.visible_fraction))
