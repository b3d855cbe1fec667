"""Built-in vendor drivers, one module each.

Driver modules need only the standard library and their vendor binding (no pluggy),
so they also run inside the remote probe. ``flockops.plugins.manager`` registers each of them
as a plugin through the same ``register_drivers`` hook third-party plugins implement.
"""

from __future__ import annotations

# plugin name -> "module:class"
BUILTIN_DRIVERS: dict[str, str] = {
    "nvml": "flockops.agent.drivers.nvml:NvmlDriver",
    "nvidia-smi": "flockops.agent.drivers.nvidia_smi:NvidiaSmiDriver",
    "amdsmi": "flockops.agent.drivers.amd_library:AmdsmiDriver",
    "amd-smi": "flockops.agent.drivers.amd_smi:AmdSmiDriver",
    "rocm-smi": "flockops.agent.drivers.rocm_smi:RocmSmiDriver",
    "sysfs-amd": "flockops.agent.drivers.sysfs:AmdgpuSysfsDriver",
    "sysfs-intel": "flockops.agent.drivers.sysfs:IntelSysfsDriver",
}
