"""The words of the battery: intervals with their units, verdict lines, and the paragraph
each claim's result gives a learner. Every surface (Claims tab, headless, report) uses
these, so a figure is worded the same everywhere."""

from __future__ import annotations

from bntui.claims.battery import (
    BASE_EVALS,
    BASE_RATE,
    BN_NOISE,
    CLAIMS,
    LANDSCAPE_POINTS,
    Scale,
)
from bntui.claims.cells import DEEP_WIDTH, LANDSCAPE_RATES
from bntui.claims.found import Detail
from bntui.claims.measures import Measure
from bntui.stats.intervals import Interval


def number(value: float | None, unit: str = "", signed: bool = True) -> str:
    """A figure (signed unless `signed` is False) with sensible precision, and its unit."""
    if value is None:
        return "–"
    if value == 0:
        return f"0 {unit}".rstrip() if unit != "%" else "0%"
    size = abs(value)
    digits = 0 if size >= 100 else 1 if size >= 10 else 2 if size >= 0.1 else 3
    text = f"{value:+,.{digits}f}" if signed else f"{value:,.{digits}f}"
    if unit == "%":
        return text + "%"
    return f"{text} {unit}".rstrip()


def interval_text(interval: Interval | None, unit: str = "", signed: bool = True) -> str:
    """`+312 steps [+120, +504] (n=3)`, or what is missing."""
    if interval is None:
        return "no value"
    if interval.low is None or interval.high is None:
        return f"{number(interval.mean, unit, signed)} (n={interval.n}, no interval)"
    u = "%" if unit == "%" else ""
    low, high = number(interval.low, u, signed), number(interval.high, u, signed)
    return f"{number(interval.mean, unit, signed)} [{low}, {high}] (n={interval.n})"


def measure_text(found: Measure) -> str:
    """A claim's interval as it must be read: `≥` before a lower bound (`≤`, an upper one),
    and a word when every seed gave the same value (the interval has no width)."""
    unit = CLAIMS[found.claim].unit
    text = interval_text(found.interval, unit)
    if found.censored in ("lower", "upper"):
        text = (
            ("≥ " if found.censored == "lower" else "≤ ")
            + text
            + " (a bound, not a measurement: see the notes)"
        )
    elif found.censored == "both":
        text += " (both ends are bounds: nothing follows)"
    interval = found.interval
    if interval is not None and interval.n > 1 and interval.low == interval.high:
        text += " (no spread: every seed gave the same value)"
    return text


def detail_text(detail: Detail) -> str:
    """A secondary figure: its label and interval."""
    return f"{detail.label}: {interval_text(detail.interval, detail.unit, detail.signed)}"


def p_text(p: float | None) -> str:
    """A p-value as a reader expects it: `p = 0.004`, `p < 0.001`, or `p = 1`."""
    if p is None:
        return "no test"
    if p < 0.001:
        return "p < 0.001"
    return f"p = {p:.2g}" if p < 0.995 else "p = 1"


def significance_text(found: Measure) -> str:
    """The test that decided the verdict: its Holm-adjusted p-value, and for too few seeds
    about how many would tell."""
    if found.verdict is None:
        return ""
    text = f"{p_text(found.p_value)} (sign-flip, Holm)"
    claim = CLAIMS[found.claim]
    margin = number(claim.rule.margin, claim.unit, signed=False)
    if small(found):
        text += f"; smaller than the {margin} that matters"
    if found.provisional:
        text += "; may change as the rest of the battery finishes (Holm counts it)"
    if found.verdict == "too few seeds":
        need = f"about {found.seeds_needed} seeds" if found.seeds_needed else "more seeds"
        text += f"; {need} would detect ±{margin}"
    return text


def published_text(name: str, verdict: str | None) -> str:
    """The published experiment beside the claim, and whether bntui's result agrees."""
    published = CLAIMS[name].published
    if published is None:
        return "Published: no published experiment tests this claim as posed here."
    agrees = {
        ("supports", "supported"): "bntui's result agrees",
        ("supports", "not supported"): "bntui's result disagrees",
        ("supports", "no effect"): "bntui finds no effect where the paper found one",
        ("against", "supported"): "bntui's result supports the notebooks' claim, which the "
        "paper finds is not why BN helps",
        ("against", "not supported"): "bntui's result agrees with the paper",
        ("against", "no effect"): "bntui's result agrees with the paper",
    }.get((published.stance, verdict or ""), "")
    if not agrees:
        agrees = (
            "compare the settings before the results"
            if published.stance == "mixed"
            else "bntui's measurement cannot decide (too few seeds)"
        )
    return (
        f"Published: {published.paper}: {published.finding}. Setting: {published.setting}. "
        f"Here: {agrees}."
    )


