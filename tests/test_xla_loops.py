"""XLA's small-loop compilation: set by importing overparam, off on request, consistent
with worker processes (overparam._core.xla_loops)."""
import json
import os
import subprocess
import sys

import numpy as np
import pytest

import overparam
from overparam._core import xla_loops
from overparam._core.xla_loops import DEFAULT_BYTES, ENV_VAR, plan
from overparam.dynamics import driver
from overparam.dynamics.steps import as_policy
from overparam.models import Hadamard
from overparam.problems import matrix_completion, sparse_recovery

OPTION = "--xla_backend_extra_options=xla_cpu_small_while_loop_byte_threshold"


def test_plan_default_appends_the_option_to_xla_flags():
    changes, state = plan({"XLA_FLAGS": "--xla_cpu_enable_fast_math=false"}, False)
    assert changes == {"XLA_FLAGS": f"--xla_cpu_enable_fast_math=false {OPTION}="
                                     f"{DEFAULT_BYTES}"}
    assert str(DEFAULT_BYTES) in state
    changes, _ = plan({}, False)
    assert changes == {"XLA_FLAGS": f"{OPTION}={DEFAULT_BYTES}"}


@pytest.mark.parametrize("value, expect", [("12345", 12345), (" 2e6 ", 2_000_000)])
def test_plan_takes_the_byte_count_asked_for(value, expect):
    changes, _ = plan({ENV_VAR: value}, False)
    assert changes == {"XLA_FLAGS": f"{OPTION}={expect}"}


@pytest.mark.parametrize("value", ["0", "off", "OFF", "false"])
def test_plan_off_changes_nothing(value):
    changes, state = plan({ENV_VAR: value}, False)
    assert changes == {} and "default" in state


def test_plan_leaves_a_users_backend_options_alone():
    flags = "--xla_backend_extra_options=xla_cpu_small_while_loop_byte_threshold=77"
    changes, state = plan({"XLA_FLAGS": flags, ENV_VAR: "999"}, False)
    assert changes == {} and "77 bytes" in state and "XLA_FLAGS" in state


def test_plan_when_the_backend_exists_keeps_workers_like_the_parent():
    changes, state = plan({}, True)
    assert changes == {ENV_VAR: "0"}      # spawned workers then compile as the parent does
    assert "before overparam was imported" in state


@pytest.mark.parametrize("value", ["lots", "-5", "inf", "nan"])
def test_plan_warns_on_a_value_that_is_not_a_count(value):
    with pytest.warns(UserWarning, match=ENV_VAR):
        changes, _ = plan({ENV_VAR: value}, False)
    assert changes == {}


def _compiled_text(m: int, n: int) -> str:
    model = Hadamard(depth=2, init_scale=1e-3)
    skeleton, pvals = driver._split_policy(as_policy("auto", depth=2))
    cfg = driver.make_config(50, 0.0, 4)
    fn, _ = driver._program(model, skeleton, driver._dense_forward, cfg, (), False)
    p = sparse_recovery(n, m, 3, seed=0)
    return fn.lower(p.A.to_dense(), p.y, model.init(None, n), np.float64(1.0), None,
                    driver._dynamic_values(pvals), driver._controls(cfg)).compile().as_text()


def test_the_driver_loop_of_a_small_problem_is_one_compiled_function():
    # the test process imports overparam before JAX's backend exists (conftest)
    assert str(DEFAULT_BYTES) in xla_loops.state(), xla_loops.state()
    assert "xla_cpu_small_call" in _compiled_text(30, 60)
    # a large problem keeps the thunk runtime (multi-threaded matrix-vector products)
    assert "xla_cpu_small_call" not in _compiled_text(400, 2000)


_CHILD = """
import json, os, sys
import numpy as np
if sys.argv[1] == "jax-first":
    import jax.numpy as jnp
    jnp.zeros(2) + 1                       # creates JAX's backend before overparam
import overparam
from overparam._core import xla_loops
from overparam.problems import matrix_completion, sparse_recovery
r = overparam.hadamard_gd(sparse_recovery(60, 30, 3, seed=4), tol=0.0, max_iter=300)
w = overparam.dmf_gd(matrix_completion(12, 10, 2, 80, seed=1), depth=3, init_scale=0.1,
                     tol=0.0, max_iter=200)
print(json.dumps(dict(x=r.x.tolist(), w=np.asarray(w.x).tolist(), state=xla_loops.state(),
                      env=os.environ.get("%s"), flags=os.environ.get("XLA_FLAGS"))))
""" % ENV_VAR


def _child(mode: str, env_value: str | None) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("XLA_FLAGS", ENV_VAR)}
    if env_value is not None:
        env[ENV_VAR] = env_value
    done = subprocess.run([sys.executable, "-c", _CHILD, mode], env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_off_and_jax_first_processes_agree_with_this_one():
    # the children also run with XLA's default compilation (no XLA_FLAGS), while this
    # process compiles as tests/conftest.py sets up: the same iterates either way
    x = overparam.hadamard_gd(sparse_recovery(60, 30, 3, seed=4), tol=0.0, max_iter=300).x
    w = overparam.dmf_gd(matrix_completion(12, 10, 2, 80, seed=1), depth=3, init_scale=0.1,
                         tol=0.0, max_iter=200).x
    off = _child("plain", "off")
    assert off["flags"] is None and "default" in off["state"]
    np.testing.assert_allclose(off["x"], x, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(off["w"], w, rtol=1e-12, atol=1e-15)
    late = _child("jax-first", None)
    assert late["flags"] is None and late["env"] == "0"
    assert "before overparam was imported" in late["state"]
    np.testing.assert_allclose(late["x"], x, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(late["w"], w, rtol=1e-12, atol=1e-15)
