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
    return out


ENTRIES: dict[str, Entry] = {
    e.name: e
    for e in [
        *_resnets(),
        *(Entry(f"vgg{d}", "vgg.yaml", {"depth": d}, f"VGG-{d}, torchvision layout") for d in (11, 13, 16, 19)),
        Entry("resnet_cifar", "resnet_cifar.yaml", {}, "CIFAR-10 ResNet-(6n+2), paper Section 4.2"),
        Entry("preact_resnet_cifar", "preact_resnet_cifar.yaml", {}, "CIFAR-10 pre-activation ResNet-(6n+2)"),
    ]
}
