"""orscene: anonymize multi-view RGB-D recordings of operating rooms.

Stages, in data-flow order (one subpackage each; a stage imports only earlier ones,
``tests/test_architecture.py``):

recording     read sessions (.mkv, image folders), synchronize frame-sets, write outputs
geometry      camera models, depth registration, point-cloud fusion
pose          2D keypoints per view, volumetric 3D fusion, tracking
heads         3D head tracks from every source of head evidence
body          body model (anny, SMPL) fitted to each 3D skeleton, face region
registration  head alignment to the point cloud (FilterReg, then ICP)
render        face templates rendered into every view, visibility, Poisson blending
anonymize2d   2D face detectors and anonymizers: the fail-closed fallback
pipeline      wires the stages: ``cli.py process``
evaluate      recall, holistic recall, leaks, image quality; 2D baselines
curate        QA report of a run, review (a missed face fixed in every view), release package
calibrate     ChArUco board detection and camera registration
synth         synthetic OR sessions with exact ground truth (may use every stage before it)

Two exceptions: ``recording``'s reader uses ``geometry``'s camera model and depth
registration to deliver depth registered to colour; ``pipeline`` ends a run by writing
``curate``'s QA report of the outputs it has just written.

Shared containers are in :mod:`orscene.types`, errors in :mod:`orscene.errors`.

The Python API (the same work as the ``orscene`` command; examples in :mod:`orscene.api`)::

    import orscene
    reader = orscene.open_session("recordings/OR_03")      # cameras, frame-sets, calibration
    summary = orscene.process("recordings/OR_03", out="outputs/OR_03", workers=2)
    result = orscene.evaluate("recordings/OR_03", predictions="outputs/OR_03")
"""

__version__ = "0.1.0"

# The public Python API: three functions, imported on first use so that ``import orscene``
# stays light (no torch, no models) -- see orscene/api.py for their examples.
_API = ("process", "evaluate", "open_session")
__all__ = ["__version__", *_API]


def __getattr__(name: str):
    if name == "evaluate":  # also the stage package, which the import system binds here: one callable object
        import importlib

        return importlib.import_module("orscene.evaluate")
    if name in _API:
        from orscene import api

        return getattr(api, name)
    raise AttributeError(f"module 'orscene' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_API))
