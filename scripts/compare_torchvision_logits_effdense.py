"""EfficientNet B0..B7, EfficientNetV2 S/M/L and DenseNet-121/161/169/201: with the same weights,
rescomp's emitted modules compute torchvision's logits.

A thin front end to scripts/compare_torchvision_logits.py (same procedure: torchvision model with
``weights=None``, seeded initialisation, eval mode, BN statistics, BN affine and biases randomised,
its state_dict loaded into rescomp's emitted module with ``strict=True``, max |difference| / max
|logit| on a seeded random batch), with these families' names as the default list:

    /tmp/tvenv/bin/python scripts/compare_torchvision_logits_effdense.py              # default inputs
    /tmp/tvenv/bin/python scripts/compare_torchvision_logits_effdense.py --size 64 densenet161

Exit 1 if one comparison exceeds 1e-4.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import compare_torchvision_logits

NAMES = [
    *(f"efficientnet_b{i}" for i in range(8)),
    *(f"efficientnet_v2_{v}" for v in "sml"),
    *(f"densenet{d}" for d in (121, 161, 169, 201)),
]

if __name__ == "__main__":
    if not any(not a.startswith("-") and not a.isdigit() for a in sys.argv[1:]):
        sys.argv += NAMES  # no names given: this script's families
    sys.exit(compare_torchvision_logits.main())
