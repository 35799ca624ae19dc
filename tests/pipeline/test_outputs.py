import numpy as np
import pytest

from orscene.pipeline.outputs import OutputError, OutputLayout, check_output_location, fingerprint


def test_output_never_inside_or_over_input(tmp_path):
    session = tmp_path / "recordings" / "S"
    session.mkdir(parents=True)
    with pytest.raises(OutputError):
        check_output_location(session / "out", session)
    with pytest.raises(OutputError):
        check_output_location(session, session)
    with pytest.raises(OutputError):
        check_output_location(tmp_path / "recordings", session)
    check_output_location(tmp_path / "outputs" / "S", session)  # fine


def test_refuses_foreign_nonempty_folder(tmp_path):
    session = tmp_path / "S"
    session.mkdir()
    out = tmp_path / "mine"
    out.mkdir()
    (out / "thesis.tex").write_text("precious")
    with pytest.raises(OutputError, match="not empty"):
        check_output_location(out, session)
    (out / "thesis.tex").unlink()
    (out / ".state").mkdir()
    check_output_location(out, session)


def test_layout_writes_atomically(tmp_path):
    lay = OutputLayout(tmp_path / "o")
    rgb = np.zeros((8, 10, 3), np.uint8)
    p = lay.write_image("cam0", 3, rgb)
    assert p.name == "000003.jpg" and p.exists()
    m = np.zeros((8, 10), bool)
    m[2:4, 3:5] = True
    import cv2

    back = cv2.imread(str(lay.write_mask("cam0", 3, m)), cv2.IMREAD_UNCHANGED)
    assert back.dtype == np.uint8 and (back > 0).sum() == 4
    assert not list((tmp_path / "o").rglob("*.tmp"))


def test_fingerprint_depends_on_config_and_inputs():
    a = fingerprint({"x": 1}, {"f": "abc"})
    assert a == fingerprint({"x": 1}, {"f": "abc"})
    assert a != fingerprint({"x": 2}, {"f": "abc"})
    assert a != fingerprint({"x": 1}, {"f": "abd"})


def test_partial_files_of_a_killed_run_are_removed(tmp_path):
    layout = OutputLayout(tmp_path / "out")
    keep = [layout.image_path("cam0", 0), layout.video_path("cam0"), layout.faces_path]
    stale = [layout.video_path("cam0").parent / ".cam0.x1y2.mp4", layout.image_path("cam0", 1).parent / ".000001.jpg.ab.tmp", layout.root / ".faces.json.cd.tmp"]
    for p in keep + stale:
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(b"x")
    assert layout.remove_partial_files() == 3
    assert all(p.exists() for p in keep) and not any(p.exists() for p in stale)
