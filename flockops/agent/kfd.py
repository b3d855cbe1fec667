"""The amdgpu compute driver's (KFD's) topology: how much VRAM each compute partition of a card owns.

An MI300X split into partitions (QPX, CPX) is several GPUs to rocm-smi, and rocm-smi gives every one
of them the whole card's VRAM total and used (ROCm/ROCm#4750: four partitions of 206141652992 bytes
each); summing them counts the card four times. KFD's ``mem_banks/*/properties`` ``size_in_bytes``
holds the partition's own share (25767706624 on a CPX MI300X, a quarter of the 192 GiB on a QPX one).
The partitions of one card share their ``unique_id`` and sit at consecutive PCI functions.

Standard library only: the probe runs this on targets.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from .parse import pci_bus_key

# mem_banks heap types that are the GPU's own memory (kfd_crat.h: HSA_MEM_HEAP_TYPE_FB_PUBLIC/PRIVATE).
_VRAM_HEAPS = ("1", "2")


@dataclass(frozen=True, slots=True)
class KfdNode:
    """One GPU node of the KFD topology."""

    pci_bus_id: str  # normalised, as pci_bus_key gives it
    card_id: str  # unique_id: one card's partitions share it
    vram_bytes: int | None


def _properties(path: str) -> dict[str, str]:
    try:
        with open(path, encoding="ascii", errors="replace") as handle:
            text = handle.read(65536)
    except OSError:
        return {}
    pairs = (line.split(None, 1) for line in text.splitlines())
    return {p[0]: p[1].strip() for p in pairs if len(p) == 2}


def read_nodes(sysfs_root: str) -> list[KfdNode]:
    """Every GPU node KFD lists under ``sysfs_root``; [] where there is no KFD (or it cannot be read)."""
    base = os.path.join(sysfs_root, "class", "kfd", "kfd", "topology", "nodes")
    try:
        names = os.listdir(base)
    except OSError:
        return []
    nodes = []
    for name in names:
        properties = _properties(os.path.join(base, name, "properties"))
        try:
            location = int(properties.get("location_id", ""))
            domain = int(properties.get("domain", "0"))
        except ValueError:
            continue
        card = properties.get("unique_id", "")
        if not location or card in ("", "0") or properties.get("simd_count", "0") == "0":
            continue  # a CPU node, or a GPU KFD cannot name
        bus = pci_bus_key(f"{domain:04x}:{location >> 8 & 0xFF:02x}:{location >> 3 & 0x1F:02x}.{location & 7:x}")
        nodes.append(KfdNode(bus or "", card, _vram(os.path.join(base, name, "mem_banks"))))
    return nodes


def _vram(banks: str) -> int | None:
    try:
        names = os.listdir(banks)
    except OSError:
        return None
    sizes = []
    for name in names:
        properties = _properties(os.path.join(banks, name, "properties"))
        if properties.get("heap_type") in _VRAM_HEAPS:
            try:
                sizes.append(int(properties["size_in_bytes"]))
            except (KeyError, ValueError):
                return None
    return sum(sizes) if sizes else None


def partition_shares(nodes: list[KfdNode]) -> dict[str, int]:
    """PCI bus id -> VRAM bytes of each GPU that is one partition of a card split in several."""
    per_card: dict[str, int] = {}
    for node in nodes:
        per_card[node.card_id] = per_card.get(node.card_id, 0) + 1
    return {n.pci_bus_id: n.vram_bytes for n in nodes if per_card[n.card_id] > 1 and n.vram_bytes}
