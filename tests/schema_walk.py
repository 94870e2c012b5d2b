"""Walk the run file's models (not a hand-made list): every place a value can go, with the
bounds the models state, so tests can put hostile text or in-bounds values into each.

A `Slot` is a path into a run file's JSON (`*`: every item of a list, `?`: every value of
a dict) and what the model says goes there: text (with or without `clean`), a dict key, a
Literal, a number with its bounds, or an optional part that may be left out.
"""

from __future__ import annotations

import copy
import dataclasses
import types
import typing
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal, Union, get_args, get_origin, get_type_hints

import annotated_types
from pydantic import AfterValidator, BaseModel
from pydantic.fields import FieldInfo
from typing_extensions import NotRequired, Required, is_typeddict

from bntui.record.bounds import Cleaned

Path = tuple[str, ...]


@dataclass
class Slot:
    """One place in a run file and what may go there."""

    path: Path
    kind: str  # "text", "key", "literal", "int", "float", "bool", "optional"
    metadata: list[Any] = field(default_factory=list)
    choices: tuple[Any, ...] = ()

    @property
    def cleaned(self) -> bool:
        """Whether pydantic runs `clean` on this text or key as it validates it."""
        return any(
            isinstance(m, AfterValidator) and isinstance(m.func, Cleaned) for m in self.metadata
        )

    def bound(self, name: str) -> Any:
        """The `ge`, `le`, `lt`, `gt`, `max_length`, `min_length` or `pattern` stated here."""
        for m in self.metadata:
            if isinstance(m, AfterValidator):
                m = m.func
            if hasattr(m, name):
                return getattr(m, name)
        return None


def _flatten(metadata: list[Any]) -> list[Any]:
    flat: list[Any] = []
    for m in metadata:
        if isinstance(m, FieldInfo):
            flat += _flatten(list(m.metadata))
        elif isinstance(m, annotated_types.GroupedMetadata):
            flat += list(m)
        else:
            flat.append(m)
    return flat


def slots(tp: Any, path: Path = (), metadata: list[Any] | None = None) -> list[Slot]:
    """Every slot of type `tp` (a model, a dataclass, a TypedDict, a container, a leaf)."""
    meta = _flatten(metadata or [])
    origin = get_origin(tp)
    if origin is Annotated:
        base, *extra = get_args(tp)
        return slots(base, path, meta + extra)
    if origin in (Required, NotRequired):
        return slots(get_args(tp)[0], path, meta)
    if origin in (Union, types.UnionType):
        found = []
        for arg in get_args(tp):
            if arg is not type(None):
                found += slots(arg, path, meta)
        return found
    if origin is Literal:
        return [Slot(path, "literal", meta, get_args(tp))]
    if origin is list:
        return slots(get_args(tp)[0], (*path, "*"))
    if origin is dict:
        key, value = get_args(tp)
        return [Slot(path, "key", _flatten(_annotated_meta(key))), *slots(value, (*path, "?"))]
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        found = []
        for name, info in tp.model_fields.items():
            here = (*path, name)
            if not info.is_required():
                found.append(Slot(here, "optional"))
            found += slots(info.annotation, here, list(info.metadata))
        return found
    if dataclasses.is_dataclass(tp) or is_typeddict(tp):
        hints = get_type_hints(tp, include_extras=True)
        return [s for name, hint in hints.items() for s in slots(hint, (*path, name))]
    kinds = {str: "text", bool: "bool", int: "int", float: "float"}
    if tp in kinds:
        return [Slot(path, kinds[tp], meta)]
    return []


def _annotated_meta(tp: Any) -> list[Any]:
    return list(get_args(tp)[1:]) if get_origin(tp) is Annotated else []


def places(data: Any, path: Path) -> list[tuple[Any, Any]]:
    """(container, key) of every place `path` names in `data` (`*` and `?` fan out)."""
    nodes: list[tuple[Any, Any, Any]] = [(None, None, data)]
    for part in path:
        step = []
        for _, _, node in nodes:
            if part == "*" and isinstance(node, list):
                step += [(node, i, item) for i, item in enumerate(node)]
            elif part == "?" and isinstance(node, dict):
                step += [(node, k, item) for k, item in node.items()]
            elif isinstance(node, dict) and part in node:
                step.append((node, part, node[part]))
        nodes = step
    return [(parent, key) for parent, key, _ in nodes]


def put(data: dict[str, Any], slot: Slot, value: Any) -> dict[str, Any]:
    """A copy of `data` with `value` in every place of `slot` (a key slot: the first key of
    each dict there becomes `value`). Raises LookupError if `data` has no such place."""
    data = copy.deepcopy(data)
    found = places(data, slot.path)
    if not found:
        raise LookupError("/".join(slot.path))
    for parent, key in found:
        if slot.kind == "key":
            target = parent[key]
            if not isinstance(target, dict) or not target:
                raise LookupError("/".join(slot.path))
            first = next(iter(target))
            target[value] = target.pop(first)
        else:
            parent[key] = value
    return data


def text_slots(model: type[BaseModel]) -> list[Slot]:
    """Every place in `model` that holds text from the file: strings and dict keys."""
    return [s for s in slots(model) if s.kind in ("text", "key")]


__all__ = ["Slot", "places", "put", "slots", "text_slots", "typing"]
