"""Test set-up: an isolated data cache, quiet TensorFlow, a fixed seed."""

import os
import tempfile

os.environ.setdefault("GANCOURSE_DATA", tempfile.mkdtemp(prefix="gancourse-test-cache-"))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("MPLBACKEND", "Agg")

import pytest  # noqa: E402


@pytest.fixture(autouse=True)
def _seed():
    import gancourse

    gancourse.set_seed(0)
    yield
