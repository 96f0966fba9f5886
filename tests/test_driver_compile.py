"""The driver's compiled loop is keyed on the number of record points only: the iteration
cap, the tolerance, the record iterations and the stagnation window are run-time values."""
import numpy as np

from overparam.dynamics import driver
from overparam.dynamics.steps import as_policy
from overparam.models import Hadamard
from overparam.problems import sparse_recovery


def test_tol_max_iter_record_and_window_values_reuse_one_compiled_loop():
    # each distinct value compiled a new program (~1 s each at this size; solvers.nnls's
    # chunks of 1000, 2000, ..., 64000 steps one each)
    p = sparse_recovery(43, 17, 2, seed=0)  # a shape no other test compiles
    model, pol = Hadamard(2, init_scale=1e-2), as_policy("nesterov")
    configs = [driver.make_config(3000, 1e-3, [0, 10, 20]),
               driver.make_config(3000, 1e-5, [0, 10, 20]),
               driver.make_config(2000, 1e-4, [0, 50, 100])]
    skeleton, _ = driver._split_policy(pol)

    def program(cfg):
        return driver._program(model, skeleton, driver._dense_forward, cfg, (), False)[0]

    fn = program(configs[0])
    before = fn._cache_size()  # another test may have compiled it for another shape
    outs = [driver.run_driver(model, pol, p.A, p.y, cfg)[0] for cfg in configs]
    assert all(program(cfg) is fn for cfg in configs)
    assert fn._cache_size() == before + 1  # compiled once, for this shape
    configs.append(driver.make_config(500, 0.0, [0, 7, 9], stagnation_window=None))
    outs.append(driver.run_driver(model, pol, p.A, p.y, configs[-1])[0])
    assert program(configs[-1]) is fn and fn._cache_size() == before + 1
    # the values are used: each run stops where its own settings say
    res = [float(np.sqrt(2 * o["loss"]) / np.linalg.norm(p.y)) for o in outs]
    assert int(outs[0]["status"]) == 1 and res[0] <= 1e-3
    assert int(outs[1]["status"]) == 1 and 1e-6 < res[1] <= 1e-5 < res[0]
    assert int(outs[1]["it"]) > int(outs[0]["it"])
    assert int(outs[3]["status"]) == 2 and int(outs[3]["it"]) == 500
    for o, cfg in zip(outs, configs):
        n = int(np.sum(o["iters"] >= 0))
        assert tuple(o["iters"][:n - 1]) == cfg.record_iters[:n - 1]
        assert o["iters"][n - 1] == o["it"]
    # a run-time tolerance changes where the run stops, not the steps: the looser run's
    # iterate is the tighter run's at the same iteration
    short, _, _ = driver.run_driver(model, pol, p.A, p.y,
                                    driver.make_config(int(outs[0]["it"]), 1e-5, [0, 10, 20]))
    np.testing.assert_array_equal(short["x"], outs[0]["x"])
    np.testing.assert_array_equal(short["trace"]["loss"][:3], outs[1]["trace"]["loss"][:3])
