"""Which GPU each worker gets, under the CUDA_VISIBLE_DEVICES a scheduler or container set
(indices, UUIDs, MIG instances, empty), with and without --devices / --cpu (NVML faked)."""

from __future__ import annotations

import pytest
from fake_nvml import H200, FakeGpu, FakeNvml, eight_gpu_box

from bntui.procs.gpus import (
    Card,
    DeviceError,
    gpu_position,
    plan_devices,
    runs_on_gpu,
    slot_job,
    visible_cards,
    worker_gpu_env,
)
from bntui.procs.system import GpuMonitor


def cards() -> list[Card]:
    return GpuMonitor(nvml=eight_gpu_box()).cards()


def uuids(found: list[Card]) -> list[int]:
    return [card.nvml_index for card in found]


def test_nvml_inventory_in_pci_order() -> None:
    found = cards()
    assert uuids(found) == list(range(8))
    assert found[3].uuid.startswith("GPU-3") and found[3].name == "NVIDIA H200"
    assert found[3].pci_bus_id == "00000000:1B:00.0" and found[3].memory_bytes == H200


@pytest.mark.parametrize(
    ("visible", "expected"),
    [
        (None, list(range(8))),  # unset: every GPU
        ("3,5", [3, 5]),  # SLURM-style indices
        ("5,3", [5, 3]),  # CUDA's order is the list's order
        (" 3 , 5 ", [3, 5]),
        ("GPU-5aaa,GPU-3aaaaaaa-0000-0000-0000-000000000003", [5, 3]),  # UUIDs and prefixes
        ("", []),  # nothing given
        ("-1", []),
        ("0,2,-1,1", [0, 2]),  # CUDA stops at the first invalid entry
        ("1,9,2", [1]),  # no GPU 9 here
        ("GPU-", []),  # a prefix that names no single GPU
        ("3,3", [3]),
    ],
)
def test_visible_cards_follow_cuda_visible_devices(
    visible: str | None, expected: list[int]
) -> None:
    assert uuids(visible_cards(visible, cards())) == expected


def test_mig_instances_by_uuid_and_legacy_form() -> None:
    parent = FakeGpu("NVIDIA H100 80GB HBM3", "GPU-abcdef12-0000", "00000000:3B:00.0")
    parent.mig = [
        FakeGpu("NVIDIA H100 MIG 1g.10gb", "MIG-11111111-aaaa", total=10 * 2**30),
        FakeGpu("NVIDIA H100 MIG 1g.10gb", "MIG-22222222-bbbb", total=10 * 2**30),
    ]
    inventory = GpuMonitor(nvml=FakeNvml([parent, FakeGpu("NVIDIA H100", "GPU-99")])).cards()
    assert [c.uuid for c in inventory] == [
        "GPU-abcdef12-0000", "MIG-11111111-aaaa", "MIG-22222222-bbbb", "GPU-99",
    ]  # fmt: skip
    # Unset: whole GPUs only, as CUDA enumerates them.
    assert [c.uuid for c in visible_cards(None, inventory)] == ["GPU-abcdef12-0000", "GPU-99"]
    mig = visible_cards("MIG-22222222-bbbb", inventory)
    assert [c.uuid for c in mig] == ["MIG-22222222-bbbb"]
    assert mig[0].mig_parent == "GPU-abcdef12-0000" and mig[0].pci_bus_id == "00000000:3B:00.0"
    assert mig[0].memory_bytes == 10 * 2**30
    legacy = visible_cards("MIG-GPU-abcdef12-0000/1/0", inventory)
    assert legacy[0].uuid == "MIG-GPU-abcdef12-0000/1/0"  # passed on to the worker as given
    assert legacy[0].nvml_index == 0 and legacy[0].mig_parent == "GPU-abcdef12-0000"
    # Two MIG instances, a model each: each worker gets its own instance's UUID.
    plan = plan_devices("MIG-11111111-aaaa,MIG-22222222-bbbb", inventory, None)
    assert worker_gpu_env(plan, "plain", {})["CUDA_VISIBLE_DEVICES"] == "MIG-11111111-aaaa"
    assert worker_gpu_env(plan, "bn", {})["CUDA_VISIBLE_DEVICES"] == "MIG-22222222-bbbb"


def test_default_two_gpus_one_model_each_within_the_allocation() -> None:
    inventory = cards()
    plan = plan_devices("3,5", inventory, None)  # a scheduler gave bntui GPUs 3 and 5
    plain, bn = plan.slots["plain"], plan.slots["bn"]
    assert plain and bn and not plain.shared and not bn.shared
    assert (plain.label, plain.card.nvml_index) == ("gpu:0", 3)
    assert (bn.label, bn.card.nvml_index) == ("gpu:1", 5)
    env = worker_gpu_env(plan, "bn", {"CUDA_VISIBLE_DEVICES": "3,5"})
    # The worker sees exactly physical GPU 5, named so it cannot be misread.
    assert env["CUDA_VISIBLE_DEVICES"] == inventory[5].uuid
    assert env["CUDA_DEVICE_ORDER"] == "PCI_BUS_ID"
    assert "XLA_PYTHON_CLIENT_MEM_FRACTION" not in env  # a GPU of its own


