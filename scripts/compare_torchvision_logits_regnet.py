"""RegNetX and RegNetY (400MF ... 32GF, and RegNetY-128GF): with the same weights, rescomp's
emitted modules compute torchvision's logits.

A thin front end to scripts/compare_torchvision_logits.py (same procedure: torchvision model with
``weights=None``, seeded initialisation, eval mode, BN statistics, BN affine and biases randomised,
its state_dict loaded into rescomp's emitted module with ``strict=True``, max |difference| / max
|logit| on a seeded random batch), with this family's names as the default list:

    /tmp/tvenv/bin/python scripts/compare_torchvision_logits_regnet.py regnet_x_400mf regnet_y_400mf
    /tmp/tvenv/bin/python scripts/compare_torchvision_logits_regnet.py --size 64      # every RegNet

Exit 1 if one comparison exceeds 1e-4.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import compare_torchvision_logits

from rescomp.spec.library import REGNET_VARIANTS

NAMES = [f"regnet_{v}" for v in REGNET_VARIANTS]

if __name__ == "__main__":
    if not any(not a.startswith("-") and not a.isdigit() for a in sys.argv[1:]):
        sys.argv += NAMES  # no names given: this family's
    sys.exit(compare_torchvision_logits.main())
