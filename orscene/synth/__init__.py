"""orscene.synth: synthetic multi-view RGB-D operating-room sessions with exact ground truth.

``generate_session(SynthConfig(session=..., recordings=...))`` writes a session in the
project's format (``cli.py synth``); ``load_groundtruth`` reads its ground truth. The people are ``orscene.body``'s anny model,
whose face region (``orscene.body.face_region``) the ground truth's face boxes use.
The ChArUco board renderer (``orscene.synth.board``) is imported on its own.
"""

from orscene.synth.generate import Scenario, SynthConfig, generate_session, run_synth
from orscene.synth.groundtruth import SessionGroundTruth, load_groundtruth

__all__ = [
    "Scenario",
    "SynthConfig",
    "generate_session",
    "run_synth",
    "SessionGroundTruth",
    "load_groundtruth",
]
