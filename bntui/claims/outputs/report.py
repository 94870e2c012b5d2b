"""The claims report (`bntui claims --report FILE`): a Markdown page a learner can read,
an SVG figure and CSV tables per claim, and a summary CSV, in one folder.

Every figure comes from `measures()` and is worded by `bntui.claims.texts`, as on every
other surface. Text from the file (versions, device, errors, dates) is untrusted: it is
cleaned, escaped for HTML and stripped of what Markdown would act on (`md_text`). Every
file is rendered first, then written atomically; nothing is ever overwritten.
"""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path
from xml.sax.saxutils import escape

from bntui import __version__
from bntui.claims.battery import CLAIMS, Scale, seed_values
from bntui.claims.claimfile import ClaimsFile
from bntui.claims.measures import Measure, measures
from bntui.claims.outputs.reportcsv import claim_csv, figure_csv, summary_csv, verdict_word
from bntui.claims.outputs.svg import figure_svg
from bntui.claims.texts import (
    design,
    detail_text,
    measure_text,
    number,
    p_text,
    paragraph,
    published_text,
    significance_text,
    status_word,
)
from bntui.core.text import clean
from bntui.outputs.svg import NOT_XML
from bntui.record.files import write_atomic

# Markdown punctuation that can start emphasis, links, code, tables, math or strikethrough.
MARKDOWN = re.compile(r"([\\`*_{}\[\]()#|!~$@])")
# What GFM turns into a link without brackets: `http://`, `www.`, `mailto:`, `xmpp:`.
AUTOLINK = re.compile(r"(?i):(?=/)|(?<=mailto):|(?<=xmpp):|(?<=www)\.")
# What makes a line a list item when it starts one: `-`, `+`, `1.`, `1)` (`>` is &gt;).
LINE_START = re.compile(r"^(\s*(?:\d+(?=[.)]))?)([-+=.)])")
SCALE_WORDS = {
    "tiny": "for tests only: every design in seconds; nothing can be concluded from it",
    "quick": "slices of the data: a first look in minutes, wide intervals",
    "full": "the real data: the scale to draw conclusions from",
}
MAX_LISTED = 30
RESUME = "`bntui claims --resume FILE`"
TALLY = ["supported", "not supported", "no effect", "too few seeds"]


def md_text(value: object, limit: int | None = 2000, *, line_start: bool = False) -> str:
    """Untrusted text as inert Markdown on one line: cleaned (no control characters or
    line breaks), HTML-escaped, Markdown punctuation and autolinks backslash-escaped; with
    `line_start`, also what would make a line a list item or a quote."""
    text = NOT_XML.sub("\ufffd", clean(value, limit))
    text = AUTOLINK.sub(r"\\\g<0>", MARKDOWN.sub(r"\\\1", text))
    if line_start:
        text = LINE_START.sub(r"\1\\\2", text)
    return escape(text)


def word(found: Measure) -> str:
    """The summary's verdict: qualified as the Claims tab says it, or pending or failed."""
    return status_word(found) if found.verdict else verdict_word(found)


def cell(text: str) -> str:
    """bntui's own words in a table cell: a `|` (as in |log10 …|) would end the cell."""
    return text.replace("|", "\\|")


def _when(stamp: str | None) -> str:
    """A date from the file: re-formatted if it parses, else shown escaped."""
    if not stamp:
        return "–"
    try:
        return datetime.fromisoformat(stamp).isoformat(sep=" ", timespec="seconds")
    except ValueError:
        return md_text(stamp, 100)


def _unit(unit: str) -> str:
    return f" ({unit})" if unit else ""


def _epochs(n: int) -> str:
    return f"{n} epoch" + ("" if n == 1 else "s")


def _scale_line(scale: Scale) -> str:
    return (
        f"**{scale.name}** ({SCALE_WORDS.get(scale.name, '')}): {scale.base_train:,} training "
        f"and {scale.valid:,} validation images and {_epochs(scale.base_epochs)} for the "
        f"shared cells, {scale.sweep_train:,} training images and "
        f"{_epochs(scale.sweep_epochs)} for the sweeps"
    )


