"""The 2D baselines on real photos: recall, precision, leaks and time per image.

    python -m benchmarks.face_detectors [--tile-px 640]

Scores CenterFace and BlazeFace full-range (per image, native input, default thresholds;
blur of their boxes grown by 15 %) against voc_faces (dlib imglab, 43 faces) and CMU
Panoptic ``faces_gt.json`` (18 faces + 4 ignore regions, 10 views of 1920x1080), with
``orscene.evaluate`` at IoU 0.4. Data from ``$ORSCENE_SHARED_DATA`` or ``../shared/data``.
"""

import argparse
import logging
import os
from pathlib import Path

from orscene.anonymize2d import Anonymize2DConfig, FaceDetectorConfig, FaceDetectorKind, load_face_detector
from orscene.evaluate.baselines import run_baseline
from orscene.evaluate.run import _read_rgb, format_table, load_annotations


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tile-px", type=int, default=0, help="also run on overlapping tiles of this size (0 = baseline)")
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    logging.basicConfig(level=logging.WARNING)
    data = Path(os.environ.get("ORSCENE_SHARED_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))
    sets = {
        "voc_faces/training.xml": data / "voc_faces" / "training.xml",
        "voc_faces/testing.xml": data / "voc_faces" / "testing.xml",
        "panoptic/faces_gt.json": data / "panoptic" / "faces_gt.json",
    }
    dets = {k.value: load_face_detector(FaceDetectorConfig(name=k, tile_px=args.tile_px, num_threads=args.threads)) for k in FaceDetectorKind}
    for name, path in sets.items():
        ann, files = load_annotations(path)
        results, times = {}, {}
        for kind, det in dets.items():
            run = run_baseline(det, ann, lambda f, c: _read_rgb(files[(f, c)]) if (f, c) in files else None, anonymize_cfg=Anonymize2DConfig(margin=0.15))
            results[kind], times[kind] = run.result, run.seconds_per_view
        print(format_table(results, title=f"{name} (tile_px={args.tile_px})"))
        print("time per image: " + ", ".join(f"{k} {1000 * t:.0f} ms" for k, t in times.items()) + "\n")


if __name__ == "__main__":
    main()
