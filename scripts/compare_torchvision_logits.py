"""With the same weights, rescomp's emitted modules compute torchvision's logits.

For each name: build torchvision's model (``weights=None``, seeded random initialisation, eval mode)
and randomise what its initialisation leaves trivial (BN running statistics, BN scale and shift,
every bias, a ViT's class token and zero-initialised head), load its state_dict into rescomp's
emitted module with ``strict=True``, run both on the same seeded random batch and report
max |difference| / max |logit|. Exit 1 if one exceeds 1e-4.
"input sensitivity" is max |logit - its batch mean| / max |logit|: well above 0, the logits depend on
the input, so their agreement is not that of two constants.

Needs torchvision, which the project's venv does not install; run it with a Python that has it:

    /tmp/tvenv/bin/pip install pyyaml networkx        # rescomp's own dependencies; torch is there
    /tmp/tvenv/bin/python scripts/compare_torchvision_logits.py mobilenet_v2 mnasnet1_0
    /tmp/tvenv/bin/python scripts/compare_torchvision_logits.py --size 64   # every bundled torchvision name

The repository root is put on sys.path, so rescomp need not be installed there. ``--size`` sets the
input side (default: each spec's own default input, torchvision's published resolution); a ViT is
built with torchvision's ``image_size`` set to it (its position embedding follows the input).
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import torch
import torchvision

import rescomp
from rescomp.backends.torch_module import instantiate
from rescomp.backends.torch_source import emit_source
from rescomp.spec.library import ENTRIES

TOLERANCE = 1e-4  # max abs diff relative to max |logit| (issue 13's acceptance)


def randomise(model: torch.nn.Module, seed: int, side: int) -> None:
    """Weights under which the logits depend on the input, with non-trivial BN statistics.

    torchvision's initialisation leaves BN at the identity and biases at zero, and with running
    statistics that do not fit the activations the features of a deep net collapse to a constant
    (the logits then no longer depend on the input, and equal logits would prove little). So: BN and
    LayerNorm scale and shift, ConvNeXt's layer scales (1e-6 at initialisation), a ViT's class token
    (zeros) and every bias (attention's Q/K/V projection bias included) random,
    Linear weights at 1/sqrt(fan_in), running statistics measured on a random batch (BN layers in
    training mode, cumulative average) and then perturbed at random.
    """
    gen = torch.Generator().manual_seed(seed)

    def uniform(t: torch.Tensor, lo: float, hi: float) -> None:
        t.copy_(torch.rand(t.shape, generator=gen) * (hi - lo) + lo)

    norms = [m for m in model.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, torch.nn.Linear):
                m.weight.copy_(torch.randn(m.weight.shape, generator=gen) / m.in_features**0.5)
            if isinstance(m, (torch.nn.Conv2d, torch.nn.Linear)) and m.bias is not None:
                uniform(m.bias, -0.2, 0.2)
            if isinstance(m, torch.nn.LayerNorm) and m.elementwise_affine:
                uniform(m.weight, 0.5, 1.5)
                uniform(m.bias, -0.2, 0.2)
            if isinstance(m, torch.nn.MultiheadAttention) and m.in_proj_bias is not None:
                uniform(m.in_proj_bias, -0.2, 0.2)  # out_proj is an nn.Linear: done above
        for key, p in model.named_parameters():  # ConvNeXt's layer scale starts at 1e-6: wake it up
            if key.rsplit(".", 1)[-1] == "layer_scale":
                uniform(p, 0.5, 1.5)
            elif key == "class_token":  # a ViT's starts at zeros
                uniform(p, -1.0, 1.0)
        for m in norms:
            if m.affine:
                uniform(m.weight, 0.5, 1.5)
                uniform(m.bias, -0.2, 0.2)
            m.reset_running_stats()
            m.momentum = None  # cumulative: the statistics of the calibration batch
            m.train()
        model(torch.randn(4, 3, side, side, generator=gen))
        model.eval()
        for m in norms:
            m.running_mean.add_(torch.rand(m.running_mean.shape, generator=gen) * 0.2 - 0.1)
            m.running_var.mul_(torch.rand(m.running_var.shape, generator=gen) * 0.5 + 0.75)


def compare(name: str, size: int | None, batch: int, seed: int) -> tuple[str, float, float, float, float]:
    graph = rescomp.graph(name, input_shape=(3, size, size) if size else None)
    side = graph.shape(graph.root.input)[2]
    torch.manual_seed(seed)
    sized = {"image_size": side} if name.startswith("vit_") else {}  # the position embedding's length
    reference = torchvision.models.get_model(name, weights=None, **sized).eval()
    randomise(reference, seed, side)
    ours = instantiate(emit_source(graph)).eval()
    ours.load_state_dict(reference.state_dict(), strict=True)  # raises on any missing or extra key
    x = torch.randn(batch, 3, side, side, generator=torch.Generator().manual_seed(seed + 1))
    with torch.no_grad():
        want, got = reference(x), ours(x)
    diff = (got - want).abs().max().item()
    scale = want.abs().max().item()
    spread = (want - want.mean(0)).abs().max().item()  # the logits vary with the input
    return f"{side}x{side}", diff, scale, spread / scale, diff / scale


def main() -> int:
    known = set(torchvision.models.list_models(module=torchvision.models))
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", help="bundled torchvision names (default: all of them)")
    parser.add_argument("--size", type=int, default=None, help="input side (default: each spec's default)")
    parser.add_argument("--batch", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    names = args.names or [n for n in ENTRIES if n in known]
    for name in names:
        if name not in known or name not in ENTRIES:
            parser.error(f"{name!r} is not both a bundled spec and a torchvision model")
    print(f"torch {torch.__version__}, torchvision {torchvision.__version__}, {dt.date.today().isoformat()}")
    print(f"seed {args.seed}, batch {args.batch}, strict load, BN statistics and biases randomised")
    print("| model | input | strict load | max abs logit | input sensitivity | max abs diff | relative diff |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    worst = 0.0
    for name in names:
        shape, diff, scale, spread, rel = compare(name, args.size, args.batch, args.seed)
        worst = max(worst, rel)
        print(f"| {name} | {shape} | ok | {scale:.3g} | {spread:.2f} | {diff:.2e} | {rel:.2e} |", flush=True)
    return 0 if worst <= TOLERANCE else 1


if __name__ == "__main__":
    sys.exit(main())
