"""Built-in vendor drivers, one module each.

Driver modules need only the standard library and their vendor binding (no pluggy),
so they also run inside the remote probe. ``flockops.plugins`` registers each of them
as a plugin through the same ``register_drivers`` hook third-party plugins implement.
"""

from __future__ import annotations

# plugin name -> "module:class"
BUILTIN_DRIVERS: dict[str, str] = {
    "nvml": "flockops.drivers.nvml:NvmlDriver",
    "nvidia-smi": "flockops.drivers.nvidia_smi:NvidiaSmiDriver",
    "amdsmi": "flockops.drivers.amdsmi:AmdsmiDriver",
    "amd-smi": "flockops.drivers.amd_smi:AmdSmiDriver",
    "rocm-smi": "flockops.drivers.rocm_smi:RocmSmiDriver",
    "sysfs-amd": "flockops.drivers.sysfs:AmdgpuSysfsDriver",
    "sysfs-intel": "flockops.drivers.sysfs:IntelSysfsDriver",
}
