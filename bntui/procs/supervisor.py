"""Start one worker process per model and merge their event streams into one.

The supervisor never imports Keras. Iterating it yields events from both workers, in
arrival order, until both models are done. A worker that dies without saying why is
reported as a failed model, with its exit status and the end of its stderr.
"""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from pathlib import Path

from bntui.core.events import (
    AWAIT_JOB,
    Event,
    EventError,
    ModelDone,
    ModelReady,
    SystemSample,
    TestResult,
    parse_event,
)
from bntui.core.spec import MODEL_KEYS, ExperimentSpec
from bntui.procs.affinity import available_cores, release_cores, share_cores_with, spawned_on
from bntui.procs.gpus import plan_devices, slot_job, worker_gpu_env
from bntui.procs.system import SAMPLE_EVERY_S, GpuMonitor, WorkerMonitor
from bntui.procs.xla_flags import worker_xla_flags

STDERR_TAIL_LINES = 40

# A worker's environment and cores (None: not pinned): what is fixed when its process starts.
Setup = tuple[dict[str, str], list[int] | None]


# About 0.7 MB per distinct experiment; the least recently used entries go first.
COMPILE_CACHE_MAX_BYTES = 256 * 2**20


def compile_cache_dir() -> Path:
    """Where workers keep compiled steps: `$BNTUI_CACHE_DIR`, else the XDG cache folder."""
    root = os.environ.get("BNTUI_CACHE_DIR") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "bntui"
    )
    return Path(root) / "jax-compile"


def worker_env(spec: ExperimentSpec, threads: int) -> dict[str, str]:
    """Environment for a worker: the backend, its thread budget, quiet logs (its GPU is
    added by `bntui.procs.gpus.worker_gpu_env`)."""
    env = dict(os.environ)
    env.update(
        KERAS_BACKEND=spec.backend,
        TF_CPP_MIN_LOG_LEVEL="2",
        OMP_NUM_THREADS=str(threads),
        TF_NUM_INTRAOP_THREADS=str(threads),
        TF_NUM_INTEROP_THREADS="1",
        PYTHONUNBUFFERED="1",
    )
    # JAX keeps compiled steps on disk, so every run after the first on this machine skips
    # several seconds of compiling. JAX_COMPILATION_CACHE_DIR moves it;
    # JAX_ENABLE_COMPILATION_CACHE=false turns it off.
    env.setdefault("JAX_COMPILATION_CACHE_DIR", str(compile_cache_dir()))
    env.setdefault("JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS", "0")
    env.setdefault("JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES", "0")
    env.setdefault("JAX_COMPILATION_CACHE_MAX_SIZE", str(COMPILE_CACHE_MAX_BYTES))
    # The scaled dataset, decoded by the first worker and mapped by the rest
    # (bntui.training.datacache): both workers share one copy, later runs skip the decoding.
    env.setdefault("BNTUI_DATA_CACHE_DIR", str(compile_cache_dir().parent / "data"))
    # Keras' training steps, exported by the first run (bntui.training.programs): later runs
    # load them instead of tracing Keras' step again in every worker's first epoch.
    env.setdefault("BNTUI_PROGRAM_CACHE_DIR", str(compile_cache_dir().parent / "programs"))
    env["XLA_FLAGS"] = worker_xla_flags(env.get("XLA_FLAGS", ""), threads, spec.backend)
    return env


