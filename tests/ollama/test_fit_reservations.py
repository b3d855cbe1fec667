"""fit leaves out what a vLLM or SGLang server has claimed of a GPU but not taken yet."""

from __future__ import annotations

from support.units import GIB

from flockops.agent.engine_model import EngineReport
from flockops.agent.model import Engine, EngineStatus, FleetReport, GpuProcess, GpuSample, HostReport
from flockops.ollama.capacity import fit_to_dict, plan
from flockops.render.fit import fit_table


def gpu(index: int, free: int, *holders: GpuProcess) -> GpuSample:
    return GpuSample("nvidia", index, "nvml", memory_total_bytes=80 * GIB, memory_used_bytes=80 * GIB - free,
                     memory_free_bytes=free, temperature_c=50.0, throttle_reasons=(), processes=holders)


def test_a_loading_vllm_servers_claim_is_not_free() -> None:
    # vLLM told to take 90 % of each GPU holds 20 GiB so far (loading): 72 - 20 = 52 GiB more will go.
    loading = GpuProcess(pid=11, memory_used_bytes=20 * GIB, engine=Engine.VLLM, engine_pid=10,
                         engine_memory_fraction=0.9)
    fleet = FleetReport((HostReport("a", gpus=(gpu(0, 60 * GIB, loading), gpu(1, 40 * GIB))),), "now")
    result = plan(fleet, 30 * GIB, margin_bytes=0)
    (best,) = result.candidates  # GPU 0's 60 GiB free is 8 GiB once vLLM has what it claimed
    assert (best.gpus, best.free_bytes, best.engine_pending_bytes) == ((1,), 40 * GIB, 0)
    two = plan(fleet, 45 * GIB, margin_bytes=0).candidates
    assert [(p.kind, p.free_bytes, p.engine_pending_bytes) for p in two] == [("node", 8 * GIB + 40 * GIB, 52 * GIB)]
    assert "claimed but not taken" in fit_table(plan(fleet, 45 * GIB, margin_bytes=0))


def test_the_engines_own_answer_wins_over_its_flags_and_unknown_is_said() -> None:
    started = GpuProcess(pid=21, memory_used_bytes=70 * GIB, engine=Engine.SGLANG, engine_pid=20,
                         engine_memory_fraction=0.5)
    mystery = GpuProcess(pid=31, memory_used_bytes=GIB, engine=Engine.VLLM, engine_pid=30)
    said = EngineReport(Engine.SGLANG, "http://127.0.0.1:30000", EngineStatus.OK, pid=20, memory_fraction=0.95)
    fleet = FleetReport((HostReport("b", gpus=(gpu(0, 10 * GIB, started), gpu(1, 79 * GIB, mystery)),
                                    engines=(said,)),), "now")
    result = plan(fleet, 4 * GIB, margin_bytes=0)
    # 0.95 x 80 = 76 GiB claimed, 70 held: 6 of GPU 0's 10 GiB free are SGLang's.
    assert [(p.gpus, p.free_bytes) for p in result.candidates] == [((1,), 79 * GIB), ((0,), 4 * GIB)]
    assert any("vllm (pid 30) on GPU 1: its share of the GPU is unknown" in note for note in result.notes)
    assert fit_to_dict(result)["notes"] == list(result.notes)
