"""The MAM* example specs validate and run at a tiny size; the `overparam sketch` command."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("pandas")  # the `experiments` extra
pytest.importorskip("pyarrow")
pytest.importorskip("matplotlib")

from overparam.cli import main  # noqa: E402

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
SMALL = {
    "mamstar_varying_rank.toml": ["experiment.trials=2", "problem.rank=[6, 7]",
                                  "problem.sparsity=[3, 9]", "run.executor=serial"],
    "mamstar_varying_sparsity.toml": ["problem.n=20000", "problem.sparsity=[6, 8]",
                                      "problem.rank=6", "experiment.trials=2",
                                      "run.executor=serial"],
    "mamstar_varying_rows.toml": ["problem.n=100000", "problem.sparsity=20",
                                  "problem.rank=6", "methods[0].extra_primes=[0, 2]",
                                  "methods[1].extra_primes=[0]", "run.executor=serial"],
}


@pytest.mark.parametrize("name", sorted(SMALL))
def test_mamstar_example_runs_small(name, run_small_example):
    spec, df, _, _ = run_small_example(name, SMALL[name])
    assert spec.generator == "sparse_eigen"
    assert df.l2_after.notna().all() and (df.overlap > 0.5).all()
    mam = df[df.method == "mamstar"]
    assert mam.l2_before.notna().all()
    if name == "mamstar_varying_rows.toml":
        assert sorted(mam.sketch_m.unique()) == [1283, 1559]  # 13 and 15 primes


def test_sketch_command_builds_resumes_and_decodes(tmp_path, capsys):
    from overparam.mamstar import Sketch
    from overparam.problems.eigen import sparse_eigen_problem

    A = sparse_eigen_problem(3000, 2, 4, support="overlapping", seed=1)
    shards = tmp_path / "shards"
    shards.mkdir()
    for k, (i, j, v) in enumerate(A.entries(chunk=20, symmetry="upper", shuffle=0)):
        np.savez(shards / f"{k:03d}.npz", row=i, col=j, value=v)
    out = tmp_path / "B.npz"
    args = ["sketch", str(shards), "--n", "3000", "--sparsity", "4", "--symmetry", "upper",
            "--checkpoint", str(tmp_path / "ck"), "--out", str(out), "--rank", "2",
            "--no-progress"]
    assert main(args) == 0
    text = capsys.readouterr().out
    assert "sketch written to" in text and "0 resumed" in text
    sk = Sketch.load(out)
    assert sk.M.n == 3000 and sk.symmetry == "upper"
    vec = np.load(tmp_path / "B.vectors.npz")
    np.testing.assert_allclose(vec["eigenvalues"], A.eigenvalues, rtol=1e-10)
    assert main(args) == 0  # everything resumed from the checkpoint
    assert f"({len(list(shards.iterdir()))} resumed)" in capsys.readouterr().out