def default_threads(models: int = 2) -> int:
    """Cores per worker when the models train side by side."""
    try:
        cores = len(available_cores())
    except (AttributeError, OSError):
        cores = os.cpu_count() or 1
    return max(1, cores // models)


def worker_cores(threads: int, models: int = 2) -> list[list[int]] | None:
    """Cores of its own for each worker, when there are enough; else None (no pinning).

    XLA's CPU runtime runs work on a pool of threads whatever its flags say, so each JAX
    worker keeps about 1.6 cores busy; two side by side on two cores then collide (5-15%
    slower epochs measured here). Pinned, each owns its cores. `BNTUI_PIN_CORES=0` turns
    pinning off.
    """
    if os.environ.get("BNTUI_PIN_CORES") == "0":
        return None
    try:
        cores = available_cores()
    except (AttributeError, OSError):
        return None
    if threads * models > len(cores):
        return None
    return [cores[i * threads : (i + 1) * threads] for i in range(models)]


def worker_command(job: str) -> list[str]:
    """The command line of a training worker process for `job` (JSON)."""
    return [sys.executable, "-m", "bntui.training", job]


def waiting_worker_command(key: str, cores: list[int] | None) -> list[str]:
    """The command line of a worker for model `key` that waits on stdin for its job, pinned
    to `cores`."""
    start = json.dumps({"model": key, "cores": cores})
    return [sys.executable, "-m", "bntui.training", AWAIT_JOB, start]


def spawn_worker(command: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
    """A worker process, its three streams piped to this one."""
    return subprocess.Popen(
        command,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
        # Own session: a terminal's Ctrl-C or hang-up reaches bntui, which stops the
        # workers itself and saves what they sent.
        start_new_session=True,
    )


def spawn_on(
    cores: list[int] | None, command: list[str], env: dict[str, str]
) -> subprocess.Popen[bytes]:
    """A worker spawned on its own `cores` (None: wherever the system puts it)."""
    with spawned_on(cores):
        return spawn_worker(command, env)


def critical_path_first(setups: dict[str, Setup]) -> list[tuple[str, Setup]]:
    """The workers' setups, the BN worker's first: it trains longer, so its start is the
    run's critical path and the plain worker's is not (a second spawn returned 4.5-8 ms
    after the first began on the 2-vCPU AMD EPYC of `bench/RESULTS.md`, speed round 21)."""
    return sorted(setups.items(), key=lambda item: item[0] != "bn")


def hand_over(proc: subprocess.Popen[bytes], job: str) -> None:
    """Give a waiting worker its job, one line on its stdin. A worker that has died in the
    meantime is left to the event reader, which reports its exit and stderr."""
    assert proc.stdin is not None
    try:
        proc.stdin.write(job.encode() + b"\n")
        proc.stdin.flush()
    except OSError:
        pass


class Supervisor:
    """Runs the plain and BN workers and yields their events as one stream."""

    def __init__(
        self, spec: ExperimentSpec, threads: int | None = None, gpus: GpuMonitor | None = None
    ) -> None:
        self.spec = spec
        self.threads = threads or default_threads()
        self.started = time.time()
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self.stderr_tails: dict[str, deque[str]] = {}
        self._events: queue.Queue[Event | None] = queue.Queue()
        self._stopping = threading.Event()
        # Set to take a live-load sample at once (a model became ready or finished testing).
        self._sample_now = threading.Event()
        self._open = 0
        # A plain flag, so a signal handler may set it without taking any lock.
        self.halted = False
        # Each worker's environment and cores as spawned by `spawn_waiting`.
        self.setups: dict[str, tuple[dict[str, str], list[int] | None]] = {}
        self.gpus = gpus or GpuMonitor()
        # Raises DeviceError for --devices out of range (the CLI checks that first).
        self.plan = plan_devices(
            os.environ.get("CUDA_VISIBLE_DEVICES"),
            self.gpus.cards() if self.gpus.nvml else None,
            spec.devices,
        )

    def worker_setups(self) -> dict[str, Setup]:
        """Each worker's environment and cores: what must be fixed when its process starts."""
        base = worker_env(self.spec, self.threads)
        cores = worker_cores(self.threads)
        return {
            # Each worker sees only its own GPU (by UUID), or none.
            key: (worker_gpu_env(self.plan, key, base), cores[i] if cores else None)
            for i, key in enumerate(MODEL_KEYS)
        }

    def job(self, key: str, cores: list[int] | None, driver: str | None) -> str:
        """Worker `key`'s job, as JSON: the experiment, its model, its clock, its place."""
        return json.dumps(
            {
                "spec": self.spec.to_dict(),
                "model": key,
                "started": self.started,
                "cores": cores,
                "placement": {**slot_job(self.plan, key), "nvidia_driver": driver},
            }
        )

    def start(self, waiting: Supervisor | None = None) -> None:
        """Spawn both workers; events start flowing at once. Workers `waiting` for a job
        (`spawn_waiting`) are given theirs instead when they started as these would: the
        same environment and cores; otherwise they are stopped."""
        setups = self.worker_setups()
        driver = self.gpus.driver_version()
        if waiting is not None and waiting.setups == setups:
            self.started = waiting.started  # the workers' clock starts with their process
            self.procs = waiting.procs
            for key, (_, cores) in critical_path_first(setups):
                hand_over(self.procs[key], self.job(key, cores, driver))
        else:
            if waiting is not None:
                waiting.stop(grace=0)
            self.started = time.time()
            self._spawn(setups, lambda key, cores: worker_command(self.job(key, cores, driver)))
        self._watch_workers(setups["plain"][1])

    def spawn_waiting(self) -> None:
        """Spawn both workers before their job is known: each imports Keras and its backend,
        then waits on stdin for the job that `start` hands it (bntui.training.waiting)."""
        self.started = time.time()
        self.setups = self.worker_setups()
        self._spawn(self.setups, waiting_worker_command)
        plain_cores = self.setups["plain"][1]
        if plain_cores:
            share_cores_with(plain_cores)

    def _spawn(
        self, setups: dict[str, Setup], command: Callable[[str, list[int] | None], list[str]]
    ) -> None:
        """Spawn a worker per setup running `command(key, cores)`, the BN worker first, each on
        its own cores; `procs` keeps the models' order."""
        for key, (env, cores) in critical_path_first(setups):
            # Kept as soon as it runs: if a later spawn fails, `stop` still reaps it.
            self.procs[key] = spawn_on(cores, command(key, cores), env)
        self.procs = {key: self.procs[key] for key in setups}

    def _watch_workers(self, plain_cores: list[int] | None) -> None:
        for key, proc in self.procs.items():
            self.stderr_tails[key] = deque(maxlen=STDERR_TAIL_LINES)
            self._open += 1
            threading.Thread(target=self._read_events, args=(key, proc), daemon=True).start()
            threading.Thread(target=self._read_stderr, args=(key, proc), daemon=True).start()
        threading.Thread(target=self._sample_system, daemon=True).start()
        if plain_cores:
            # The BN worker is the slower: this process shares the plain worker's cores
            # until the pair is done (bntui.procs.affinity).
            share_cores_with(plain_cores)

    def _sample_system(self) -> None:
        pids = {key: proc.pid for key, proc in self.procs.items()}
        workers = WorkerMonitor(pids)
        # Each second, and also when a model is ready and when it has been tested: however
        # fast the machine, each worker's load is seen while it holds its model.
        while not self._stopping.is_set() and self._open:
            self._sample_now.wait(SAMPLE_EVERY_S)
            self._sample_now.clear()
            if self._stopping.is_set():
                break
            self._events.put(
                SystemSample(
                    model="system",
                    t=round(time.time() - self.started, 3),
                    workers=workers.sample(),
                    gpus=self.gpus.sample(pids),
                )
            )

    def _read_stderr(self, key: str, proc: subprocess.Popen[bytes]) -> None:
        assert proc.stderr is not None
        for raw in proc.stderr:
            self.stderr_tails[key].append(raw.decode("utf-8", "replace").rstrip())

    def _read_events(self, key: str, proc: subprocess.Popen[bytes]) -> None:
        assert proc.stdout is not None
        done: set[int] = set()  # the seeds whose end the worker reported
        for raw in proc.stdout:
            try:
                event = parse_event(raw.decode("utf-8", "replace"))
            except EventError:
                continue
            event.model = key
            if isinstance(event, ModelDone):
                done.add(event.seed)
            self._events.put(event)
            if isinstance(event, (ModelReady, TestResult)):
                self._sample_now.set()
        code = proc.wait()
        missing = [index for index in range(self.spec.seeds) if index not in done]
        if missing:
            if self._stopping.is_set():
                status, error = "interrupted", None
            else:
                status, error = "failed", self._death_reason(key, code)
            for index in missing:
                self._events.put(
                    ModelDone(
                        model=key,
                        t=time.time() - self.started,
                        seed=index,
                        status=status,
                        error=error,
                    )
                )
        self._events.put(None)

    def _death_reason(self, key: str, code: int) -> str:
        if code < 0:
            try:
                name = signal.Signals(-code).name
            except ValueError:
                name = f"signal {-code}"
            reason = f"worker process killed by {name}"
            if -code == signal.SIGKILL:
                reason += " (out of memory, or killed from outside)"
        else:
            reason = f"worker process exited with code {code}"
        tail = [line for line in self.stderr_tails[key] if line.strip()][-3:]
        return reason + (": " + " | ".join(tail) if tail else "")

    def events(self, timeout: float | None = None) -> Iterator[Event]:
        """Yield events until both workers have finished or `halted` is set."""
        try:
            while self._open and not self.halted:
                try:
                    item = self._events.get(timeout=timeout)
                except queue.Empty:
                    continue
                if item is None:
                    self._open -= 1
                    continue
                yield item
        finally:
            release_cores()

    def stop(self, grace: float = 3.0) -> None:
        """Stop both workers (closing stdin, then SIGTERM, then SIGKILL) and reap them."""
        release_cores()
        self._stopping.set()
        self._sample_now.set()
        for proc in self.procs.values():
            if proc.poll() is None and proc.stdin:
                try:
                    proc.stdin.close()
                except OSError:
                    pass
        for proc in self.procs.values():
            for escalate in (proc.terminate, proc.kill):
                try:
                    proc.wait(timeout=grace)
                    break
                except subprocess.TimeoutExpired:
                    escalate()
            proc.wait()

    @property
    def pids(self) -> list[int]:
        """Process ids of the workers (for tests and the system panel)."""
        return [p.pid for p in self.procs.values()]


def start_pair(
    spec: ExperimentSpec, threads: int | None = None, waiting: Supervisor | None = None
) -> Supervisor | None:
    """A `Supervisor` whose workers are already starting, or None if they could not start
    (whoever runs the stream then starts the pair again and reports the failure where it
    always does). Called as early as the command allows: the workers' start-up is the run's
    critical path, and this process's own imports can overlap it. Workers `waiting` for a
    job (bntui.procs.prestart) are given this one when they started as its own would."""
    supervisor: Supervisor | None = None
    try:
        supervisor = Supervisor(spec, threads=threads, gpus=waiting.gpus if waiting else None)
        supervisor.start(waiting)
    except Exception:
        if supervisor is not None:
            supervisor.stop()  # a worker already spawned must not train on
        if waiting is not None:
            waiting.stop(grace=0)
        return None
    return supervisor


def fetch_dataset(dataset: str) -> str | None:
    """Get `dataset` onto this machine in a worker process (Keras downloads it there, so this
    process never imports Keras); None once it is there, else the one-line reason why not."""
    env = {**os.environ, "KERAS_BACKEND": "jax", "JAX_PLATFORMS": "cpu"}
    done = subprocess.run(
        [sys.executable, "-m", "bntui.training.data", dataset],
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        errors="replace",
        check=False,
    )
    if done.returncode == 0:
        return None
    said = [line for line in done.stderr.splitlines() if line.startswith("bntui-data: ")]
    if said:
        return said[-1].removeprefix("bntui-data: ")
    tail = done.stderr.strip().splitlines()[-1:] or [f"exit code {done.returncode}"]
    return f"could not load {dataset} in a worker process: {tail[0][:200]}"
