"""Which face detectors look where: whole-image passes and the frame-sets between them."""

import cv2

from orscene.anonymize2d import FaceDetectorConfig, detect_faces, detect_faces_near, load_face_detector
from orscene.pipeline.process import Models, _detect_all


def test_between_passes_blazeface_runs_only_when_asked(shared_data):
    rgb = cv2.cvtColor(cv2.imread(str(shared_data / "voc_faces" / "2008_001322.jpg")), cv2.COLOR_BGR2RGB)
    cf, bf = (load_face_detector(FaceDetectorConfig(name=n)) for n in ("centerface", "blazeface"))
    models = Models(None, None, None, None, (cf, bf), None)
    cf_whole, bf_whole = detect_faces(cf, rgb), detect_faces(bf, rgb)
    assert cf_whole and bf_whole
    assert _detect_all(models, rgb) == cf_whole + bf_whole  # a pass: both, whole image
    seeds = [d[0] for d in cf_whole]
    between = _detect_all(models, rgb, seeds)
    assert between == detect_faces_near(cf, rgb, seeds)  # CenterFace's windows only
    assert _detect_all(models, rgb, seeds, blazeface_between=True) == between + bf_whole