def test_devices_index_into_the_visible_list() -> None:
    inventory = cards()
    plan = plan_devices("3,5", inventory, "1,0")
    assert plan.slots["plain"] and plan.slots["plain"].card.nvml_index == 5
    assert plan.slots["bn"] and plan.slots["bn"].card.nvml_index == 3
    with pytest.raises(DeviceError) as info:
        plan_devices("3,5", inventory, "0,2")  # physical GPU 2 exists, but is not ours
    message = str(info.value)
    assert "--devices 0,2" in message and "CUDA_VISIBLE_DEVICES='3,5'" in message
    assert "gpu:0 = NVIDIA H200 (NVML 3)" in message and "gpu:1 = NVIDIA H200 (NVML 5)" in message


def test_one_gpu_is_shared_without_exhausting_it() -> None:
    inventory = cards()
    for plan in (plan_devices("4", inventory, None), plan_devices(None, inventory, "2,2")):
        plain, bn = plan.slots["plain"], plan.slots["bn"]
        assert plain and bn and plain.shared and plain.card == bn.card
        env = worker_gpu_env(plan, "plain", {})
        assert env["XLA_PYTHON_CLIENT_MEM_FRACTION"] == "0.45"
        assert env["XLA_PYTHON_CLIENT_PREALLOCATE"] == "false"
        assert env["TF_FORCE_GPU_ALLOW_GROWTH"] == "true"


def test_users_allocator_settings_are_kept() -> None:
    plan = plan_devices("4", cards(), None)
    mine = {
        "XLA_PYTHON_CLIENT_PREALLOCATE": "true",
        "TF_FORCE_GPU_ALLOW_GROWTH": "false",
        "XLA_CLIENT_MEM_FRACTION": "0.3",
    }
    env = worker_gpu_env(plan, "bn", mine)
    assert {k: env[k] for k in mine} == mine
    # Setting the old name as well would make JAX refuse to start.
    assert "XLA_PYTHON_CLIENT_MEM_FRACTION" not in env
    env = worker_gpu_env(plan, "bn", {"XLA_PYTHON_CLIENT_MEM_FRACTION": "0.2"})
    assert env["XLA_PYTHON_CLIENT_MEM_FRACTION"] == "0.2"


def test_cpu_and_empty_allocation_hide_every_gpu() -> None:
    inventory = cards()
    forced = plan_devices("3,5", inventory, "cpu")
    assert forced.cpu_forced and forced.slots == {"plain": None, "bn": None}
    empty = plan_devices("", inventory, None)
    assert not empty.given and empty.slots == {"plain": None, "bn": None} and empty.seen == 8
    for plan in (forced, empty):
        env = worker_gpu_env(plan, "plain", {"CUDA_VISIBLE_DEVICES": "3,5"})
        assert env["CUDA_VISIBLE_DEVICES"] == "" and env["JAX_PLATFORMS"] == "cpu"
    with pytest.raises(DeviceError, match="bntui may use none of this machine's 8 GPUs"):
        plan_devices("", inventory, "0,1")


def test_without_nvml_the_backend_picks_as_before() -> None:
    plan = plan_devices(None, None, None)
    assert not plan.managed and plan.slots == {"plain": None, "bn": None}
    env = worker_gpu_env(plan, "plain", {"CUDA_VISIBLE_DEVICES": "1"})
    assert env["CUDA_VISIBLE_DEVICES"] == "1" and "JAX_PLATFORMS" not in env
    with pytest.raises(DeviceError, match="no NVIDIA GPU found"):
        plan_devices(None, None, "0,1")
    # --cpu works without NVML too.
    env = worker_gpu_env(plan_devices(None, None, "cpu"), "bn", {})
    assert env["CUDA_VISIBLE_DEVICES"] == "" and env["JAX_PLATFORMS"] == "cpu"
    # A machine with NVML but no GPU: nothing to hide, nothing changes.
    env = worker_gpu_env(plan_devices(None, [], None), "bn", {})
    assert "CUDA_VISIBLE_DEVICES" not in env and "JAX_PLATFORMS" not in env


def test_worker_job_names_its_gpu_and_the_ones_bntui_may_use() -> None:
    plan = plan_devices("3,5", cards(), None)
    job = slot_job(plan, "bn")
    assert job["gpu"]["id"] == "gpu:1" and job["gpu"]["nvml_index"] == 5
    assert [g["id"] for g in job["gpus"]] == ["gpu:0", "gpu:1"]
    assert [g["nvml_index"] for g in job["gpus"]] == [3, 5]
    assert job["gpus_seen"] == 8 and job["cuda_visible"] == "3,5" and not job["cpu_forced"]


def test_runs_on_names_the_card_and_can_be_read_back() -> None:
    assert runs_on_gpu("gpu:1", "NVIDIA H200", H200) == "gpu:1 (NVIDIA H200, 139.8 GiB)"
    assert runs_on_gpu("gpu:0", "Tesla T4", 0) == "gpu:0 (Tesla T4)"
    assert gpu_position("gpu:1 (NVIDIA H200, 139.8 GiB)") == 1
    assert gpu_position("CPU (core 0)") is None and gpu_position("") is None
