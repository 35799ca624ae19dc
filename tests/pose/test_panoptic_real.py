"""Real multi-view data end to end: BlazePose in 5 Panoptic views, fused to 3D, the 3D nose
reprojected into every view lands in the hand-annotated face boxes."""

import json

import cv2
import pytest

from orscene.geometry.camera import project_world
from orscene.pose import FusionConfig, KeypointDetectorConfig, detect_keypoints, fuse_poses, load_keypoint_detector
from orscene.recording.importers import load_panoptic_cameras
from orscene.types import View

VIEWS = ["00_03", "00_06", "00_12", "00_13", "00_23"]


@pytest.mark.slow
def test_panoptic_people_in_3d_hit_the_face_boxes(shared_data):
    root = shared_data / "panoptic"
    cams = load_panoptic_cameras(root / "camera_parameters.json", VIEWS)
    gt = json.loads((root / "faces_gt.json").read_text())
    det = load_keypoint_detector(KeypointDetectorConfig())
    frame = "00005514"
    kps = {}
    for v in VIEWS:
        rgb = cv2.cvtColor(cv2.imread(str(root / v / f"{v}_{frame}.jpg")), cv2.COLOR_BGR2RGB)
        kps[v] = detect_keypoints(det, View(v, rgb, 0))
    people = fuse_poses(kps, cams, None, FusionConfig(max_range_m=6.0))
    assert len(people) >= 2
    assert all(len(p.cameras) >= 3 for p in people)
    for p in people:  # upright people on the floor (world z up, floor near 0)
        assert p.joints_world_m[0, 2] > p.joints_world_m[11, 2] > p.joints_world_m[15, 2]
        assert 1.3 < p.joints_world_m[0, 2] - min(p.joints_world_m[15, 2], p.joints_world_m[16, 2]) < 2.1
    faces = [f for f in gt["faces"] if f["frame"] == frame]
    hit = 0
    for f in faces:
        x0, y0, x1, y1 = f["box"]
        m = 0.25 * max(x1 - x0, y1 - y0)
        for p in people:
            uv, _ = project_world(cams[f["view"]], p.joints_world_m[0])
            hit += bool(x0 - m <= uv[0] <= x1 + m and y0 - m <= uv[1] <= y1 + m)
    assert len(faces) == 12
    assert hit >= 8  # the third person is cut by the image border or turned away in most views