def small(found: Measure) -> bool:
    """A significant effect, smaller than the margin its claim's rule says matters."""
    rule, interval = CLAIMS[found.claim].rule, found.interval
    decided = found.verdict in ("supported", "not supported") and rule.expects != "equivalent"
    return decided and interval is not None and abs(interval.mean) < rule.margin


def status_word(found: Measure) -> str:
    """What the verdict column says: the verdict (`, small` when the effect is smaller than
    the margin that matters), or where the claim is."""
    if found.verdict is not None:
        return f"{found.verdict}, small" if small(found) else found.verdict
    if found.status == "failed":
        return "failed"
    if found.status == "running":
        return f"running {found.cells_done}/{found.cells_total}"
    return "pending"


def verdict_line(found: Measure) -> str:
    """One line: the claim, its verdict word, the interval."""
    claim = CLAIMS[found.claim]
    if found.status == "failed":
        return f"{claim.name:<15} failed          {found.errors[0] if found.errors else ''}"
    measured = f"{measure_text(found)}, {significance_text(found)}"
    return f"{claim.name:<15} {status_word(found):<20} {measured}"


SHIFT_CAVEAT = (
    "What the drift does not show: that the shift matters. That is what the noisy arm tests, "
    'after Santurkar et al. (NeurIPS 2018, "How Does Batch Normalization Help '
    'Optimization?"): they added noise after each BN layer so that layer inputs shifted '
    "more than without BN, and the network still trained about as well as with plain BN. "
    "They trace BN's benefit to a smoother loss landscape instead (claim smoothness). "
    "Setting differs: their noise was drawn per example from a distribution that changed "
    "each step, on VGG networks; here a per-unit scale and shift, the same for the whole "
    "batch, after the hidden BNs of a 3-layer MLP."
)

LESSONS = {
    "convergence": "Fewer steps to the same validation accuracy is what 'converges faster' "
    "means in practice; it is measured in optimizer steps at the same learning rate. The BN "
    "model's first BN standardises the raw pixels; the controlled plain model gets the same "
    "standardisation, so the verdict is about BN beyond it. The 2×2 beside shows how much "
    "of the notebooks' comparison (raw plain against BN everywhere) each part accounts for.",
    "lr": "BN rescales each layer's inputs, so a large step cannot blow the activations up "
    "layer after layer; the largest rate that still trains is the grid's last rate at which "
    "the loss stayed finite and the model learned. The difference is in decades (a decade "
    "is a factor of 10); where a model trains at the grid's top rate, its limit is higher "
    "than the grid shows and the difference is a lower bound.",
    "init": "If a model cares about initialisation, scaling its initial weights by 0.1 or "
    "10 changes where it ends up; BN renormalises each layer, so the scale of the weights "
    "before it matters less. The spread is the best minus the worst accuracy across scales. "
    "Read it with the lr claim: a BN layer's output does not change when the weights before "
    "it are scaled by c, but their gradient shrinks by c, so scaling them by c acts like "
    "dividing their learning rate by c² (Arora et al. 2019).",
    "gradients": "In a deep stack of sigmoids, each layer multiplies the backward signal by "
    "a derivative below 0.25, so the first layer's gradient can be orders of magnitude "
    "smaller than the last's: it vanishes. The imbalance counts orders of magnitude either "
    "way, so a BN stack whose first layer's gradient explodes scores as badly as one where "
    "it vanishes: in deep ReLU stacks without skip connections, BN makes gradients explode "
    "at initialisation (Yang et al. 2019), which the ReLU rows show.",
    "shift": "Internal covariate shift is the change of a layer's input distribution as "
    "the layers before it learn; the notebook says reducing it is why BN speeds training. "
    "To test that, the noisy arm takes the BN model and, at every training step, scales "
    "each hidden BN output unit by a random factor in [{lo:g}, {hi:g}] and shifts it by a "
    "random amount in [−{n:g}, {n:g}] (redrawn each step, off at inference): its next layers see a "
    "distribution that keeps moving, more shift than without BN. If the shift is why BN "
    "helps, the noisy arm ends markedly worse than BN; within ±1 point it is no effect. "
    "The drift beside it is each hidden layer's activation means and spreads on a fixed "
    "probe batch, before BN normalises them (after it, they are β and γ by construction), "
    "added up over training; a seed whose noisy arm drifts no more than BN gives no value, "
    "as the noise did not do its job there.",
    "regularisation": "A regulariser narrows the gap between how well a model does on the "
    "data it trained on and on data it never saw. The training accuracy is measured in "
    "inference mode after training, not Keras' running accuracy during the epoch. Read it "
    "with the validation accuracies beside it: a model that has not yet fitted its training "
    "data has no gap to close, so a gap comparison favours the model that learns slower; "
    "a larger gap with a validation accuracy no worse is faster fitting, not overfitting.",
    "small-batches": "With a batch of {b}, BN's mean and variance come from {b} images: they "
    "are noisy, and they differ from the running statistics used at inference. The gap "
    "between training-mode and inference-mode accuracy shows that mismatch directly.",
    "confound": "The notebooks' plain model differs from their BN model in four ways: BN, "
    "the activation (LeakyReLU vs ReLU), the initialiser (he_normal vs glorot_uniform), and "
    "the BN model's first BN, which standardises the raw pixels. The controlled plain model "
    "differs in the hidden layers' BN alone, so only its gap is BN's; the other rows split "
    "the rest.",
    "cost": "BN adds a normalisation per layer, in training and at inference, and a few "
    "parameters; whether that shows in the time per epoch depends on the device, on how "
    "small the model is and on the harness. Each seed's epoch is timed alone, after "
    "compiling, in bntui's fused JAX loop; the notebooks' own harness (Keras `fit` on "
    "TensorFlow) spends most of its time elsewhere, so BN's share of it can be far smaller. "
    "At inference BN can be folded into the Dense before it, at no cost; not measured here.",
    "smoothness": "The modern explanation of BN (Santurkar et al. 2018): it makes the loss "
    "landscape smoother, so the gradient stays a good guide further along it and larger "
    "steps are safe. At the start and three points of training, the weights move along the "
    "gradient by step sizes from 0.01 (the training rate) to 3, and the gradient is taken "
    "again: the more it changes, the rougher the landscape. BN's loss is taken in training "
    "mode (the batch's own statistics), as a training step sees it. The figure is log10 "
    "plain's largest change over BN's: +0.3 is a factor of two. Setting differs from the "
    "paper's VGG networks: a 3-layer MLP, a fixed probe batch of 256 images, and every "
    "trainable variable (BN's γ and β too) moves.",
}


