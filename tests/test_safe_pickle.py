"""The restricted unpickler: data pickles (Python 3 and Python 2 streams) load; pickles that run code are refused."""

import builtins
import os
import pickle
import pickletools
import struct
import subprocess

import numpy as np
import pytest

from gancourse.data import DatasetError
from gancourse.data.safe_pickle import ALLOWED, safe_load, safe_loads

# Written by CPython 2.7.18 with pickle.dumps(obj, 2) (bytes copied from its repr):
PY2_KEYS = (b"\x80\x02]q\x00(U9001.Black_footed_Albatross/Black_Footed_Albatross_0046_18q\x01U/002.Laysan_Albatross/"
            b"Laysan_Albatross_0002_1027q\x02e.")  # ['001.Black_footed...', '002.Laysan...']
PY2_INTS = b"\x80\x02]q\x00(K\x01K\x01K\x02K\xc8Jp\x11\x01\x00I1099511627776\ne."  # [1, 1, 2, 200, 70000, 2**40]
PY2_SET = (b"\x80\x02}q\x00U\x01aq\x01G?\xf8\x00\x00\x00\x00\x00\x00c__builtin__\nset\nq\x02]q\x03K\x03a\x85q\x04Rq"
           b"\x05\x86q\x06s.")  # {'a': (1.5, set([3]))}


def _py2_string(data: bytes) -> bytes:
    """A Python 2 ``str`` in protocol 2: SHORT_BINSTRING up to 255 bytes, else BINSTRING."""
    if len(data) < 256:
        return b"U" + bytes([len(data)]) + data
    return b"T" + struct.pack("<i", len(data)) + data


def py2_numpy_array(array: np.ndarray) -> bytes:
    """The protocol-2 stream NumPy 1.x under Python 2 writes for a little-endian C-ordered array:
    ``_reconstruct(ndarray, (0,), 'b')`` then BUILD with ``(1, shape, dtype, False, data as a str)``, the dtype
    itself ``dtype('f4', 0, 1)`` BUILT with its version-3 state, every string a Python 2 ``str``."""
    shape = b"".join(b"K" + bytes([d]) if d < 256 else b"J" + struct.pack("<i", d) for d in array.shape)
    tuple_op = {1: b"\x85", 2: b"\x86", 3: b"\x87"}[array.ndim]
    code = array.dtype.str[1:].encode()  # 'f4'
    return (b"\x80\x02cnumpy.core.multiarray\n_reconstruct\nq\x00cnumpy\nndarray\nq\x01K\x00\x85q\x02U\x01bq\x03"
            b"\x87q\x04Rq\x05(K\x01" + shape + tuple_op + b"q\x06cnumpy\ndtype\nq\x07" + _py2_string(code)
            + b"q\x08K\x00K\x01\x87q\tRq\n(K\x03U\x01<q\x0bNNNJ\xff\xff\xff\xffJ\xff\xff\xff\xffK\x00tq\x0cb\x89"
            + _py2_string(array.tobytes()) + b"q\rtq\x0eb.")


# ---------------------------------------------------------------------------
# What data pickles hold
# ---------------------------------------------------------------------------
@pytest.mark.parametrize("obj", [
    ["001.Black_footed_Albatross/Black_Footed_Albatross_0046_18", "200.Common_Yellowthroat/x_0001"],
    [1, 2, 2, 200, -7, 2 ** 40],
    [[1, [2.5, "a"]], (3, 4), {"k": {5, 6}}, frozenset({1}), 1 + 2j, True, None, b"\x00\xffbytes"],
    np.random.default_rng(0).standard_normal((3, 10, 8)).astype(np.float32),
    [np.float32(1.5), np.int64(-3), np.float64(2.25), np.bool_(True), np.int32(7)],
    [np.arange(6, dtype=np.int32).reshape(2, 3), np.zeros((2, 10, 4), np.float32)],
])
def test_protocol_2_round_trips(obj, tmp_path):
    path = tmp_path / "data.pickle"
    path.write_bytes(pickle.dumps(obj, protocol=2))
    back = safe_load(path)
    if isinstance(obj, np.ndarray):
        assert back.dtype == obj.dtype and back.shape == obj.shape and np.array_equal(back, obj)
    elif isinstance(obj, list) and obj and isinstance(obj[0], (np.generic, np.ndarray)):
        for a, b in zip(obj, back):
            assert type(a) is type(b) and np.array_equal(a, b)
    else:
        assert back == obj


def test_newer_protocols_load_too():
    obj = {"x": np.ones((2, 3), np.float64), "keys": ["a", "b"], "ids": [1, 2]}
    for protocol in range(0, 5):  # protocol 5 arrays need numpy's _frombuffer, which no data release uses
        back = safe_loads(pickle.dumps(obj, protocol=protocol))
        assert back["keys"] == ["a", "b"] and back["ids"] == [1, 2] and np.array_equal(back["x"], obj["x"])


def test_python_2_streams_load_with_latin1_strings():
    assert safe_loads(PY2_KEYS) == ["001.Black_footed_Albatross/Black_Footed_Albatross_0046_18",
                                    "002.Laysan_Albatross/Laysan_Albatross_0002_1027"]
    assert safe_loads(PY2_INTS) == [1, 1, 2, 200, 70000, 2 ** 40]
    assert safe_loads(PY2_SET) == {"a": (1.5, {3})}
    assert safe_loads(b"\x80\x02U\x03\xe9t\xe9q\x00.") == "\xe9t\xe9"  # a non-ASCII Python 2 str keeps its bytes


