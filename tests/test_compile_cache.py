"""The persistent compilation cache of `overparam run`: where it goes, how it is turned off,
and that worker processes share it (the conftest turns it off for the test session)."""
from __future__ import annotations

import os
import subprocess
import sys

import jax
import pytest

from overparam.experiments import compile_cache
from overparam.experiments.compile_cache import (ENV_VAR, chosen_cache_dir,
                                                 compilation_cache_dir, default_cache_dir,
                                                 enable_compilation_cache)


@pytest.fixture
def jax_cache_config(monkeypatch):
    """JAX's cache settings restored after the test (they are process-global)."""
    saved = (jax.config.jax_compilation_cache_dir,
             jax.config.jax_persistent_cache_min_compile_time_secs)
    monkeypatch.delenv("JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS", raising=False)
    jax.config.update("jax_compilation_cache_dir", None)
    yield
    jax.config.update("jax_compilation_cache_dir", saved[0])
    jax.config.update("jax_persistent_cache_min_compile_time_secs", saved[1])


def test_enable_uses_the_given_folder(jax_cache_config, tmp_path):
    folder = tmp_path / "a" / "b"
    assert enable_compilation_cache(folder) == str(folder)
    assert folder.is_dir()
    assert compilation_cache_dir() == str(folder)
    assert jax.config.jax_persistent_cache_min_compile_time_secs == pytest.approx(0.2)


def test_a_folder_already_set_in_jax_is_kept(jax_cache_config, tmp_path):
    jax.config.update("jax_compilation_cache_dir", str(tmp_path / "mine"))
    assert enable_compilation_cache(tmp_path / "other") == str(tmp_path / "mine")
    assert chosen_cache_dir() == str(tmp_path / "mine")
    assert not (tmp_path / "other").exists()


@pytest.mark.parametrize("value", ["off", "OFF", "0", "false", "no", " none "])
def test_the_environment_variable_turns_it_off(jax_cache_config, monkeypatch, value):
    monkeypatch.setenv(ENV_VAR, value)
    assert chosen_cache_dir() is None
    assert enable_compilation_cache() is None
    assert compilation_cache_dir() is None


def test_the_environment_variable_names_the_folder(jax_cache_config, monkeypatch, tmp_path):
    monkeypatch.setenv(ENV_VAR, str(tmp_path / "env"))
    assert chosen_cache_dir() == str(tmp_path / "env")
    assert enable_compilation_cache() == str(tmp_path / "env")


def test_default_folder_follows_xdg(monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert default_cache_dir() == tmp_path / "overparam" / "jax"
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert default_cache_dir() == compile_cache.Path(os.path.expanduser("~")) / ".cache" \
        / "overparam" / "jax"


def test_a_folder_that_cannot_be_made_warns_and_stays_off(jax_cache_config, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.warns(RuntimeWarning, match="compilation cache is off.*file"):
        assert enable_compilation_cache(blocker / "cache") is None
    assert compilation_cache_dir() is None


SPEC = """
[experiment]
name = "cached"
seed = 1
trials = 2
metrics = ["rel_error"]

[problem]
n = 12
s = 2
m = [6, 8]

[[methods]]
name = "hadamard_gd"
max_iter = 50
tol = 0.0
"""


def test_overparam_run_fills_the_cache_from_its_worker_processes(tmp_path):
    """Worker processes get the parent's cache folder: with the `processes` executor the
    parent compiles nothing, so the entries are the workers'."""
    spec = tmp_path / "spec.toml"
    spec.write_text(SPEC)
    cache = tmp_path / "cache"
    env = dict(os.environ, **{ENV_VAR: str(cache)})
    env.pop("JAX_COMPILATION_CACHE_DIR", None)
    done = subprocess.run(
        [sys.executable, "-m", "overparam.cli", "run", str(spec), "--out",
         str(tmp_path / "out"), "--executor", "processes", "--workers", "2",
         "--no-progress"], env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    entries = [p.name for p in cache.iterdir() if p.name.endswith("-cache")]
    assert entries, f"no compiled program in {cache}: {sorted(os.listdir(cache))}"
