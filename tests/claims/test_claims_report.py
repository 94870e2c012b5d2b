"""The claims report (`bntui claims --report`): every claim with the verdict and interval
`measures()` gives, the facts of the battery, SVGs that parse, CSVs that read back as the
measured values, unfinished and hostile files, and never overwriting."""

from __future__ import annotations

import csv
import io
import json
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from conftest import DATA
from markdown_it import MarkdownIt
from typer.testing import CliRunner

from bntui.claims.battery import CLAIMS, seed_values
from bntui.claims.claimfile import ClaimsFile, load_claims, parse_claims
from bntui.claims.found import Figure, Series
from bntui.claims.measures import Measure, measures
from bntui.claims.outputs.report import md_text, render, write_report
from bntui.claims.outputs.svg import figure_svg, nice_ticks
from bntui.claims.texts import (
    design,
    detail_text,
    interval_text,
    measure_text,
    significance_text,
)
from bntui.cli.main import app

CLAIMS_TINY = DATA / "claims_tiny.json"
PAIR_AND_SEEDS = ("base/plain", "base/bn", "base/seeds-plain")
SVG = "{http://www.w3.org/2000/svg}"
HOSTILE = (
    "\x1b]0;pwned\x07\x1b[2J <script>alert(1)</script> [click](http://evil) "
    "](http://evil) ![x](http://evil/i.png) <http://evil> www.evil.com a@evil.com `x` | * _ "
    '<img src=x onerror="y"> &amp; \u202e $x$ ~~s~~'
)


@pytest.fixture(scope="module")
def tiny() -> ClaimsFile:
    """The recorded tiny battery (every claim done)."""
    return load_claims(CLAIMS_TINY)


