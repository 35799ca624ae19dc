"""The face template catalogue and the per-person template choice.

The catalogue (``templates/catalog.yaml``, written by :mod:`orscene.render.template_gen`)
lists each template's id, PNG file and attributes. A person's template is a pure function
of the track id, the configured candidates and ``RenderConfig.template_salt``: a hash, so
the choice is stable over a session and across processes.
"""

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import yaml
from jaxtyping import UInt8

from orscene.errors import ConfigError
from orscene.render.config import RenderConfig

__all__ = ["FaceTemplate", "TemplateSet", "default_catalog_path", "load_templates", "choose_template"]


@dataclass(frozen=True)
class FaceTemplate:
    """One face texture in FaceMesh UV space (row 0 = forehead, column 0 = right cheek)."""

    id: str
    rgb: UInt8[np.ndarray, "S S 3"]
    """Texture, RGB uint8."""
    attributes: Mapping[str, object]
    """Catalogue attributes (skin_tone, age, sex, masked, cap, glasses)."""


@dataclass(frozen=True)
class TemplateSet:
    """The templates a run may choose from (already filtered by the config), sorted by id."""

    templates: tuple[FaceTemplate, ...]
    licence: str
    catalog_path: Path

    def __post_init__(self) -> None:
        if not self.templates:
            raise ConfigError("no face template matches the configured ids/attributes", self.catalog_path)

    def by_id(self, template_id: str) -> FaceTemplate:
        for t in self.templates:
            if t.id == template_id:
                return t
        raise ConfigError(f"no face template with id {template_id!r}", self.catalog_path)

    @property
    def ids(self) -> tuple[str, ...]:
        return tuple(t.id for t in self.templates)


def default_catalog_path() -> Path:
    """``templates/catalog.yaml`` of this checkout."""
    return Path(__file__).resolve().parents[2] / "templates" / "catalog.yaml"


def _matches(attributes: Mapping[str, object], requirement: str) -> bool:
    req = requirement.strip()
    if "=" in req:
        key, value = (s.strip() for s in req.split("=", 1))
        return str(attributes.get(key)).lower() == value.lower()
    if req.startswith("!"):
        return not bool(attributes.get(req[1:]))
    return bool(attributes.get(req))


def load_templates(catalog_path: str | Path, cfg: RenderConfig) -> TemplateSet:
    """Read the catalogue and the template images, keeping those ``cfg`` allows.

    Raises ConfigError for a malformed catalogue, a missing or unreadable image, an unknown
    id in ``cfg.template_ids``, or when no template is left.
    """
    path = Path(catalog_path)
    try:
        catalog = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as e:
        raise ConfigError(f"cannot read the face template catalogue: {e}", path) from e
    if not isinstance(catalog, dict) or not isinstance(catalog.get("templates"), list) or "licence" not in catalog:
        raise ConfigError("face template catalogue needs 'licence' and a 'templates' list", path)
    entries = {}
    for e in catalog["templates"]:
        if not isinstance(e, dict) or not {"id", "file", "attributes"} <= e.keys():
            raise ConfigError(f"template entry needs id, file and attributes: {e!r}", path)
        entries[str(e["id"])] = e
    unknown = [i for i in cfg.template_ids if i not in entries]
    if unknown:
        raise ConfigError(f"unknown face template id(s) {unknown}; known: {sorted(entries)}", path)
    wanted = [entries[i] for i in cfg.template_ids] if cfg.template_ids else list(entries.values())
    wanted = [e for e in wanted if all(_matches(e["attributes"], r) for r in cfg.template_attributes)]
    templates = []
    for e in sorted(wanted, key=lambda e: str(e["id"])):
        img_path = path.parent / str(e["file"])
        bgr = cv2.imread(str(img_path), cv2.IMREAD_COLOR)
        if bgr is None:
            raise ConfigError("face template image missing or unreadable", img_path)
        if bgr.shape[0] != bgr.shape[1]:
            raise ConfigError(f"face template image must be square, got {bgr.shape[1]}x{bgr.shape[0]}", img_path)
        rgb = np.ascontiguousarray(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))
        templates.append(FaceTemplate(str(e["id"]), rgb, dict(e["attributes"])))
    return TemplateSet(tuple(templates), str(catalog["licence"]), path)


def choose_template(templates: TemplateSet, track_id: int, cfg: RenderConfig) -> FaceTemplate:
    """The template of one person: ``blake2b(salt:track_id) mod n`` over the sorted candidates."""
    digest = hashlib.blake2b(f"{cfg.template_salt}:{int(track_id)}".encode(), digest_size=8).digest()
    return templates.templates[int.from_bytes(digest, "little") % len(templates.templates)]
