"""The typed containers that flow between orscene's stages.

Every stage takes and returns these (never string-keyed dicts). Each field states its
shape, dtype, unit and frame; ``__post_init__`` validates what a caller can get wrong.
Conventions (units, axes, pixel centres) are in ``docs/conventions.md``.

Dimension names used across the repo: ``n_cam`` cameras, ``T`` frames, ``P`` persons,
``J`` joints, ``V`` vertices, ``F`` triangles, ``H, W`` image rows and columns.
"""

import enum
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np
from jaxtyping import Bool, Float, Int, UInt8

from orscene.errors import ShapeError

__all__ = [
    "COCO17",
    "COCO17_BONES",
    "Intrinsics",
    "Camera",
    "View",
    "ViewFailure",
    "FrameSet",
    "Keypoints2D",
    "PoseCandidate",
    "PersonPose",
    "PersonTrack",
    "HeadStatus",
    "HeadAlignment",
    "BodyFit",
    "FaceMesh",
    "FaceSource",
    "FacePatch",
    "Box",
    "boxes_array",
    "pairwise_intersection",
    "pairwise_iou",
    "pairwise_ioa",
    "nms",
    "FaceBox",
    "PointCloud",
    "HeadSource",
    "HeadObservation",
    "HeadTrack",
]

COCO17: tuple[str, ...] = (
    "nose", "left_eye", "right_eye", "left_ear", "right_ear",
    "left_shoulder", "right_shoulder", "left_elbow", "right_elbow",
    "left_wrist", "right_wrist", "left_hip", "right_hip",
    "left_knee", "right_knee", "left_ankle", "right_ankle",
)  # fmt: skip
"""COCO-17 joint names, in COCO order; "left" is the person's left."""

COCO17_BONES: tuple[tuple[int, int], ...] = (
    (5, 7), (7, 9), (6, 8), (8, 10), (11, 13), (13, 15), (12, 14), (14, 16),
    (5, 6), (11, 12), (5, 11), (6, 12), (0, 1), (0, 2), (1, 3), (2, 4),
)  # fmt: skip
"""Pairs of COCO-17 joint indices forming the skeleton (limbs, torso, face)."""


def _check(name: str, arr: object, shape: tuple[int | None, ...], dtype: type | tuple[type, ...] | None = None) -> None:
    """Raise ShapeError unless ``arr`` is an ndarray of ``shape`` (None = any size)."""
    if not isinstance(arr, np.ndarray):
        raise ShapeError(name, f"numpy array of shape {shape}", type(arr).__name__)
    if arr.ndim != len(shape) or any(s is not None and s != a for s, a in zip(shape, arr.shape)):
        raise ShapeError(name, f"shape {shape}", arr.shape)
    if dtype is not None:
        dtypes = dtype if isinstance(dtype, tuple) else (dtype,)
        if not any(np.issubdtype(arr.dtype, d) for d in dtypes):
            raise ShapeError(name, f"dtype {[d.__name__ for d in dtypes]}", arr.dtype)


def _check_rigid(name: str, T: np.ndarray) -> None:
    _check(name, T, (4, 4), np.floating)
    R = T[:3, :3]
    if not np.allclose(R @ R.T, np.eye(3), atol=1e-4) or not np.allclose(T[3], [0, 0, 0, 1]):
        raise ShapeError(name, "a rigid transform (orthonormal rotation, last row 0 0 0 1)", T.round(4).tolist())


# ---------------------------------------------------------------- boxes
#
# Pixel-edge convention (the one rule; docs/conventions.md): pixel (c, r) is the square
# [c - 0.5, c + 0.5] x [r - 0.5, r + 0.5], its centre at the integers. A box holds the
# coordinates of its edges, so the box of pixel columns a..b (inclusive) is
# (a - 0.5, ., b + 0.5, .), the whole W x H image is (-0.5, -0.5, W - 0.5, H - 0.5), and
# the area is (x1 - x0) * (y1 - y0). A box has the pixels that lie wholly inside it
# (1e-9 px of tolerance): ``Box.pixel_range``, the one way to turn a box into the half-open
# integer ranges that index an image.

_PIXEL_EPS = 1e-9
"""Tolerance (pixels) when deciding that a pixel lies inside a box's edges."""


class _BoxFields(NamedTuple):
    x0: float
    y0: float
    x1: float
    y1: float


