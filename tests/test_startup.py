"""TensorFlow's C++ start-up lines are dropped from the first import; other stderr output is kept."""

import importlib.util
import os
import subprocess
import sys
import types

from gancourse import _startup

NOISE = [
    "WARNING: All log messages before absl::InitializeLog() is called are written to STDERR\n",
    "I0000 00:00:1795957679.683376   14749 port.cc:153] oneDNN custom operations are on. ...\n",
    "I0000 00:00:1795957679.683874   14749 cudart_stub.cc:31] Could not find cuda drivers on your machine\n",
    "E0000 00:00:1795957679.1   14749 cuda_dnn.cc:8310] Unable to register cuDNN factory: ...\n",
]
REAL = "UserWarning: something a reader must see\n"


def test_filter_keeps_everything_but_the_startup_lines():
    assert _startup.filter_startup_lines("".join(NOISE[:2] + [REAL] + NOISE[2:])) == REAL
    assert _startup.filter_startup_lines("plain line\nanother\n") == "plain line\nanother\n"


class _NoisyLoader:
    def create_module(self, spec):
        return None

    def exec_module(self, module):
        for line in NOISE + [REAL]:
            os.write(2, line.encode())
        module.loaded = True


def test_loader_filters_descriptor_two_and_rewrites_the_rest(capfd):
    module = types.ModuleType("fake")
    _startup._FilteredLoader(_NoisyLoader()).exec_module(module)
    err = capfd.readouterr().err
    assert module.loaded and err == REAL


def test_importing_tensorflow_after_gancourse_prints_no_startup_lines():
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    code = "import gancourse, tensorflow, sys; print(type(sys.modules['tensorflow']).__name__)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=300)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "module"
    assert "absl::InitializeLog" not in out.stderr and "cudart_stub" not in out.stderr, out.stderr


def test_install_is_idempotent_and_skipped_once_tensorflow_is_loaded():
    _startup.install()
    _startup.install()
    finders = [f for f in sys.meta_path if isinstance(f, _startup._TensorFlowFinder)]
    assert len(finders) <= 1
    if "tensorflow" in sys.modules:
        assert finders == []
    _startup.uninstall()
    assert not any(isinstance(f, _startup._TensorFlowFinder) for f in sys.meta_path)
    assert importlib.util.find_spec("gancourse") is not None
