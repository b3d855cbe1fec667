"""PCI display controllers and DRM cards, as sysfs shows them. Reads only, through the Context.

Used by the sysfs drivers (which card is which GPU) and by the collection core (which
vendors this host has, from the hardware rather than from which tool is installed).
Standard library only: this module also runs inside the remote probe.

Where the facts come from (Linux ``Documentation/ABI/testing/sysfs-bus-pci``):
``/sys/bus/pci/devices/<address>/{class,vendor,device}`` hold ``0x``-prefixed hex, and each
device's ``uevent`` repeats them as ``PCI_CLASS=30000``, ``PCI_ID=1002:73BF``,
``PCI_SLOT_NAME=0000:0c:00.0`` next to ``DRIVER=amdgpu``. ``/sys/class/drm/cardN/device``
links to the PCI device directory, whose name is the PCI address.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass

from .driver import Context

# PCI vendor ids of the GPU vendors flockops knows.
VENDOR_IDS: dict[int, str] = {0x10DE: "nvidia", 0x1002: "amd", 0x8086: "intel"}
# Base class 0x03: display controller (VGA 0x0300, XGA 0x0301, 3D 0x0302, other 0x0380).
# The ASPEED BMC "card" of many servers (vendor 0x1a03) is a display controller too, but
# not a vendor of ours, so it never becomes a GPU.
DISPLAY_CLASS = 0x03

# Pattern strings, compiled on first use (re caches them): every probe imports this module.
_CARD = r"^card(\d+)$"
_PCI_ADDRESS = r"^[0-9a-fA-F]{4,8}:[0-9a-fA-F]{2}:[0-9a-fA-F]{2}\.[0-7]$"


@dataclass(frozen=True, slots=True)
class PciDevice:
    """One PCI function, with what its sysfs directory says about it."""

    path: str  # the sysfs directory (for a DRM card: cardN/device)
    bus_id: str | None  # "0000:0c:00.0"
    vendor_id: int | None
    device_id: int | None
    class_code: int | None  # 0x030000
    driver: str | None  # the kernel driver bound to it: amdgpu, i915, xe, nvidia...
    card: str | None = None  # "card1" when found through /sys/class/drm

    @property
    def vendor(self) -> str | None:
        return None if self.vendor_id is None else VENDOR_IDS.get(self.vendor_id)

    @property
    def is_display(self) -> bool:
        return self.class_code is not None and self.class_code >> 16 == DISPLAY_CLASS

    @property
    def pci_id(self) -> str | None:
        """"1002:73BF", as lspci -n prints it."""
        if self.vendor_id is None or self.device_id is None:
            return None
        return f"{self.vendor_id:04X}:{self.device_id:04X}"


def read_uevent(ctx: Context, path: str) -> dict[str, str]:
    """A sysfs ``uevent`` file as a dict (``DRIVER=amdgpu`` lines)."""
    text = ctx.read_text(os.path.join(path, "uevent")) or ""
    values: dict[str, str] = {}
    for line in text.splitlines():
        key, sep, value = line.partition("=")
        if sep:
            values[key.strip()] = value.strip().rstrip("\x00")
    return values


def _hex(text: str | None) -> int | None:
    if not text:
        return None
    try:
        return int(text.strip(), 16)
    except ValueError:
        return None


def read_device(ctx: Context, path: str, card: str | None = None) -> PciDevice:
    """What a PCI device directory says: uevent first, the single-value files where it is silent."""
    uevent = read_uevent(ctx, path)
    vendor_id = device_id = None
    pci_id = uevent.get("PCI_ID", "")
    if ":" in pci_id:
        vendor_id, device_id = (_hex(part) for part in pci_id.split(":", 1))
    if vendor_id is None:
        vendor_id = _hex(ctx.read_text(os.path.join(path, "vendor")))
    if device_id is None:
        device_id = _hex(ctx.read_text(os.path.join(path, "device")))
    class_code = _hex(uevent.get("PCI_CLASS")) or _hex(ctx.read_text(os.path.join(path, "class")))
    bus_id = uevent.get("PCI_SLOT_NAME") or None
    if bus_id is None:
        # Real sysfs: cardN/device is a link to .../0000:0c:00.0 (recorded trees copy it as a folder).
        name = ctx.real_name(path)
        bus_id = name if re.match(_PCI_ADDRESS, name) else None
    return PciDevice(path=path, bus_id=bus_id, vendor_id=vendor_id, device_id=device_id,
                     class_code=class_code, driver=uevent.get("DRIVER") or None, card=card)


def drm_cards(ctx: Context) -> list[PciDevice]:
    """The PCI devices behind ``/sys/class/drm/card*``, in card order, one per PCI address.

    Connector entries (``card0-DP-1``) and render nodes are skipped; so is a card whose
    device is not PCI (``simpledrm``'s boot framebuffer has no vendor id).
    """
    drm = os.path.join(ctx.sysfs_root, "class", "drm")
    numbered = sorted((int(m.group(1)), name) for name in ctx.list_dir(drm) if (m := re.match(_CARD, name)))
    found: list[PciDevice] = []
    seen: set[str] = set()
    for _, name in numbered:
        device = read_device(ctx, os.path.join(drm, name, "device"), card=name)
        if device.vendor_id is None:
            continue
        key = device.bus_id or device.path
        if key in seen:
            continue
        seen.add(key)
        found.append(device)
    return found


def pci_display_devices(ctx: Context) -> list[PciDevice]:
    """Every PCI display controller in ``/sys/bus/pci/devices`` (headless NVIDIA servers have no DRM card)."""
    root = os.path.join(ctx.sysfs_root, "bus", "pci", "devices")
    devices = [read_device(ctx, os.path.join(root, name)) for name in ctx.list_dir(root)]
    return [d for d in devices if d.is_display]


def detected_vendors(ctx: Context) -> list[str]:
    """Our vendors among this host's display controllers (PCI bus and DRM cards), in PCI order."""
    vendors: dict[str, None] = {}
    for device in (*pci_display_devices(ctx), *drm_cards(ctx)):
        if device.vendor is not None and (device.is_display or device.class_code is None):
            vendors.setdefault(device.vendor)
    return list(vendors)
