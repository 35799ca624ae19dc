import orscene.anonymize2d
import orscene.evaluate


def test_public_names():
    assert set(orscene.anonymize2d.__all__) == {
        "Anonymize2DConfig", "AnonymizeMethod", "anonymize_regions", "box_to_mask", "expand_box", "Detection",
        "FaceDetectorConfig", "FaceKeypoints", "FaceDetectorKind", "FaceDetector", "box_iou", "default_model_path", "detect_faces",
        "load_face_detector",
    }
    for mod in (orscene.anonymize2d, orscene.evaluate):
        for name in mod.__all__:
            assert hasattr(mod, name), name
    assert {"evaluate_predictions", "EvaluationResult", "EvaluateConfig", "run_evaluate", "format_table"} <= set(orscene.evaluate.__all__)
