"""Test hygiene: quick-compiling XLA, float64 JAX, strict dtype promotion, a seeded
hypothesis profile."""
import os
import subprocess
import sys

# XLA compilation is ~80% of this suite's time (hundreds of small programs through LLVM at
# -O3): the tests compile at -O0 with XLA's loop emitters instead of its fusion emitters
# (suite on two cores 750 s -> 383 s; test_dmf's compile time 109 s -> 28 s).
# tests/test_xla_loops.py checks that runs at XLA's defaults, in a child process without
# XLA_FLAGS, give the iterates of this process to 1e-12. An XLA that does not know a flag
# aborts every process that uses it, so the flags are tried once in a child first (the
# answer is passed on to workers and subprocesses in OVERPARAM_TEST_XLA_FLAGS);
# OVERPARAM_TEST_XLA_FLAGS=default runs the suite with XLA's defaults.
_QUICK_XLA = "--xla_backend_optimization_level=0 --xla_cpu_use_fusion_emitters=false"


def _quick_xla_flags() -> str:
    flags = os.environ.get("XLA_FLAGS", "")
    if "xla_backend_optimization_level" in flags or "xla_cpu_use_fusion_emitters" in flags:
        return "default"                                   # the user's choice
    probe = subprocess.run(
        [sys.executable, "-c", "import jax.numpy as jnp; (jnp.ones(3) + 1).block_until_ready()"],
        env={**os.environ, "XLA_FLAGS": f"{flags} {_QUICK_XLA}".strip()},
        capture_output=True, timeout=120)
    return _QUICK_XLA if probe.returncode == 0 else "default"


if "OVERPARAM_TEST_XLA_FLAGS" not in os.environ:
    os.environ["OVERPARAM_TEST_XLA_FLAGS"] = _quick_xla_flags()
_QUICK = os.environ["OVERPARAM_TEST_XLA_FLAGS"]
if _QUICK != "default" and _QUICK not in os.environ.get("XLA_FLAGS", ""):  # (workers inherit)
    os.environ["XLA_FLAGS"] = f"{os.environ.get('XLA_FLAGS', '')} {_QUICK}".strip()

# `overparam run` turns on JAX's persistent compilation cache in ~/.cache: not from tests
# (CLI tests run in this process; tests/test_compile_cache.py sets its own folders)
os.environ["OVERPARAM_COMPILATION_CACHE"] = "off"

import jax  # noqa: E402

jax.config.update("jax_enable_x64", True)
jax.config.update("jax_numpy_dtype_promotion", "strict")

# Many tests compile the same programs through fresh closures (same HLO, new jit cache
# entry): a persistent compilation cache of this process's own (empty at the start,
# deleted at its exit) compiles each once: 159 s for test_dmf + test_dynamics + test_nnls
# on two workers, 167 s without. One folder per process (a shared one saved 15%): JAX
# writes entries non-atomically, and a worker reading the other's half-written entry
# would warn.
import atexit  # noqa: E402
import shutil  # noqa: E402
import tempfile  # noqa: E402

_JAX_CACHE = tempfile.mkdtemp(prefix="overparam-tests-jax-cache-")
atexit.register(shutil.rmtree, _JAX_CACHE, ignore_errors=True)
jax.config.update("jax_compilation_cache_dir", _JAX_CACHE)
jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.05)

# before any test creates JAX's backend: the tests run with the small-loop compilation
# that importing overparam sets up (overparam._core.xla_loops), as users' code does
import overparam  # noqa: E402,F401

from hypothesis import HealthCheck, settings  # noqa: E402

settings.register_profile(
    "overparam",
    derandomize=True,
    deadline=None,
    max_examples=int(os.environ.get("HYPOTHESIS_MAX_EXAMPLES", "25")),
    suppress_health_check=[HealthCheck.too_slow],
)
settings.load_profile("overparam")


import pytest  # noqa: E402

EXAMPLES_DIR = __import__("pathlib").Path(__file__).resolve().parents[1] / "examples"


@pytest.fixture
def run_small_example(tmp_path, capsys):
    """Run ``examples/<name>`` through the CLI with ``--set`` overrides (a tiny size) and
    check what every example promises: the full-size spec is valid, the run succeeds,
    every plot is written, no row is an error. Returns ``(spec, rows, stdout, folder)``."""
    def run(name: str, overrides: list[str]):
        from overparam.cli import main
        from overparam.experiments import load, load_spec

        load_spec(EXAMPLES_DIR / name)                   # the full-size spec is valid
        out_dir = tmp_path / "r"
        args = ["run", str(EXAMPLES_DIR / name), "--out", str(out_dir)]
        for item in overrides:
            args += ["--set", item]
        assert main(args) == 0
        out = capsys.readouterr().out
        assert "plots written to" in out
        spec = load_spec(EXAMPLES_DIR / name, overrides)
        for plot in spec.plots:
            fmts = plot.get("format", "png")
            for fmt in [fmts] if isinstance(fmts, str) else fmts:
                assert (out_dir / "plots" / f"{plot['name']}.{fmt}").exists()
        df = load(out_dir)
        assert (df.status != "error").all(), df.loc[df.status == "error", "error"].tolist()[:3]
        return spec, df, out, out_dir
    return run
