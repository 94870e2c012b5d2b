"""Which GPU each model trains on, as plain data: CUDA_VISIBLE_DEVICES, `--devices`, `--cpu`.

bntui uses only the GPUs it was given. CUDA_VISIBLE_DEVICES (as SLURM and container runtimes
set it) lists them by index, UUID (or a unique UUID prefix) or MIG UUID; `--devices` indexes
into that list, so `gpu:N` always means the N-th GPU bntui may use. Each worker is then shown
exactly one GPU, by UUID, so the backend's only GPU in a worker is the card named here,
whatever CUDA's numbering. Without `--devices`, two or more GPUs give each model its own (plain
on the first, BN on the second) and one GPU is shared. No NVML and no backend are imported
here: the cards come from `bntui.procs.system`, so all of this is tested with plain data.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from typing import Any

from bntui.core.spec import MODEL_KEYS

# Each of two JAX workers sharing one GPU may grow to this share of its memory.
SHARED_MEMORY_FRACTION = "0.45"
MEMORY_FRACTION_VARS = ("XLA_CLIENT_MEM_FRACTION", "XLA_PYTHON_CLIENT_MEM_FRACTION")


class DeviceError(ValueError):
    """`--devices` names GPUs bntui may not use; the message says which it may."""


@dataclass(frozen=True)
class Card:
    """One GPU, or one MIG instance of a GPU, as NVML sees it."""

    nvml_index: int  # NVML's number (PCI bus order, as nvidia-smi); a MIG instance: its GPU's
    uuid: str
    name: str
    memory_bytes: int = 0
    pci_bus_id: str = ""
    mig_parent: str = ""  # the parent GPU's UUID, for a MIG instance

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready facts, as a run file's `devices` entry keeps them."""
        return asdict(self)


@dataclass(frozen=True)
class Slot:
    """The GPU one model gets: `gpu:<position>` among the GPUs bntui may use."""

    position: int
    card: Card
    shared: bool = False  # both models on this GPU

    @property
    def label(self) -> str:
        """`gpu:0`: the number `--devices` uses."""
        return f"gpu:{self.position}"


@dataclass(frozen=True)
class Plan:
    """Where each model should train, and what the workers' environment must say for it."""

    given: list[Card] = field(default_factory=list)  # the GPUs bntui may use, in order
    slots: dict[str, Slot | None] = field(default_factory=dict)  # None: the CPU
    managed: bool = False  # NVML answered, so bntui assigns GPUs (else the backend picks)
    cpu_forced: bool = False
    seen: int | None = None  # whole GPUs NVML sees on the machine (None: no NVML)
    cuda_visible: str | None = None  # CUDA_VISIBLE_DEVICES as bntui found it


def parse_devices(devices: str | None) -> tuple[int, int] | None:
    """`--devices 0,1` as (plain, bn); None for no choice or `cpu`."""
    if not devices or devices == "cpu":
        return None
    plain, bn = (int(part) for part in devices.split(","))
    return plain, bn


def visible_cards(cuda_visible: str | None, cards: list[Card]) -> list[Card]:
    """The cards CUDA shows a process with this CUDA_VISIBLE_DEVICES, in CUDA's order.

    Unset: every whole GPU. Integer entries count whole GPUs in PCI bus order (NVML's and
    nvidia-smi's numbering; bntui sets CUDA_DEVICE_ORDER=PCI_BUS_ID for its workers). As
    CUDA does, the list ends at the first entry that names no GPU (`-1`, a typo).
    """
    whole = [card for card in cards if not card.mig_parent]
    if cuda_visible is None:
        return whole
    found: list[Card] = []
    for raw in cuda_visible.split(","):
        card = _match(raw.strip(), cards, whole)
        if card is None:
            break
        if card not in found:
            found.append(card)
    return found


_LEGACY_MIG = re.compile(r"^MIG-(GPU-[0-9a-fA-F-]+)/\d+/\d+$")


def _match(entry: str, cards: list[Card], whole: list[Card]) -> Card | None:
    if entry.isdigit():
        index = int(entry)
        return whole[index] if index < len(whole) else None
    legacy = _LEGACY_MIG.match(entry)
    if legacy:  # MIG-GPU-<uuid>/<gi>/<ci>: the instance is known by its GPU only
        parent = _unique_prefix(legacy.group(1), whole)
        if parent is None:
            return None
        return Card(
            parent.nvml_index, entry, f"{parent.name} MIG", 0, parent.pci_bus_id, parent.uuid
        )
    if entry.startswith("MIG-"):
        return _unique_prefix(entry, [card for card in cards if card.mig_parent])
    if entry.startswith("GPU-"):
        return _unique_prefix(entry, whole)
    return None


def _unique_prefix(prefix: str, cards: list[Card]) -> Card | None:
    # CUDA accepts any prefix of a UUID long enough to name one GPU.
    hits = [card for card in cards if card.uuid.lower().startswith(prefix.lower())]
    return hits[0] if len(hits) == 1 else None


