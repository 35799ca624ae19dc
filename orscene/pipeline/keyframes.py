"""Which frame-sets get the expensive work, and how the others borrow from them.

2D keypoints, 3D fusion, body fit and head alignment run on *keyframes*; the face
detectors see whole images on their own keyframes (*passes*). A frame-set ``t`` between
keyframes ``a < t < b`` borrows:

- the tracked 3D poses (the tracker interpolates between keyframes);
- the body fitted on ``a``, moved by the tracked head's motion from ``a`` to ``t``
  (:func:`carry_fit`);
- the 2D skeletons of ``a`` and ``b`` (their head regions, for people seen only in 2D);
- face detections found again around the faces of ``a`` and ``b`` (windows, cheap), plus
  every face of ``a`` or ``b`` not found again (:func:`between_detections`): a face is never
  dropped for lack of a second look.

On keyframes, BlazePose searches the whole image for people only on *search keyframes*; on
the keyframes in between it follows the people of the previous keyframe from their
landmark regions (:func:`orscene.pose.track_keypoints`). A keyframe's 2D skeletons thus
depend on the keyframes back to the last search keyframe, never further.

Every borrowing is bounded in **seconds** as well as in frame-sets (:func:`make_schedule`):
keyframes are at most ``keyframe_every`` frame-sets *and* ``keyframe_max_s`` apart, passes
at most ``detector_every`` frame-sets and ``detector_max_s`` apart, and a keyframe follows
people only within ``pose_follow_max_s`` of its search keyframe. Where the next frame-set
comes later than a bound, the frame-sets on both sides of that gap are keyframes (passes,
search keyframes) of their own: nothing is carried, held, followed or interpolated across
it, and the frame-set after it is a full pass.

The schedule is a pure function of the session's frame-set timestamps (all known when the
session is opened) and the configuration, never of how the session is cut into chunks, so
chunked, parallel and resumed runs agree.
"""

from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np

from orscene.anonymize2d import Detection
from orscene.types import BodyFit, Box, Keypoints2D, PersonPose, pairwise_iou

__all__ = ["Schedule", "make_schedule", "strided_keyframes", "between_detections", "between_detections_with_evidence", "carry_fit", "head_centre", "merge_keypoints"]

_FACE_JOINTS = [0, 1, 2, 3, 4]  # COCO-17 nose, eyes, ears


def strided_keyframes(timestamps_ns: Sequence[int], every: int, max_s: float) -> np.ndarray:
    """``(N,) bool``: the first frame-set, the last, and greedily the furthest frame-set
    after each keyframe that is at most ``every`` frame-sets and ``max_s`` seconds after
    it (or the next frame-set, when that alone is further). So two consecutive keyframes
    are never more than ``max_s`` apart unless they are neighbours, and both frame-sets
    around a gap longer than ``max_s`` are keyframes. At a steady rate with
    ``every`` frame-sets within ``max_s``, this is every ``every``-th frame-set and the last."""
    ts = np.asarray(timestamps_ns, np.int64)
    n = len(ts)
    key = np.zeros(n, bool)
    if n == 0:
        return key
    max_ns = int(round(max_s * 1e9))
    key[0] = True
    a = 0
    while a < n - 1:
        j, lim = a + 1, min(n - 1, a + every)
        while j < lim and ts[j + 1] - ts[a] <= max_ns:
            j += 1
        key[j] = True
        a = j
    return key


@dataclass(frozen=True)
class Schedule:
    """What runs on which frame-set of a session (see the module docstring), indexed by
    the session's frame-set indices. The first and the last frame-set are keyframes, search
    keyframes (the first) and passes."""

    timestamps_ns: np.ndarray
    """``(N,) int64``: the frame-sets' timestamps."""
    keyframe: np.ndarray
    """``(N,) bool``: 2D keypoints, 3D fusion, body fit, head alignment."""
    search: np.ndarray
    """``(N,) bool``: keyframes on which BlazePose searches the whole image."""
    detector_pass: np.ndarray
    """``(N,) bool``: the face detectors see the whole image."""

    @property
    def n_framesets(self) -> int:
        return int(self.keyframe.shape[0])

    def is_keyframe(self, index: int) -> bool:
        return bool(self.keyframe[index])

    def keyframe_before(self, index: int) -> int:
        """The last keyframe at or before ``index``."""
        return _before(self.keyframe, index)

    def keyframe_after(self, index: int) -> int:
        """The first keyframe at or after ``index``."""
        return _after(self.keyframe, index)

    def is_search_keyframe(self, index: int) -> bool:
        return bool(self.search[index])

    def search_keyframe_before(self, index: int) -> int:
        """The last search keyframe at or before ``index``: where the chain of followed 2D
        skeletons that reaches ``index`` starts."""
        return _before(self.search, index)

    def is_pass(self, index: int) -> bool:
        return bool(self.detector_pass[index])

    def pass_before(self, index: int) -> int:
        return _before(self.detector_pass, index)

    def pass_after(self, index: int) -> int:
        return _after(self.detector_pass, index)

    def fraction(self, index: int, a: int, b: int) -> float:
        """Where ``index`` lies in time between frame-sets ``a`` and ``b`` (0 = at ``a``)."""
        ts = self.timestamps_ns
        span = int(ts[b]) - int(ts[a])
        return 0.0 if span <= 0 else float(int(ts[index]) - int(ts[a])) / span

    def seconds_between(self, a: int, b: int) -> float:
        return abs(int(self.timestamps_ns[b]) - int(self.timestamps_ns[a])) * 1e-9


