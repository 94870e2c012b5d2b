"""What a file from anyone must satisfy before the viewer touches it.

Text is cleaned while it is validated (the `Label`, `Name`, `Message`... types below run
`bntui.core.text.clean` inside pydantic), so a loaded run holds no string a terminal would act
on. Numbers are finite and within what bntui records or can draw, and related lists agree
(`runfile.check_run`), so that anything that validates renders: the dashboard, the headless
summaries and the exports never meet a value they cannot show.
"""

from __future__ import annotations

import math
from dataclasses import fields, replace
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BeforeValidator,
    ConfigDict,
    Field,
    TypeAdapter,
    ValidationError,
    with_config,
)
from typing_extensions import Required, TypedDict

from bntui.core.spec import MAX_EPOCHS, ExperimentSpec, SpecError
from bntui.core.text import clean

MAX_CURVE_POINTS = 2_000_000
# Times are seconds since the run started: ~3 years either way (a clock may step back).
MAX_SECONDS = 1e8
# Keras' metrics are float32: no real value is larger, and sums of them stay finite.
FLOAT32_MAX = 3.4028235e38
# A confusion matrix the Results tab can draw (5 cells a class); images a card can hold.
MAX_CLASSES = 64
MAX_IMAGE_SIDE = 64
MAX_SAMPLES = 64
# Test images whose predicted class a run file records (schema 4: the first POOL_SIZE).
MAX_POOL = 1000
# Parameters, sizes, bytes: far beyond any real value, small enough to format at once.
MAX_COUNT = 10**15
MAX_SPEC_TEXT = 4096


def clean_text(value: str) -> str:
    """`clean` as pydantic runs it on every string of a file: the whole of it, one line."""
    return clean(value, None)


class Cleaned:
    """The validator of every text field: `clean` the whole string, then bound its length
    as shown (after cleaning, so that validating cleaned text again gives the same)."""

    def __init__(self, max_length: int) -> None:
        self.max_length = max_length

    def __call__(self, value: str) -> str:
        """The cleaned text, or ValueError if it is longer than `max_length` as shown."""
        shown = clean_text(value)
        if len(shown) > self.max_length:
            raise ValueError(
                f"text of {len(shown):,} characters (as shown); at most {self.max_length:,}"
            )
        return shown


# Statuses, keys, versions, dates.
Label = Annotated[str, AfterValidator(Cleaned(200))]
# Names of layers, classes, devices; shapes.
Name = Annotated[str, AfterValidator(Cleaned(1000))]
# Errors and callback messages.
Message = Annotated[str, AfterValidator(Cleaned(100_000))]
StatName = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{0,39}$"), AfterValidator(Cleaned(40))]
SeriesName = Annotated[
    str, Field(pattern=r"^[a-z0-9_]{1,24}\.[a-z0-9_]{1,40}$"), AfterValidator(Cleaned(65))
]
GpuTag = Annotated[str, Field(pattern=r"^gpu[0-9]{1,3}$"), AfterValidator(Cleaned(6))]

Seconds = Annotated[float, Field(ge=-MAX_SECONDS, le=MAX_SECONDS)]
Duration = Annotated[float, Field(ge=0, le=MAX_SECONDS)]
Metric = Annotated[float, Field(ge=-FLOAT32_MAX, le=FLOAT32_MAX)]
Probability = Annotated[float, Field(ge=0, le=1)]
Reading = Annotated[float, Field(ge=0, le=MAX_COUNT)]  # CPU %, MB, °C: never below 0
Count = Annotated[int, Field(ge=0, le=MAX_COUNT)]
Positive = Annotated[int, Field(ge=1, le=MAX_COUNT)]
EpochIndex = Annotated[int, Field(ge=0, lt=MAX_EPOCHS)]
Position = Annotated[float, Field(ge=0, le=MAX_EPOCHS)]  # a fractional epoch
ClassIndex = Annotated[int, Field(ge=0, lt=MAX_CLASSES)]
Pixel = Annotated[int, Field(ge=0, le=255)]
Environment = dict[Label, Name]  # Python, Keras, backend versions
ImageRow = Annotated[list[Pixel], Field(max_length=MAX_IMAGE_SIDE)]
Image = Annotated[list[ImageRow], Field(max_length=MAX_IMAGE_SIDE)]


@with_config(ConfigDict(extra="allow"))
class Device(TypedDict, total=False):
    """A CPU or an accelerator the run saw (still a dict: `dev.get("name")`)."""

    kind: Required[Label]
    name: Name
    id: Label
    cores: Annotated[int, Field(ge=0, le=1_000_000)]
    memory_bytes: Count


def _plain_scalar(item: object) -> bool:
    if item is None or isinstance(item, bool):
        return True
    if isinstance(item, int):
        return abs(item) <= MAX_COUNT
    return isinstance(item, float) and math.isfinite(item)


def _scalar_extras(value: Any) -> Any:
    """Keys a newer bntui adds to a device are kept only as short, cleaned scalars."""
    if not isinstance(value, dict):
        return value  # pydantic says what is wrong
    known = Device.__required_keys__ | Device.__optional_keys__
    kept: dict[str, Any] = {}
    for key, item in value.items():
        if key in known:
            kept[key] = item
        elif not isinstance(key, str) or len(key) > 64:
            continue
        elif _plain_scalar(item):
            kept[clean_text(key)] = item
        elif isinstance(item, str) and len(item) <= 1000:
            kept[clean_text(key)] = clean_text(item)
    return kept


DeviceEntry = Annotated[Device, BeforeValidator(_scalar_extras)]
_DEVICES = TypeAdapter(list[DeviceEntry])


def devices_from(raw: list[dict[str, Any]]) -> list[Device]:
    """A worker's device list, validated like a file's (none if it makes no sense)."""
    try:
        return _DEVICES.validate_python(raw)
    except ValidationError:
        return []


def check_spec(spec: ExperimentSpec) -> ExperimentSpec:
    """A spec read from a file: one bntui could have run (`ExperimentSpec.validate`, which
    also bounds epochs and the validation split), with its text cleaned."""
    spec.validate()
    texts: dict[str, Any] = {}
    for f in fields(spec):
        value = getattr(spec, f.name)
        if isinstance(value, str):
            if len(value) > MAX_SPEC_TEXT:
                raise SpecError(f"{f.name} is longer than {MAX_SPEC_TEXT} characters")
            texts[f.name] = clean_text(value)
    return replace(spec, **texts)
