"""The channel's file format (child.write_arrays / child.parse_arrays): every array comes back as
np.load gave it before (dtype, shape, values, Fortran order, its own writable memory), and every file
that is not what write_arrays writes is refused before it costs memory, whatever the child wrote."""
import io
import json

import numpy as np
import pytest

from grader.sandbox import process
from grader.sandbox.child import ALIGN, MAGIC, ArraysError, parse_arrays, write_arrays

LIMITS = (process.ANSWER_MEMBERS, process.META_BYTES)


def written(arrays, meta=None):
    buffer = io.BytesIO()
    write_arrays(buffer, arrays, meta)
    return buffer.getvalue()


def via_npz(arrays):
    """What the channel gave before: np.savez, then np.load without pickle."""
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    buffer.seek(0)
    with np.load(buffer, allow_pickle=False) as npz:
        return {name: npz[name] for name in npz.files}


SAMPLES = {
    "bool": np.array([True, False, True]),
    "int8": np.arange(-3, 3, dtype=np.int8),
    "uint8": np.arange(250, 256, dtype=np.uint8),
    "int16_be": np.arange(6, dtype=">i2").reshape(2, 3),
    "int64": np.arange(12).reshape(3, 4),
    "uint64": np.array([2**64 - 1], dtype=np.uint64),
    "float16": np.linspace(0, 1, 5, dtype=np.float16),
    "float32": np.arange(24, dtype=np.float32).reshape(2, 3, 4),
    "float64_be": np.array([1.5, -2.25], dtype=">f8"),
    "longdouble": np.array([1 / 3], dtype=np.longdouble),
    "nan_inf": np.array([np.nan, np.inf, -np.inf, -0.0]),
    "complex64": np.array([1 + 2j, -3j], dtype=np.complex64),
    "complex128": np.array([[1 + 2j]]),
    "clongdouble": np.array([1 - 1j], dtype=np.clongdouble),
    "str": np.array(["a", "bcd", "é"]),
    "bytes": np.array([b"x", b"yz"]),
    "void": np.zeros(2, dtype="V3"),
    "datetime": np.array(["2026-12-05T19:05"], dtype="datetime64[m]"),
    "timedelta": np.array([5, -1], dtype="timedelta64[25s]"),
    "scalar0d": np.array(3.5),
    "int0d": np.array(7, dtype=np.int32),
    "empty": np.zeros((0, 3)),
    "empty_3d": np.zeros((2, 0, 4), dtype=np.float32),
    "fortran": np.asfortranarray(np.arange(12.0).reshape(3, 4)),
    "fortran_3d": np.asfortranarray(np.arange(24, dtype=np.int16).reshape(2, 3, 4)),
    "strided": np.arange(20.0).reshape(4, 5)[:, ::2],
    "transposed_view": np.arange(6.0).reshape(2, 3).T[::-1],
    "row": np.ones((1, 5)),          # C- and F-contiguous: C, as np.save writes it
}


def same_as_npz(got, expected):
    assert got.dtype == expected.dtype and got.dtype.str == expected.dtype.str
    assert got.shape == expected.shape
    assert got.flags.c_contiguous == expected.flags.c_contiguous
    assert got.flags.f_contiguous == expected.flags.f_contiguous
    assert got.tobytes(order="A") == expected.tobytes(order="A")


def test_every_array_comes_back_as_np_load_gave_it():
    meta, got = parse_arrays(written(SAMPLES, {"id": 3, "value": {"kind": "none"}}), *LIMITS)
    expected = via_npz(SAMPLES)
    assert meta == {"id": 3, "value": {"kind": "none"}}
    assert list(got) == list(SAMPLES)
    for name in SAMPLES:
        same_as_npz(got[name], expected[name])
        assert np.array_equal(got[name], SAMPLES[name], equal_nan=got[name].dtype.kind in "fc"), name


def test_each_array_is_fresh_and_writable():
    data = written({"a": np.zeros(3), "b": np.zeros(3)})
    _, got = parse_arrays(data)
    got["a"][:] = 1.0
    assert got["a"].flags.writeable and got["b"].flags.writeable
    assert not np.shares_memory(got["a"], got["b"])
    assert list(got["b"]) == [0.0, 0.0, 0.0]


