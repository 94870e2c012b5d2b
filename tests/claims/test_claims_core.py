"""Claims, without training: each claim's design
(what varies and what is held fixed), the quantities on synthetic results, the claims file's
validation, the ETA, and the scheduler's order on an executor of our own."""

from __future__ import annotations

import itertools
import json
import math
from dataclasses import asdict, fields, replace
from pathlib import Path
from typing import Any

import pytest

from bntui.claims.battery import CLAIMS, PAIR, SCALES, plan, seed_values
from bntui.claims.cells import CellSpec
from bntui.claims.claimfile import ClaimsFile, SeedResult, parse_claims
from bntui.claims.convergence import convergence, reaching
from bntui.claims.eta import Eta, duration
from bntui.claims.measures import measures
from bntui.claims.quantities import learning_rate
from bntui.procs.scheduler import Event, Executor, Failed, Finished, Job, Scheduler, Started
from bntui.record.files import RunFileError

TINY = Path(__file__).parents[1] / "data" / "claims_tiny.json"
QUICK = SCALES["quick"]


def differing(a: CellSpec, b: CellSpec) -> set[str]:
    """The fields in which two cells differ (the id aside)."""
    names = [f.name for f in fields(CellSpec) if f.name != "id"]
    return {name for name in names if getattr(a, name) != getattr(b, name)}


def cells_of(name: str) -> dict[str, CellSpec]:
    return {c.id: c for c in CLAIMS[name].cells(QUICK, seed_values(42, QUICK))}


def test_every_cell_has_the_same_seeds_and_the_plan_shares_cells() -> None:
    cells = plan(list(CLAIMS), QUICK, 42)
    assert {c.seeds for c in cells} == {tuple(range(42, 42 + QUICK.seeds))}
    assert len({c.id for c in cells}) == len(cells)
    shared = [n for n in CLAIMS if "base/bn" in cells_of(n)]
    assert shared == ["convergence", "shift", "confound", "robustness", "inference", "smoothness"]


def test_bn_alone_varies_in_the_controlled_pair() -> None:
    # The plain model's pixels are standardised as the BN model's first BN standardises
    # them: the pair differs in the BN layers and in that standardisation alone.
    for name in ("convergence", "shift", "regularisation", "cost"):
        cells = cells_of(name)
        plain = next(c for c in cells.values() if c.id.endswith("/plain"))
        bn = next(c for c in cells.values() if c.id.endswith("/bn"))
        # BN alone is evaluated with population statistics (precise BN), where it is.
        assert differing(plain, bn) - {"precise_bn"} == {"batch_norm", "inputs"}, name
        assert not plain.precise_bn
        assert (plain.inputs, bn.inputs, bn.input_bn) == ("standardized", "raw", True)


def test_convergence_and_the_confound_have_the_two_by_two() -> None:
    for name in ("convergence", "confound"):
        cells = cells_of(name)
        raw, std = cells["base/plain-raw"], cells["base/plain"]
        hidden, bn = cells["base/bn-hidden"], cells["base/bn"]
        # The pair's checks after training (claims robustness, inference) and its loss
        # landscape (claim smoothness) train nothing.
        raw, hidden = replace(raw, end_checks=True), replace(hidden, end_checks=True)
        ignored = {"landscape_points"}
        assert differing(raw, std) - ignored == {"inputs"}  # standardisation alone
        assert differing(hidden, bn) - ignored == {"input_bn"}  # the first BN alone
        assert differing(raw, hidden) == {"batch_norm", "input_bn", "precise_bn"}  # hidden BN
        assert hidden.precise_bn and bn.precise_bn and not (raw.precise_bn or std.precise_bn)


def test_the_confound_varies_activation_and_init_of_the_plain_model_only() -> None:
    cells = cells_of("confound")
    assert differing(cells["base/seeds-plain"], cells["base/plain-raw"]) == {
        "activation",
        "initializer",
    }
    assert (cells["base/seeds-plain"].activation, cells["base/seeds-plain"].initializer) == (
        "leaky_relu", "he_normal")  # fmt: skip
    assert (cells["base/bn"].activation, cells["base/bn"].initializer) == ("relu", "glorot_uniform")


