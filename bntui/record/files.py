"""Reading and writing bntui's documents (run, sweep, claims files) so that no file can hang
bntui or lose a run: regular files only, read up to a hard limit, strict JSON, told apart by
their `kind` and validated against that kind's pydantic model with one clear message; written
atomically, never overwriting, with a fallback folder when the chosen one cannot be written.
"""

from __future__ import annotations

import json
import math
import os
import stat as st
import tempfile
from contextlib import suppress
from pathlib import Path
from typing import Any, ClassVar, Literal, TypeVar, get_args, overload

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from bntui import __version__
from bntui.core.text import clean, clean_tree, no_surrogates
from bntui.record.bounds import Label

MAX_FILE_BYTES = 256 * 1024 * 1024
Kind = Literal["run", "sweep", "claims"]
KINDS: tuple[str, ...] = get_args(Kind)
# Claims files before `kind` named themselves by this `format`; run files before it say
# nothing (sweep files always had `kind`).
LEGACY_CLAIMS_FORMAT = "bntui-claims"


class FileModel(BaseModel):
    """The base of every model in a bntui document (run, sweep and claims files), the
    document's own included."""

    # Unknown keys from a newer minor version are tolerated and dropped. No float may be
    # infinite or NaN (JSON has neither; bntui writes null).
    model_config = ConfigDict(extra="ignore", allow_inf_nan=False)


class Document(FileModel):
    """A whole document (run, sweep or claims file): `kind` names which, `schema_version`
    its shape, `bntui_version` the bntui that wrote it. Each kind's model fixes `kind` to
    its own name and `newest_schema` to the newest version it reads and writes."""

    newest_schema: ClassVar[int]
    kind: Kind
    schema_version: int = Field(ge=1)
    bntui_version: Label = __version__

    def to_json(self) -> str:
        """Strict, indented JSON (non-finite numbers become null)."""
        return self.model_dump_json(indent=1)


class RunFileError(Exception):
    """A run file that cannot be read; the message is meant for the user as is (cleaned:
    it quotes the file's name and may quote the file)."""

    def __init__(self, message: str) -> None:
        super().__init__(clean(message, None))


def _reject_constant(name: str) -> None:
    raise ValueError(f"non-standard JSON number {name}")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):  # 1e400 parses as infinity
        raise ValueError(f"number out of range: {text[:40]}")
    return value


def _kind(mode: int) -> str:
    if st.S_ISFIFO(mode):
        return "a FIFO (named pipe)"
    if st.S_ISCHR(mode) or st.S_ISBLK(mode):
        return "a device"
    if st.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"


def read_bytes(path: str | os.PathLike[str], limit: int = MAX_FILE_BYTES) -> bytes:
    """A run or sweep file's bytes, or RunFileError with one clear message.

    Only a regular file (after following symlinks) is read, and never more than `limit`
    bytes whatever its size claims: a FIFO, a device such as /dev/zero or a socket is
    refused at once. O_NONBLOCK keeps the open itself from waiting for a FIFO's writer.
    """
    path = Path(path)
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(path, flags)
    except FileNotFoundError:
        raise RunFileError(f"{path}: no such file") from None
    except OSError as exc:
        raise RunFileError(f"{path}: cannot read it ({exc.strerror or exc})") from None
    try:
        mode = os.fstat(fd).st_mode
        if st.S_ISDIR(mode):
            raise RunFileError(f"{path} is a folder, not a run file")
        if not st.S_ISREG(mode):
            raise RunFileError(f"{path} is {_kind(mode)}; bntui reads only regular files")
        size = os.fstat(fd).st_size
        if size > limit:
            raise RunFileError(
                f"{path} is {size / 2**20:,.0f} MiB; run files over {limit // 2**20} MiB are "
                "refused"
            )
        chunks: list[bytes] = []
        total = 0
        while total <= limit:  # the size may lie (a file still growing, /proc)
            chunk = os.read(fd, min(1 << 20, limit + 1 - total))
            if not chunk:
                break
            chunks.append(chunk)
            total += len(chunk)
        if total > limit:
            raise RunFileError(f"{path} is over {limit // 2**20} MiB; run files are refused")
        return b"".join(chunks)
    except OSError as exc:
        raise RunFileError(f"{path}: cannot read it ({exc.strerror or exc})") from None
    finally:
        os.close(fd)


def decode(raw: bytes, name: str) -> dict[str, Any]:
    """Strict JSON bytes → a dict with a whole-number `schema_version`, or RunFileError."""
    if not raw.strip():
        raise RunFileError(f"{name} is empty")
    try:
        data = json.loads(
            raw.decode("utf-8"), parse_constant=_reject_constant, parse_float=_finite_float
        )
    except UnicodeDecodeError:
        raise RunFileError(f"{name} is not text (not UTF-8)") from None
    except RecursionError:
        raise RunFileError(f"{name} is nested too deeply to be a run file") from None
    except ValueError as exc:
        raise RunFileError(f"{name} is not valid JSON ({exc})") from None
    if not isinstance(data, dict) or "schema_version" not in data:
        raise RunFileError(f"{name} is not a bntui run file (no schema_version)")
    version = data["schema_version"]
    if not isinstance(version, int) or isinstance(version, bool):
        raise RunFileError(f"{name}: schema_version must be a whole number")
    return data