def _battery_line(claims: ClaimsFile) -> list[str]:
    """What the file says of the battery, and what it lacks (with the resume command)."""
    planned, done = claims.plan(), claims.done()
    failed = [c.id for c in claims.cells if c.status == "failed"]
    missing = [c.id for c in planned if c.id not in done and c.id not in failed]
    lines = [f"{md_text(claims.status, 40)}: {len(done)} of {len(planned)} cells done"]
    if failed:
        lines.append(f"failed cells: {_listing(failed)}")
    if missing:
        lines.append(f"missing cells: {_listing(missing)}")
    if failed or missing:
        lines.append(f"{RESUME} (FILE: this claims file) trains only the missing and failed cells")
    return lines


def _listing(ids: list[str]) -> str:
    shown = ", ".join(md_text(i, 100) for i in ids[:MAX_LISTED])
    return shown + (f" and {len(ids) - MAX_LISTED} more" if len(ids) > MAX_LISTED else "")


def header(claims: ClaimsFile) -> list[str]:
    """The title and the facts a reader needs to weigh the results."""
    scale = claims.battery_scale
    seeds = seed_values(claims.seed, scale)
    env = claims.environment
    versions = ", ".join(f"{md_text(k, 40)} {md_text(v, 200)}" for k, v in env.items()) or "–"
    rows = [
        ("Scale", _scale_line(scale)),
        (
            "Seeds",
            f"{seeds[0]} … {seeds[-1]} ({len(seeds)} seeds; seed s of every model "
            "sees the same images in the same order)",
        ),
        ("Battery", "; ".join(_battery_line(claims))),
        ("Workers", str(claims.workers)),
        ("Device", md_text(claims.device, 200) or "–"),
        ("Started", _when(claims.started)),
        ("Finished", _when(claims.finished)),
        ("Environment", versions),
        ("Design", _design_line(claims)),
    ]
    return [
        "# Batch normalization: the notebooks' claims, tested",
        "",
        f"Written by bntui {escape(__version__)} from a claims file recorded by bntui "
        f"{md_text(claims.bntui_version, 40)}. Each claim was put to a controlled experiment; "
        "its verdict comes from a decision rule fixed before anything was measured: one-sided "
        "exact sign-flip tests on the paired per-seed quantity, each Holm-corrected across the "
        "battery's claims (α = 0.05), so that the chance of any false verdict in the whole "
        "battery stays under 5%. The 95% t interval of each claim is shown beside its test; "
        "it is a per-claim interval, not a simultaneous one, and does not decide. Verdicts are "
        "recomputed from the measurements, not read from the file.",
        "",
        "| | |",
        "|---|---|",
        *(f"| {name} | {value} |" for name, value in rows),
        "",
    ]


def _design_line(claims: ClaimsFile) -> str:
    """The pre-registration digest the file recorded when the battery started, and whether it
    is this bntui's digest of the same design (a reader can recompute it)."""
    current = claims.current_design()
    if not claims.design:
        return f"not recorded (an older file); this bntui's design: `{current}`"
    recorded = md_text(claims.design, 100)
    if claims.design == current:
        return (
            f"`{recorded}`, recorded when the battery started; it is this bntui's digest of "
            "the same claims, rules, margins and cells (`battery.design_digest`)"
        )
    return f"`{recorded}` recorded; this bntui's design differs: `{current}`"


def summary(found: list[Measure]) -> list[str]:
    """One table row per claim: verdict, quantity, measured mean [95% CI] (n), notebook."""
    lines = [
        "## Summary",
        "",
        "| Claim | Verdict | Quantity | Mean [95% CI] (n) | p (Holm) | Notebook |",
        "|---|---|---|---|---|---|",
    ]
    for m in found:
        claim = CLAIMS[m.claim]
        measured = measure_text(m) if m.status == "done" else "–"
        lines.append(
            f"| {claim.title} (`{m.claim}`) | **{word(m)}** | "
            f"{cell(claim.quantity)}{_unit(claim.unit)} | {cell(measured)} | "
            f"{p_text(m.p_value) if m.verdict else '–'} | {claim.notebook} |"
        )
    words = [verdict_word(m) for m in found]
    tally = ", ".join(f"{words.count(w)} {w}" for w in dict.fromkeys(TALLY + words))
    return [*lines, "", f"Of {len(found)} claims: {tally}.", ""]


