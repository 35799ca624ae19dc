"""Dataset curation, after :mod:`orscene.evaluate` in the data flow: a QA report of a
finished run (:mod:`~orscene.curate.report`), review decisions that fix a missed face in
every view at once (:mod:`~orscene.curate.review`), and a release package
(:mod:`~orscene.curate.release`). Reads what ``cli.py process`` wrote; may import the
earlier stages.
"""

from orscene.curate.export import coco_faces, wider_face_text
from orscene.curate.state import CurateError, load_review_log, load_run_outputs, unresolved_frames

__all__ = ["CurateError", "coco_faces", "wider_face_text", "load_review_log", "load_run_outputs", "unresolved_frames"]
