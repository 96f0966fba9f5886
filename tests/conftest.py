"""Test hygiene: float64 JAX, strict dtype promotion, a seeded hypothesis profile."""
import os

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