class Box(_BoxFields):
    """An axis-aligned box ``(x0, y0, x1, y1)`` in image pixels, pixel-edge convention.

    The coordinates are the box's edges (see the section comment above): pixel ``(c, r)``
    spans ``[c - 0.5, c + 0.5] x [r - 0.5, r + 0.5]``. A Box is a tuple of 4 floats (it
    unpacks, indexes, compares and serialises as one); ``x1 <= x0`` or ``y1 <= y0`` is an
    empty box of area 0. Many boxes at once are ``(N, 4)`` float arrays
    (:func:`boxes_array`, :func:`pairwise_iou`, :func:`pairwise_ioa`, :func:`nms`).

    >>> b = Box(-0.5, -0.5, 1.5, 0.5)   # pixels (0, 0) and (1, 0)
    >>> b.width, b.height, b.area
    (2.0, 1.0, 2.0)
    >>> b.pixel_range(640, 480)         # half-open (c0, r0, c1, r1)
    (0, 0, 2, 1)
    >>> Box.from_pixel_range(0, 0, 2, 1) == b
    True
    >>> x0, y0, x1, y1 = b; x1
    1.5
    >>> Box(0, 0, 10, 10).iou(Box(5, 0, 15, 10))
    0.3333333333333333
    """

    __slots__ = ()

    def __new__(cls, x0: float, y0: float, x1: float, y1: float) -> "Box":
        return super().__new__(cls, float(x0), float(y0), float(x1), float(y1))

    @classmethod
    def of(cls, box: Sequence[float]) -> "Box":
        """A Box from any 4 numbers ``(x0, y0, x1, y1)`` (tuple, list, array, Box)."""
        if isinstance(box, Box):
            return box
        v = np.asarray(box, dtype=np.float64).reshape(-1)
        if v.shape != (4,):
            raise ShapeError("box", "4 numbers (x0, y0, x1, y1)", v.shape)
        return cls(*v.tolist())

    @classmethod
    def from_pixel_range(cls, c0: int, r0: int, c1: int, r1: int) -> "Box":
        """The box of pixel columns ``c0 .. c1-1`` and rows ``r0 .. r1-1`` (half-open
        ranges): ``(c0 - 0.5, r0 - 0.5, c1 - 0.5, r1 - 0.5)``; inverse of :meth:`pixel_range`.

        >>> Box.from_pixel_range(2, 3, 5, 4)
        Box(x0=1.5, y0=2.5, x1=4.5, y1=3.5)
        """
        return cls(c0 - 0.5, r0 - 0.5, c1 - 0.5, r1 - 0.5)

    @classmethod
    def around_mask(cls, mask: np.ndarray, origin_px: tuple[int, int] = (0, 0)) -> "Box | None":
        """Tight box of the True pixels of a ``(h, w)`` mask whose element ``[0, 0]`` is
        image pixel ``origin_px`` (x, y); None when no pixel is set.

        >>> m = np.zeros((4, 5), bool); m[1:3, 2] = True
        >>> Box.around_mask(m)
        Box(x0=1.5, y0=0.5, x1=2.5, y1=2.5)
        >>> Box.around_mask(m, (10, 20)).pixel_range(640, 480)
        (12, 21, 13, 23)
        """
        ys, xs = np.nonzero(mask)
        if xs.size == 0:
            return None
        x, y = origin_px
        return cls(x + xs.min() - 0.5, y + ys.min() - 0.5, x + xs.max() + 0.5, y + ys.max() + 0.5)

    @classmethod
    def image(cls, width_px: int, height_px: int) -> "Box":
        """The whole ``width_px x height_px`` image: ``(-0.5, -0.5, W - 0.5, H - 0.5)``."""
        return cls(-0.5, -0.5, width_px - 0.5, height_px - 0.5)

    @property
    def width(self) -> float:
        return self.x1 - self.x0

    @property
    def height(self) -> float:
        return self.y1 - self.y0

    @property
    def area(self) -> float:
        """``width * height``; 0 for an empty box."""
        return max(0.0, self.x1 - self.x0) * max(0.0, self.y1 - self.y0)

    @property
    def center(self) -> tuple[float, float]:
        return (0.5 * (self.x0 + self.x1), 0.5 * (self.y0 + self.y1))

    @property
    def is_empty(self) -> bool:
        return not (self.x1 > self.x0 and self.y1 > self.y0)

    def contains(self, x: float, y: float) -> bool:
        """Whether point ``(x, y)`` lies inside the box or on its edge."""
        return self.x0 <= x <= self.x1 and self.y0 <= y <= self.y1

    def overlaps(self, other: Sequence[float]) -> bool:
        """Whether the two boxes share an area (touching edges do not)."""
        return self.x0 < other[2] and other[0] < self.x1 and self.y0 < other[3] and other[1] < self.y1

    def union(self, other: Sequence[float]) -> "Box":
        """The smallest box holding both."""
        return Box(min(self.x0, other[0]), min(self.y0, other[1]), max(self.x1, other[2]), max(self.y1, other[3]))

    def expanded(self, margin: float) -> "Box":
        """Grown by ``margin`` times its width (height) on the left and right (top and bottom).

        >>> Box(0, 0, 10, 20).expanded(0.1)
        Box(x0=-1.0, y0=-2.0, x1=11.0, y1=22.0)
        """
        mx, my = (self.x1 - self.x0) * margin, (self.y1 - self.y0) * margin
        return Box(self.x0 - mx, self.y0 - my, self.x1 + mx, self.y1 + my)

    def clipped(self, width_px: int, height_px: int) -> "Box":
        """Clipped to the image ``(-0.5, -0.5, W - 0.5, H - 0.5)`` (may become empty)."""
        def clip(v: float, hi: float) -> float:
            return min(max(v, -0.5), hi)

        return Box(clip(self.x0, width_px - 0.5), clip(self.y0, height_px - 0.5), clip(self.x1, width_px - 0.5), clip(self.y1, height_px - 0.5))

    def pixel_range(self, width_px: int, height_px: int) -> tuple[int, int, int, int]:
        """The pixels of the box as half-open index ranges ``(c0, r0, c1, r1)`` clipped to
        a ``width_px x height_px`` image: columns ``c0 <= c < c1`` and rows ``r0 <= r < r1``
        whose pixel lies wholly inside the box (1e-9 px of tolerance), so that
        ``image[r0:r1, c0:c1]`` is the box's crop. Empty (``c1 <= c0`` or ``r1 <= r0``) when
        no pixel fits.

        >>> Box(0.0, 0.0, 3.0, 1.5).pixel_range(10, 10)   # pixel 0 spans [-0.5, 0.5]: not inside
        (1, 1, 3, 2)
        >>> Box(-5, -5, 2.5, 0.4).pixel_range(10, 10)
        (0, 0, 3, 0)
        """
        c0, r0 = math.ceil(self.x0 + 0.5 - _PIXEL_EPS), math.ceil(self.y0 + 0.5 - _PIXEL_EPS)
        c1, r1 = math.floor(self.x1 + 0.5 + _PIXEL_EPS), math.floor(self.y1 + 0.5 + _PIXEL_EPS)
        return max(0, c0), max(0, r0), min(width_px, c1), min(height_px, r1)

    def iou(self, other: Sequence[float]) -> float:
        """Intersection over union with ``other`` (0 when the union is empty)."""
        return float(pairwise_iou([self], [other])[0, 0])

    def ioa(self, other: Sequence[float]) -> float:
        """Share of this box's area inside ``other`` (0 for an empty box)."""
        return float(pairwise_ioa([self], [other])[0, 0])


