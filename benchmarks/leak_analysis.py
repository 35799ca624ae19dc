"""Break down the leaks of an evaluation: by camera, coverage and the face's visible size.

    python -m benchmarks.leak_analysis benchmarks/.cache/BENCH_hard_10s.eval.json

A leak is an annotated face less than 90 % covered by the anonymization mask. For each one
this prints how much of it was covered (0 = missed outright, else partly covered), its box
size in pixels and its visible fraction, so that every remaining miss can be explained.
"""

import json
import sys
from collections import Counter

from orscene.recording.faces import load_faces


def main(argv: list[str] | None = None) -> int:
    path = (argv or sys.argv[1:])[0]
    ev = json.loads(open(path).read())
    ann = load_faces(ev["annotations"])
    boxes = {(f.frame, f.camera, f.person): f for f in ann.faces}
    leaks = ev["leaks"]
    print(f"{len(leaks)} leaks of {ev['n_faces']} faces ({ev['leak_rate']:.3f}); {ev['framesets_with_leak']} frame-sets with a leak")
    by_cam = Counter(c for _, c, _, _ in leaks)
    print("by camera:", dict(sorted(by_cam.items())))
    buckets = Counter()
    sizes = Counter()
    vis = Counter()
    for frame, cam, person, cov in leaks:
        buckets["missed (coverage < 0.1)" if cov < 0.1 else "partly covered (0.1-0.5)" if cov < 0.5 else "mostly covered (0.5-0.9)"] += 1
        f = boxes.get((frame, cam, person))
        if f is not None:
            side = max(f.box_xyxy_px[2] - f.box_xyxy_px[0], f.box_xyxy_px[3] - f.box_xyxy_px[1])
            sizes["< 16 px" if side < 16 else "16-32 px" if side < 32 else ">= 32 px"] += 1
            vis["visible < 0.5" if f.visible_fraction < 0.5 else "visible >= 0.5"] += 1
    print("coverage:", dict(buckets))
    print("face box size:", dict(sizes))
    print("visible fraction:", dict(vis))
    persons = Counter(p for _, _, p, _ in leaks)
    print("by person:", dict(sorted(persons.items())))
    return 0


if __name__ == "__main__":
    sys.exit(main())
