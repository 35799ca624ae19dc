"""Execute notebooks/walkthrough.ipynb on a tiny session, so that it cannot rot."""

from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_walkthrough_runs(tmp_path, monkeypatch):
    nb = nbformat.read(REPO / "notebooks" / "walkthrough.ipynb", as_version=4)
    monkeypatch.setenv("ORSCENE_NB_SECONDS", "0.6")
    monkeypatch.setenv("ORSCENE_NB_WIDTH", "480")
    monkeypatch.setenv("ORSCENE_NB_WORKDIR", str(tmp_path))
    client = NotebookClient(nb, timeout=900, kernel_name="python3", resources={"metadata": {"path": str(REPO / "notebooks")}})
    client.execute()
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])]
    assert not [o for o in outputs if o.get("output_type") == "error"]
    text = "".join(o.get("text", "") for o in outputs if o.get("output_type") == "stream")
    assert "holistic_recall" in text and "faces_by_path" in text
    assert (tmp_path / "outputs" / "WALK" / "summary.json").exists()
    # the figures appear (the notebook does not force a non-interactive backend): one per plot
    figures = [o for o in outputs if o.get("output_type") == "display_data" and "image/png" in o.get("data", {})]
    assert len(figures) == 2
    # it reads no private resume state
    assert ".state" not in "".join(c.source for c in nb.cells if c.cell_type == "code")