def paragraph(found: Measure, scale: Scale) -> str:
    """What the result means, for a learner: the lesson, the finding, and (for the shift
    claim) what the measurement does not show."""
    claim = CLAIMS[found.claim]
    text = LESSONS[found.claim].format(
        b=scale.batch_sizes[0], n=BN_NOISE, lo=1 - BN_NOISE, hi=1 + BN_NOISE
    )
    if found.verdict is not None and found.interval is None:
        why = "; ".join(found.notes) or "no seed gave one"
        text += (
            f" No verdict can be drawn here: {claim.quantity} has no value at the "
            f"{scale.name} scale ({why})."
        )
    elif found.verdict is not None:
        finding = {
            "supported": "The measurement supports the notebooks' claim",
            "not supported": "The measurement contradicts the notebooks' claim",
            "no effect": "The measurement finds no effect that matters",
            "too few seeds": "Too few seeds to decide the notebooks' claim",
        }[found.verdict]
        text += (
            f" {finding} here: {claim.quantity} is "
            f"{measure_text(found)}, {significance_text(found)}, at the "
            f"{scale.name} scale ({scale.seeds} seeds)."
        )
    if found.claim == "shift":
        text += " " + SHIFT_CAVEAT
    return text


def _epochs(count: int) -> str:
    return f"{count} epoch{'s' if count != 1 else ''}"