def kind_of(data: dict[str, Any], name: str) -> str:
    """The kind of a decoded document: its `kind`; without one, a claims file by its old
    `format`, else a run file (written before `kind`). RunFileError for an unknown kind."""
    if "kind" not in data:
        return "claims" if data.get("format") == LEGACY_CLAIMS_FORMAT else "run"
    kind = data["kind"]
    if kind not in KINDS:
        known = ", ".join(KINDS)
        raise RunFileError(
            f"{name} is not a bntui file (kind {clean(str(kind), 40)!r}; bntui writes {known})"
        )
    return str(kind)


M = TypeVar("M", bound=BaseModel)
A = TypeVar("A", bound=Document)
B = TypeVar("B", bound=Document)
C = TypeVar("C", bound=Document)


def validate(model: type[M], data: dict[str, Any], name: str, newest: int, what: str) -> M:
    """Validate decoded data as `model` (a `what`, schema up to `newest`) or raise
    RunFileError."""
    version = data["schema_version"]
    if version > newest:
        writer = clean(data.get("bntui_version", "a newer version"), 40)
        raise RunFileError(
            f"{name} has schema_version {version}, written by bntui {writer!r}; this bntui "
            f"({__version__}) reads up to schema {newest}. Upgrade bntui to replay it."
        )
    try:
        try:
            return model.model_validate(data)
        except ValidationError as exc:
            if not any(e["type"] == "string_unicode" for e in exc.errors()):
                raise
        # A lone surrogate (a legal JSON escape, not Unicode) where pydantic must read the
        # string itself (a pattern, a Literal): it becomes U+FFFD, and the field is judged on
        # the rest. Elsewhere the surrogate reaches `clean` and becomes a mark.
        return model.model_validate(clean_tree(data, 64, no_surrogates))
    except ValidationError as exc:
        first = exc.errors(include_url=False, include_input=False)[0]
        # The location may hold keys from the file: cleaned like any text from it.
        where = clean(".".join(str(part) for part in first["loc"]) or "top level", 200)
        message = clean(first["msg"].removeprefix("Value error, "), 300)
        more = f" (and {exc.error_count() - 1} more problems)" if exc.error_count() > 1 else ""
        raise RunFileError(f"{name} is not a valid {what}: {where}: {message}{more}") from None
    except RecursionError:
        raise RunFileError(f"{name} is nested too deeply to be a run file") from None


@overload
def parse_as(raw: bytes, name: str, first: type[A], /) -> A: ...
@overload
def parse_as(raw: bytes, name: str, first: type[A], second: type[B], /) -> A | B: ...
@overload
def parse_as(
    raw: bytes, name: str, first: type[A], second: type[B], third: type[C], /
) -> A | B | C: ...
def parse_as(raw: bytes, name: str, *models: type[Document]) -> Document:
    """The document in `raw`, told apart by its kind and validated as the one of `models`
    of that kind; RunFileError if it is of none of them, or invalid."""
    data = decode(raw, name)
    kind = kind_of(data, name)
    for model in models:
        if model.model_fields["kind"].default == kind:
            return validate(model, data, name, model.newest_schema, f"{kind} file")
    wanted = " or ".join(model.model_fields["kind"].default for model in models)
    raise RunFileError(f"{name} is a {kind} file, not a {wanted} file")


def write_atomic(text: str, path: Path, *, overwrite: bool) -> None:
    """Write `text` to `path` via a temp file in the same folder: never a half-written file.
    The file, then its folder, are synced to disk, so a power cut loses neither the text nor
    the new name (where the filesystem can sync a folder).

    Without `overwrite`, an existing file is never replaced (FileExistsError).
    """
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600; a run file is an ordinary file
        if overwrite:
            os.replace(tmp, path)
        else:
            os.link(tmp, path)  # fails if path exists, unlike rename
            os.unlink(tmp)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    sync_folder(path.parent)


def sync_folder(folder: Path) -> None:
    """Flush `folder`'s entries (a new or renamed name) to disk. Where the filesystem
    cannot sync a folder, the name is in place all the same: that is not an error."""
    flags = os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(folder, flags)
    except OSError:
        return
    try:
        with suppress(OSError):
            os.fsync(fd)
    finally:
        os.close(fd)


def fallback_dir() -> Path:
    """Where a run goes when its chosen path cannot be written."""
    base = os.environ.get("XDG_DATA_HOME") or os.path.expanduser("~/.local/share")
    return Path(base) / "bntui" / "runs"


def save_run(run: Document, path: Path, *, overwrite: bool = False) -> tuple[Path, str | None]:
    """Save `run` to `path`, or to a fallback path if that fails; nothing is lost.

    Returns the path written and, when it is not `path`, a message saying why.
    """
    text = run.to_json()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(text, path, overwrite=overwrite)
        return path, None
    except OSError as exc:
        reason = f"could not write {path} ({exc.strerror or exc})"
    for folder in (fallback_dir(), Path(tempfile.gettempdir())):
        target = folder / path.name
        try:
            folder.mkdir(parents=True, exist_ok=True)
            n = 1
            while target.exists():
                target = folder / f"{path.stem}-{n}{path.suffix}"
                n += 1
            write_atomic(text, target, overwrite=False)
            return target, f"{reason}; saved to {target} instead"
        except OSError:
            continue
    raise OSError(f"{reason}, and no fallback folder was writable")