def boxes_array(boxes: "Sequence[Sequence[float]] | np.ndarray") -> Float[np.ndarray, "N 4"]:
    """Boxes (Box, 4-tuples or an array) as an ``(N, 4)`` float64 array ``x0, y0, x1, y1``."""
    arr = np.asarray(boxes, dtype=np.float64)
    if arr.size == 0:
        return arr.reshape(0, 4)
    if arr.ndim == 1 and arr.shape[0] == 4:
        arr = arr[None]
    if arr.ndim != 2 or arr.shape[1] != 4:
        raise ShapeError("boxes", "(N, 4) x0, y0, x1, y1", arr.shape)
    return arr


def _areas(b: np.ndarray) -> np.ndarray:
    return np.clip(b[:, 2] - b[:, 0], 0, None) * np.clip(b[:, 3] - b[:, 1], 0, None)


def pairwise_intersection(a, b) -> Float[np.ndarray, "N M"]:
    """Intersection areas ``(N, M)`` of boxes ``a`` (N) and ``b`` (M), pixel-edge convention."""
    a, b = boxes_array(a), boxes_array(b)
    ix = np.clip(np.minimum(a[:, None, 2], b[None, :, 2]) - np.maximum(a[:, None, 0], b[None, :, 0]), 0, None)
    iy = np.clip(np.minimum(a[:, None, 3], b[None, :, 3]) - np.maximum(a[:, None, 1], b[None, :, 1]), 0, None)
    return ix * iy


def pairwise_iou(a, b) -> Float[np.ndarray, "N M"]:
    """Intersection over union ``(N, M)`` of every box of ``a`` (N) with every box of ``b``
    (M); 0 where the union is empty. Boxes as Box, 4-tuples or ``(N, 4)`` arrays.

    >>> pairwise_iou([(0, 0, 10, 10)], [(0, 0, 10, 10), (5, 0, 15, 10), (20, 20, 30, 30)]).round(4)
    array([[1.    , 0.3333, 0.    ]])
    """
    a, b = boxes_array(a), boxes_array(b)
    inter = pairwise_intersection(a, b)
    union = _areas(a)[:, None] + _areas(b)[None, :] - inter
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(union > 0, inter / union, 0.0)


def pairwise_ioa(a, b) -> Float[np.ndarray, "N M"]:
    """Intersection over the area of ``a`` ``(N, M)``: the share of each box of ``a`` that
    lies inside each box of ``b`` (0 for an empty box of ``a``). Unlike IoU it is not
    symmetric.

    >>> pairwise_ioa([(0, 0, 10, 10)], [(5, 0, 15, 10), (-1, -1, 11, 11)])
    array([[0.5, 1. ]])
    """
    a, b = boxes_array(a), boxes_array(b)
    inter = pairwise_intersection(a, b)
    area = _areas(a)[:, None]
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(area > 0, inter / area, 0.0)


def nms(
    boxes, scores, iou_threshold: float, weighted: bool = False, attached: np.ndarray | None = None
) -> tuple[Float[np.ndarray, "K 4"], Float[np.ndarray, "K"], np.ndarray | None]:
    """Non-maximum suppression of ``(N, 4)`` boxes with ``(N,)`` scores.

    Boxes are taken by descending score (ties in input order); each takes, as its cluster,
    itself and every remaining box overlapping it by IoU > ``iou_threshold``. A cluster
    becomes its best box (``weighted=False``: greedy NMS, CenterFace's) or the score-weighted
    mean of its boxes, ``sum(score * box) / sum(score)`` in the scores' dtype, with the
    best score (``weighted=True``: mediapipe's weighted NMS, BlazeFace's and BlazePose's).
    ``attached`` (``(N, ...)``, e.g. keypoints) is kept or averaged alongside the boxes.

    Returns ``(boxes (K, 4), scores (K,), attached (K, ...) or None)``, best first.

    >>> b = np.array([[0, 0, 10, 10], [1, 0, 11, 10], [20, 0, 30, 10]], float)
    >>> nms(b, np.array([0.9, 0.8, 0.7]), 0.3)[0]
    array([[ 0.,  0., 10., 10.],
           [20.,  0., 30., 10.]])
    >>> nms(b, np.array([0.5, 0.5, 0.7]), 0.3, weighted=True)[0]
    array([[20. ,  0. , 30. , 10. ],
           [ 0.5,  0. , 10.5, 10. ]])
    """
    boxes = boxes_array(boxes)
    scores = np.asarray(scores).reshape(-1)
    if scores.shape[0] != boxes.shape[0] or (attached is not None and len(attached) != boxes.shape[0]):
        raise ShapeError("nms", f"{boxes.shape[0]} scores (and attached rows)", (scores.shape, None if attached is None else np.shape(attached)))
    clusters = []
    order = np.argsort(-scores, kind="stable")
    while order.size:
        ious = pairwise_iou(boxes[order[:1]], boxes[order])[0]
        members = order[(ious > iou_threshold) | (order == order[0])]
        clusters.append(members)
        order = order[~np.isin(order, members)]
    if not weighted:
        keep = np.array([c[0] for c in clusters], dtype=np.int64)
        return boxes[keep], scores[keep], (None if attached is None else np.asarray(attached)[keep])

    def mean(values: np.ndarray, c: np.ndarray) -> np.ndarray:
        w = scores[c].reshape(-1, *([1] * (values.ndim - 1)))
        return (values[c] * w).sum(0) / w.sum()

    out_boxes = np.array([mean(boxes, c) for c in clusters]).reshape(-1, 4)
    out_scores = np.array([scores[c[0]] for c in clusters], dtype=scores.dtype)
    out_att = None
    if attached is not None:
        att = np.asarray(attached)
        out_att = np.array([mean(att, c) for c in clusters]).reshape(-1, *att.shape[1:])
    return out_boxes, out_scores, out_att