def test_no_arrays_and_no_meta():
    assert parse_arrays(written({})) == (None, {})


def test_offsets_are_aligned():
    data = written({"a": np.arange(3, dtype=np.int8), "b": np.arange(5.0)})
    length = int.from_bytes(data[len(MAGIC):len(MAGIC) + 8], "little")
    table = json.loads(data[len(MAGIC) + 8:len(MAGIC) + 8 + length])["arrays"]
    assert [entry[4] for entry in table] == [0, ALIGN]
    assert len(data) % ALIGN == 0


# ---- refusals: each is a file the child could write ----------------------------------------------

def forged(table, meta=None, data=b"", header=None, magic=MAGIC):
    """A file with this header (or these raw header bytes) and this data section."""
    raw = header if header is not None else json.dumps({"meta": meta, "arrays": table}).encode()
    head = magic + len(raw).to_bytes(8, "little") + raw
    return head + bytes(-len(head) % ALIGN) + data


def entry(name="a", descr="<f8", shape=(2,), order="C", offset=0, nbytes=16):
    return [name, descr, list(shape), order, offset, nbytes]


def test_the_forged_helper_writes_what_write_arrays_writes():
    assert forged([entry()], data=bytes(16) + bytes(48)) == written({"a": np.zeros(2)})
    assert parse_arrays(forged([entry()], data=bytes(16)))[1]["a"].shape == (2,)


REFUSED = {
    "empty file": b"",
    "wrong magic": forged([entry()], data=bytes(16), magic=b"\x93NUMPY\x01\x00"),
    "npz": b"PK\x03\x04" + bytes(60),
    "header longer than the file": MAGIC + (10**6).to_bytes(8, "little") + b"{}",
    "header not JSON": forged(None, header=b"{not json"),
    "header not UTF-8": forged(None, header=b'{"meta": "\xff", "arrays": []}'),
    "header a list": forged(None, header=b"[]"),
    "header with other keys": forged(None, header=b'{"meta": null, "arrays": [], "x": 1}'),
    "arrays not a list": forged(None, header=b'{"meta": null, "arrays": {}}'),
    "entry too short": forged([["a", "<f8", [2], "C", 0]], data=bytes(16)),
    "name not a string": forged([entry(name=1)], data=bytes(16)),
    "name twice": forged([entry(), entry(offset=64)], data=bytes(128)),
    "object dtype": forged([entry(descr="|O")], data=bytes(16)),
    "object dtype spelled out": forged([entry(descr="<O8")], data=bytes(16)),
    "structured dtype": forged([["a", [["x", "<f8"]], [2], "C", 0, 16]], data=bytes(16)),
    "structured dtype as a string": forged([entry(descr="[('x', '<f8')]")], data=bytes(16)),
    "subarray dtype": forged([entry(descr="(2,)<f8", nbytes=32)], data=bytes(32)),
    "void with fields as a dict": forged([entry(descr="{'names': ['x'], 'formats': ['<f8']}")], data=bytes(16)),
    "a dtype numpy would guess": forged([entry(descr="float64")], data=bytes(16)),
    "non-canonical dtype": forged([entry(descr="<i1", nbytes=2)], data=bytes(16)),
    "zero-size itemsize": forged([entry(descr="|S0", nbytes=0)]),
    "dtype with an eval": forged([entry(descr="__import__('os')")], data=bytes(16)),
    "StringDType": forged([entry(descr="|T16", nbytes=32)], data=bytes(32)),
    "negative dimension": forged([entry(shape=(-2,), nbytes=-16)], data=bytes(16)),
    "float dimension": forged([entry(shape=(2.0,))], data=bytes(16)),
    "bool dimension": forged([entry(shape=(True, 2))], data=bytes(16)),
    "too many dimensions": forged([entry(shape=(1,) * 65, nbytes=8)], data=bytes(16)),
    "order neither C nor F": forged([entry(order="K")], data=bytes(16)),
    "nbytes smaller than the shape": forged([entry(shape=(10**12,), nbytes=16)], data=bytes(16)),
    "nbytes larger than the shape": forged([entry(nbytes=24)], data=bytes(64)),
    "promises more than the file holds": forged([entry(descr="|u1", shape=(1_500_000_000,), nbytes=1_500_000_000)],
                                                data=bytes(64)),
    "array past the end": forged([entry()], data=bytes(8)),
    "offset not aligned": forged([entry(offset=8)], data=bytes(64)),
    "negative offset": forged([entry(offset=-64)], data=bytes(16)),
    "two arrays on the same bytes": forged([entry("a"), entry("b")], data=bytes(16)),
    "arrays out of order": forged([entry("a", offset=64), entry("b", offset=0)], data=bytes(128)),
    "overlapping arrays": forged([entry("a", shape=(16,), nbytes=128), entry("b", offset=64)], data=bytes(192)),
    "offset as a float": forged([entry(offset=0.0)], data=bytes(16)),
    "huge dimensions of nothing": forged([entry(shape=(0, 2**62, 2**62), nbytes=0)]),
}


