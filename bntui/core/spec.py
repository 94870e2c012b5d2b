"""The experiment spec: everything needed to run a plain/BN pair again, and the presets.

A spec is plain data (no Keras) so the UI, the run file and the CLI can all hold it.
Presets reproduce the experiments in EXPERIMENTS.md; options override a preset.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any, Literal

Dataset = Literal["fashion_mnist", "mnist"]
Optimizer = Literal["sgd", "adam"]
Backend = Literal["jax", "tensorflow"]
Architecture = Literal["fashion", "mnist", "sweep"]

DATASETS: tuple[str, ...] = ("fashion_mnist", "mnist")
OPTIMIZERS: tuple[str, ...] = ("sgd", "adam")
BACKENDS: tuple[str, ...] = ("jax", "tensorflow")
MODEL_KEYS: tuple[str, str] = ("plain", "bn")
MODEL_TITLES: dict[str, str] = {"plain": "Plain MLP", "bn": "MLP + BatchNorm"}

MAX_SAMPLE_COUNT = 32
# What a worker records of its test predictions (schema 4): each of the test set's first
# POOL_SIZE images' predicted class, and its first MISTAKES_KEPT mistakes among them. (Here,
# not with the file bounds, so a worker need not import pydantic to know them.)
POOL_SIZE = 200
MISTAKES_KEPT = 8
TRAIN_SIZE = {"fashion_mnist": 60_000, "mnist": 60_000}
# What bntui trains and records at most (the run file's bound too).
MAX_EPOCHS = 100_000
MAX_LEARNING_RATE = 100.0
MAX_SEED = 2**32 - 1  # NumPy's seeds are 32-bit
# Seeds of each model trained side by side (--seeds); the run file's bound too.
MAX_SEEDS = 64


class SpecError(ValueError):
    """A spec that cannot be run; the message says which value is wrong and why."""


# The validation accuracy "epochs to reach" times, per dataset (the sweep's default too).
TARGET_ACCURACY = {"mnist": 0.97, "fashion_mnist": 0.85}
# The batch sizes `bntui sweep` trains the pair with by default (notebook 004's).
DEFAULT_BATCH_SIZES = (32, 64, 128, 256)


@dataclass(frozen=True)
class ExperimentSpec:
    """One plain-vs-BN experiment. Field names are the run file's `spec` keys."""

    preset: str = "fashion-sgd"
    dataset: Dataset = "fashion_mnist"
    architecture: Architecture = "fashion"
    optimizer: Optimizer = "sgd"
    learning_rate: float = 1e-3
    batch_size: int = 32
    epochs: int = 10
    seed: int = 42
    # Seeds of each model (--seeds N): seed k of both models is `seed + k`, with the same
    # data order; a run of N > 1 seeds reports the BN − plain gaps with paired intervals.
    seeds: int = 1
    validation_size: int = 5_000
    limit: int | None = None
    backend: Backend = "jax"
    # faithful=True trains exactly as the seed notebooks do: float64 inputs, one step per call.
    faithful: bool = False
    steps_per_execution: int | None = None
    # JAX: run each group of steps_per_execution steps as one compiled scan (training/fused.py).
    fuse_steps: bool = True
    curve_points_per_epoch: int = 25
    # Layer statistics from the probe batch, this many times per epoch (0 = off).
    inside_per_epoch: int = 5
    sample_count: int = 8
    stop_on_divergence: bool = True
    # Notebook 003's callbacks: EarlyStopping on val_loss with this patience (restoring
    # the best weights), ModelCheckpoint (best only) and TensorBoard logs into these folders.
    # "0,1": the plain model on gpu:0, the BN model on gpu:1, numbered among the GPUs bntui
    # may use (CUDA_VISIBLE_DEVICES) (--devices); "cpu": no GPU (--cpu); None: bntui picks.
    devices: str | None = None
    early_stopping: int | None = None
    checkpoint_dir: str | None = None
    tensorboard_dir: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """Return the spec as JSON-ready data."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ExperimentSpec:
        """Build a spec from run-file data, ignoring keys a newer bntui may have added."""
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})

    @property
    def seed_values(self) -> list[int]:
        """The seed of each replica of the pair: `seed`, `seed + 1`, ... (`seeds` of them)."""
        return [self.seed + k for k in range(self.seeds)]

    @property
    def vectorised(self) -> bool:
        """True when a worker trains all its seeds as one program (`jax.vmap`); False when it
        trains them one after another (one seed, TensorFlow, --faithful, or the seeds'
        callbacks, which belong to Keras' own `fit`)."""
        callbacks = self.early_stopping or self.checkpoint_dir or self.tensorboard_dir
        return self.seeds > 1 and self.backend == "jax" and not self.faithful and not callbacks

    @property
    def train_size(self) -> int:
        """Training images used (after the validation split and any --limit)."""
        full = TRAIN_SIZE[self.dataset] - self.validation_size
        return full if self.limit is None else min(self.limit, full)

    @property
    def steps_per_epoch(self) -> int:
        """Optimizer steps in one epoch (the last batch may be partial, as in Keras)."""
        return -(-self.train_size // self.batch_size)

    def effective_steps_per_execution(self) -> int:
        """Steps fused per compiled call: one call per curve point (the curve is measured
        after a call), so as few calls as the live curve allows; each call costs Python
        around it (bench/RESULTS.md, speed round 15)."""
        if self.faithful:
            return 1
        if self.steps_per_execution is not None:
            return self.steps_per_execution
        return max(1, self.steps_per_epoch // self.curve_points_per_epoch)

    def validate(self) -> None:
        """Raise SpecError with one clear sentence if the spec cannot be run."""
        if self.dataset not in DATASETS:
            raise SpecError(
                f"unknown dataset {self.dataset!r}; choose one of {', '.join(DATASETS)}"
            )
        if self.optimizer not in OPTIMIZERS:
            raise SpecError(
                f"unknown optimizer {self.optimizer!r}; choose one of {', '.join(OPTIMIZERS)}"
            )
        if self.backend not in BACKENDS:
            raise SpecError(
                f"unknown backend {self.backend!r}; choose one of {', '.join(BACKENDS)}"
            )
        for name in ("epochs", "batch_size", "curve_points_per_epoch"):
            if getattr(self, name) <= 0:
                raise SpecError(f"--{name.replace('_', '-')} must be a positive whole number")
        if not 1 <= self.seeds <= MAX_SEEDS:
            raise SpecError(f"--seeds must be a whole number from 1 to {MAX_SEEDS}")
        if self.epochs > MAX_EPOCHS:
            raise SpecError(f"--epochs must be at most {MAX_EPOCHS:,}")
        if not 0 <= self.validation_size < TRAIN_SIZE[self.dataset]:
            raise SpecError(
                f"the validation split must be 0 to {TRAIN_SIZE[self.dataset] - 1:,} images"
            )
        if not self.learning_rate > 0 or self.learning_rate == float("inf"):
            raise SpecError("--lr must be a positive, finite number")
        if self.devices is not None and self.devices != "cpu":
            parts = [p.strip() for p in self.devices.split(",")]
            if len(parts) != 2 or not all(p.isascii() and p.isdigit() for p in parts):
                raise SpecError("--devices takes two GPU numbers, plain then BN, e.g. 0,1")
        if self.early_stopping is not None and not 0 < self.early_stopping <= MAX_EPOCHS:
            raise SpecError(
                "--early-stopping must be a positive number of epochs (patience), at most "
                f"{MAX_EPOCHS:,}"
            )
        if not 0 <= self.inside_per_epoch <= 100:
            raise SpecError("--inside must be between 0 (off) and 100 measurements per epoch")
        if self.steps_per_execution is not None and self.steps_per_execution <= 0:
            raise SpecError("--steps-per-execution must be a positive whole number")
        full = TRAIN_SIZE[self.dataset] - self.validation_size
        if self.limit is not None:
            if self.limit <= 0:
                raise SpecError("--limit must be a positive whole number")
            if self.limit > full:
                raise SpecError(
                    f"--limit {self.limit} is beyond the data: {self.dataset} has {full:,} "
                    "training images after the 5,000 validation images"
                )
        if not 0 <= self.sample_count <= MAX_SAMPLE_COUNT:
            raise SpecError(f"sample count must be between 0 and {MAX_SAMPLE_COUNT}")

    def check_trainable(self) -> None:
        """Beyond `validate`: values that would only fail once training started (a seed
        NumPy refuses, a batch larger than the data...). Raise SpecError, one sentence."""
        self.validate()
        if not 0 <= self.seed <= MAX_SEED - (self.seeds - 1):
            raise SpecError(
                f"--seed must be a whole number from 0 to {MAX_SEED} (2^32 - 1), less the "
                "number of seeds after the first"
            )
        if self.learning_rate > MAX_LEARNING_RATE:
            raise SpecError(f"--lr must be at most {MAX_LEARNING_RATE:g}")
        if self.batch_size > self.train_size:
            raise SpecError(
                f"--batch-size {self.batch_size} is more than the {self.train_size:,} "
                "training images"
            )
        spe = self.steps_per_execution
        if spe is not None and spe > self.steps_per_epoch:
            raise SpecError(
                f"--steps-per-execution {spe} is more than the {self.steps_per_epoch:,} "
                "steps of an epoch"
            )


@dataclass(frozen=True)
class Preset:
    """A named spec, with the seed notebook and figures it reproduces."""

    name: str
    description: str
    spec: ExperimentSpec = field(default_factory=ExperimentSpec)


PRESETS: dict[str, Preset] = {
    p.name: p
    for p in (
        Preset(
            "fashion-sgd",
            "Fashion-MNIST, SGD lr 1e-3, batch 32, 10 epochs "
            "(EXPERIMENTS.md §1, notebooks 001/002)",
            ExperimentSpec(),
        ),
        Preset(
            "fashion-sgd-lr0.01",
            "Fashion-MNIST, Keras-default SGD lr 0.01, batch 32, 10 epochs (notebook 000)",
            ExperimentSpec(preset="fashion-sgd-lr0.01", learning_rate=0.01),
        ),
        Preset(
            "mnist-adam",
            "MNIST, Adam, batch 64, 10 epochs, BN after activation "
            "(EXPERIMENTS.md §2, notebook 003)",
            ExperimentSpec(
                preset="mnist-adam",
                dataset="mnist",
                architecture="mnist",
                optimizer="adam",
                learning_rate=1e-3,
                batch_size=64,
            ),
        ),
        Preset(
            "mnist-sweep",
            "MNIST, Dense 512 + Dropout 0.2, Adam, 5 epochs; the model of the batch-size sweep "
            "(EXPERIMENTS.md §3, notebook 004)",
            ExperimentSpec(
                preset="mnist-sweep",
                dataset="mnist",
                architecture="sweep",
                optimizer="adam",
                learning_rate=1e-3,
                epochs=5,
            ),
        ),
    )
}


def build_spec(preset: str = "fashion-sgd", **overrides: Any) -> ExperimentSpec:
    """Start from a preset, apply the options that were given (None = keep), and validate."""
    if preset not in PRESETS:
        raise SpecError(f"unknown preset {preset!r}; choose one of {', '.join(PRESETS)}")
    given = {k: v for k, v in overrides.items() if v is not None}
    spec = replace(PRESETS[preset].spec, **given)
    spec.check_trainable()
    return spec
