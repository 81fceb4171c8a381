"""The bundled spec library, addressed by name (``rescomp analyze resnet34``).

Families share one YAML file each; a bundled name is that file with some parameters fixed (a
``depth`` for instance), so ``resnet18`` and ``resnet152`` cannot drift apart.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

LIBRARY_DIR = Path(__file__).parent / "library"


@dataclass(frozen=True)
class Entry:
    name: str
    file: str
    fixed: dict[str, Any]
    summary: str

    @property
    def path(self) -> Path:
        return LIBRARY_DIR / self.file


def _resnets() -> list[Entry]:
    out = [
        Entry(f"resnet{d}", "resnet.yaml", {"depth": d}, f"ResNet-{d}, torchvision layout")
        for d in (18, 34, 50, 101, 152)
    ]
    out.append(
        Entry("resnext50_32x4d", "resnet.yaml", {"depth": 50, "groups": 32, "width_per_group": 4}, "ResNeXt-50 32x4d")
    )
    out.append(Entry("wide_resnet50_2", "resnet.yaml", {"depth": 50, "width_per_group": 128}, "Wide ResNet-50-2"))
    out.append(Entry("se_resnet50", "resnet.yaml", {"depth": 50, "se": True}, "SE-ResNet-50, torchvision layout + SE"))
    out.append(
        Entry(
            "se_resnext50_32x4d",
            "resnet.yaml",
            {"depth": 50, "groups": 32, "width_per_group": 4, "se": True},
            "SE-ResNeXt-50 32x4d, torchvision layout + SE",
        )
    )
    return out


def _mobile() -> list[Entry]:
    """MobileNetV2/V3 and MnasNet, torchvision layout."""
    return [
        Entry("mobilenet_v2", "mobilenet_v2.yaml", {}, "MobileNetV2, torchvision layout"),
        Entry("mobilenet_v3_large", "mobilenet_v3.yaml", {"arch": "large"}, "MobileNetV3-Large, torchvision layout"),
        Entry("mobilenet_v3_small", "mobilenet_v3.yaml", {"arch": "small"}, "MobileNetV3-Small, torchvision layout"),
        *(
            Entry(f"mnasnet{tag}", "mnasnet.yaml", {"alpha": alpha}, f"MnasNet-B1 depth {alpha}, torchvision layout")
            for tag, alpha in (("0_5", 0.5), ("0_75", 0.75), ("1_0", 1.0), ("1_3", 1.3))
        ),
    ]


def _efficient_dense() -> list[Entry]:
    """EfficientNet B0-B7, EfficientNetV2 S/M/L and DenseNet, torchvision layout. An entry is listed
    only once its family file exists, so that the names land with their files."""
    out = [
        *(
            Entry(
                f"efficientnet_b{i}",
                "efficientnet.yaml",
                {"variant": f"b{i}"},
                f"EfficientNet-B{i}, torchvision layout",
            )
            for i in range(8)
        ),
        *(
            Entry(
                f"efficientnet_v2_{v}",
                "efficientnet_v2.yaml",
                {"variant": v},
                f"EfficientNetV2-{v.upper()}, torchvision layout",
            )
            for v in ("s", "m", "l")
        ),
        *(
            Entry(f"densenet{d}", "densenet.yaml", {"depth": d}, f"DenseNet-{d}, torchvision layout")
            for d in (121, 161, 169, 201)
        ),
    ]
    return out


#: torchvision's RegNets: regnet_<variant>, the variant's tag as regnet.yaml's 'variant' takes it
REGNET_VARIANTS = (
    *(f"x_{f}" for f in ("400mf", "800mf", "1_6gf", "3_2gf", "8gf", "16gf", "32gf")),
    *(f"y_{f}" for f in ("400mf", "800mf", "1_6gf", "3_2gf", "8gf", "16gf", "32gf", "128gf")),
)


def _regnets() -> list[Entry]:
    """RegNetX and RegNetY, torchvision layout (regnet_x_400mf ... regnet_y_128gf)."""

    def title(variant: str) -> str:  # 'y_1_6gf' -> 'RegNetY-1.6GF'
        kind, size = variant.split("_", 1)
        return f"RegNet{kind.upper()}-{size.replace('_', '.').upper()}"

    return [
        Entry(f"regnet_{v}", "regnet.yaml", {"variant": v}, f"{title(v)}, torchvision layout") for v in REGNET_VARIANTS
    ]


def _convnexts() -> list[Entry]:
    """ConvNeXt tiny/small/base/large, torchvision layout."""
    return [
        Entry(f"convnext_{v}", "convnext.yaml", {"variant": v}, f"ConvNeXt-{v[0].upper()}{v[1:]}, torchvision layout")
        for v in ("tiny", "small", "base", "large")
    ]


def _shufflenets() -> list[Entry]:
    """ShuffleNetV2 x0.5/x1.0/x1.5/x2.0, torchvision layout."""
    return [
        Entry(
            f"shufflenet_v2_{v}",
            "shufflenet_v2.yaml",
            {"variant": v},
            f"ShuffleNetV2 {v[1:].replace('_', '.')}x, torchvision layout",
        )
        for v in ("x0_5", "x1_0", "x1_5", "x2_0")
    ]


#: torchvision's ViTs: name -> (patch, width, depth, heads, mlp_dim, the default weights' crop size)
VIT_VARIANTS: dict[str, tuple[int, int, int, int, int, int]] = {
    "vit_b_16": (16, 768, 12, 12, 3072, 224),
    "vit_b_32": (32, 768, 12, 12, 3072, 224),
    "vit_l_16": (16, 1024, 24, 16, 4096, 224),
    "vit_l_32": (32, 1024, 24, 16, 4096, 224),
    "vit_h_14": (14, 1280, 32, 16, 5120, 518),
}


def _vits() -> list[Entry]:
    """ViT-B/16 .. ViT-H/14, torchvision layout, at the default weights' resolution."""
    keys = ("patch", "width", "depth", "heads", "mlp_dim", "resolution")
    return [
        Entry(
            name,
            "vit.yaml",
            dict(zip(keys, values, strict=True)),
            f"ViT-{name[4].upper()}/{values[0]}, torchvision layout, {values[5]}x{values[5]}",
        )
        for name, values in VIT_VARIANTS.items()
    ]


ENTRIES: dict[str, Entry] = {
    e.name: e
    for e in [
        *_resnets(),
        *(Entry(f"vgg{d}", "vgg.yaml", {"depth": d}, f"VGG-{d}, torchvision layout") for d in (11, 13, 16, 19)),
        Entry("resnet_cifar", "resnet_cifar.yaml", {}, "CIFAR-10 ResNet-(6n+2), paper Section 4.2"),
        Entry("preact_resnet_cifar", "preact_resnet_cifar.yaml", {}, "CIFAR-10 pre-activation ResNet-(6n+2)"),
        *_mobile(),
        *_efficient_dense(),
        *_regnets(),
        *_convnexts(),
        *_shufflenets(),
        *_vits(),
    ]
}
