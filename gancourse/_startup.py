"""TensorFlow's C++ start-up lines, dropped; everything else TensorFlow prints on import is kept.

``import tensorflow`` writes a handful of lines straight to file descriptor 2
from C++ (absl's "log messages before InitializeLog", oneDNN's notice, "could
not find cuda drivers", cuDNN/cuFFT/cuBLAS factory registrations). Since
TensorFlow 2.17 ``TF_CPP_MIN_LOG_LEVEL`` no longer silences them, and a Jupyter
kernel forwards that descriptor into the first cell that imports TensorFlow.

:func:`install` puts a finder on ``sys.meta_path`` that intercepts the first
import of ``tensorflow``: while the module executes, descriptor 2 goes to a
temporary file, and afterwards every line that is not one of the known
start-up lines (:data:`STARTUP_NOISE`) is written back to ``sys.stderr``, so a
real warning still reaches the reader.
"""

from __future__ import annotations

import importlib.abc
import importlib.util
import os
import re
import sys
import tempfile

#: The start-up lines dropped (matched anywhere in a line).
STARTUP_NOISE = re.compile(
    r"All log messages before absl::InitializeLog\(\) is called"
    r"|^[IWE]\d{4} [\d:.]+\s+\d+ (port|cudart_stub|cpu_feature_guard|cuda_dnn|cuda_fft|cuda_blas|cuda_executor"
    r"|computation_placer)\.cc:\d+\]"
    r"|TF-TRT Warning: Could not find TensorRT"
    r"|Unable to register cu(DNN|FFT|BLAS) factory"
)


def filter_startup_lines(text: str) -> str:
    """``text`` without TensorFlow's start-up lines (every other line kept, in order)."""
    return "".join(line for line in text.splitlines(keepends=True) if not STARTUP_NOISE.search(line))


class _FilteredLoader(importlib.abc.Loader):
    def __init__(self, loader):
        self.loader = loader

    def create_module(self, spec):
        return self.loader.create_module(spec)

    def exec_module(self, module):
        try:
            sys.stderr.flush()
            saved = os.dup(2)
        except (OSError, ValueError, AttributeError):  # no real descriptor 2 (embedded interpreters)
            return self.loader.exec_module(module)
        with tempfile.TemporaryFile(mode="w+b") as captured:
            os.dup2(captured.fileno(), 2)
            try:
                self.loader.exec_module(module)
            finally:
                os.dup2(saved, 2)
                os.close(saved)
                captured.seek(0)
                kept = filter_startup_lines(captured.read().decode("utf-8", "replace"))
                if kept:
                    sys.stderr.write(kept)


class _TensorFlowFinder(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name != "tensorflow":
            return None
        uninstall()
        spec = importlib.util.find_spec(name)
        if spec is not None and spec.loader is not None:
            spec.loader = _FilteredLoader(spec.loader)
        return spec


def install() -> None:
    """Filter the start-up lines of the next ``import tensorflow`` (nothing if it is already imported)."""
    if "tensorflow" in sys.modules or any(isinstance(f, _TensorFlowFinder) for f in sys.meta_path):
        return
    sys.meta_path.insert(0, _TensorFlowFinder())


def uninstall() -> None:
    """Remove the finder (the import it intercepts happens once)."""
    sys.meta_path[:] = [f for f in sys.meta_path if not isinstance(f, _TensorFlowFinder)]