@dataclass(frozen=True)
class Intrinsics:
    """A pinhole camera with Brown-Conrady (OpenCV rational) lens distortion."""

    K_px: Float[np.ndarray, "3 3"]
    """Camera matrix ``[[fx, 0, cx], [0, fy, cy], [0, 0, 1]]`` in pixels, float64; pixel
    (0, 0) is centred at integer coordinates."""
    distortion: Float[np.ndarray, "8"]
    """``k1, k2, p1, p2, k3, k4, k5, k6`` (OpenCV order), float64; zeros = no distortion."""
    width_px: int
    """Image width W in pixels."""
    height_px: int
    """Image height H in pixels."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "K_px", np.asarray(self.K_px, dtype=np.float64))
        dist = np.zeros(8) if self.distortion is None else np.asarray(self.distortion, dtype=np.float64).ravel()
        if dist.size < 8:  # 4 or 5 coefficients (k1 k2 p1 p2 [k3]) are common: pad with zeros
            dist = np.concatenate([dist, np.zeros(8 - dist.size)])
        object.__setattr__(self, "distortion", dist)
        _check("Intrinsics.K_px", self.K_px, (3, 3))
        _check("Intrinsics.distortion", self.distortion, (8,))
        if not (self.K_px[0, 0] > 0 and self.K_px[1, 1] > 0):
            raise ShapeError("Intrinsics.K_px", "positive focal lengths", self.K_px.tolist())
        if int(self.width_px) <= 0 or int(self.height_px) <= 0:
            raise ShapeError("Intrinsics size", "positive width and height", (self.width_px, self.height_px))
        object.__setattr__(self, "width_px", int(self.width_px))
        object.__setattr__(self, "height_px", int(self.height_px))

    @property
    def size_wh(self) -> tuple[int, int]:
        return (self.width_px, self.height_px)

    def scaled(self, sx: float, sy: float | None = None) -> "Intrinsics":
        """Intrinsics of the same camera with the image resized by (sx, sy)."""
        sy = sx if sy is None else sy
        K = self.K_px.copy()
        K[0, 0] *= sx
        K[1, 1] *= sy
        # pixel centres at integers: u' + 0.5 = s (u + 0.5)
        K[0, 2] = (K[0, 2] + 0.5) * sx - 0.5
        K[1, 2] = (K[1, 2] + 0.5) * sy - 0.5
        return Intrinsics(K, self.distortion, round(self.width_px * sx), round(self.height_px * sy))


@dataclass(frozen=True)
class Camera:
    """One calibrated camera: colour intrinsics, optional depth sensor, pose in the world.

    "cam" is the colour camera. Points map as ``p_world = world_from_cam @ p_cam``.
    """

    name: str
    """Unique camera name within a session (e.g. ``"cam0"``)."""
    color: Intrinsics
    """Colour camera intrinsics at the recorded colour resolution."""
    world_from_cam: Float[np.ndarray, "4 4"] = field(default_factory=lambda: np.eye(4))
    """Colour camera to world, rigid, metres, float64."""
    depth: Intrinsics | None = None
    """Depth sensor intrinsics, or None for an RGB-only camera."""
    cam_from_depth: Float[np.ndarray, "4 4"] | None = None
    """Depth sensor to colour camera, rigid, metres; required iff ``depth`` is given."""

    def __post_init__(self) -> None:
        if not self.name or "/" in self.name or "\\" in self.name or ".." in self.name:
            raise ShapeError("Camera.name", "a non-empty name without path separators", self.name)
        object.__setattr__(self, "world_from_cam", np.asarray(self.world_from_cam, dtype=np.float64))
        _check_rigid(f"Camera[{self.name}].world_from_cam", self.world_from_cam)
        if (self.depth is None) != (self.cam_from_depth is None):
            raise ShapeError(f"Camera[{self.name}]", "depth and cam_from_depth both given or both None", "one of them")
        if self.cam_from_depth is not None:
            object.__setattr__(self, "cam_from_depth", np.asarray(self.cam_from_depth, dtype=np.float64))
            _check_rigid(f"Camera[{self.name}].cam_from_depth", self.cam_from_depth)

    @property
    def has_depth(self) -> bool:
        return self.depth is not None

    @property
    def cam_from_world(self) -> Float[np.ndarray, "4 4"]:
        return np.linalg.inv(self.world_from_cam)

    @property
    def center_world_m(self) -> Float[np.ndarray, "3"]:
        return self.world_from_cam[:3, 3].copy()


@dataclass(frozen=True)
class View:
    """One camera's image at one instant, with depth registered to the colour image."""

    camera: str
    """Name of the Camera this view comes from."""
    rgb: UInt8[np.ndarray, "H W 3"]
    """Colour image, RGB, uint8."""
    timestamp_ns: int
    """Capture time of this view, ns since the session start."""
    depth_m: Float[np.ndarray, "H W"] | None = None
    """Depth registered to the colour pixels, float32 metres along +z of the colour
    camera, 0 = no measurement; None when the camera has no depth, or when it was not
    registered for this view (see ``depth_in_boxes``)."""
    depth_in_boxes: Callable[[Sequence[tuple[int, int, int, int]]], np.ndarray] | None = field(default=None, repr=False, compare=False)
    """When ``depth_m`` was not registered but the camera measured depth: registers it on
    demand, only inside colour boxes ``(x0, y0, x1, y1)`` (half-open pixel ranges). Returns
    ``(H, W)`` float32 metres equal to the whole registration inside the boxes (0 or the
    whole registration elsewhere). Set by the session reader; registering a few boxes costs
    a fraction of the whole image."""

    def __post_init__(self) -> None:
        _check(f"View[{self.camera}].rgb", self.rgb, (None, None, 3), np.uint8)
        if self.depth_m is not None:
            _check(f"View[{self.camera}].depth_m", self.depth_m, self.rgb.shape[:2], np.float32)