def test_the_grids_vary_one_thing_besides_bn() -> None:
    for name, knob, values in (("lr", "learning_rate", QUICK.lr_grid),
                               ("init", "init_scale", QUICK.init_scales)):  # fmt: skip
        # init's schemes: tests/claims/test_claims_regimes.py
        cells = [c for c in cells_of(name).values() if c.initializer == "glorot_uniform"]
        assert len(cells) == 2 * len(values)
        first = cells[0]
        for cell in cells:
            assert differing(first, cell) <= {knob, "batch_norm", "inputs", "precise_bn"}
        assert sorted({getattr(c, knob) for c in cells}) == sorted(values)
    rates = QUICK.lr_grid
    steps = [b / a for a, b in itertools.pairwise(rates)]
    assert rates[-1] >= 30 and steps == pytest.approx([10**0.5] * len(steps), rel=0.06)


def test_small_batches_vary_the_batch_and_scale_the_rate_with_it() -> None:
    # The remedies (batch/renorm/…): tests/claims/test_claims_regimes.py
    cells = [c for c in cells_of("small-batches").values() if c.id.split("/")[1] in PAIR]
    for cell in cells:
        assert cell.learning_rate == pytest.approx(0.01 * cell.batch_size / 32)
        assert cell.train_mode == cell.batch_norm  # BN is scored in training mode too
        assert differing(cells[0], cell) <= {
            "batch_size",
            "learning_rate",
            "batch_norm",
            "train_mode",
            "inputs",
        }
    # Not 2: BN over two examples outputs about ±γ + β whatever the inputs.
    assert sorted({c.batch_size for c in cells}) == [4, 8, 16, 32]


def test_gradients_sweep_depth_and_activation_and_pair_on_bn_alone() -> None:
    cells = cells_of("gradients")
    assert all(c.family == "deep" and c.probes_per_epoch for c in cells.values())
    assert {(c.activation, c.depth) for c in cells.values()} == {
        (a, d) for a in ("sigmoid", "relu") for d in (8, 16, 32)
    }
    for cell in cells.values():
        if cell.batch_norm:
            twin = cells[cell.id.removesuffix("/bn") + "/plain"]
            assert differing(twin, cell) == {"batch_norm"}


def test_cost_cells_are_timed_alone() -> None:
    assert all(c.timed for c in cells_of("cost").values())
    assert not any(c.timed for n in CLAIMS if n != "cost" for c in cells_of(n).values())


def run(
    seed: int, accuracies: list[float], steps: list[int] | None = None, **extra: Any
) -> SeedResult:
    steps = steps or [100 * i for i in range(len(accuracies))]
    losses = [1.0] * len(steps)
    return SeedResult(seed=seed, steps=steps, val_accuracy=accuracies, val_loss=losses, **extra)


def convergence_results(
    plain: dict[str, list[list[float]]], bn: dict[str, list[list[float]]], square: list[float]
) -> dict[str, list[SeedResult]]:
    """Synthetic results: the grid's curves by model and rate (one list per seed), and one
    curve for every cell of the shared-rate 2×2."""
    results = {
        f"lr/{key}/{rate}": [run(42 + k, curve) for k, curve in enumerate(curves)]
        for key, grid in (("plain", plain), ("bn", bn))
        for rate, curves in grid.items()
    }
    for key in ("plain-raw", "plain", "bn-hidden", "bn"):
        results[f"base/{key}"] = [run(42 + k, square) for k in range(2)]
    return results


GRID = replace(QUICK, lr_grid=(0.01, 0.1))
SLOW = [0.1, 0.3, 0.5, 0.6, 0.7, 0.8, 0.8, 0.8, 0.8]  # end point 0.8, reached at step 500
FAST = [0.1, 0.8, 0.85, 0.85, 0.85, 0.85, 0.85, 0.85, 0.85]  # at step 100, ends 0.85


