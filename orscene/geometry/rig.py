"""One session's cameras and what their calibration implies, built once and passed in.

A :class:`CameraRig` holds the calibrated :class:`~orscene.types.Camera` s of a session
and, built on first use and kept for the rig's life, each image's
:class:`~orscene.geometry.camera.LensField` (per-pixel rays, ray extent, lens validity),
each RGB-D camera's :class:`~orscene.geometry.depth_registration.DepthRegistration`, and
values a later stage derives from the cameras alone (``derived``: the pose fusion's root
grid). The pipeline builds one per session and worker and hands it to the reader and the
stages; a stage given plain cameras builds what it needs for the call.

It is a ``Mapping[str, Camera]``, so it goes wherever the cameras went::

    rig = CameraRig(reader.calibration.cameras)
    rig["cam0"]                  # the Camera
    rig.lens("cam0").valid(xy)   # the lens-validity rule of its colour image
"""

from collections.abc import Callable, Iterator, Mapping
from typing import Literal, TypeVar

import numpy as np

from orscene.geometry.camera import LensField
from orscene.geometry.depth_registration import DepthRegistration, prepare_depth_registration
from orscene.types import Camera

__all__ = ["CameraRig", "rig_of"]

T = TypeVar("T")


class _Tables:
    """The lazily built tables of one camera (shared by a rig and its subsets)."""

    def __init__(self, camera: Camera) -> None:
        self.camera = camera
        self.color = LensField(camera.color)
        self.depth = LensField(camera.depth) if camera.depth is not None else None
        self.registration: DepthRegistration | None = None


class CameraRig(Mapping[str, Camera]):
    """A session's cameras by name, with their lens tables and depth registrations."""

    def __init__(self, cameras: Mapping[str, Camera], *, _tables: dict[str, _Tables] | None = None, _derived: dict | None = None) -> None:
        shared = _tables or {}
        self._tables = {n: shared[n] if n in shared and shared[n].camera is c else _Tables(c) for n, c in cameras.items()}
        self._derived: dict = {} if _derived is None else _derived

    # -- Mapping[str, Camera] --------------------------------------------------------------
    def __getitem__(self, name: str) -> Camera:
        return self._tables[name].camera

    def __iter__(self) -> Iterator[str]:
        return iter(self._tables)

    def __len__(self) -> int:
        return len(self._tables)

    def __repr__(self) -> str:
        return f"CameraRig({sorted(self._tables)})"

    # -- what the calibration implies ------------------------------------------------------
    def lens(self, name: str, sensor: Literal["color", "depth"] = "color") -> LensField:
        """The :class:`LensField` of a camera's colour image (or of its depth sensor)."""
        t = self._tables[name]
        lens = t.color if sensor == "color" else t.depth
        if lens is None:
            raise KeyError(f"camera {name!r} has no depth sensor")
        return lens

    def registration(self, name: str) -> DepthRegistration:
        """The camera's depth-to-colour registration (an RGB-D camera), built on first use."""
        t = self._tables[name]
        if t.registration is None:
            t.registration = prepare_depth_registration(t.camera, self.lens(name, "depth") if t.camera.depth is not None else None)
        return t.registration

    def derived(self, key: tuple, build: Callable[[], T]) -> T:
        """``build()``, once per ``key`` for this rig and its subsets: a value that depends
        only on these cameras and the fields of a config named in ``key`` (the caller's
        module name first, so that stages cannot collide)."""
        if key not in self._derived:
            self._derived[key] = build()
        return self._derived[key]

    def subset(self, names) -> "CameraRig":
        """The rig of the cameras ``names`` (in that order), sharing this rig's tables."""
        return CameraRig({n: self[n] for n in names}, _tables=self._tables, _derived=self._derived)

    def holds(self, cameras: Mapping[str, Camera]) -> bool:
        """Whether this rig has exactly these cameras (same names, same calibration objects
        or equal ones), so that its tables are theirs."""
        return set(cameras) == set(self._tables) and all(_same_camera(self[n], c) for n, c in cameras.items())


def _same_camera(a: Camera, b: Camera) -> bool:
    if a is b:
        return True

    def intr_eq(x, y) -> bool:
        if x is None or y is None:
            return x is y
        return x.size_wh == y.size_wh and np.array_equal(x.K_px, y.K_px) and np.array_equal(x.distortion, y.distortion)

    same_extr = np.array_equal(a.world_from_cam, b.world_from_cam) and (
        (a.cam_from_depth is None and b.cam_from_depth is None)
        or (a.cam_from_depth is not None and b.cam_from_depth is not None and np.array_equal(a.cam_from_depth, b.cam_from_depth))
    )
    return a.name == b.name and intr_eq(a.color, b.color) and intr_eq(a.depth, b.depth) and same_extr


def rig_of(cameras: Mapping[str, Camera]) -> CameraRig:
    """``cameras`` itself when it is a rig, else a rig of them for the call."""
    return cameras if isinstance(cameras, CameraRig) else CameraRig(cameras)