@dataclass(frozen=True)
class ViewFailure:
    """A camera that had a frame at this instant whose file could not be read (corrupt,
    truncated, wrong size or type): the view exists but cannot be anonymized, so the
    pipeline writes it obscured or withheld and names the file in the audit."""

    camera: str
    path: str
    """The file that failed (an image, or a ``.mkv`` recording)."""
    reason: str
    """What is wrong with it, one line."""
    size_wh: tuple[int, int]
    """The camera's colour size (what the written view measures)."""
    rgb: UInt8[np.ndarray, "H W 3"] | None = field(default=None, repr=False, compare=False)
    """The colour image when it was readable (a bad depth file), else None."""


@dataclass(frozen=True)
class FrameSet:
    """The views of all cameras captured at (about) one instant.

    A camera that missed this instant is simply absent from ``views``; a camera whose
    frame at this instant could not be read is in ``failed`` instead.
    """

    index: int
    """Frame-set index within the session, 0-based, consecutive."""
    timestamp_ns: int
    """Reference time of the frame-set (ns since session start)."""
    views: Mapping[str, View]
    """Camera name -> View, only for cameras present at this instant."""
    failed: Mapping[str, ViewFailure] = field(default_factory=dict)
    """Camera name -> why its frame at this instant could not be read (not in ``views``)."""

    def __post_init__(self) -> None:
        for name, view in self.views.items():
            if view.camera != name:
                raise ShapeError("FrameSet.views", f"view keyed by its camera name {name!r}", view.camera)


@dataclass(frozen=True)
class Keypoints2D:
    """2D human keypoints detected (or annotated) in one view."""

    camera: str
    keypoints_px: Float[np.ndarray, "P J 2"]
    """Keypoint positions in pixels, float32, COCO-17 order unless ``joint_names`` says otherwise."""
    confidence: Float[np.ndarray, "P J"]
    """Per keypoint confidence in [0, 1], float32; 0 = missing."""
    joint_names: tuple[str, ...] = COCO17

    def __post_init__(self) -> None:
        J = len(self.joint_names)
        _check(f"Keypoints2D[{self.camera}].keypoints_px", self.keypoints_px, (None, J, 2), np.floating)
        _check(f"Keypoints2D[{self.camera}].confidence", self.confidence, (self.keypoints_px.shape[0], J), np.floating)

    @property
    def n_persons(self) -> int:
        return int(self.keypoints_px.shape[0])


@dataclass(frozen=True)
class PoseCandidate:
    """One person's 3D skeleton at one frame-set, before tracking (``orscene.pose.fuse_poses``
    makes them, ``orscene.pose.track`` links them over time)."""

    joints_world_m: np.ndarray
    """(17, 3) float32, world frame, metres (COCO-17)."""
    confidence: np.ndarray
    """(17,) float32 in [0, 1]; 0 = not seen by two agreeing views."""
    cameras: tuple[str, ...]
    """Cameras whose 2D skeleton was assigned to this person."""
    score: float
    """Root-volume evidence (sum over views, about the number of supporting views)."""
    detection_index: tuple[int, ...] = ()
    """Per camera in ``cameras``: the index of the claimed person in its Keypoints2D."""

    def __post_init__(self) -> None:
        if np.shape(self.joints_world_m) != (17, 3) or np.shape(self.confidence) != (17,):
            raise ShapeError("PoseCandidate", "joints (17, 3) and confidence (17,)", (np.shape(self.joints_world_m), np.shape(self.confidence)))