def design(name: str, scale: Scale) -> str:
    """What the claim's experiment varies and holds fixed, at `scale`."""
    base = (
        f"{scale.base_train:,} training and {scale.valid:,} validation images of "
        f"Fashion-MNIST, {scale.base_epochs} epochs, SGD at {BASE_RATE:g}, batch 32"
    )
    sweep = (
        f"{scale.sweep_train:,} training and {scale.valid:,} validation images, "
        f"{_epochs(scale.sweep_epochs)}, batch 32"
    )
    pair = (
        "the controlled pair: the same MLP (Dense 300, Dense 100, ReLU, glorot_uniform) "
        "with and without BN before each Dense, the plain model's pixels standardised "
        "per pixel with the training slice's mean and variance, as the BN model's first "
        "BN standardises them"
    )
    square = (
        "with two more models, the 2×2 of input standardisation × hidden BN: the plain "
        "model on raw pixels, and BN on the hidden layers only (no BN on the pixels)"
    )
    seeds = (
        f"{scale.seeds} seeds; seed s of every model sees the same images in the same "
        "order, and the models of a pair start from the same Dense weights"
    )
    rates = ", ".join(f"{r:g}" for r in scale.lr_grid)
    factors = ", ".join(f"×{f:g}" for f in scale.init_scales)
    sizes = ", ".join(str(b) for b in scale.batch_sizes)
    depths = ", ".join(str(d) for d in scale.depths)
    acts = " and ".join(scale.deep_activations)
    texts = {
        "convergence": f"Varies: BN. Fixed: {pair}; {base}; {square}. Validation accuracy "
        f"{BASE_EVALS} times an epoch; the step at which it first reaches {scale.target:.0%}.",
        "lr": f"Varies: BN and the learning rate ({rates}). Fixed: {pair}; {sweep}.",
        "init": f"Varies: BN and the scale of every Dense kernel's initial weights "
        f"({factors}). Fixed: {pair}; {sweep}, SGD at {BASE_RATE:g}.",
        "gradients": f"Varies: BN, the depth ({depths} Dense layers of {DEEP_WIDTH} units) and "
        f"the activation ({acts}). Fixed: glorot_uniform, the softmax output, BN between each "
        "hidden Dense and its activation, standardised pixels for both models; "
        f"{scale.sweep_train:,} training images, {_epochs(scale.sweep_epochs + 1)}, SGD at "
        f"{BASE_RATE:g}. The gradient norm of each Dense kernel (the output's too) on a fixed "
        "probe batch of 256 training images, at the start and twice an epoch; the imbalance "
        "is |log10| of the first layer's norm over the output layer's.",
        "shift": f"Varies: noise after BN: the BN model, and the same with each hidden BN's "
        f"output unit scaled by U({1 - BN_NOISE:g}, {1 + BN_NOISE:g}) and shifted by "
        f"U(−{BN_NOISE:g}, {BN_NOISE:g}) at every step (the "
        f"noisy arm); the plain model beside. Fixed: {pair}; {base}. End point: the mean of "
        f"the last epoch's {BASE_EVALS} validation evaluations. Drift: each hidden layer's "
        "activation mean and spread per unit on the fixed probe batch, before BN (training "
        "mode), twice an epoch; the mean change of the means and spreads relative to the mean "
        "spread, summed over training, averaged over the hidden layers. Gradient-based shift "
        "(Santurkar et al.), plain and BN: at the smoothness claim's points after the start, "
        "each Dense kernel's gradient on the probe batch before and after the variables "
        "before it take their SGD step, ‖G′ − G‖ / ‖G‖, averaged over the Dense layers after "
        "the first.",
        "regularisation": f"Varies: BN. Fixed: {pair}; {base}. Accuracy on the whole "
        "training slice in inference mode after training, minus validation accuracy at the "
        f"end (the mean of the last epoch's {BASE_EVALS} evaluations).",
        "small-batches": f"Varies: BN and the batch size ({sizes}), the learning rate "
        f"{BASE_RATE:g} × batch / 32. Fixed: {pair}; {scale.sweep_train:,} training images, "
        f"{_epochs(scale.sweep_epochs)}. BN is also scored in training mode (batch statistics) "
        "on the validation images in batches of the same size.",
        "confound": f"Varies: the plain model: the notebooks' (LeakyReLU, he_normal, raw "
        f"pixels) or the controlled one; the BN model is the notebooks'. {base}; {square}. "
        f"End point: the mean of the last epoch's {BASE_EVALS} validation evaluations.",
        "cost": f"Varies: BN. Fixed: {pair}; {scale.cost_train:,} training images, batch 32, "
        "4 epochs; each seed trained alone (without vmap, as `bntui run` trains) on one "
        "worker with nothing else running; the fastest of epochs 2–4 counts (the first "
        "compiles). The harness is bntui's fused JAX loop, not the notebooks' Keras `fit`.",
        "smoothness": f"Varies: BN. Fixed: {pair}; {base}. At the start and at "
        f"{LANDSCAPE_POINTS - 1} evenly spaced epoch ends, on the fixed probe batch of 256 "
        "training images in training mode: g = ∇L(w), then for each step size η in "
        f"{', '.join(f'{r:g}' for r in LANDSCAPE_RATES)}, L(w − ηg) and ‖∇L(w − ηg) − g‖ "
        "over every trainable variable; per point the largest change over η, per seed the "
        "mean of log10 plain / BN over the points after the start.",
    }
    return f"{texts[name]} {seeds}."
