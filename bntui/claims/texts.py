"""The words of the battery: intervals with their units, verdict lines, and the paragraph
each claim's result gives a learner. Every surface (Claims tab, headless, report) uses
these, so a figure is worded the same everywhere."""

from __future__ import annotations

from bntui.claims.battery import (
    BASE_EVALS,
    BASE_RATE,
    BN_NOISE,
    CLAIMS,
    INIT_SCHEMES,
    LANDSCAPE_POINTS,
    LR_EVALS,
    REG_DROPOUT,
    REG_GHOST,
    REG_RATE,
    Scale,
)
from bntui.claims.cells import DEEP_WIDTH, LANDSCAPE_RATES, PRECISE_SIZE
from bntui.claims.corruptions import CORRUPTIONS
from bntui.claims.corruptions import TEXT as CORRUPTION_TEXT
from bntui.claims.found import Detail
from bntui.claims.measures import Measure
from bntui.stats.intervals import Interval


def number(value: float | None, unit: str = "", signed: bool = True) -> str:
    """A figure (signed unless `signed` is False) with sensible precision, and its unit.
    Unit `×`: the value is a log10 ratio, shown as the ratio (`×2.4`)."""
    if value is None:
        return "–"
    if unit == "×":
        ratio = 10**value
        return f"×{ratio:.{0 if ratio >= 100 else 1 if ratio >= 10 else 2}f}"
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
    u = unit if unit in ("%", "×") else ""
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
        effect = f"{margin} either way" if claim.unit == "×" else f"±{margin}"
        n = found.interval.n if found.interval is not None else 0
        if found.seeds_needed and found.seeds_needed <= n:
            # The estimate says these seeds suffice for an effect of the margin: the effect
            # is smaller than that, yet not shown to lie within it either.
            text += (
                f"; an effect of {effect} would show with these {n} seeds: this one is "
                f"smaller, and not shown to lie within {effect} either"
            )
        else:
            text += f"; {need} would detect {effect}"
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
            f"the paper found both sides; bntui's verdict is '{verdict}': which side it "
            "meets depends on the setting"
            if published.stance == "mixed" and verdict
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
    "convergence": "'Converges faster' is measured as Ioffe and Szegedy did: how many times "
    "fewer optimizer steps BN needs to reach the validation accuracy the plain model ends "
    "at. Each model trains at its own best rate of the learning-rate grid (the one where it "
    "ends highest, seed by seed), because BN's speed-up comes mainly from the larger rates "
    "it allows (Bjorck et al. 2018); the same comparison at one shared rate is beside it. "
    "BN is scored with population statistics (precise BN): its moving averages lag early in "
    "training and would count against it; the moving averages' figure is shown too. The "
    "BN model's first BN standardises the raw pixels; the plain model gets the same "
    "standardisation, and the 2×2 at the shared rate shows how much of the notebooks' "
    "comparison (raw plain against BN everywhere) each part accounts for.",
    "lr": "BN rescales each layer's inputs, so a large step cannot blow the activations up "
    "layer after layer; the largest rate that still trains is the grid's last rate at which "
    "the loss stayed finite and the model learned. The difference is in decades (a decade "
    "is a factor of 10); where a model trains at the grid's top rate, its limit is higher "
    "than the grid shows and the difference is a lower bound.",
    "init": "If a model cares about initialisation, the scheme its initial weights are "
    "drawn from (glorot, he, lecun, orthogonal) changes where it ends up; the spread is the "
    "best minus the worst final accuracy across the four schemes. The kernel scales (×0.1, "
    "×10) are shown beside, not tested: a BN layer's output does not change when the weights "
    "before it are scaled by c, but their gradient shrinks by c, so scaling them by c acts "
    "like dividing their learning rate by c² (Arora et al. 2019): for BN the scale arm is "
    "the lr claim in disguise; and plain's ×0.1 and ×10 arms end far below its ×1 after "
    "a short budget that a longer one could narrow. The scales are shown, not tested.",
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
    "regularisation": "A regulariser shows only where a model overfits, so the arms train "
    "on a slice small enough that the plain model fits it (training accuracy near 100%) and "
    "its validation accuracy then stalls or declines. The end point, fixed in advance, is "
    "each model's best validation accuracy over training (averaged over 3 consecutive "
    "epochs): what early stopping would keep, defined for every seed, and blind to how fast "
    "each model fits (the old train − validation gap favoured the slower learner). Matched "
    "training accuracy was the alternative, but it is undefined for a model that never "
    "reaches the level. Dropout is the positive control: if dropout does not raise the best "
    "either, this slice cannot show a regulariser at all. Ghost batches (BN statistics over "
    "sub-batches of 8 at a batch of 32) add BN's own noise: if that noise is BN's "
    "regulariser, more of it should help. 'No effect' within ±1 point is a possible verdict.",
    "small-batches": "With a batch of {b}, BN's mean and variance come from {b} images: they "
    "are noisy, and they differ from the running statistics used at inference. The gap "
    "between training-mode and inference-mode accuracy shows that mismatch directly; the "
    "spread of the last epoch's per-step losses and their spikes show the instability the "
    "notebook names. The remedies replace BN at the smallest batch and at 32: batch "
    "renormalisation (Ioffe 2017) corrects the batch statistics towards the moving ones, "
    "layer and group norm (Wu & He 2018) do not use the batch at all.",
    "confound": "The notebooks' plain model differs from their BN model in four ways: BN, "
    "the activation (LeakyReLU vs ReLU), the initialiser (he_normal vs glorot_uniform), and "
    "the BN model's first BN, which standardises the raw pixels. The controlled plain model "
    "differs in the hidden layers' BN alone, so only its gap is BN's; the other rows split "
    "the rest.",
    "cost": "BN adds a normalisation per layer, in training and at inference, and a few "
    "parameters; whether that shows in the time per epoch depends on the device, on how "
    "small the model is and on the harness. The verdict times the notebooks' training call "
    "(Keras `fit` on TensorFlow) by its steady step, without its progress bar; bntui's fused "
    "JAX loop is beside it. The notebook timed the whole `fit` call instead, with a progress "
    "bar printed every step and a validation pass every epoch: fixed costs that are the same "
    "for both models and so make BN's share look smaller (not measured here). At inference "
    "a BN layer is a fixed affine map that folds into the Dense after it: the folded model "
    "is the plain architecture and predicts the same, so BN then costs nothing.",
    "robustness": "A shift of the input distribution after training (brighter, flatter or "
    "noisier images) meets BN's moving statistics, which are fixed when training ends: they "
    "normalise the shifted inputs with the training images' mean and variance, as the "
    "standardised pixels of the controlled plain model are. So the honest prior is no "
    "effect, and a difference is BN's learned weights, not its normalisation. Re-estimating "
    "every BN's statistics on the shifted images (AdaBN, Li et al. 2016) is what adapts a "
    "BN model to them: that arm is beside the verdict, and it uses the unlabelled shifted "
    "images, which a deployed model may not have.",
    "inference": "A Keras BN layer in inference mode (`predict`, `evaluate`) normalises with "
    "the moving averages it kept during training, not with the batch's mean and variance: "
    "an image's prediction does not depend on the images beside it, and BN costs no batch "
    "statistics at inference (it can even be folded into the Dense before it). Only in "
    "training mode do the batch's statistics enter, and there the same image's prediction "
    "changes with its companions; the training-mode rows show it.",
    "depth": "If BN helps deeper networks train, the deepest stacks should end more accurate "
    "with BN than without. The stacks are the gradients claim's (sigmoid and ReLU, no skip "
    "connections, a few epochs at one learning rate); in deep sigmoid stacks the plain "
    "network's gradients vanish, and in deep ReLU stacks BN makes them explode at "
    "initialisation (Yang et al. 2019), so the two activations can disagree; each depth is "
    "beside the verdict.",
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
    schemes = ", ".join(INIT_SCHEMES)
    sizes = ", ".join(str(b) for b in scale.batch_sizes)
    depths = ", ".join(str(d) for d in scale.depths)
    acts = " and ".join(scale.deep_activations)
    corruption_list = "; ".join(CORRUPTION_TEXT[n] for n in CORRUPTIONS)
    texts = {
        "convergence": f"Varies: BN and the learning rate ({rates}). Fixed: {pair}; {sweep}. "
        f"Validation accuracy {LR_EVALS} times an epoch (BN with population statistics over "
        f"{PRECISE_SIZE:,} training images); each model at the rate where it ends highest, "
        "seed by seed (end = the mean of the last epoch's evaluations); target: plain's end "
        "at its best rate; speed-up: plain's steps to it / BN's. Beside it, at one shared "
        f"rate: {base}; {square}; validation accuracy {BASE_EVALS} times an epoch; target: "
        "the standardised plain model's end.",
        "lr": f"Varies: BN and the learning rate ({rates}). Fixed: {pair}; {sweep}. BN "
        f"scored with population statistics over {PRECISE_SIZE:,} training images.",
        "init": f"Varies: BN and the initialiser scheme ({schemes}); beside, every Dense "
        f"kernel's initial weights multiplied by {factors} (glorot). Fixed: {pair} (the "
        f"scheme aside); {sweep}, "
        f"SGD at {BASE_RATE:g}.",
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
        "regularisation": f"Varies: BN, dropout ({REG_DROPOUT:g} after each hidden "
        f"activation, on plain and on BN) and ghost batches (BN statistics over {REG_GHOST} of "
        f"the batch of 32). Fixed: {pair}; {scale.reg_train:,} training and {scale.valid:,} "
        f"validation images, {_epochs(scale.reg_epochs)}, SGD at {REG_RATE:g}, batch 32. "
        "Validation accuracy every epoch; end point: its best 3-epoch mean.",
        "small-batches": f"Varies: BN and the batch size ({sizes}), the learning rate "
        f"{BASE_RATE:g} × batch / 32; at batches {scale.batch_sizes[0]} and 32 also batch "
        "renorm, layer norm and group norm in place of the hidden layers' BN (standardised "
        f"pixels). Fixed: {pair}; {scale.sweep_train:,} training images, "
        f"{_epochs(scale.sweep_epochs)}. BN and batch renorm are also scored in training mode "
        "(batch statistics) on the validation images in batches of the same size; each "
        "step's training loss over the last epoch is kept.",
        "confound": f"Varies: the plain model: the notebooks' (LeakyReLU, he_normal, raw "
        f"pixels) or the controlled one; the BN model is the notebooks'. {base}; {square}. "
        f"End point: the mean of the last epoch's {BASE_EVALS} validation evaluations.",
        "cost": f"Varies: BN and the harness. Fixed: {pair}; batch 32; each seed trained "
        "alone with nothing else running; the first epoch compiles, the fastest of the others "
        f"counts. The notebooks' harness, as notebook 000 trains: Keras `fit` on TensorFlow "
        f"with the accuracy metric and a validation pass each epoch (no progress bar), "
        f"{scale.fit_train:,} images, 3 epochs; an epoch's time is its median training step × "
        "its steps (the validation pass and fit's per-epoch work left out: on epochs this "
        "short they swing the total by half). bntui's fused JAX loop (without vmap, as "
        "`bntui run` trains): "
        f"{scale.cost_train:,} images, 4 epochs; after it, the time to predict the "
        "5,000 validation images (fastest of 5 passes), for BN also folded into the Dense "
        "layers.",
        "robustness": f"Varies: BN, and the validation images after training: clean or "
        f"under each fixed corruption ({corruption_list}). Fixed: {pair}; {base}; no new "
        "training. Accuracy drop = clean − corrupted validation accuracy of the same model "
        "in inference mode, averaged over the corruptions; BN also with every BN's "
        "statistics re-estimated on the corrupted images (AdaBN).",
        "inference": f"Varies: the mode (inference, training) and an image's batch "
        f"companions. Fixed: {pair}; {base}; no new training. 64 validation images "
        "predicted in batches of 32 of each other, each in a batch with 31 bags, and each "
        "alone; the largest change of any predicted probability, in decades above float32 "
        "rounding (log10 of the change / 0.01 points).",
        "depth": f"Varies: BN, the depth ({depths} Dense layers of {DEEP_WIDTH} units) and the "
        f"activation ({acts}). Fixed: the gradients claim's stacks, {scale.sweep_train:,} "
        f"training images, {_epochs(scale.sweep_epochs + 1)}, SGD at {BASE_RATE:g}; final "
        "validation accuracy at the deepest depth, BN − plain, averaged over the activations.",
        "smoothness": f"Varies: BN. Fixed: {pair}; {base}. At the start and at "
        f"{LANDSCAPE_POINTS - 1} evenly spaced epoch ends, on the fixed probe batch of 256 "
        "training images in training mode: g = ∇L(w), then for each step size η in "
        f"{', '.join(f'{r:g}' for r in LANDSCAPE_RATES)}, L(w − ηg) and ‖∇L(w − ηg) − g‖ "
        "over every trainable variable; per point the largest change over η, per seed the "
        "mean of log10 plain / BN over the points after the start.",
    }
    return f"{texts[name]} {seeds}."