@dataclass(frozen=True)
class PersonPose:
    """One tracked person's 3D skeleton at one frame-set."""

    track_id: int
    """Identity, stable over the session (>= 0)."""
    joints_world_m: Float[np.ndarray, "J 3"]
    """Joint positions in the world frame, metres, float32."""
    confidence: Float[np.ndarray, "J"]
    """Per joint confidence in [0, 1], float32."""
    settled: bool = True
    """False while the track is too young for the 3D path to vouch for it (fail closed)."""
    joint_names: tuple[str, ...] = COCO17

    def __post_init__(self) -> None:
        J = len(self.joint_names)
        _check(f"PersonPose[{self.track_id}].joints_world_m", self.joints_world_m, (J, 3), np.floating)
        _check(f"PersonPose[{self.track_id}].confidence", self.confidence, (J,), np.floating)


@dataclass(frozen=True)
class PersonTrack:
    """One person's 3D skeleton over time."""

    track_id: int
    frame_indices: Int[np.ndarray, "T"]
    """Frame-set indices covered by the track, increasing."""
    joints_world_m: Float[np.ndarray, "T J 3"]
    """Joint positions per frame, world frame, metres, float32."""
    confidence: Float[np.ndarray, "T J"]
    """Per frame and joint confidence in [0, 1]; 0 where interpolated across a gap."""
    joint_names: tuple[str, ...] = COCO17

    def __post_init__(self) -> None:
        J = len(self.joint_names)
        _check(f"PersonTrack[{self.track_id}].frame_indices", self.frame_indices, (None,), np.integer)
        T = self.frame_indices.shape[0]
        _check(f"PersonTrack[{self.track_id}].joints_world_m", self.joints_world_m, (T, J, 3), np.floating)
        _check(f"PersonTrack[{self.track_id}].confidence", self.confidence, (T, J), np.floating)

    def at(self, frame_index: int) -> PersonPose | None:
        """The pose at one frame-set, or None outside the track."""
        hit = np.nonzero(self.frame_indices == frame_index)[0]
        if hit.size == 0:
            return None
        i = int(hit[0])
        return PersonPose(self.track_id, self.joints_world_m[i], self.confidence[i], True, self.joint_names)


class HeadStatus(enum.Enum):
    """How a body fit's head pose was obtained (read by the fail-closed logic)."""

    ALIGNED = "aligned"
    """Registered to the point cloud (FilterReg then ICP) and accepted."""
    KEYPOINTS_ONLY = "keypoints_only"
    """Too few depth points around the head: pose from the skeleton fit alone."""
    REJECTED = "rejected"
    """Registration ran but its correction or residual was implausible: skeleton pose stands."""


@dataclass(frozen=True)
class HeadAlignment:
    """Diagnostics of one head alignment to the point cloud (``registration.align_heads``)."""

    n_points: int
    """Cloud points around the head that the registration used."""
    fitness: float = 0.0
    """ICP inlier share (0 when the registration did not run)."""
    rmse_m: float = 0.0
    """ICP inlier RMS distance, metres."""
    translation_m: float = 0.0
    """How far the correction moves the face centre, metres."""
    rotation_deg: float = 0.0
    """The correction's rotation angle, degrees."""


@dataclass(frozen=True)
class BodyFit:
    """A body model fitted to one person at one frame-set (head aligned when possible)."""

    track_id: int
    vertices_world_m: Float[np.ndarray, "V 3"]
    """Posed mesh vertices, world frame, metres, float32 (head alignment applied to the head)."""
    faces: Int[np.ndarray, "F 3"]
    """Triangle vertex indices, int32, counter-clockwise seen from outside."""
    joints_world_m: Float[np.ndarray, "17 3"]
    """COCO-17 joints regressed from the fitted mesh, world frame, metres."""
    head_vertex_ids: Int[np.ndarray, "Vh"]
    """Indices of the head's vertices (the part that head alignment moves)."""
    face_vertex_ids: Int[np.ndarray, "Vf"]
    """Indices of the face region's vertices (forehead to chin, cheek to cheek)."""
    world_from_head: Float[np.ndarray, "4 4"]
    """Head frame: origin at the face centre, +x the person's left, +y up, +z out of the
    face (gaze direction); float64."""
    head_status: HeadStatus
    fit_residual_m: float = 0.0
    """RMS distance between model and target keypoints (metres)."""
    alignment: HeadAlignment | None = None
    """The head alignment's diagnostics, kept whatever ``head_status`` it led to; None where
    no alignment ran (between keyframes a carried fit keeps its keyframe's)."""

    def __post_init__(self) -> None:
        _check(f"BodyFit[{self.track_id}].vertices_world_m", self.vertices_world_m, (None, 3), np.floating)
        _check(f"BodyFit[{self.track_id}].faces", self.faces, (None, 3), np.integer)
        _check(f"BodyFit[{self.track_id}].joints_world_m", self.joints_world_m, (17, 3), np.floating)
        _check(f"BodyFit[{self.track_id}].world_from_head", self.world_from_head, (4, 4), np.floating)


@dataclass(frozen=True)
class FaceMesh:
    """The textured face region of one person, ready to render into every view."""

    track_id: int
    vertices_world_m: Float[np.ndarray, "V 3"]
    """Face-region vertices, world frame, metres, float32."""
    faces: Int[np.ndarray, "F 3"]
    """Triangles over ``vertices_world_m``, int32."""
    uv: Float[np.ndarray, "V 2"]
    """Texture coordinates in [0, 1]: u from the person's right cheek (0) to left cheek (1),
    v from the chin (0) to the forehead (1), i.e. a frontal face image."""
    head_status: HeadStatus
    world_from_head: Float[np.ndarray, "4 4"]
    """Head frame of the BodyFit this mesh comes from."""

    def __post_init__(self) -> None:
        _check(f"FaceMesh[{self.track_id}].vertices_world_m", self.vertices_world_m, (None, 3), np.floating)
        _check(f"FaceMesh[{self.track_id}].faces", self.faces, (None, 3), np.integer)
        _check(f"FaceMesh[{self.track_id}].uv", self.uv, (self.vertices_world_m.shape[0], 2), np.floating)


