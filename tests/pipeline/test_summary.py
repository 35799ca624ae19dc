"""The end-of-run review (orscene/pipeline/summary.py): counts, verdict, ranking.

The records have the shape ``process`` writes to ``audit.json``; the runs themselves are
checked in ``test_process_e2e.py`` (a hard session: review) and ``tests/calibrate``
(a session with nothing uncertain: all clear).
"""

from orscene.pipeline.summary import RunReview, review_lines, review_run


def _view(*faces, status="anonymized"):
    return {"status": status, "faces": [{"person": p, "source": s, "box": [0, 0, 10, 10]} for p, s in faces]}


def _clean(frame: int, fitted: int) -> dict:
    persons = [{"track": t, "settled": True, "head": "aligned", "fitted": fitted} for t in (0, 1)]
    return {"frame": frame, "persons": persons, "views": {c: _view((0, "render3d"), (1, "render3d")) for c in ("cam0", "cam1")}}


def test_nothing_uncertain_is_all_clear():
    records = [_clean(i, fitted=i - i % 3) for i in range(6)]  # keyframes 0 and 3
    r = review_run(records)
    assert not r.review_recommended and r.review == ()
    assert r.framesets == 6 and r.heads_aligned == 4 and r.heads_rejected == 0 and r.heads_without_face_pose == 0
    assert r.faces_by_path == {"render3d": 24, "head2d": 0, "head3d": 0, "detector2d": 0, "obscured": 0}
    lines = review_lines(r)
    assert lines[-1].startswith("all clear") and not any("review" in line for line in lines)


def test_unsettled_tracks_on_the_head_path_alone_are_not_uncertain():
    rec = _clean(0, 0)
    rec["persons"][1]["settled"] = False
    rec["views"] = {c: _view((0, "render3d"), (1, "head2d")) for c in ("cam0", "cam1")}
    r = review_run([rec])
    assert not r.review_recommended and r.faces_by_path["head2d"] == 2


def test_or03_like_run_recommends_review_ranked_by_uncertainty():
    """Rejected alignments, heads without a face pose, one-view faces and an obscured
    frame-set: each counted once per person and keyframe, and ranked."""
    records = [_clean(i, fitted=i - i % 3) for i in range(9)]
    for i in (3, 4, 5):  # person 1's alignment at keyframe 3 rejected: its head on the 2D path
        records[i]["persons"][1]["head"] = "rejected"
        records[i]["views"]["cam0"] = _view((0, "render3d"), (1, "head2d"))
    for i in (6, 7):  # person 0 without a face pose from keyframe 6 on
        records[i]["persons"][0]["head"] = "keypoints_only"
    records[7]["views"]["cam1"] = _view((0, "render3d"), (1, "render3d"), (-1, "detector2d"), (-1, "head2d"))
    records[8] = {"frame": 8, "persons": [], "error": "RuntimeError: boom",
                  "views": {c: _view((-1, "obscured"), status="obscured") for c in ("cam0", "cam1")}}  # fmt: skip
    r = review_run(records)
    assert r.review_recommended
    assert (r.heads_aligned, r.heads_rejected, r.heads_without_face_pose) == (4, 1, 1)
    assert r.faces_one_view == 2 and r.views_obscured == 2
    assert r.faces_by_path == {"render3d": 29, "head2d": 4, "head3d": 0, "detector2d": 1, "obscured": 2}
    # obscured frame-set first (2 views x 3), then two one-view faces and a head without pose,
    # then the single items by frame
    assert [x.frame for x in r.review] == [8, 7, 3, 4, 5, 6]
    assert r.review[0].reasons == ("2 views obscured or withheld (RuntimeError: boom)",)
    assert r.review[2].reasons == ("head alignment rejected: person 1",)
    lines = review_lines(r, "out/review.json")
    assert lines[0] == "faces by path: 29 render3d, 4 head2d, 0 head3d, 1 detector2d, 2 obscured"
    assert lines[1] == "head alignments: 4 accepted, 1 rejected; 1 heads tracked without a face pose"
    assert lines[-1] == "review recommended: 6 of 9 frame-sets had uncertain faces: ranked in out/review.json"
    assert not any("all clear" in line for line in lines)
    assert RunReview.from_dict(r.to_dict()) == r
