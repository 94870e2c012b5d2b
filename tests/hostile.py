"""Hostile text for tests: payloads a file from anyone may carry, a recorded run with every
text field filled in, and the checks that nothing raw reached an output."""

from __future__ import annotations

import copy
import csv
import io
import json
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

from conftest import SMALL_RUN
from schema_walk import Slot, put

from bntui.core.text import UNSAFE
from bntui.record.runfile import RunFileError
from bntui.record.sweep import parse_document

PAYLOADS = {
    "osc-title": "\x1b]0;pwned\x07",
    "clear-screen": "\x1b[2J\x1b[H",
    "osc52-clipboard": "\x1b]52;c;cHduZWQ=\x07",
    "newline": "ok\nbntui: error: forged line",
    "carriage-return": "real\rfake",
    "nul-del-bs-tab": "a\x00b\x7fc\x08d\te",
    "c1-csi": "\x9b31mred\x9d0;t\x9c",
    "lone-surrogate": "x\udc9by\ud800",
    "bidi": "abc\u202edcba\u202c \u2067iso\u2069 \u200f\u061c",
    "separators": "line\u2028para\u2029\x85",
    "tags": "hi\U000e0041\U000e007f",
    "markup": "[bold red]boom[/] [link=http://x]y[/link]",
    # Rich raises on a closing tag that closes nothing: any text taken as markup crashes.
    "markup-unbalanced": "[/bogus] [/] x[",
    "formula": '=HYPERLINK("http://evil","x")',
    "formula-at": "@SUM(1+1)*cmd|' /C calc'!A0",
    "formula-minus": "-2+3+cmd|' /C calc'!A0",
    "xml": '</text><script>alert(1)</script><text onload="x">&amp;',
    "xml-illegal": "\ufffe\uffff",
    # One of each, short enough for every field (statuses, keys and dates take 64).
    "compact": "[/x]\x1b]0;t\x07\x9b2J\n\r\x00\udc9b\u202e\u2066\u2028\U000e0041=[b]<s>&",
}
# Every payload at once: one file that carries them all in every field.
ALL = "".join(PAYLOADS.values())


def raw_characters(text: str, *, lines: bool = True) -> list[str]:
    """The characters in `text` a terminal would act on (line breaks allowed if `lines`)."""
    parts = text.split("\n") if lines else [text]
    return [m.group() for part in parts for m in UNSAFE.finditer(part)]


def base_data() -> dict[str, Any]:
    """The recorded run with every optional text field present (errors, notes, a GPU, the
    spec's folders), so that every text slot of the models has a place to go."""
    data: dict[str, Any] = json.loads(SMALL_RUN.read_text())
    shorten(data)
    data["kind"] = "run"  # written by bntui since files name their kind (the file predates it)
    data["error"] = "a run error"
    data["spec"] |= {"checkpoint_dir": "/tmp/ckpt", "tensorboard_dir": "/tmp/tb"}
    data["devices"].append({"kind": "GPU", "name": "H100", "id": "gpu:0", "memory_bytes": 8})
    system = data["system"]
    system["gpu_names"] = {"gpu0": "H100"}
    system["series"]["gpu0.util_pct"] = [50.0] * len(system["t"])
    for key in ("plain", "bn"):
        model = data["seeds"][0]["models"][key]
        model["error"] = f"{key} error"
        model["data_order"] = ["a1b2c3d4e5f60718"] * len(model["history"]["loss"])
        model["inside"]["layers"][0]["units"] = 0  # shown by its name, not its width
        model["notes"] = [
            {"t": 5.0, "epoch": 0, "what": "checkpoint", "message": f"{key} saved"},
            {"t": 6.0, "epoch": 1, "what": "early_stopping", "message": "stopped"},
        ]
    # A failure's error is also a notification.
    data["seeds"][0]["models"]["bn"]["status"] = "failed"
    return data


def shorten(data: dict[str, Any], keep: int = 3) -> None:
    """Keep only the first few curve points, measurements and samples (tests run faster;
    the lists stay aligned)."""
    for model in data["seeds"][0]["models"].values():
        for key in model["curve"]:
            model["curve"][key] = model["curve"][key][: keep * 2]
        inside = model["inside"]
        inside["position"], inside["t"] = inside["position"][:keep], inside["t"][:keep]
        for layer in inside["layers"]:
            layer["stats"] = {k: v[:keep] for k, v in layer["stats"].items()}
    system = data["system"]
    system["t"] = system["t"][:keep]
    system["series"] = {k: v[:keep] for k, v in system["series"].items()}


def loads(data: dict[str, Any]) -> bool:
    """Whether `data` is a valid run or sweep file."""
    try:
        parse_document(json.dumps(data).encode(), "file")
    except RunFileError:
        return False
    return True


def fill(data: dict[str, Any], slots: list[Slot], payload: str) -> dict[str, Any]:
    """`payload` in every slot that accepts it (patterns and Literals refuse it)."""
    return accepting(data, slots, payload)[0]


def accepting(
    data: dict[str, Any], slots: list[Slot], payload: str
) -> tuple[dict[str, Any], list[Slot]]:
    """`fill`, and the slots that took the payload."""
    filled = copy.deepcopy(data)
    took = []
    for slot in slots:
        candidate = put(filled, slot, payload)
        if loads(candidate):
            filled = candidate
            took.append(slot)
    return filled, took


def check_lines(output: str) -> None:
    """Terminal output: nothing raw on any line."""
    assert not raw_characters(output), [line for line in output.splitlines() if UNSAFE.search(line)]


def check_export(files: dict[Path, str]) -> None:
    """Exported CSV and SVG: nothing raw, SVG well-formed XML without script, no CSV text
    cell a spreadsheet would run (a cell starting with = + - @ must be a number)."""
    for path, text in files.items():
        text.encode("utf-8")  # no lone surrogate: the file can be written
        check_lines(text)
        if path.suffix == ".svg":
            root = ET.fromstring(text)
            for element in root.iter():
                assert element.tag.rsplit("}", 1)[-1] in SVG_TAGS, element.tag
                assert not [a for a in element.attrib if a.lower().startswith("on")]
        else:
            for row in csv.reader(io.StringIO(text)):
                for cell in row:
                    if cell[:1] in ("=", "+", "-", "@", "\t", "\r"):
                        float(cell)  # a real number, not a formula


SVG_TAGS = {"svg", "rect", "text", "polyline", "polygon", "circle"}
