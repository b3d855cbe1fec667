"""Compare flockops (NVML and nvidia-smi drivers) with plain nvidia-smi on a real GPU. See scripts/gpu-check."""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import time

FIELDS = ("index", "name", "memory.total", "memory.reserved", "memory.used", "memory.free", "utilization.gpu",
          "temperature.gpu", "power.draw", "enforced.power.limit")
MIB = 1 << 20


def smi() -> list[dict[str, str]]:
    out = subprocess.run(["nvidia-smi", f"--query-gpu={','.join(FIELDS)}", "--format=csv,noheader,nounits"],
                         capture_output=True, text=True, check=True, env={"LC_ALL": "C", "PATH": "/usr/bin:/bin"})
    return [dict(zip(FIELDS, (c.strip() for c in line.split(",")), strict=True))
            for line in out.stdout.splitlines() if line.strip()]


def report(flockops: str, *extra: str) -> dict[str, object]:
    out = subprocess.run([flockops, "report", "-o", "json", *extra], capture_output=True, text=True, check=True)
    return json.loads(out.stdout)["hosts"][0]  # type: ignore[no-any-return]


def timed(argv: list[str], runs: int = 5) -> float:
    samples = []
    for _ in range(runs + 1):
        started = time.perf_counter()
        subprocess.run(argv, capture_output=True, check=True)
        samples.append(time.perf_counter() - started)
    return statistics.median(samples[1:])


def main() -> None:
    flockops = sys.argv[1]
    reference = smi()
    hosts = {"nvml": report(flockops), "nvidia-smi": report(flockops, "--driver", "nvidia-smi")}
    print("| GPU | field | nvidia-smi | flockops nvml | flockops nvidia-smi |\n|---|---|---|---|---|")
    pairs = (("memory.total", "memory_total_bytes", MIB), ("memory.reserved", "memory_reserved_bytes", MIB),
             ("memory.used", "memory_used_bytes", MIB), ("memory.free", "memory_free_bytes", MIB),
             ("utilization.gpu", "utilization_pct", 1), ("temperature.gpu", "temperature_c", 1),
             ("power.draw", "power_w", 1), ("enforced.power.limit", "power_limit_w", 1))
    for row in reference:
        index = int(row["index"])
        for smi_field, key, scale in pairs:
            got = []
            for host in hosts.values():
                gpu = next((g for g in host["gpus"] if g["index"] == index), {})  # type: ignore[union-attr]
                value = gpu.get(key)
                got.append("null" if value is None else f"{value / scale:g}")
            print(f"| {index} {row['name']} | {smi_field} | {row[smi_field]} | {got[0]} | {got[1]} |")
        for name, host in hosts.items():
            gpu = next((g for g in host["gpus"] if g["index"] == index), {})  # type: ignore[union-attr]
            print(f"| {index} | {name}: slowdown / shutdown / throttle | | {gpu.get('temperature_slowdown_c')} / "
                  f"{gpu.get('temperature_shutdown_c')} / {gpu.get('throttle_reasons')} | |")
    print("\n| command | median of 5 |\n|---|---|")
    for label, argv in (("nvidia-smi --query-gpu", ["nvidia-smi", f"--query-gpu={','.join(FIELDS)}",
                                                      "--format=csv,noheader,nounits"]),
                        ("flockops report -o json", [flockops, "report", "-o", "json"]),
                        ("flockops report -o json --driver nvidia-smi",
                         [flockops, "report", "-o", "json", "--driver", "nvidia-smi"]),
                        ("flockops report", [flockops, "report"])):
        print(f"| `{label}` | {timed(argv) * 1000:.0f} ms |")


if __name__ == "__main__":
    main()