def test_handwritten_python_2_numpy_stream_loads_like_stock_pickle():
    rng = np.random.default_rng(1)
    for array in (rng.standard_normal((2, 3)).astype(np.float32),  # 24 bytes: SHORT_BINSTRING
                  rng.standard_normal((4, 10, 8)).astype(np.float32)):  # 1280 bytes: BINSTRING
        stream = py2_numpy_array(array)
        ops = [op.name for op, _, _ in pickletools.genops(stream)]
        assert "GLOBAL" in ops and "BINUNICODE" not in ops  # Python 2 strings only
        reference = pickle.loads(stream, encoding="latin1")  # what the unrestricted loader makes of it
        back = safe_loads(stream)
        assert back.dtype == np.float32 and back.shape == array.shape
        assert np.array_equal(back, array) and np.array_equal(reference, array)


def test_allowed_names_are_only_data_constructors():
    modules = {module for module, _ in ALLOWED}
    assert modules == {"builtins", "numpy.core.multiarray", "numpy._core.multiarray", "numpy",
                       "_codecs"}
    names = {name for _, name in ALLOWED}
    assert not names & {"eval", "exec", "getattr", "open", "__import__", "system", "_reconstructor", "apply"}


# ---------------------------------------------------------------------------
# Hostile pickles
# ---------------------------------------------------------------------------
class _Reduce:
    def __init__(self, func, *args):
        self.func, self.args = func, args

    def __reduce__(self):
        return self.func, self.args


def _hostile(marker):
    command = f"touch {marker}"
    return {
        "posix.system": pickle.dumps(_Reduce(os.system, command), protocol=2),
        "builtins.eval": pickle.dumps(_Reduce(eval, f"open({str(marker)!r}, 'w').close()"), protocol=2),
        "builtins.exec": pickle.dumps(_Reduce(exec, f"open({str(marker)!r}, 'w').close()"), protocol=4),
        "subprocess.Popen": pickle.dumps(_Reduce(subprocess.Popen, ["touch", str(marker)]), protocol=2),
        "io.open": pickle.dumps(_Reduce(builtins.open, str(marker), "w"), protocol=2),  # would create the file
        # The same calls written by hand, as a Python 2 pickle would name them (the messages use Python 3's names):
        "os.system": b"\x80\x02cos\nsystem\nq\x00U" + bytes([len(command)]) + command.encode() + b"\x85R.",
        "builtins.eval ": (b"c__builtin__\neval\n(S'open(" + repr(str(marker)).encode() + b", \"w\")'\ntR."),
        "copyreg._reconstructor": b"\x80\x02ccopy_reg\n_reconstructor\nq\x00(cos\nsystem\nq\x01tR.",
    }


@pytest.mark.parametrize("name", list(_hostile("m")))
def test_hostile_pickles_are_refused_and_never_run(name, tmp_path):
    marker = tmp_path / "pwned"
    stream = _hostile(marker)[name]
    path = tmp_path / "train" / "filenames.pickle"
    path.parent.mkdir()
    path.write_bytes(stream)
    with pytest.raises(DatasetError) as info:
        safe_load(path, "StackGAN data pickle")
    message = str(info.value)
    assert "\n" not in message and str(path) in message
    want = f"refusing to unpickle {path}: it asks for {name.strip()}, which a StackGAN data pickle never holds"
    assert want in message
    assert not marker.exists()


def test_a_refused_global_nested_in_an_allowed_call_still_stops_everything(tmp_path):
    marker = tmp_path / "pwned"
    inner = _Reduce(os.system, f"touch {marker}")
    with pytest.raises(DatasetError, match="it asks for posix.system"):
        safe_loads(pickle.dumps([1, 2, {"x": (np.zeros(2), inner)}], protocol=2))
    with pytest.raises(DatasetError, match="persistent id"):
        safe_loads(b"\x80\x02U\x03abcQ.")
    assert not marker.exists()


# ---------------------------------------------------------------------------
# Broken files
# ---------------------------------------------------------------------------
def test_truncated_corrupt_and_missing_files_get_one_line_errors(tmp_path):
    good = pickle.dumps(np.zeros((3, 10, 8), np.float32), protocol=2)
    cut = tmp_path / "cut.pickle"
    cut.write_bytes(good[: len(good) // 2])
    with pytest.raises(DatasetError, match=r"cut.pickle is not a readable data pickle: it ends early \(truncated\); "
                                           r"the file is corrupt or partial \(download it again\)$"):
        safe_load(cut)
    junk = tmp_path / "junk.pickle"
    for data in (b"<html>not a pickle</html>", b"", b"\x80\x02]q\x00(K\x01e", b"\x80\x02\xff."):
        junk.write_bytes(data)
        with pytest.raises(DatasetError, match="junk.pickle is not a readable data pickle") as info:
            safe_load(junk)
        assert "\n" not in str(info.value)
    with pytest.raises(DatasetError, match=r"nope.pickle does not exist; get it from X$"):
        safe_load(tmp_path / "nope.pickle", advice="get it from X")