class FaceSource(enum.Enum):
    """Which path anonymized (or would anonymize) a face in a view."""

    RENDER_3D = "render3d"
    """A face template rendered from the aligned 3D face mesh."""
    HEAD_2D = "head2d"
    """The head region projected from a 3D skeleton that the 3D path cannot vouch for."""
    HEAD_3D = "head3d"
    """The head sphere of a 3D head track (``orscene.heads``) that no tracked skeleton
    explains, projected and covered in 2D; its face box estimated from the head's position
    and face direction (or refined by a face detector's box)."""
    DETECTOR_2D = "detector2d"
    """A 2D face detector's box (CenterFace, BlazeFace)."""
    OBSCURED = "obscured"
    """The whole view was obscured because processing failed."""
    GROUND_TRUTH = "gt"
    """An annotation, not a prediction."""
    REVIEW = "review"
    """A region a reviewer added (``cli.py review --add-face``), carried to the views and frame-sets that see it."""


@dataclass(frozen=True)
class FacePatch:
    """A rendered face in one view: colour, coverage mask and depth over a small window."""

    camera: str
    track_id: int
    origin_px: tuple[int, int]
    """(x, y) image pixel of the patch's top-left element."""
    rgb: UInt8[np.ndarray, "h w 3"]
    """Rendered template colour, RGB uint8."""
    mask: Bool[np.ndarray, "h w"]
    """Pixels to replace: the rendered face (with margin) minus what is occluded."""
    depth_m: Float[np.ndarray, "h w"]
    """Rendered face depth along the camera's +z, metres, float32; 0 outside the face."""
    visible_fraction: float
    """Share of the rendered face's pixels not hidden by a nearer surface."""
    source: FaceSource = FaceSource.RENDER_3D

    def __post_init__(self) -> None:
        _check(f"FacePatch[{self.camera},{self.track_id}].rgb", self.rgb, (None, None, 3), np.uint8)
        _check(f"FacePatch[{self.camera},{self.track_id}].mask", self.mask, self.rgb.shape[:2], np.bool_)
        _check(f"FacePatch[{self.camera},{self.track_id}].depth_m", self.depth_m, self.rgb.shape[:2], np.floating)

    @property
    def box_xyxy_px(self) -> Box:
        """Tight box of the mask in image pixels (pixel-edge convention), or an empty box."""
        box = Box.around_mask(self.mask, self.origin_px)
        if box is None:
            x, y = self.origin_px
            return Box(x, y, x, y)
        return box


@dataclass(frozen=True)
class FaceBox:
    """One face in one view at one frame: an annotation or a prediction.

    This is the record of the project's face-annotation format (``orscene.recording.faces``).
    """

    frame: int
    """Frame-set index."""
    camera: str
    person: int
    """Person identity, consistent across cameras and time; -1 when unknown."""
    box_xyxy_px: Box
    """Face box (forehead to chin, cheek to cheek) in pixels, pixel-edge convention (any 4
    numbers are accepted and stored as a :class:`Box`, which is a tuple of 4 floats)."""
    score: float = 1.0
    """Detector confidence (1 for annotations)."""
    visible_fraction: float = 1.0
    """Share of the face that is not occluded in this view (annotations)."""
    ignore: bool = False
    """Too small or doubtful to count either way in evaluation."""
    source: FaceSource = FaceSource.GROUND_TRUTH

    def __post_init__(self) -> None:
        name = f"FaceBox[{self.frame},{self.camera},{self.person}].box_xyxy_px"
        try:
            box = Box.of(self.box_xyxy_px)
        except (ShapeError, TypeError, ValueError):
            raise ShapeError(name, "4 numbers x0, y0, x1, y1", self.box_xyxy_px) from None
        if not (box.x0 <= box.x1 and box.y0 <= box.y1) or not np.all(np.isfinite(box)):
            raise ShapeError(name, "x0<=x1, y0<=y1, finite", tuple(box))
        object.__setattr__(self, "box_xyxy_px", box)

    @property
    def area_px(self) -> float:
        return self.box_xyxy_px.area


@dataclass(frozen=True)
class PointCloud:
    """Fused points in the world frame (from the depth of all RGB-D cameras)."""

    points_world_m: Float[np.ndarray, "N 3"]
    """Point positions, world frame, metres, float32."""
    colors: UInt8[np.ndarray, "N 3"] | None = None
    """RGB colour per point, or None."""
    normals: Float[np.ndarray, "N 3"] | None = None
    """Unit normals per point, or None."""

    def __post_init__(self) -> None:
        _check("PointCloud.points_world_m", self.points_world_m, (None, 3), np.floating)
        n = self.points_world_m.shape[0]
        if self.colors is not None:
            _check("PointCloud.colors", self.colors, (n, 3), np.uint8)
        if self.normals is not None:
            _check("PointCloud.normals", self.normals, (n, 3), np.floating)

    def __len__(self) -> int:
        return int(self.points_world_m.shape[0])


