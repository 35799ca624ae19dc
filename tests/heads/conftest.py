"""One small synthetic session for the head-stage tests: hard scenario (caps, masks, lamps),
4 RGB-D cameras at 640x360, 4 frame-sets at 5 fps, fixed seed."""

from dataclasses import dataclass

import numpy as np
import pytest

from orscene.synth.generate import Scenario, SynthConfig, generate_session


@dataclass
class Session:
    path: object
    reader: object
    cameras: dict
    gt: object
    faces: object
    framesets: list

    def staff_heads(self, t: int) -> np.ndarray:
        """(P, 3) true head centres of the staff present at frame-set t."""
        P = np.nonzero(self.gt.present[t] & self.gt.staff_mask())[0]
        return self.gt.head_centers()[t, P]


@pytest.fixture(scope="session")
def heads_session(tmp_path_factory) -> Session:
    from orscene.recording import load_faces, open_session
    from orscene.synth import load_groundtruth

    root = tmp_path_factory.mktemp("heads_rec")
    cfg = SynthConfig(session="HEADS", recordings=root, scenario=Scenario.HARD, seconds=0.8, fps=5, seed=3, cameras=4, width=640, height=360)
    path = generate_session(cfg)
    reader = open_session(path)
    framesets = list(reader.framesets())
    return Session(path, reader, dict(reader.calibration.cameras), load_groundtruth(path), load_faces(path / "annotations" / "faces.json"), framesets)

