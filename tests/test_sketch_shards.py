"""Shard files that break while their arrays are read: every error names the file."""
from __future__ import annotations

import re
import zipfile

import numpy as np
import pytest

from overparam.mamstar import PrimeMatrix, read_shard, sketch_shards
from overparam.mamstar.sketch import _shard_partial

N = 40
PRIMES = [5, 7]


def _coo(k: int = 2000) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    i, j = rng.integers(0, N, k), rng.integers(0, N, k)
    return dict(row=np.r_[i, j], col=np.r_[j, i], value=np.r_[np.ones(k), np.ones(k)])


def _flip_mid(path, at: float = 0.5) -> None:
    """Flip one byte of a stored (uncompressed) array: the zip directory stays valid, the
    CRC check fails only when that array is read."""
    b = bytearray(path.read_bytes())
    b[int(len(b) * at)] ^= 0xFF
    path.write_bytes(bytes(b))


def _bad_shards(tmp_path):
    """(file, exception type) pairs whose errors come from reading the arrays."""
    obj = tmp_path / "object array.npz"  # a space in the name, too
    np.savez(obj, row=np.array([0, 1], dtype=object), col=np.array([0, 1]),
             value=np.array([1.0, 2.0]))
    crc = tmp_path / "crc.npz"
    np.savez(crc, **_coo())
    _flip_mid(crc)
    trunc = tmp_path / "trunc.npy"
    arr = np.zeros(500, dtype=[("row", "i8"), ("col", "i8"), ("value", "f8")])
    np.save(tmp_path / "whole.npy", arr)
    trunc.write_bytes((tmp_path / "whole.npy").read_bytes()[:4000])
    scalar = tmp_path / "scalar.npz"
    np.savez(scalar, row=np.array(1), col=np.array(1), value=np.array(1.0))
    cases = [(obj, ValueError), (crc, zipfile.BadZipFile), (trunc, ValueError),
             (scalar, TypeError)]
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError:  # pragma: no cover - the experiments extra
        return cases
    pqt = tmp_path / "body.parquet"  # a valid footer, a damaged column chunk
    pq.write_table(pa.table(_coo()), pqt)
    b = bytearray(pqt.read_bytes())
    for k in range(100, len(b) // 2):
        b[k] ^= 0x55
    pqt.write_bytes(bytes(b))
    return cases + [(pqt, OSError)]


def test_read_shard_errors_name_the_file(tmp_path):
    for path, kind in _bad_shards(tmp_path):
        # the type is kept (callers catching BadZipFile still do), the path is added
        with pytest.raises(kind, match="^" + re.escape(f"{path}: ")):
            list(read_shard(path))
        with pytest.raises(kind, match=re.escape(str(path))):
            _shard_partial(str(path), N, np.array(PRIMES), "both", None, 0)


def test_sketch_shards_names_the_corrupt_shard_among_good_ones(tmp_path):
    good = tmp_path / "a.npz"
    np.savez(good, **_coo())
    bad = tmp_path / "b.npz"
    np.savez(bad, **_coo())
    _flip_mid(bad, 0.8)  # in the value array, read after row and col
    with pytest.raises(zipfile.BadZipFile) as info:
        sketch_shards(tmp_path, PrimeMatrix(N, PRIMES), progress=False)
    assert str(bad) in str(info.value) and "Bad CRC-32" in str(info.value)


def test_read_shard_keeps_good_files_and_named_errors_unchanged(tmp_path):
    path = tmp_path / "ok.npz"
    coo = _coo(300)
    np.savez(path, **coo)
    got = list(read_shard(path, batch=250))
    assert [len(c[2]) for c in got] == [250, 250, 100]
    np.testing.assert_array_equal(np.concatenate([c[0] for c in got]), coo["row"])
    # already named: not prefixed twice
    np.savez(tmp_path / "names.npz", a=np.zeros(2))
    with pytest.raises(KeyError) as info:
        list(read_shard(tmp_path / "names.npz"))
    assert str(info.value.args[0]).count("names.npz") == 1
    with pytest.raises(ValueError, match="batch"):
        list(read_shard(path, batch=0))
    missing = tmp_path / "missing.npz"  # an OSError naming its file keeps its message
    with pytest.raises(FileNotFoundError) as info:
        list(read_shard(missing))
    assert str(info.value).count("missing.npz") == 1 and info.value.errno == 2


def test_a_damaged_checkpoint_state_is_named(tmp_path):
    shards = tmp_path / "shards"
    shards.mkdir()
    np.savez(shards / "a.npz", **_coo())
    M = PrimeMatrix(N, PRIMES)
    ckpt = tmp_path / "ckpt"
    sketch_shards(shards, M, checkpoint=ckpt, progress=False)
    state = ckpt / "mamstar-state.npz"
    _flip_mid(state, 0.3)  # inside the stored C array
    with pytest.raises(zipfile.BadZipFile, match=re.escape(f"{state} cannot be read (Bad CRC-32")):
        sketch_shards(shards, M, checkpoint=ckpt, progress=False)


def test_a_state_without_its_finished_shards_is_refused(tmp_path):
    # a plain saved Sketch (or an --out written over the state) has no "done" list: every
    # shard was added to it again
    from overparam.cli import main
    from overparam.mamstar import Sketch

    np.savez(tmp_path / "a.npz", **_coo(50))
    ck = tmp_path / "ck"
    sk = sketch_shards(tmp_path / "a.npz", PrimeMatrix(N, PRIMES), checkpoint=ck,
                       progress=False)
    Sketch.save(sk, ck / "mamstar-state.npz")  # the sum, without the list of shards
    with pytest.raises(ValueError, match="no list of finished shards"):
        sketch_shards(tmp_path / "a.npz", PrimeMatrix(N, PRIMES), checkpoint=ck,
                      progress=False)
    args = ["sketch", str(tmp_path / "a.npz"), "--n", str(N), "--primes", "5,7",
            "--checkpoint", str(tmp_path / "ck2"), "--no-progress", "--out"]
    with pytest.raises(SystemExit, match="is the checkpoint's state file"):
        main(args + [str(tmp_path / "ck2" / "mamstar-state.npz")])
    assert not (tmp_path / "ck2").exists()