class HeadSource(enum.Flag):
    """Which kind of evidence found a head (``orscene.heads``); flags combine in a track."""

    NONE = 0
    LIFTED_FACE = enum.auto()
    """A 2D face box lifted to 3D (registered depth in the box, or triangulated across views)."""
    DEPTH = enum.auto()
    """The top of a person's column among the depth foreground of all depth cameras."""
    KEYPOINTS = enum.auto()
    """The face keypoints (nose, eyes, ears) of a fused 3D skeleton."""


@dataclass(frozen=True)
class HeadObservation:
    """One piece of evidence for a head at one frame-set, before association."""

    center_world_m: Float[np.ndarray, "3"]
    """Estimated head centre, world frame, metres, float64."""
    source: HeadSource
    """Exactly one kind of evidence."""
    cameras: tuple[str, ...]
    """Cameras whose data produced it (the views of a lifted face, the depth cameras whose
    foreground holds the head)."""
    score: float
    """Confidence in [0, 1]."""
    face_direction_world: Float[np.ndarray, "3"] | None = None
    """Unit vector out of the face (world frame), or None when this evidence says nothing about it."""
    face_world_m: Float[np.ndarray, "3"] | None = None
    """The 3D face point it was lifted from (face sources), world metres, or None."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "center_world_m", np.asarray(self.center_world_m, dtype=np.float64))
        _check("HeadObservation.center_world_m", self.center_world_m, (3,), np.floating)
        if not np.all(np.isfinite(self.center_world_m)):
            raise ShapeError("HeadObservation.center_world_m", "finite", self.center_world_m.tolist())
        if self.source not in (HeadSource.LIFTED_FACE, HeadSource.DEPTH, HeadSource.KEYPOINTS):
            raise ShapeError("HeadObservation.source", "exactly one HeadSource", self.source)
        if self.face_direction_world is not None:
            d = np.asarray(self.face_direction_world, dtype=np.float64)
            _check("HeadObservation.face_direction_world", d, (3,), np.floating)
            n = float(np.linalg.norm(d))
            if not np.isfinite(n) or n < 1e-9:
                raise ShapeError("HeadObservation.face_direction_world", "a non-zero finite vector", d.tolist())
            object.__setattr__(self, "face_direction_world", d / n)
        if self.face_world_m is not None:
            object.__setattr__(self, "face_world_m", np.asarray(self.face_world_m, dtype=np.float64))
            _check("HeadObservation.face_world_m", self.face_world_m, (3,), np.floating)


@dataclass(frozen=True)
class HeadTrack:
    """One person's head over time, fused from every source of evidence (``orscene.heads``).

    A track never spans a gap longer than the tracker's bound: nothing is interpolated, a
    frame-set without evidence is simply absent from ``frame_indices``.
    """

    track_id: int
    """Identity, stable over the session (>= 0)."""
    frame_indices: Int[np.ndarray, "T"]
    """Frame-set indices covered by the track, strictly increasing, int64."""
    timestamps_ns: Int[np.ndarray, "T"]
    """``FrameSet.timestamp_ns`` of each covered frame-set, int64."""
    center_world_m: Float[np.ndarray, "T 3"]
    """Head centre per frame-set, world frame, metres, float64."""
    face_direction_world: Float[np.ndarray, "T 3"]
    """Unit vector out of the face, world frame; NaN where unknown (then ``faces_every_camera``)."""
    face_direction_std_rad: Float[np.ndarray, "T"]
    """Angular uncertainty of ``face_direction_world``, radians; ``pi`` where unknown."""
    faces_every_camera: Bool[np.ndarray, "T"]
    """True where the face direction is too uncertain: treat the head as facing every camera."""
    radius_m: Float[np.ndarray, "T"]
    """Head radius, metres (a sphere holding the head)."""
    sources: tuple[HeadSource, ...]
    """Per frame-set: the kinds of evidence that supported the head (flags combined)."""

    def __post_init__(self) -> None:
        for name in ("frame_indices", "timestamps_ns"):
            object.__setattr__(self, name, np.asarray(getattr(self, name), dtype=np.int64))
        T = self.frame_indices.shape[0]
        _check(f"HeadTrack[{self.track_id}].frame_indices", self.frame_indices, (T,), np.integer)
        _check(f"HeadTrack[{self.track_id}].timestamps_ns", self.timestamps_ns, (T,), np.integer)
        _check(f"HeadTrack[{self.track_id}].center_world_m", self.center_world_m, (T, 3), np.floating)
        _check(f"HeadTrack[{self.track_id}].face_direction_world", self.face_direction_world, (T, 3), np.floating)
        _check(f"HeadTrack[{self.track_id}].face_direction_std_rad", self.face_direction_std_rad, (T,), np.floating)
        _check(f"HeadTrack[{self.track_id}].faces_every_camera", self.faces_every_camera, (T,), np.bool_)
        _check(f"HeadTrack[{self.track_id}].radius_m", self.radius_m, (T,), np.floating)
        if len(self.sources) != T:
            raise ShapeError(f"HeadTrack[{self.track_id}].sources", f"{T} entries", len(self.sources))
        if T > 1 and not np.all(np.diff(self.frame_indices) > 0):
            raise ShapeError(f"HeadTrack[{self.track_id}].frame_indices", "strictly increasing", self.frame_indices.tolist())

    def __len__(self) -> int:
        return int(self.frame_indices.shape[0])

    def index_of(self, frame_index: int) -> int | None:
        """Row of ``frame_index`` in the track's arrays, or None outside the track."""
        hit = np.nonzero(self.frame_indices == frame_index)[0]
        return None if hit.size == 0 else int(hit[0])
