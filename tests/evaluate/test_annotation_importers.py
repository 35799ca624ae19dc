import pytest

from orscene.errors import AnnotationError
from orscene.evaluate.importers import MvorBoxKind, load_imglab_xml, load_mvor_coco, load_panoptic_faces_json


def test_imglab_voc_faces(shared_data):
    train, files_tr = load_imglab_xml(shared_data / "voc_faces" / "training.xml")
    test, files_te = load_imglab_xml(shared_data / "voc_faces" / "testing.xml")
    assert len(train.faces) + len(test.faces) == 43
    assert all(p.is_file() for p in list(files_tr.values()) + list(files_te.values()))
    first = train.faces[0]  # <box top='90' left='194' width='37' height='37'/> is in image 0
    boxes0 = {f.box_xyxy_px for f in train.faces if f.frame == 0}
    assert (193.5, 89.5, 230.5, 126.5) in boxes0
    assert first.camera == "img" and first.person == -1
    assert train.frames == tuple(range(len(files_tr)))


def test_mvor_counts(shared_data):
    path = shared_data / "mvor" / "camma_mvor_2018.json"
    person = load_mvor_coco(path, MvorBoxKind.PERSON)
    assert person.cameras == ("cam1", "cam2", "cam3")
    assert len(person.frames) == 732
    assert len(person.faces) == 4699
    assert not any(f.ignore for f in person.faces)
    head = load_mvor_coco(path, MvorBoxKind.HEAD)
    assert len(head.faces) == 4699
    heads = [f for f in head.faces if not f.ignore]
    assert len(heads) > 2000
    # head boxes are far smaller than person boxes and centred in the top third of one of them
    persons = {}
    for f in person.faces:
        persons.setdefault((f.frame, f.camera, f.person), []).append(f.box_xyxy_px)
    mean_person_area = sum(f.area_px for f in person.faces) / len(person.faces)
    assert sum(f.area_px for f in heads) / len(heads) < 0.1 * mean_person_area
    in_top = 0
    for f in heads:
        cx, cy = (f.box_xyxy_px[0] + f.box_xyxy_px[2]) / 2, (f.box_xyxy_px[1] + f.box_xyxy_px[3]) / 2
        in_top += any(x0 <= cx <= x1 and y0 <= cy <= y0 + (y1 - y0) / 3 for x0, y0, x1, y1 in persons[(f.frame, f.camera, f.person)])
    assert in_top >= 0.95 * len(heads)


def test_panoptic(shared_data):
    ann, files = load_panoptic_faces_json(shared_data / "panoptic" / "faces_gt.json")
    assert ann.cameras == ("00_03", "00_06", "00_12", "00_13", "00_23")
    assert ann.frames == (0, 1)
    assert sum(not f.ignore for f in ann.faces) == 18
    assert sum(f.ignore for f in ann.faces) == 4
    assert len(files) == 10 and all(p.is_file() for p in files.values())
    p1 = [f for f in ann.faces if f.person == 1 and f.frame == 0]
    assert len(p1) == 4  # P1 seen in 00_06, 00_12, 00_13, 00_23


def test_errors(tmp_path):
    with pytest.raises(AnnotationError):
        load_imglab_xml(tmp_path / "missing.xml")
    bad = tmp_path / "bad.xml"
    bad.write_text("<dataset><images><image file='a.jpg'><box top='x'/></image></images></dataset>")
    with pytest.raises(AnnotationError):
        load_imglab_xml(bad)
    bad_json = tmp_path / "bad.json"
    bad_json.write_text("{")
    with pytest.raises(AnnotationError):
        load_panoptic_faces_json(bad_json)
