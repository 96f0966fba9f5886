"""Adversarial checks of the core helpers (overparam._core), the area registrations and the
sweep front end (overparam.experiments.sweep)."""
from __future__ import annotations

import copy
import math
import pickle
import warnings

import numpy as np
import pytest

from overparam._core import (
    Result,
    Status,
    check_finite_array,
    check_real_array,
    ldexp_array,
    safe_norm,
)
from overparam._core.xla_loops import ENV_VAR, plan


# ------------------------------------------------------------------------ xla_loops
@pytest.mark.parametrize("value, expect", [
    # XLA parses the option as an int64: 1e30 (and 2**63-1 read through a float, i.e.
    # 2**63) made every JAX computation of the process fail with "Failed to parse value
    # for: xla_cpu_small_while_loop_byte_threshold"
    ("1e30", 2**63 - 1),
    ("9223372036854775807", 2**63 - 1),
    ("99999999999999999999999", 2**63 - 1),
    ("9007199254740993", 9007199254740993),   # was rounded through a float to ...992
])
def test_xla_byte_count_stays_within_what_xla_parses(value, expect):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        changes, state = plan({ENV_VAR: value}, backend_ready=False)
    assert changes["XLA_FLAGS"].endswith(f"xla_cpu_small_while_loop_byte_threshold={expect}")
    assert str(expect) in state


# ------------------------------------------------------------------------ checks
def test_ragged_input_names_the_parameter():
    # was NumPy's "setting an array element with a sequence ..." naming nothing
    for check in (check_finite_array, check_real_array):
        with pytest.raises(ValueError, match=r"^y is not a rectangular array"):
            check([[1.0, 2.0], [3.0]], "y")


# ------------------------------------------------------------------------ norms
@pytest.mark.parametrize("dtype, e", [(np.int8, 10), (np.uint8, 10), (np.bool_, 20),
                                      (np.int16, 200)])
def test_ldexp_array_of_small_integers_does_not_overflow(dtype, e):
    # np.ldexp computed int8 / uint8 / bool in float16 and int16 in float32: 100 * 2**10
    # (int8) and 1 * 2**200 (int16) came back as inf
    a = np.array([1, 0], dtype=dtype)
    got = ldexp_array(a, e)
    assert got.dtype == np.float64
    np.testing.assert_array_equal(got, [2.0**e, 0.0])
    assert ldexp_array(np.array([100], dtype=np.int8), 10)[0] == 102400.0


def test_safe_norm_against_hypot_at_the_ends_of_the_range():
    for v in ([1e-320, 1e-320], [1e308, 1e308], [1e308, 1e-320], [5e-324], [1e200, 1e-200],
              [3.0, 4.0]):
        assert safe_norm(np.array(v)) == pytest.approx(math.hypot(*v), rel=1e-15)
    assert safe_norm(np.array([3e38, 3e38], dtype=np.float32)) == pytest.approx(
        math.hypot(3e38, 3e38), rel=1e-7)
    assert safe_norm(np.array([1e308 + 1e308j])) == pytest.approx(math.sqrt(2) * 1e308,
                                                                  rel=1e-15)
    assert safe_norm(np.array([])) == 0.0


# ------------------------------------------------------------------------ Result
def test_result_with_a_complex_nan_equals_itself_and_its_pickle():
    # a Python complex NaN in info made the Result unequal to itself and to its copy
    r = Result(x=np.zeros(2), status=Status.MAX_ITER, info={"z": complex(math.nan, 1.0)})
    assert r == r
    assert r == pickle.loads(pickle.dumps(r))
    assert r != Result(x=np.zeros(2), status=Status.MAX_ITER, info={"z": complex(1.0, 1.0)})


def test_result_repr_of_non_finite_values():
    r = Result(x=np.full(3, np.nan), status="diverged", fun=math.inf, wall_time=math.nan)
    text = repr(r)
    # was "wall_time=nans"
    assert text.endswith("wall_time=nan)"), text
    assert "fun=inf" in text and "status=diverged" in text
    assert repr(Result(x=np.zeros(1), status=Status.CONVERGED, wall_time=2.5)).endswith(
        "wall_time=2.5s)")


# ------------------------------------------------------------------------ sweep
pytest.importorskip("pandas")  # the `experiments` extra
pytest.importorskip("pyarrow")

from overparam.experiments import load, run  # noqa: E402

_SPEC = {"experiment": {"name": "adv", "trials": 1, "metrics": ["rel_error"]},
         "problem": {"generator": "sparse_recovery", "n": 8, "m": 4, "s": 1},
         "methods": [{"name": "basis_pursuit"}]}


def test_run_refuses_a_string_force_before_replacing_results(tmp_path):
    out = tmp_path / "r"
    run(_SPEC, out, executor="serial", progress=False)
    before = load(out)
    other = copy.deepcopy(_SPEC)
    other["problem"]["n"] = 9
    # force="false" (truthy) replaced the results of the first spec
    with pytest.raises(TypeError, match="force must be a bool"):
        run(other, out, executor="serial", force="false", progress=False)
    with pytest.raises(TypeError, match="progress must be a bool"):
        run(_SPEC, out, executor="serial", progress="no")
    after = load(out)
    assert list(after["n"]) == list(before["n"]) == [8]


def test_run_refuses_a_single_override_string(tmp_path):
    # was "--set 'e': expected KEY=VALUE" (the string read character by character)
    with pytest.raises(TypeError, match=r"overrides must be a tuple.*experiment\.trials=2"):
        run(_SPEC, tmp_path / "r", executor="serial", overrides="experiment.trials=2")
    assert not (tmp_path / "r").exists()


# each area's methods run through the experiment engine on a tiny problem of their kind
_AREAS = [
    ({"generator": "sparse_regression", "n": 8, "m": 5, "s": 1, "m_test": 4},
     [{"name": "eos_line", "step": 0.5}],
     {"sharpness": 4.0, "sharpness_eta": 1.0, "two_over_eta": 4.0}),
    ({"generator": "lrrs_problem", "n1": 4, "n2": 3, "rank": 1, "s": 2, "m": 30},
     [{"name": "irls_lrrs", "max_iter": 10}, {"name": "rspf", "max_iter": 30}],
     {"lrrs_recovered": 1.0}),
    ({"generator": "sparse_eigen", "n": 40, "rank": 1, "sparsity": 3},
     [{"name": "eigsh_truncated"}, {"name": "truncated_power"}],
     {"overlap": 1.0}),
    ({"generator": "quantize_layer", "m": 4, "N": 8},
     [{"name": "msq"}, {"name": "gpfq"}, {"name": "vertex_msq"}],
     {}),
]


@pytest.mark.parametrize("problem, methods, expect", _AREAS,
                         ids=[a[0]["generator"] for a in _AREAS])
def test_area_methods_run_through_the_engine(tmp_path, problem, methods, expect):
    metrics = list(expect) or ["layer_error"]
    spec = {"experiment": {"name": "area", "trials": 1, "metrics": metrics},
            "problem": problem, "methods": methods}
    summary = run(spec, tmp_path / "r", executor="serial", progress=False)
    assert summary.ok and summary.error_rows == 0, str(summary)
    df = load(tmp_path / "r")
    assert len(df) == len(methods)
    for name, want in expect.items():
        np.testing.assert_allclose(df[name].to_numpy(float), want, rtol=1e-12)
    if not expect:  # quantization errors: relative, finite, >= 0
        err = df["layer_error"].to_numpy(float)
        assert np.all(np.isfinite(err)) and np.all(err >= 0)