def _result(m: Measure, scale: Scale) -> list[str]:
    """A finished claim's verdict, per-seed values, details, notes, paragraph, figure."""
    claim = CLAIMS[m.claim]
    out = [
        f"**Result: {m.verdict}.** {claim.quantity}: {measure_text(m)}; {significance_text(m)}.",
        "",
        f"| Seed | {cell(claim.quantity)}{_unit(claim.unit)} |",
        "|---|---|",
        *(
            f"| {seed} | {number(value, '×' if claim.unit == '×' else '')} |"
            for seed, value in zip(m.seeds, m.values)
        ),
        "",
    ]
    if m.details:
        out += ["Details (mean [95% CI] over the seeds):", ""]
        out += [f"- {detail_text(d)}" for d in m.details]
        out.append("")
    if m.notes:
        out += ["Notes:", "", *(f"- {note}" for note in m.notes), ""]
    out += [f"**What it means.** {paragraph(m, scale)}", ""]
    published = published_text(m.claim, m.verdict).removeprefix("Published: ")
    out += [f"**Published:** {published}", ""]
    data = f"[{m.claim}.csv]({m.claim}.csv) (the value of each seed)"
    if m.figure is not None:
        out += [f"![{m.figure.title}]({m.claim}.svg)", ""]
        data += f", [{m.claim}-figure.csv]({m.claim}-figure.csv) (the figure's points)"
    return [*out, f"Data: {data}.", ""]


def section(number_: int, m: Measure, scale: Scale) -> list[str]:
    """One claim: what it says and where, how it was tested, and what was found."""
    claim = CLAIMS[m.claim]
    out = [
        f"## {number_}. {claim.title}",
        "",
        f"Claim `{m.claim}`, notebook {claim.notebook}:",
        "",
        f"> {md_text(claim.quote, None, line_start=True)}",
        "",
        f"**Design.** {design(m.claim, scale)}",
        "",
        f"**Quantity.** {claim.quantity}{_unit(claim.unit)}.",
        "",
        f"**Decision rule** (stated before anything was measured): {claim.rule.text(claim.unit)}.",
        "",
    ]
    if m.status == "done":
        return out + _result(m, scale)
    if m.status == "failed":
        out += [
            f"**Failed** ({m.cells_done} of {m.cells_total} cells done; {RESUME} trains "
            "the failed cells again). Errors:",
            "",
        ]
        return out + [f"- {md_text(error, line_start=True)}" for error in m.errors] + [""]
    pending = (
        f"**Not measured yet**: {m.cells_done} of {m.cells_total} of its cells are "
        "done. `bntui claims --resume FILE` trains the missing ones."
    )
    return [*out, pending, ""]


def render(claims: ClaimsFile) -> dict[str, str]:
    """Every file of the report: name → text."""
    found, scale = measures(claims), claims.battery_scale
    seeds = f"mean over {scale.seeds} seeds; shaded or barred: lowest seed to highest"
    page = header(claims) + summary(found)
    files: dict[str, str] = {}
    for index, m in enumerate(found, 1):
        page += section(index, m, scale)
        if m.status == "done":
            files[f"{m.claim}.csv"] = claim_csv(m)
        if m.figure is not None:
            files[f"{m.claim}.svg"] = figure_svg(m.figure, seeds)
            files[f"{m.claim}-figure.csv"] = figure_csv(m.figure)
    return {"report.md": "\n".join(page), "summary.csv": summary_csv(found), **files}


def write_report(claims: ClaimsFile, folder: Path) -> Path:
    """Write the report into `folder` (created, parents too) and return report.md's path.

    FileExistsError if any of its files already exists (nothing is written then); any
    other OSError removes what was already written.
    """
    files = {folder / name: text for name, text in render(claims).items()}
    for path in files:
        if path.exists() or path.is_symlink():
            raise FileExistsError(
                f"{path} already exists; bntui never overwrites a file (choose another --out-dir)"
            )
    folder.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    try:
        for path, text in files.items():
            write_atomic(text, path, overwrite=False)
            written.append(path)
    except BaseException:
        for path in written:
            path.unlink(missing_ok=True)
        raise
    return folder / "report.md"