@pytest.fixture(scope="module")
def folder(tiny: ClaimsFile, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny battery's report, written once."""
    out = tmp_path_factory.mktemp("report") / "nested" / "report"
    assert write_report(tiny, out) == out / "report.md"
    return out


def rows(path: Path) -> list[dict[str, str]]:
    """A CSV file's rows as dicts."""
    return list(csv.DictReader(io.StringIO(path.read_text(encoding="utf-8"))))


def number(cell: str) -> float | None:
    """A CSV cell as the value it was written from."""
    return None if cell == "" else float(cell)


def summary_row(md: str, claim: str) -> str:
    """The summary table's row of `claim`."""
    return next(line for line in md.splitlines() if line.startswith(f"| {CLAIMS[claim].title}"))


def test_every_claim_with_its_verdict_and_interval(folder: Path, tiny: ClaimsFile) -> None:
    md = (folder / "report.md").read_text(encoding="utf-8")
    for m in measures(tiny):
        claim = CLAIMS[m.claim]
        text = interval_text(m.interval, claim.unit)
        row = summary_row(md, m.claim)
        assert f"**{m.verdict}**" in row and text in row and claim.notebook in row
        result = f"{claim.quantity}: {measure_text(m)}; {significance_text(m)}."
        assert f"**Result: {m.verdict}.** {result}" in md
        assert f"## {list(CLAIMS).index(m.claim) + 1}. {claim.title}" in md
        assert f"![{m.figure.title}]({m.claim}.svg)" in md  # type: ignore[union-attr]
        assert f"[{m.claim}.csv]({m.claim}.csv)" in md
        for detail in m.details:
            assert f"- {detail_text(detail)}" in md
    assert "Santurkar" in md  # the learner paragraph of `shift`
    counts = [
        sum(m.verdict == v for m in measures(tiny))
        for v in ("supported", "not supported", "no effect", "too few seeds")
    ]
    assert (
        f"Of {len(CLAIMS)} claims: {counts[0]} supported, {counts[1]} not supported, "
        f"{counts[2]} no effect, {counts[3]} too few seeds." in md
    )


def test_cites_seeds_versions_rules_designs(folder: Path, tiny: ClaimsFile) -> None:
    md = (folder / "report.md").read_text(encoding="utf-8")
    seeds = seed_values(tiny.seed, tiny.battery_scale)
    assert f"| Seeds | {seeds[0]} … {seeds[-1]} (2 seeds" in md
    for package in ("keras", "jax", "python"):
        assert f"{package} {tiny.environment[package]}" in md
    assert "machine x86\\_64" in md and "**tiny** (for tests only" in md
    total = len(tiny.plan())
    assert f"| Battery | completed: {total} of {total} cells done |" in md
    assert f"| Workers | {tiny.workers} |" in md and f"| Started | {tiny.started[:10]}" in md
    for name, claim in CLAIMS.items():
        assert f"(stated before anything was measured): {claim.rule.text(claim.unit)}." in md
        assert f"**Design.** {design(name, tiny.battery_scale)}" in md
        assert f"> {md_text(claim.quote, None, line_start=True)}" in md
    assert "--resume" not in md


def test_svgs_parse_with_both_series(folder: Path, tiny: ClaimsFile) -> None:
    for m in measures(tiny):
        assert m.figure is not None
        root = ET.parse(folder / f"{m.claim}.svg").getroot()
        texts = [t.text or "" for t in root.iter(f"{SVG}text")]
        for series in m.figure.series:
            assert series.label in texts
        assert m.figure.title in texts
        assert set(m.figure.ticks) <= set(texts)
        assert root.find(f"{SVG}title") is not None
        # Greyscale: plain's marks are circles, BN's white squares, each line its own dash.
        assert root.find(f"{SVG}circle") is not None
        assert root.find(f"{SVG}rect[@fill='white'][@width='8.0']") is not None
        if m.claim not in ("confound", "cost"):  # one point per model: no lines
            assert root.find(f"{SVG}polyline[@stroke-dasharray]") is not None
        assert not [e for e in root.iter() if e.tag.endswith("script")]


def test_csvs_read_back_as_the_measures(folder: Path, tiny: ClaimsFile) -> None:
    found = measures(tiny)
    summary = rows(folder / "summary.csv")
    assert [r["claim"] for r in summary] == [m.claim for m in found]
    for m, row in zip(found, summary):
        assert row["verdict"] == m.verdict
        unit = CLAIMS[m.claim].unit
        assert (
            row["unit"] == ("log10 ratio" if unit == "×" else unit)
            and row["notebook"] == CLAIMS[m.claim].notebook
        )
        got = [number(row[k]) for k in ("mean", "ci_low", "ci_high")]
        i = m.interval
        assert got == ([None] * 3 if i is None else [i.mean, i.low, i.high])
        assert int(row["n"]) == (0 if i is None else i.n)
        per_seed = rows(folder / f"{m.claim}.csv")
        assert [int(r["seed"]) for r in per_seed] == m.seeds
        assert [number(r["value"]) for r in per_seed] == m.values
        assert {r["quantity"] for r in per_seed} == {CLAIMS[m.claim].quantity}
        assert m.figure is not None
        points = rows(folder / f"{m.claim}-figure.csv")
        for series in m.figure.series:
            mine = [r for r in points if r["series"] == series.key]
            assert [float(r["x"]) for r in mine] == m.figure.x
            assert [r["tick"] for r in mine] == m.figure.ticks
            for key, values in (("mean", series.mean), ("low", series.low), ("high", series.high)):
                assert [number(r[key]) for r in mine] == values


def test_an_interrupted_battery_says_what_is_missing(tiny: ClaimsFile) -> None:
    part = ClaimsFile.model_validate(
        tiny.model_copy(
            update={
                "cells": [c for c in tiny.cells if c.id in PAIR_AND_SEEDS],
                "status": "interrupted",
            }
        ).model_dump()
    )
    files = render(part)
    md = files["report.md"]
    assert f"| Battery | interrupted: 3 of {len(tiny.plan())} cells done; missing cells: " in md
    assert "`bntui claims --resume FILE` (FILE: this claims file) trains only" in md
    found = {m.claim: m for m in measures(part)}
    # The controlled pair and the notebooks' plain: the claims of the pair alone are done.
    done = {n for n, m in found.items() if m.status == "done"}
    assert done == {"robustness", "inference", "smoothness"}
    for name, m in found.items():
        if m.status != "done":
            assert "**pending**" in summary_row(md, name)
            pending = f"**Not measured yet**: {m.cells_done} of {m.cells_total} of its cells"
            assert f"{pending} are done. `bntui claims --resume FILE` trains the missing" in md
            assert f"{name}.svg" not in files and f"{name}.csv" not in files
    assert {"robustness.svg", "smoothness.csv"} <= set(files)
    verdicts = {r["claim"]: r["verdict"] for r in csv.DictReader(io.StringIO(files["summary.csv"]))}
    assert verdicts["lr"] == "pending" and verdicts["smoothness"] == found["smoothness"].verdict


def hostile_file() -> ClaimsFile:
    """The tiny battery as a hostile file would carry it: a failed cell with an error, and
    every other text the report shows (versions, device, dates) full of payloads; it still
    validates, as a real file would."""
    data = json.loads(CLAIMS_TINY.read_text())
    cell = next(c for c in data["cells"] if c["spec"]["id"] == "lr/plain/1")
    cell |= {"status": "failed", "error": HOSTILE, "results": []}
    data["device"] = HOSTILE
    data["environment"] = {"keras": HOSTILE, HOSTILE[:150]: "1.0"}
    data["started"] = HOSTILE[:150]
    data["bntui_version"] = "[x](http://evil)"
    return parse_claims(json.dumps(data).encode(), "hostile.json")


def test_hostile_text_cannot_inject(tmp_path: Path) -> None:
    claims = hostile_file()
    write_report(claims, tmp_path)
    md = (tmp_path / "report.md").read_text(encoding="utf-8")
    assert "**failed**" in summary_row(md, "lr") and "**Failed** (" in md
    assert "- lr/plain/1: ^\\[\\]0;pwned^G^\\[\\[2J &lt;script&gt;" in md
    for raw in ("<script", "<img", "](http", "<http", "\x1b", "\u202e", "http://", "www.evil"):
        assert raw not in md
    for renderer in (MarkdownIt("commonmark"), MarkdownIt("gfm-like")):
        html = renderer.render(md)
        links = re.findall(r'(?:href|src)="([^"]*)"', html)
        assert [link for link in links if "evil" in link] == []
        assert "<script" not in html and 'onerror="' not in html and "<del>" not in html
        assert "\x1b" not in html
    table = MarkdownIt("gfm-like").render(md).split("</table>")[0]
    assert table.count("<td>") == 2 * 9  # a `|` from the file splits no cell
    assert "\x1b" not in (tmp_path / "summary.csv").read_text()
    for svg in tmp_path.glob("*.svg"):
        ET.parse(svg)
    assert not (tmp_path / "lr.svg").exists()
    assert [r["verdict"] for r in rows(tmp_path / "summary.csv") if r["claim"] == "lr"] == [
        "failed"
    ]


def test_md_text_neutralises_markdown() -> None:
    assert md_text("[a](http://evil)") == "\\[a\\]\\(http\\://evil\\)"
    assert md_text("<b>&") == "&lt;b&gt;&amp;"
    assert md_text("www.evil.com mailto:x") == "www\\.evil.com mailto\\:x"
    assert md_text("1. item", line_start=True) == "1\\. item"
    assert md_text("- item", line_start=True) == "\\- item"
    assert md_text("3.15.1") == "3.15.1"
    assert md_text("a\nb\x1b") == "a^Jb^\\["


def test_never_overwrites(tiny: ClaimsFile, tmp_path: Path) -> None:
    write_report(tiny, tmp_path)
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    with pytest.raises(FileExistsError, match=r"report\.md already exists; bntui never overwrites"):
        write_report(tiny, tmp_path)
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == before
    other = tmp_path / "other"
    other.mkdir()
    (other / "summary.csv").write_text("mine")
    with pytest.raises(FileExistsError, match=r"summary\.csv already exists"):
        write_report(tiny, other)
    assert [p.name for p in other.iterdir()] == ["summary.csv"]
    assert (other / "summary.csv").read_text() == "mine"


def test_figures_with_gaps_and_flat_ranges() -> None:
    flat = Series("plain", "plain", [0.5, None, 0.5, 0.5], [0.5, None, 0.5, 0.5], [0.5] * 4)
    empty = Series("bn", "BN", [None] * 4, [None] * 4, [None] * 4)
    huge = Series("x", "<x>", [3e38, -3e38, None, 1e-30], [None] * 4, [None] * 4)
    for series in ([flat, empty], [empty], [huge, flat]):
        figure = Figure("t & <t>", "x", "", [0.0, 1.0, 2.0, 3.0], ["a", "b", "c", "d"], series)
        text = figure_svg(figure, "caption <c>")
        root = ET.fromstring(text)
        assert "nan" not in text and "inf" not in text
        assert {s.label for s in series} <= {t.text for t in root.iter(f"{SVG}text")}
    single = Figure("one", "", "", [5.0], ["5"], [flat])
    ET.fromstring(figure_svg(single))
    assert nice_ticks(0.0684, 0.541) == [0.1, 0.2, 0.3, 0.4, 0.5]
    assert nice_ticks(1.0, 1.0) == [1.0]
    assert len(nice_ticks(1e20, 1e20 + 1)) <= 15


def test_measure_pending_without_figure_renders(tiny: ClaimsFile) -> None:
    empty = tiny.model_copy(update={"cells": [], "status": "running", "finished": None})
    files = render(empty)
    assert set(files) == {"report.md", "summary.csv"}
    assert files["report.md"].count("**Not measured yet**: 0 of") == len(CLAIMS)
    assert isinstance(measures(empty)[0], Measure)


def test_cli_writes_the_report_once(tmp_path: Path) -> None:
    runner = CliRunner()
    out = tmp_path / "rep"
    result = runner.invoke(app, ["claims", "--report", str(CLAIMS_TINY), "--out-dir", str(out)])
    assert result.exit_code == 0, result.output
    assert f"report: {out / 'report.md'}" in result.output
    again = runner.invoke(app, ["claims", "--report", str(CLAIMS_TINY), "--out-dir", str(out)])
    assert again.exit_code == 2  # one error line, as for bad input
    assert "report.md already exists" in again.output


def test_the_summary_table_keeps_its_columns_and_the_literature_is_bold_once(
    tiny: ClaimsFile,
) -> None:
    md = render(tiny)["report.md"]
    html = MarkdownIt("gfm-like").render(md)
    summary = html.split("</table>")[1]  # after the header's table
    assert summary.count("<tr>") == len(CLAIMS) + 1 and summary.count("<td>") == 6 * len(CLAIMS)
    published = [line for line in md.splitlines() if line.startswith("**Published:**")]
    assert len(published) == len(CLAIMS) and not any(line.endswith("**") for line in published)


def test_no_two_series_of_a_figure_look_alike_in_the_svg_or_the_terminal() -> None:
    from bntui.claims.outputs.svg import DASHES, series_styles
    from bntui.tui.widgets.claims.chart import series_looks

    for m in measures(load_claims(DATA / "claims_tiny.json")):
        if m.figure is None:
            continue
        styles = series_styles(m.figure)
        drawn = {(s % 4, DASHES[(s + s // len(DASHES)) % len(DASHES)], c) for s, c in styles}
        shapes = {(s % 4, DASHES[(s + s // len(DASHES)) % len(DASHES)]) for s, _ in styles}
        assert len(drawn) == len(shapes) == len(styles), m.claim  # shape and dash, not colour
        glyphs = [glyph for _, glyph in series_looks(m.figure)]
        assert len(set(glyphs)) == len(glyphs), m.claim


def test_a_long_title_gets_a_smaller_font_not_cut_edges() -> None:
    series = [Series("plain", "plain", [1.0, 2.0], [1.0, 2.0], [1.0, 2.0])]
    title = "validation accuracy by epoch on a slice, with a long account of its end point " * 2
    svg = figure_svg(Figure(title.strip(), "x", "y", [0.0, 1.0], ["a", "b"], series))
    size = float(re.search(r'y="22" text-anchor="middle" font-size="([\d.]+)"', svg).group(1))  # type: ignore[union-attr]
    assert size < 14 and 0.6 * size * len(title.strip()) <= 620