def plan_devices(cuda_visible: str | None, cards: list[Card] | None, devices: str | None) -> Plan:
    """Assign a GPU (or the CPU) to each model; DeviceError if `--devices` is out of range.

    `cards` is NVML's inventory, None when NVML is not there (then the backend picks, as
    before, and only `--cpu` changes anything).
    """
    if devices == "cpu":
        none: dict[str, Slot | None] = dict.fromkeys(MODEL_KEYS)
        seen = None if cards is None else sum(1 for c in cards if not c.mig_parent)
        return Plan([], none, cards is not None, True, seen, cuda_visible)
    wanted = parse_devices(devices)
    if cards is None:
        if wanted:
            raise DeviceError(
                f"--devices {devices}: no NVIDIA GPU found (NVML, the driver's library, "
                "did not answer)"
            )
        return Plan(slots=dict.fromkeys(MODEL_KEYS), cuda_visible=cuda_visible)
    given = visible_cards(cuda_visible, cards)
    seen = sum(1 for card in cards if not card.mig_parent)
    if wanted is None:
        wanted = (0, 1) if len(given) >= 2 else (0, 0)
    elif max(wanted) >= len(given):
        raise DeviceError(f"--devices {devices}: {describe_given(given, seen, cuda_visible)}")
    slots: dict[str, Slot | None] = dict.fromkeys(MODEL_KEYS)
    if given:
        shared = wanted[0] == wanted[1]
        for key, position in zip(MODEL_KEYS, wanted):
            slots[key] = Slot(position, given[position], shared)
    return Plan(given, slots, True, False, seen, cuda_visible)


def describe_given(given: list[Card], seen: int, cuda_visible: str | None) -> str:
    """Which GPUs bntui may use, for an error message."""
    if not seen:
        return "this machine has no NVIDIA GPU (seen through NVML)"
    limit = f" (CUDA_VISIBLE_DEVICES={cuda_visible!r})" if cuda_visible is not None else ""
    if not given:
        return f"bntui may use none of this machine's {seen} GPUs{limit}"
    names = ", ".join(
        f"gpu:{i} = {card.name} (NVML {card.nvml_index})" for i, card in enumerate(given)
    )
    return f"bntui may use {len(given)} GPU{'s' if len(given) != 1 else ''}{limit}: {names}"


def worker_gpu_env(plan: Plan, key: str, env: dict[str, str]) -> dict[str, str]:
    """The worker's environment for its GPU: its own card by UUID, or none at all.

    Allocator settings the user made are kept; bntui's defaults only fill the gaps.
    """
    env = dict(env)
    # Allocate as needed, so nvidia-smi shows what training uses and two workers can share.
    env.setdefault("XLA_PYTHON_CLIENT_PREALLOCATE", "false")
    env.setdefault("TF_FORCE_GPU_ALLOW_GROWTH", "true")
    slot = plan.slots.get(key)
    if plan.cpu_forced or (plan.managed and slot is None and plan.seen):
        env["CUDA_VISIBLE_DEVICES"] = ""
        # JAX would otherwise probe the hidden GPUs and warn that CUDA failed.
        env["JAX_PLATFORMS"] = "cpu"
        return env
    if slot is None:
        return env
    env["CUDA_DEVICE_ORDER"] = "PCI_BUS_ID"
    env["CUDA_VISIBLE_DEVICES"] = slot.card.uuid
    if slot.shared and not any(name in env for name in MEMORY_FRACTION_VARS):
        env["XLA_PYTHON_CLIENT_MEM_FRACTION"] = SHARED_MEMORY_FRACTION
    return env


def slot_job(plan: Plan, key: str) -> dict[str, Any]:
    """What a worker is told about GPUs: its own slot, the GPUs bntui may use, NVML's count."""
    slot = plan.slots.get(key)
    return {
        "gpu": None
        if slot is None
        else {**slot.card.to_dict(), "id": slot.label, "shared": slot.shared},
        "gpus": [{**card.to_dict(), "id": f"gpu:{i}"} for i, card in enumerate(plan.given)],
        "gpus_seen": plan.seen,
        "cpu_forced": plan.cpu_forced,
        "cuda_visible": plan.cuda_visible,
    }


def gib(n: float | None) -> str:
    """Bytes as `139.8 GiB`; unknown (0 or None) as `?`."""
    return f"{n / 2**30:.1f} GiB" if n else "?"


def runs_on_gpu(label: str, name: str, memory_bytes: int) -> str:
    """`gpu:0 (NVIDIA H200, 139.8 GiB)`: a model's `runs_on` when it trains on a GPU."""
    return f"{label} ({name}, {gib(memory_bytes)})" if memory_bytes else f"{label} ({name})"


_RUNS_ON_GPU = re.compile(r"^gpu:(\d+)\b")


def gpu_position(runs_on: str) -> int | None:
    """The N of a `runs_on` that starts with `gpu:N`, else None (the CPU, or unknown)."""
    found = _RUNS_ON_GPU.match(runs_on or "")
    return int(found.group(1)) if found else None


def unused_gpu_note(job: dict[str, Any], on_gpu: bool, backend: str, reason: str, fix: str) -> str:
    """One line when NVML sees a GPU this model does not train on, saying why; else ``."""
    seen = job.get("gpus_seen") or 0
    if on_gpu or not seen:
        return ""
    cards = f"{seen} NVIDIA GPU{'s' if seen != 1 else ''}"
    if job.get("cpu_forced"):
        return f"--cpu: the {cards} here are not used"
    gpu = job.get("gpu")
    if gpu is None:
        return (
            f"the {cards} here are not used: CUDA_VISIBLE_DEVICES="
            f"{job.get('cuda_visible')!r} gives bntui none"
        )
    return (
        f"{gpu.get('id')} {gpu.get('name')} is present but {backend} trains on the CPU: "
        f"{reason}. Fix: {fix}"
    )
