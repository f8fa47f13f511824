"""Loading data pickles without letting them run code.

A pickle is a small program: its ``GLOBAL``/``STACK_GLOBAL``/``INST`` opcodes
name any importable callable and ``REDUCE`` calls it, so ``pickle.load`` on a
file from the internet can run ``os.system``. The StackGAN data release
(``birds.zip``: ``filenames.pickle``, ``class_info.pickle``,
``char-CNN-RNN-embeddings.pickle``) was written by Python 2 and holds only
lists, strings, integers and NumPy arrays, so :func:`safe_load` reads it with
an unpickler whose ``find_class`` resolves only the names such data needs
(:data:`ALLOWED`) and refuses every other one before anything is called:

* containers and scalars of ``builtins`` (Python 2's ``__builtin__`` and other old
  names are mapped as the standard unpickler maps them): ``list``,
  ``tuple``, ``dict``, ``set``, ``frozenset``, ``int``, ``float``, ``complex``,
  ``bool``, ``str``, ``bytes``;
* NumPy's array and scalar reconstruction: ``numpy.core.multiarray._reconstruct``
  and ``scalar`` (NumPy 1 and Python 2 pickles; ``numpy._core.multiarray`` for
  NumPy 2), ``numpy.ndarray``, ``numpy.dtype``;
* ``_codecs.encode``, with which protocol 2 stores ``bytes`` written by Python 3.

Arrays pickled with protocol 5 (NumPy's ``_frombuffer``) are refused: no data
release uses it.

``copyreg._reconstructor`` (which rebuilds instances of arbitrary classes) is not
needed by such data and not allowed. Python 2 strings are read with
``encoding="latin1"``, which keeps every byte (NumPy decodes array buffers stored
as Python 2 strings this way). The names resolve to objects this module looked up
itself; nothing is imported on the pickle's behalf.
"""

from __future__ import annotations

import _compat_pickle
import builtins
import codecs
import io
import pickle
from pathlib import Path

import numpy as np

from gancourse.data.cache import DatasetError

try:  # NumPy >= 2
    from numpy._core import multiarray as _multiarray
except ImportError:  # pragma: no cover - NumPy 1
    from numpy.core import multiarray as _multiarray

_BUILTINS = ("list", "tuple", "dict", "set", "frozenset", "int", "float", "complex", "bool", "str", "bytes")

#: ``(module, name)`` -> the object a data pickle may ask for; everything else is refused.
ALLOWED: dict[tuple[str, str], object] = {
    **{("builtins", name): getattr(builtins, name) for name in _BUILTINS},
    **{(module, name): getattr(_multiarray, name) for module in ("numpy.core.multiarray", "numpy._core.multiarray")
       for name in ("_reconstruct", "scalar")},
    ("numpy", "ndarray"): np.ndarray,
    ("numpy", "dtype"): np.dtype,
    ("_codecs", "encode"): codecs.encode,
}

_CORRUPT = (pickle.UnpicklingError, EOFError, ValueError, TypeError, IndexError, KeyError, AttributeError,
            OverflowError, UnicodeDecodeError, MemoryError)


class RestrictedUnpickler(pickle.Unpickler):
    """A :class:`pickle.Unpickler` that resolves only the globals of :data:`ALLOWED`.

    ``name`` (the file, for messages) and ``what`` (what the file should be) go into the
    :class:`~gancourse.data.cache.DatasetError` raised for any other global.
    """

    def __init__(self, file, *, name: str = "the pickle", what: str = "data pickle"):
        super().__init__(file, encoding="latin1")
        self._name, self._what = name, what

    def find_class(self, module, name):
        """The allowed object ``module.name``; ``DatasetError`` for anything else (nothing is imported).

        Python 2 names (``__builtin__``, ``copy_reg``, ...) are first mapped to Python 3's as the standard
        unpickler maps them (Python 3 also writes them so in protocols below 3); the mapping only renames, so
        applying it to every protocol lets nothing more through."""
        if isinstance(module, str) and isinstance(name, str):
            module, name = _compat_pickle.NAME_MAPPING.get((module, name), (module, name))
            module = _compat_pickle.IMPORT_MAPPING.get(module, module)
        try:
            return ALLOWED[(module, name)]
        except (KeyError, TypeError):  # TypeError: an unhashable name from a broken stream
            raise DatasetError(
                f"refusing to unpickle {self._name}: it asks for {module}.{name}, which a {self._what} never "
                "holds (only lists, dicts, numbers, strings and NumPy arrays are allowed); the file is not the "
                "published one (download it again)") from None

    def persistent_load(self, pid):
        """Persistent ids are never part of a data pickle: refused."""
        raise DatasetError(f"refusing to unpickle {self._name}: it refers to an external object (persistent id), "
                           f"which a {self._what} never holds; the file is not the published one (download it again)")


def safe_loads(data: bytes, *, name: str = "the pickle", what: str = "data pickle"):
    """:func:`safe_load` of bytes in memory (``name`` names them in messages)."""
    try:
        return RestrictedUnpickler(io.BytesIO(data), name=name, what=what).load()
    except DatasetError:
        raise
    except _CORRUPT as exc:
        reason = "it ends early (truncated)" if isinstance(exc, EOFError) or "truncated" in str(exc) else \
            f"{type(exc).__name__}: {exc}"
        raise DatasetError(f"{name} is not a readable {what}: {reason}; the file is corrupt or partial "
                           "(download it again)") from None


def safe_load(path, what: str = "data pickle", *, advice: str = ""):
    """The object stored in the pickle file ``path``, unpickled by :class:`RestrictedUnpickler`.

    Args:
        path: the pickle file (protocols 0-5; Python 2 strings read as Latin-1).
        what: what the file should be, for messages (``"StackGAN data pickle"``).
        advice: how to get the file, appended to the message when it is missing.

    Raises:
        DatasetError: the file is missing, truncated or corrupt, or asks for a global outside
            :data:`ALLOWED` (the message names the file and the global; nothing was called).
    """
    path = Path(path)
    if not path.is_file():
        raise DatasetError(f"{path} does not exist{'; ' + advice if advice else ''}")
    return safe_loads(path.read_bytes(), name=str(path), what=what)
