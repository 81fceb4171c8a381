"""With the same weights, rescomp's se_resnet50 and se_resnext50_32x4d compute timm's logits.

timm's ``seresnet50`` and ``seresnext50_32x4d`` are torchvision's ResNet-50 / ResNeXt-50 32x4d
(v1.5, the stride in the 3x3; stem conv1/bn1/maxpool; classifier ``fc``) with an ``SEModule`` named
``se`` after each block's bn3. rescomp names that module ``se_module`` (Cadene's pretrainedmodels
name), so the only renaming is ``.se.`` -> ``.se_module.`` in the block keys; the script checks that
the renamed keys equal the emitted module's keys, in order, then loads them with ``strict=True``.
Weights are randomised as in scripts/compare_torchvision_logits.py (BN statistics, BN affine and
biases, SE biases included). Exit 1 if max |difference| / max |logit| exceeds 1e-4.

Needs timm (``/tmp/tvenv/bin/pip install timm``), which the project's venv does not install:

    /tmp/tvenv/bin/python scripts/compare_timm_se_resnet.py
    /tmp/tvenv/bin/python scripts/compare_timm_se_resnet.py --size 64 --batch 4 --seed 1
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import timm
import torch
from compare_torchvision_logits import TOLERANCE, randomise

import rescomp
from rescomp.backends.torch_module import instantiate
from rescomp.backends.torch_source import emit_source

#: rescomp bundled name -> timm model name
PAIRS = {"se_resnet50": "seresnet50", "se_resnext50_32x4d": "seresnext50_32x4d"}


def rename(key: str) -> str:
    """timm's key -> rescomp's: only the SE module's attribute name differs."""
    return key.replace(".se.", ".se_module.")


def compare(name: str, size: int | None, batch: int, seed: int) -> tuple[str, int, float, float, float, float]:
    graph = rescomp.graph(name, input_shape=(3, size, size) if size else None)
    side = graph.shape(graph.root.input)[2]
    torch.manual_seed(seed)
    reference = timm.create_model(PAIRS[name], pretrained=False).eval()
    randomise(reference, seed, side)
    ours = instantiate(emit_source(graph)).eval()
    state = {rename(k): v for k, v in reference.state_dict().items()}
    assert list(state) == list(ours.state_dict()), "key order differs after renaming"
    ours.load_state_dict(state, strict=True)
    params = sum(p.numel() for p in reference.parameters())
    assert params == sum(p.numel() for p in ours.parameters())
    x = torch.randn(batch, 3, side, side, generator=torch.Generator().manual_seed(seed + 1))
    with torch.no_grad():
        want, got = reference(x), ours(x)
    diff = (got - want).abs().max().item()
    scale = want.abs().max().item()
    spread = (want - want.mean(0)).abs().max().item()
    return f"{side}x{side}", params, diff, scale, spread / scale, diff / scale


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=None, help="input side (default: 224)")
    parser.add_argument("--batch", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    print(f"torch {torch.__version__}, timm {timm.__version__}, {dt.date.today().isoformat()}")
    print(f"seed {args.seed}, batch {args.batch}, keys '.se.' -> '.se_module.', strict load, BN and biases randomised")
    print("| rescomp | timm | input | params | max abs logit | input sensitivity | max abs diff | relative diff |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    worst = 0.0
    for name, timm_name in PAIRS.items():
        shape, params, diff, scale, spread, rel = compare(name, args.size, args.batch, args.seed)
        worst = max(worst, rel)
        print(
            f"| {name} | {timm_name} | {shape} | {params:,} | {scale:.3g} | {spread:.2f} | {diff:.2e} | {rel:.2e} |",
            flush=True,
        )
    return 0 if worst <= TOLERANCE else 1


if __name__ == "__main__":
    sys.exit(main())
