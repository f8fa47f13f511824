"""Test set-up: an isolated data cache, quiet TensorFlow, a fixed seed, the build tools importable."""

import atexit
import os
import shutil
import sys
import tempfile
from pathlib import Path

# The build tools (tools/*.py) are scripts, not a package: tests import them by name (``import colab``).
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tools"))

if "GANCOURSE_DATA" not in os.environ:  # a private cache for this run, removed when the run ends
    _CACHE = tempfile.mkdtemp(prefix="gancourse-test-cache-")
    os.environ["GANCOURSE_DATA"] = _CACHE
    atexit.register(shutil.rmtree, _CACHE, ignore_errors=True)
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("MPLBACKEND", "Agg")

import pytest  # noqa: E402


@pytest.fixture(autouse=True)
def _seed():
    import gancourse

    gancourse.set_seed(0)
    yield
