"""Contact sheet of a frame-set: every view with its face boxes and person ids drawn."""

from collections.abc import Mapping, Sequence

import cv2
import numpy as np

from orscene.types import FaceBox

__all__ = ["contact_sheet", "person_color"]


def person_color(person_id: int) -> tuple[int, int, int]:
    """A distinct RGB colour per person id."""
    hue = (person_id * 47) % 180
    hsv = np.uint8([[[hue, 220, 255]]])
    return tuple(int(c) for c in cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB)[0, 0])


def contact_sheet(images: Mapping[str, np.ndarray], faces: Sequence[FaceBox], title: str = "", columns: int = 2,
                  max_width: int = 2560) -> np.ndarray:  # fmt: skip
    """Tile the views (RGB uint8) in a grid with boxes (dashed grey when ``ignore``)."""
    names = list(images)
    tiles = []
    for name in names:
        img = np.ascontiguousarray(images[name]).copy()
        H, W = img.shape[:2]
        th = max(1, round(H / 360))
        for f in faces:
            if f.camera != name:
                continue
            x0, y0, x1, y1 = (int(round(v)) for v in f.box_xyxy_px)
            col = (160, 160, 160) if f.ignore else person_color(f.person)
            cv2.rectangle(img, (x0, y0), (x1, y1), col, th)
            label = f"{f.person}" + (" ign" if f.ignore else f" {f.visible_fraction:.2f}")
            cv2.putText(img, label, (x0, max(12, y0 - 4)), cv2.FONT_HERSHEY_SIMPLEX, 0.45 * th, col, th, cv2.LINE_AA)
        cv2.putText(img, name, (8, 8 + 22 * th), cv2.FONT_HERSHEY_SIMPLEX, 0.7 * th, (255, 255, 255), 2 * th, cv2.LINE_AA)
        tiles.append(img)
    h = max(t.shape[0] for t in tiles)
    w = max(t.shape[1] for t in tiles)
    tiles = [cv2.copyMakeBorder(t, 0, h - t.shape[0], 0, w - t.shape[1], cv2.BORDER_CONSTANT, value=0) for t in tiles]
    cols = min(columns, len(tiles))
    rows = -(-len(tiles) // cols)
    tiles += [np.zeros_like(tiles[0])] * (rows * cols - len(tiles))
    sheet = np.concatenate([np.concatenate(tiles[r * cols:(r + 1) * cols], axis=1) for r in range(rows)], axis=0)
    if sheet.shape[1] > max_width:
        s = max_width / sheet.shape[1]
        sheet = cv2.resize(sheet, (max_width, round(sheet.shape[0] * s)), interpolation=cv2.INTER_AREA)
    if title:
        cv2.putText(sheet, title, (8, sheet.shape[0] - 10), cv2.FONT_HERSHEY_SIMPLEX, 0.6, (255, 255, 0), 1, cv2.LINE_AA)
    return sheet
