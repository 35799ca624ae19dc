"""Snapshot of every stage package's public names (``__all__``): a change to the API is a
deliberate edit of this file, never an accident."""

import importlib
import subprocess
import sys

import pytest

API = {
    "pipeline": ['Chunk', 'ChunkExecutor', 'FallbackConfig', 'HeadRegion', 'LocalExecutor', 'OnError', 'OutputFormat', 'OutputLayout', 'PipelineConfig', 'ProcessConfig', 'SerialExecutor', 'check_output_location', 'head_region_from_3d', 'head_regions_from_2d', 'make_executor', 'plan_chunks', 'process_session', 'run_process'],
    "recording": ['Calibration', 'CameraSource', 'FaceAnnotations', 'FolderSource', 'ImportConfig', 'InfoConfig', 'MkvFrame', 'MkvReader', 'Mp4Writer', 'SessionManifest', 'SessionReader', 'SourceKind', 'camera_from_k4a_calibration', 'concat_mp4', 'group_by_timestamp', 'load_calibration', 'load_faces', 'load_manifest', 'load_panoptic_faces', 'open_session', 'run_import', 'run_info', 'save_calibration', 'save_faces', 'save_manifest', 'validate_session_name', 'write_image', 'write_mp4'],
    "geometry": ['CameraRig', 'DepthRegistration', 'DepthRegistrationConfig', 'LensField', 'PointFusionConfig', 'crop_points', 'depth_to_points_cam', 'depth_to_points_world', 'distort_normalized', 'fuse_point_cloud', 'look_at_world_from_cam', 'prepare_depth_registration', 'project_cam', 'project_world', 'register_depth_to_color', 'sphere_box_px', 'transform_points', 'undistort_normalized', 'unproject_px'],
    "pose": ['BLAZEPOSE_TO_COCO17', 'BlazePoseConfig', 'DetectorKind', 'FusionConfig', 'GTNoiseConfig', 'KeypointDetector', 'KeypointDetectorConfig', 'PoseCandidate', 'PoseConfig', 'TrackingConfig', 'detect_keypoints', 'fuse_poses', 'load_keypoint_detector', 'perturb_keypoints', 'pose_distance_m', 'poses_at', 'project_skeletons', 'room_bounds_from_cameras', 'simulate_keypoints', 'track', 'track_keypoints'],
    "heads": ['DepthBackground', 'DepthPeopleConfig', 'FusedHead', 'HeadsConfig', 'LiftConfig', 'TrackHeadsConfig', 'associate_heads', 'find_depth_heads', 'find_heads', 'head_evidence', 'heads_from_poses', 'heads_in_frameset', 'is_ghost', 'learn_depth_background', 'lift_face_with_depth', 'lift_faces', 'reject_ghosts', 'sample_framesets', 'track_heads', 'triangulate_faces'],
    "body": ['AnnyBodyModel', 'BodyModel', 'BodyModelConfig', 'BodyOutput', 'FitConfig', 'FitState', 'SmplBodyModel', 'TrackState', 'anny_face_vertex_ids', 'create_anny', 'derive_face_region', 'face_mesh', 'fit_bodies', 'fit_track', 'load_body_model', 'load_smpl_model'],
    "registration": ['AlignConfig', 'AlignResult', 'align_head', 'align_heads', 'head_vertex_normals'],
    "render": ['BlendMode', 'FaceRenderer', 'FaceTemplate', 'Occluders', 'RenderConfig', 'RenderOutcome', 'RenderStatus', 'RenderedFacePatch', 'RenderedFaces', 'TemplateSet', 'blend_faces', 'choose_template', 'create_renderer', 'default_catalog_path', 'depth_doubt', 'load_templates', 'render_faces', 'synthetic_face_mesh'],
    "anonymize2d": ['Anonymize2DConfig', 'AnonymizeMethod', 'Detection', 'FaceDetector', 'FaceDetectorConfig', 'FaceDetectorKind', 'FaceKeypoints', 'anonymize_regions', 'box_to_mask', 'default_model_path', 'detect_faces', 'detect_faces_near', 'expand_box', 'load_face_detector'],
    "evaluate": ['AnnotationFormat', 'BaselineRun', 'EvaluateConfig', 'EvaluationResult', 'FaceOutcome', 'MatchMode', 'MetricsConfig', 'MvorBoxKind', 'ViewScore', 'box_coverage', 'detect_views', 'draw_evaluation', 'evaluate_predictions', 'evaluate_session', 'format_table', 'load_annotations', 'load_imglab_xml', 'load_mvor_coco', 'load_panoptic_faces_json', 'match_view', 'perceptual_metrics', 'run_baseline', 'run_evaluate', 'score_view', 'summarize'],
    "synth": ['Scenario', 'SessionGroundTruth', 'SynthConfig', 'generate_session', 'load_groundtruth', 'run_synth'],
    "calibrate": ['BoardSpec', 'CharucoCorners', 'DetectConfig', 'IcpConfig', 'IntrinsicsConfig', 'IntrinsicsResult', 'PairResult', 'WORLD_FROM_BOARD_FRAME', 'WorldConfig', 'WorldResult', 'azure_color_from_depth', 'board_corners_m', 'calibrate_intrinsics', 'compare_transforms', 'detect_charuco', 'estimate_board_pose', 'floor_alignment', 'load_board', 'load_opencv_calibration', 'make_charuco_board', 'normalize_ir', 'refine_poses_colored_icp', 'register_cameras', 'register_pair', 'reprojection_rms_px', 'rotation_angle_deg'],
}


@pytest.mark.parametrize("package", sorted(API))
def test_public_names(package):
    module = importlib.import_module(f"orscene.{package}")
    assert sorted(module.__all__) == API[package]
    missing = [n for n in module.__all__ if not hasattr(module, n)]
    assert not missing, missing


def test_reading_configs_imports_no_model_code():
    """The pipeline's main process reads configs, plans chunks and merges results; it never
    runs a model, so importing what it uses must not pull in torch, open3d or scipy (seconds
    of start-up on every run)."""
    code = (
        "import sys, orscene.pipeline.run, orscene.pipeline.process, orscene.pose, orscene.body, orscene.render\n"
        "from orscene.pipeline import PipelineConfig\n"
        "PipelineConfig()\n"
        "print(sorted(m for m in ('torch', 'open3d', 'scipy', 'moderngl', 'onnxruntime') if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_lazy_package_names():
    import orscene.body

    assert "fit_bodies" in dir(orscene.body)
    assert orscene.body.FitConfig is importlib.import_module("orscene.body.config").FitConfig
    with pytest.raises(AttributeError, match="no attribute 'not_a_name'"):
        orscene.body.not_a_name  # noqa: B018