def _before(flags: np.ndarray, index: int) -> int:
    hits = np.flatnonzero(flags[: index + 1])
    return int(hits[-1]) if hits.size else 0


def _after(flags: np.ndarray, index: int) -> int:
    hits = np.flatnonzero(flags[index:])
    return index + int(hits[0]) if hits.size else len(flags) - 1


def make_schedule(
    timestamps_ns: Sequence[int],
    keyframe_every: int = 3,
    keyframe_max_s: float = 0.25,
    pose_search_every: int = 2,
    pose_follow_max_s: float = 0.3,
    detector_every: int = 5,
    detector_max_s: float = 0.4,
) -> Schedule:
    """The schedule of a session from its frame-set timestamps (``PipelineConfig.schedule``
    gives the configured one). Keyframes and passes: :func:`strided_keyframes`. A keyframe
    searches for people when it is the first, when ``pose_search_every`` keyframes have
    passed since the last search, or when that search is more than ``pose_follow_max_s``
    earlier (so the keyframe after a gap always searches)."""
    ts = np.asarray(timestamps_ns, np.int64).reshape(-1)
    if ts.size > 1 and np.any(np.diff(ts) < 0):
        raise ValueError("frame-set timestamps must not decrease")
    key = strided_keyframes(ts, keyframe_every, keyframe_max_s)
    search = np.zeros_like(key)
    follow_ns = int(round(pose_follow_max_s * 1e9))
    last, count = -1, 0
    for i in np.flatnonzero(key):
        if last < 0 or count + 1 >= pose_search_every or ts[i] - ts[last] > follow_ns:
            search[i], last, count = True, int(i), 0
        else:
            count += 1
    return Schedule(ts, key, search, strided_keyframes(ts, detector_every, detector_max_s))


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
    return between_detections_with_evidence(found, before, after, t, iou, hold_before, hold_after)[0]


def between_detections_with_evidence(
    found: Sequence[Detection],
    before: Sequence[Detection],
    after: Sequence[Detection],
    t: float,
    iou: float = 0.3,
    hold_before: bool = True,
    hold_after: bool = True,
) -> tuple[list[Detection], list[tuple[str, ...]]]:
    """:func:`between_detections`, with each detection's evidence: ``()`` for a face found
    on this frame-set, else which passes it was held from (``"before"``, ``"after"``)."""
    held: list[Detection] = []
    tags: list[tuple[str, ...]] = []
    b_used = np.zeros(len(after), bool)
    if before and after:
        ious = pairwise_iou([d[0] for d in before], [d[0] for d in after])
    for i, d in enumerate(before):
        box = np.asarray(d[0], np.float64)
        score = d[1]
        if after:
            j = int(np.argmax(ious[i]))
            if ious[i, j] > iou and not b_used[j]:
                b_used[j] = True
                box = (1 - t) * box + t * np.asarray(after[j][0], np.float64)
                score = min(score, after[j][1])
                held.append(Detection(Box(*box), float(score)))
                tags.append(("before", "after"))
                continue
        if hold_before:
            held.append(Detection(Box(*box), float(score)))
            tags.append(("before",))
    if hold_after:
        for j, d in enumerate(after):
            if not b_used[j]:
                held.append(Detection(Box.of(d[0]), float(d[1])))
                tags.append(("after",))
    out = [Detection(Box.of(d[0]), float(d[1])) for d in found]
    if out and held:
        ov = pairwise_iou([d[0] for d in held], [d[0] for d in out]).max(1)
        keep = ov <= iou
        held = [d for d, k in zip(held, keep) if k]
        tags = [g for g, k in zip(tags, keep) if k]
    return out + held, [()] * len(out) + tags


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
