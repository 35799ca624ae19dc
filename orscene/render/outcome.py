"""What :func:`orscene.render.render_faces` made of each face in one view: the types only
(no GL), so that the pipeline's decision can read them without loading the renderer."""

import enum
from dataclasses import dataclass

import numpy as np

from orscene.types import FacePatch

__all__ = ["RenderStatus", "RenderOutcome", "RenderedFaces", "RenderedFacePatch"]


@dataclass(frozen=True)
class RenderedFacePatch(FacePatch):
    """A FacePatch from :func:`render_faces`, with where its surroundings may anchor blending."""

    anchor: np.ndarray | None = None
    """Bool ``(h, w)``: pixels outside the mask whose image colours may set the blended face's
    colour at the mask border (at about the face's depth, or of unknown depth); False on
    occluders and background. None = all."""
    depth_doubt: str = ""
    """Why the view's depth was overruled for this face (it implied an occluder that is not
    consistent, and the face is drawn whole), or empty."""


class RenderStatus(enum.Enum):
    """What :func:`render_faces` made of one face in one view."""

    RENDERED = "rendered"
    """Drawn: a patch (its share hidden by nearer surfaces cut out)."""
    TURNED_AWAY = "turned_away"
    """The face's axis points more than ``max_view_angle_deg`` away from the camera."""
    OUT_OF_VIEW = "out_of_view"
    """Behind the camera, beyond the lens model's field or outside the image: nothing drawn."""
    HIDDEN = "hidden"
    """Its visible share of the rendered pixels is below ``min_visible_fraction``."""


@dataclass(frozen=True)
class RenderOutcome:
    """Why :func:`render_faces` drew one face or not, in one view."""

    track_id: int
    status: RenderStatus
    reason: str = ""
    """The detail, in words (e.g. the visible share of a hidden face)."""
    visible_fraction: float = 0.0
    """Share of the rendered face's pixels not hidden (0 when nothing was rasterized)."""
    depth_doubt: str = ""
    """Why the view's depth was overruled for this face (drawn whole), or empty."""


@dataclass(frozen=True)
class RenderedFaces:
    """:func:`render_faces`' answer for one view."""

    patches: tuple["RenderedFacePatch", ...]
    """One patch per face drawn (``RenderStatus.RENDERED``), in the order of the faces."""
    outcomes: tuple[RenderOutcome, ...]
    """One per face given, in their order."""
