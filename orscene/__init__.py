"""orscene: anonymize multi-view RGB-D recordings of operating rooms.

Stages, in data-flow order (one subpackage each):

recording     read sessions (.mkv, image folders), synchronize frame-sets, write outputs
geometry      camera models, depth registration, point-cloud fusion
pose          2D keypoints per view, volumetric 3D fusion, tracking
body          body model (anny, SMPL) fitted to each 3D skeleton
registration  head alignment to the point cloud (FilterReg, then ICP)
render        face templates rendered into every view, visibility, Poisson blending
anonymize2d   2D face detectors and anonymizers: the fail-closed fallback
pipeline      wires the stages: ``cli.py process``
evaluate      recall, holistic recall, leaks, image quality; 2D baselines
synth         synthetic OR sessions with exact ground truth
calibrate     ChArUco board detection and camera registration

Shared containers are in :mod:`orscene.types`, errors in :mod:`orscene.errors`.
"""

__version__ = "0.1.0"