def test_convergence_is_the_speed_up_at_each_models_own_best_rate() -> None:
    # Plain is best at 0.01 (ends 0.8, at step 500); BN at 0.1 (0.85; 0.8 at step 100).
    results = convergence_results(
        {"0.01": [SLOW, SLOW], "0.1": [[0.1] * 9, [0.1] * 9]},
        {"0.01": [SLOW, SLOW], "0.1": [FAST, FAST]},
        SLOW,
    )
    found = convergence(results, GRID)
    assert found.values == [pytest.approx(math.log10(5))] * 2  # ×5 fewer steps
    assert found.censored == ""
    assert any("BN's best rate, seed by seed: 0.1, 0.1" in note for note in found.notes)
    assert reaching([0, 100, 200], [0.1, 0.79, 0.8], 0.8) == 200


def test_convergence_can_come_out_against_bn_and_counts_never_as_a_bound() -> None:
    # BN slower than plain: a negative speed-up (the claim can fail) ...
    results = convergence_results(
        {"0.01": [FAST, FAST], "0.1": [FAST, FAST]},
        {"0.01": [SLOW, SLOW], "0.1": [[0.1] * 9, [0.1] * 9]},
        SLOW,
    )
    found = convergence(results, GRID)
    assert found.values == [pytest.approx(math.log10(200 / 900))] * 2
    # ... and BN never reaching plain's end: a bound (last step + one interval), said so.
    assert found.censored == "upper"
    assert any("never reached" in note for note in found.notes)


def test_the_largest_rate_that_trains_needs_finite_loss_and_learning() -> None:
    scale = replace(QUICK, lr_grid=(0.01, 0.1, 1.0))
    good, bad = run(42, [0.1, 0.8]), run(42, [0.1, 0.9], diverged=True)
    weak = run(42, [0.1, 0.3])
    results = {"lr/plain/0.01": [good], "lr/plain/0.1": [weak], "lr/plain/1": [bad],
               "lr/bn/0.01": [good], "lr/bn/0.1": [good], "lr/bn/1": [good]}  # fmt: skip
    found = learning_rate(results, scale)
    assert found.values == [pytest.approx(0 - (-2))]  # BN: 1 (log 0), plain: 0.01 (log −2)


def tiny() -> dict[str, Any]:
    return json.loads(TINY.read_text())


def test_the_recorded_tiny_battery_loads_and_gives_every_claim_a_verdict() -> None:
    claims = parse_claims(TINY.read_bytes())
    found = measures(claims)
    assert [m.claim for m in found] == list(CLAIMS)
    assert all(m.status == "done" and m.verdict is not None for m in found)


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda d: d["claims"].__setitem__(0, "telepathy"), "unknown claim 'telepathy'"),
        (lambda d: d["cells"][0]["spec"].update(seeds=[1, 2]), "other seeds than the battery"),
        (lambda d: d["cells"][0]["spec"].update(id="lr/plain/42"), "is not a cell of this battery"),
        (lambda d: d["cells"].append(d["cells"][0]), "appears twice"),
        (lambda d: d["cells"][0]["results"].pop(), "are not the cell's seeds"),
        (lambda d: d["cells"][0]["results"][0]["steps"].append(5), "equal lengths"),
        (lambda d: d.update(schema_version=99), "reads up to schema 1"),
        (lambda d: d["sizes"].update(batch_sizes=[4, 64]), "must include 32"),
        # Without `kind`, only the old claims `format` makes a claims file: else it is a run file.
        (lambda d: (d.pop("kind"), d.update(format="bntui-run")),
         "is a run file, not a claims file"),
        (lambda d: d.update(kind="sweep"), "is a sweep file, not a claims file"),
        (lambda d: d.update(kind="poem"), "not a bntui file (kind 'poem'"),
    ],
)  # fmt: skip
def test_a_file_that_is_not_the_battery_it_claims_is_refused(edit: Any, message: str) -> None:
    data = tiny()
    edit(data)
    with pytest.raises(RunFileError, match=message.replace("(", r"\(")):
        parse_claims(json.dumps(data).encode(), "edited.json")


