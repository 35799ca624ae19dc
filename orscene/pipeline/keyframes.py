"""Which frame-sets get the expensive work, and how the others borrow from them.

2D keypoints, 3D fusion, body fit and head alignment run on *keyframes*
(``PipelineConfig.keyframe_every``); the face detectors see whole images on their own
keyframes (``detector_every``). A frame-set ``t`` between keyframes ``a < t < b`` borrows:

- the tracked 3D poses (the tracker interpolates between keyframes);
- the body fitted on ``a``, moved by the tracked head's motion from ``a`` to ``t``
  (:func:`carry_fit`);
- the 2D skeletons of ``a`` and ``b`` (their head regions, for people seen only in 2D);
- face detections found again around the faces of ``a`` and ``b`` (windows, cheap), plus
  every face of ``a`` or ``b`` not found again (:func:`between_detections`): a face is never
  dropped for lack of a second look.

On keyframes, BlazePose searches the whole image for people only on every
``pose_search_every``-th keyframe (*search keyframes*); on the keyframes in between it
follows the people of the previous keyframe from their landmark regions
(:func:`orscene.pose.track_keypoints`). A keyframe's 2D skeletons thus depend on the
keyframes back to the last search keyframe, never further (:func:`search_keyframe_before`).

Keyframes depend only on the index and the session length (every ``n``-th frame-set and
the last), never on how the session is cut into chunks, so chunked, parallel and resumed
runs agree.
"""

from collections.abc import Sequence
from dataclasses import replace

import numpy as np

from orscene.anonymize2d import Detection, box_iou
from orscene.types import BodyFit, Keypoints2D, PersonPose

__all__ = ["is_keyframe", "keyframe_before", "keyframe_after", "is_search_keyframe", "search_keyframe_before", "between_detections", "carry_fit", "head_centre", "merge_keypoints"]

_FACE_JOINTS = [0, 1, 2, 3, 4]  # COCO-17 nose, eyes, ears


def is_keyframe(index: int, every: int, n_framesets: int) -> bool:
    return index % every == 0 or index == n_framesets - 1


def keyframe_before(index: int, every: int) -> int:
    """The last keyframe at or before ``index``."""
    return index - index % every


def keyframe_after(index: int, every: int, n_framesets: int) -> int:
    """The first keyframe at or after ``index``."""
    if is_keyframe(index, every, n_framesets):
        return index
    return min(keyframe_before(index, every) + every, n_framesets - 1)


def is_search_keyframe(index: int, every: int, search_every: int) -> bool:
    """Whether keyframe ``index`` searches the whole image for people (rather than follow
    those of the previous keyframe)."""
    return index % (every * search_every) == 0


def search_keyframe_before(index: int, every: int, search_every: int) -> int:
    """The last search keyframe at or before ``index``: where the chain of followed 2D
    skeletons that reaches ``index`` starts."""
    return index - index % (every * search_every)


def between_detections(
    found: Sequence[Detection],
    before: Sequence[Detection],
    after: Sequence[Detection],
    t: float,
    iou: float = 0.3,
    hold_before: bool = True,
    hold_after: bool = True,
) -> list[Detection]:
    """Detections at a frame-set between two full passes: ``found`` (looked for around the
    faces of both passes) plus each face of ``before`` / ``after`` that no box of ``found``
    overlaps by more than ``iou``. A face seen on both passes (IoU > ``iou`` between them) is
    placed at ``t`` (0 = before, 1 = after) between its two boxes."""
    held: list[Detection] = []
    b_used = np.zeros(len(after), bool)
    if before and after:
        ious = box_iou(np.array([d[0] for d in before]), np.array([d[0] for d in after]))
    for i, d in enumerate(before):
        box = np.asarray(d[0], np.float64)
        score = d[1]
        if after:
            j = int(np.argmax(ious[i]))
            if ious[i, j] > iou and not b_used[j]:
                b_used[j] = True
                box = (1 - t) * box + t * np.asarray(after[j][0], np.float64)
                score = min(score, after[j][1])
                held.append(Detection(tuple(float(v) for v in box), float(score)))
                continue
        if hold_before:
            held.append(Detection(tuple(float(v) for v in box), float(score)))
    if hold_after:
        held += [Detection(tuple(float(v) for v in d[0]), float(d[1])) for j, d in enumerate(after) if not b_used[j]]
    out = [Detection(tuple(float(v) for v in d[0]), float(d[1])) for d in found]
    if out and held:
        ov = box_iou(np.array([d[0] for d in held]), np.array([d[0] for d in out])).max(1)
        held = [d for d, o in zip(held, ov) if o <= iou]
    return out + held


def head_centre(joints_world_m: np.ndarray) -> np.ndarray:
    """Mean of the face joints (nose, eyes, ears) of a COCO-17 skeleton."""
    return np.asarray(joints_world_m, np.float64)[_FACE_JOINTS].mean(0)


def carry_fit(fit: BodyFit, pose_at_fit: PersonPose, pose_now: PersonPose) -> BodyFit:
    """``fit`` (made on a keyframe for ``pose_at_fit``) moved rigidly by the tracked head's
    translation to ``pose_now``; its head status is kept (the alignment it records was
    made on the keyframe)."""
    d = head_centre(pose_now.joints_world_m) - head_centre(pose_at_fit.joints_world_m)
    m = fit.world_from_head.copy()
    m[:3, 3] += d
    d32 = d.astype(np.float32)
    return replace(
        fit,
        vertices_world_m=(fit.vertices_world_m + d32).astype(np.float32),
        joints_world_m=(fit.joints_world_m + d32.astype(fit.joints_world_m.dtype)),
        world_from_head=m,
    )


def merge_keypoints(kps: Sequence[Keypoints2D]) -> Keypoints2D | None:
    """The skeletons of several detections in one view (e.g. the keyframes on either side)."""
    kps = [k for k in kps if k is not None]
    if not kps:
        return None
    if len(kps) == 1:
        return kps[0]
    return Keypoints2D(
        kps[0].camera,
        np.concatenate([k.keypoints_px for k in kps]).astype(np.float32),
        np.concatenate([k.confidence for k in kps]).astype(np.float32),
        kps[0].joint_names,
    )
