"""orscene.synth: synthetic multi-view RGB-D operating-room sessions with exact ground truth.

``generate_session(SynthConfig(session=..., recordings=...))`` writes a session in the
project's format (``cli.py synth``); ``load_groundtruth`` reads its ground truth;
``anny_face_vertex_ids`` is the face-region definition shared with the body fit.
The ChArUco board renderer (``orscene.synth.board``) is imported on its own.
"""

from orscene.synth.face_region import anny_face_vertex_ids
from orscene.synth.generate import Scenario, SynthConfig, generate_session, run_synth
from orscene.synth.groundtruth import SessionGroundTruth, load_groundtruth

__all__ = [
    "Scenario",
    "SynthConfig",
    "generate_session",
    "run_synth",
    "SessionGroundTruth",
    "load_groundtruth",
    "anny_face_vertex_ids",
]
