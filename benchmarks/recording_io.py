"""Speed of recordings I/O on the real Azure Kinect recording.

    python -m benchmarks.recording_io [--repeat 30] [--data ../shared/data]

Times (median and best of ``--repeat`` runs): depth-to-colour registration
640x576 -> 1280x720 (with the per-camera precomputation done once), its parts, one
capture's decoding (MJPEG colour + b16g depth), and MP4 encoding of 720p frames.
"""

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

from orscene.geometry.depth_registration import DepthRegistrationConfig, prepare_depth_registration, register_depth_to_color
from orscene.recording.mkv import MkvReader
from orscene.recording.writers import write_mp4


def _median_ms(fn, repeat: int) -> str:
    """Median wall-clock and CPU (process) time; on a shared, loaded machine the CPU time is
    the better estimate of the unloaded wall-clock time."""
    fn()
    wall, cpu = [], []
    for _ in range(repeat):
        t, c = time.perf_counter(), time.process_time()
        fn()
        wall.append(time.perf_counter() - t)
        cpu.append(time.process_time() - c)
    return (
        f"median {1000 * statistics.median(wall):.1f} ms wall / {1000 * statistics.median(cpu):.1f} ms CPU, "
        f"best {1000 * min(wall):.1f} ms wall"
    )


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=30)
    ap.add_argument("--data", type=Path, default=Path(os.environ.get("ORSCENE_SHARED_DATA", "../shared/data")))
    args = ap.parse_args()
    mkv = MkvReader(args.data / "azure_kinect" / "recording.mkv")
    frame = mkv.read(0)
    t = time.perf_counter()
    reg = prepare_depth_registration(mkv.camera)
    prep_ms = 1000 * (time.perf_counter() - t)
    print(f"precompute per camera (rays of 640x576 depth pixels): {prep_ms:.1f} ms (once)")
    full = _median_ms(lambda: register_depth_to_color(frame.depth_mm, reg), args.repeat)
    nofill = _median_ms(lambda: register_depth_to_color(frame.depth_mm, reg, DepthRegistrationConfig(fill_gaps=False)), args.repeat)
    one = _median_ms(
        lambda: register_depth_to_color(frame.depth_mm, reg, DepthRegistrationConfig(splat_2x2=False, fill_gaps=False)), args.repeat
    )
    print(f"register depth 640x576 -> colour 1280x720: {full} (2x2 splat + gap fill)")
    print(f"  without gap fill: {nofill}; nearest-pixel splat, no fill: {one}")
    dec = _median_ms(lambda: mkv.read(0), max(3, args.repeat // 3))
    print(f"decode one capture (open + seek + MJPEG 1280x720 + depth): {dec}")
    rgb = frame.rgb
    with tempfile.TemporaryDirectory() as d:
        n = 30
        t = time.perf_counter()
        write_mp4(Path(d) / "b.mp4", ((rgb, int(k * 1e9 / 30)) for k in range(n)), fps=30)
        print(f"MP4 (H.264) encode 1280x720: {1000 * (time.perf_counter() - t) / n:.1f} ms/frame")
    print(f"numpy {np.__version__}, cpu count {os.cpu_count()}, load average {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