@pytest.mark.parametrize("case", sorted(REFUSED))
def test_files_write_arrays_does_not_write_are_refused(case):
    with pytest.raises(ArraysError):
        parse_arrays(REFUSED[case], *LIMITS)


def test_too_many_arrays_are_refused_before_any_is_made():
    arrays = {f"x{i}": np.zeros(1) for i in range(process.ANSWER_MEMBERS + 1)}
    data = written(arrays)
    assert len(parse_arrays(data)[1]) == process.ANSWER_MEMBERS + 1       # the grader's own files: no cap
    with pytest.raises(ArraysError, match="too many arrays"):
        parse_arrays(data, *LIMITS)


def test_a_header_above_the_cap_is_refused_before_it_is_parsed():
    data = written({}, {"x": "y" * process.META_BYTES})
    with pytest.raises(ArraysError, match="header too long"):
        parse_arrays(data, *LIMITS)


@pytest.mark.parametrize("depth", [5_000, 100_000, (process.META_BYTES - 30) // 2])
def test_a_deeply_nested_header_within_the_cap_is_refused_not_followed(depth):
    data = forged(None, header=b'{"meta": ' + b"[" * depth + b"]" * depth + b', "arrays": []}')
    assert len(data) < process.META_BYTES + 100
    with pytest.raises(ArraysError, match="too deeply nested"):
        parse_arrays(data, *LIMITS)


def test_a_million_levels_are_refused_even_without_a_cap():
    data = forged(None, header=b'{"meta": ' + b"[" * 1_000_000 + b"]" * 1_000_000 + b', "arrays": []}')
    with pytest.raises(ArraysError):
        parse_arrays(data)


def test_a_long_integer_is_refused():
    header = b'{"meta": null, "arrays": [["a", "<f8", [2], "C", ' + b"9" * 5000 + b', 16]]}'
    with pytest.raises(ArraysError):
        parse_arrays(forged(None, header=header, data=bytes(16)), *LIMITS)


def test_read_answer_takes_only_regular_files_within_the_cap(tmp_path, monkeypatch):
    import os
    folder = os.open(tmp_path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        (tmp_path / "ok.arr").write_bytes(written({"a": np.arange(3)}, {"id": 1}))
        meta, arrays = process.read_answer(folder, "ok.arr")
        assert meta == {"id": 1} and list(arrays["a"]) == [0, 1, 2]
        os.symlink(tmp_path / "ok.arr", tmp_path / "link.arr")
        with pytest.raises(OSError):
            process.read_answer(folder, "link.arr")
        os.mkfifo(tmp_path / "fifo.arr")
        with pytest.raises(ValueError):
            process.read_answer(folder, "fifo.arr")
        monkeypatch.setattr(process, "ANSWER_BYTES", 100)
        with pytest.raises(ValueError):
            process.read_answer(folder, "ok.arr")
    finally:
        os.close(folder)