def test_a_cell_of_another_design_still_loads_but_is_named() -> None:
    data = tiny()
    data["cells"][0]["spec"]["learning_rate"] = 0.5  # an older bntui's design of that cell
    claims = parse_claims(json.dumps(data).encode())
    assert claims.design_changes() == [data["cells"][0]["spec"]["id"]]
    assert parse_claims(TINY.read_bytes()).design_changes() == []


def test_a_file_without_its_scale_figures_uses_this_bntuis() -> None:
    data = tiny()
    del data["sizes"]
    claims = parse_claims(json.dumps(data).encode())
    assert claims.battery_scale == SCALES["tiny"]


def test_verdicts_in_the_file_are_not_trusted() -> None:
    data = tiny()
    for record in data["verdicts"]:
        record["verdict"] = "supported"
    claims = parse_claims(json.dumps(data).encode())
    honest = parse_claims(TINY.read_bytes())
    assert [m.verdict for m in measures(claims)] == [m.verdict for m in measures(honest)]


def test_eta_calibrates_on_finished_cells() -> None:
    cells = plan(["lr"], QUICK, 42)
    eta = Eta(cells, workers=2)
    before = eta.seconds_left()
    first = cells[0]
    eta.ended(first.id, seconds=first.work() * 3.0, ok=True)  # this machine: 3 s a unit
    assert eta.rate == pytest.approx(3.0)
    assert eta.seconds_left() == pytest.approx(sum(c.work() for c in cells[1:]) * 3.0 / 2)
    assert before > 0 and 0 < eta.fraction_done < 1
    assert (duration(42), duration(150), duration(4000)) == ("42 s", "2 min", "1 h 7 min")


class Recording(Executor):
    """Runs nothing: remembers what was started and ends jobs when told."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self.started: list[str] = []
        self.running: list[str] = []

    def start(self, job: Job) -> None:
        self.started.append(job.id)
        self.running.append(job.id)

    def events(self, timeout: float) -> list[Event]:
        job = self.running.pop(0)  # the oldest ends first
        return [Finished(job, None, 1.0) if job != "fails" else Failed(job, "boom", 1.0)]

    def stop(self) -> None:
        self.running.clear()


def test_the_scheduler_starts_largest_first_and_runs_exclusive_jobs_alone() -> None:
    jobs = [CellJobLike("small", 1.0), CellJobLike("timed", 5.0, exclusive=True),
            CellJobLike("big", 9.0), CellJobLike("fails", 3.0)]  # fmt: skip
    executor = Recording(capacity=2)
    seen: list[tuple[str, list[str]]] = []
    for event in Scheduler(jobs, executor).run():  # type: ignore[arg-type]
        if isinstance(event, Started):
            seen.append((event.job, list(executor.running)))
    assert executor.started == ["big", "fails", "small", "timed"]
    timed_alone = dict(seen)["timed"]
    assert timed_alone == ["timed"]


class CellJobLike:
    def __init__(self, id: str, work: float, exclusive: bool = False) -> None:
        self.id, self.work, self.exclusive = id, work, exclusive


def test_cell_specs_round_trip_through_the_file() -> None:
    cell = plan(["lr"], QUICK, 42)[0]
    data = cell.to_dict()
    seeds = list(range(42, 42 + QUICK.seeds))
    assert data["seeds"] == seeds and data == {**asdict(cell), "seeds": seeds}
    assert ClaimsFile(claims=["lr"]).plan()[0] == cell


def test_a_battery_of_the_first_design_still_loads_and_says_so() -> None:
    older = parse_claims((TINY.parent / "claims_tiny_v1.json").read_bytes())
    found = {m.claim: m for m in measures(older)}
    assert older.design == "" and "base/plain" in older.design_changes()  # raw pixels then
    # The 2×2's cells were not in that design: those claims stay unmeasured.
    assert found["convergence"].status == found["confound"].status == "pending"
    assert found["lr"].status == "done"
    assert "recorded under another design" in found["lr"].notes[0]
