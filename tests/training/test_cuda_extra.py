"""`bntui[cuda]` resolves on PyPI together with the installed Keras, JAX and TensorFlow: one
set of nvidia-*-cu12 wheels for both backends, and the CUDA plugin of this very jaxlib.

Needs PyPI (marked `network`; skipped when it cannot be reached). pip resolves, installs
nothing (`--dry-run`), and reports what it would install.
"""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.error
import urllib.request
from importlib import metadata
from pathlib import Path

import pytest

# Needs PyPI, and takes about a minute of resolving.
pytestmark = [pytest.mark.network, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
STACK = ("keras", "jax", "jaxlib", "tensorflow")


def pypi_reachable() -> bool:
    try:
        with urllib.request.urlopen("https://pypi.org/simple/jax-cuda12-plugin/", timeout=10):
            return True
    except (urllib.error.URLError, OSError):
        return False


def test_cuda_extra_resolves_with_the_installed_stack(tmp_path: Path) -> None:
    tomllib = pytest.importorskip("tomllib")
    if not pypi_reachable():
        pytest.skip("PyPI cannot be reached")
    extra = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"][
        "optional-dependencies"
    ]["cuda"]
    pins = [f"{name}=={metadata.version(name)}" for name in STACK]
    report = tmp_path / "report.json"
    result = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--dry-run", "--quiet",
         "--report", str(report), *extra, *pins],
        capture_output=True, text=True, timeout=900,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    planned = {
        item["metadata"]["name"].lower(): item["metadata"]["version"]
        for item in json.loads(report.read_text())["install"]
    }

    def version(name: str) -> str:
        if name in planned:
            return planned[name]
        return metadata.version(name)  # already installed and kept

    # Nothing of the pinned stack is replaced to make room for CUDA.
    for name in STACK:
        assert version(name) == metadata.version(name), name
    # JAX's CUDA plugin is the one built for this jaxlib.
    assert version("jax-cuda12-plugin") == metadata.version("jaxlib")
    assert version("jax-cuda12-pjrt") == metadata.version("jaxlib")
    # One CUDA 12 / cuDNN 9 set that both TensorFlow (>=12.5, <13) and JAX load.
    cudnn = version("nvidia-cudnn-cu12").split(".")
    runtime = version("nvidia-cuda-runtime-cu12").split(".")
    assert cudnn[0] == "9" and runtime[0] == "12" and int(runtime[1]) >= 5
    assert not [name for name in planned if name.endswith("-cu13")]
