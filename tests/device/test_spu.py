"""The device never writes into what it is given, and both architectures share its life cycle."""
import numpy as np

import spucircuit as sc
from spucircuit.circuit.factored_array import factored_circuit
from spucircuit.device.base import AnalogDevice, RunResult
from spucircuit.device.factored_spu import FactoredSPU


def test_set_rhs_leaves_the_callers_circuit_and_netlist_unchanged():
    A = sc.random_spd(4, cond=5, seed=1)
    b = np.array([1.0, -0.5, 0.25, 2.0])
    mc = sc.integrator_array(A, b)
    vin = [mc.netlist.tables["V"].values[mc.netlist.find(s)[1]] for s in mc.input_sources]
    b_before, netlist_before = mc.b.copy(), list(mc.netlist.tables["V"].values)
    spu = sc.SPU(mc, noise=False, seed=0)
    spu.set_rhs(-3 * b)
    assert np.array_equal(mc.b, b_before)
    assert list(mc.netlist.tables["V"].values) == netlist_before
    assert np.array_equal([mc.netlist.tables["V"].values[mc.netlist.find(s)[1]] for s in mc.input_sources], vin)
    # ... while the device itself now solves for -3 b
    spu.run("200tau", max_samples=2)
    assert np.allclose(spu.read()[0], np.linalg.solve(A, -3 * b), rtol=1e-6)


def test_both_architectures_share_the_life_cycle():
    rng = np.random.default_rng(2)
    J = rng.standard_normal((3, 5))
    fc = factored_circuit(J, None, 0.5, rng.standard_normal(5), r_max=1e9)
    mc = sc.integrator_array(sc.random_spd(5, cond=4, seed=2), rng.standard_normal(5))
    for dev in (FactoredSPU(fc, noise=False, seed=1), sc.SPU(mc, noise=False, seed=1)):
        assert isinstance(dev, AnalogDevice)
        res = dev.run("2tau", dt=0.5 * dev.tau_s if isinstance(dev, FactoredSPU) else None)
        assert isinstance(res, RunResult) and res.x.shape[-1] == 5 and res.mean_x.shape == (1, 5)
        dev.reset(np.ones(5))
        assert np.allclose(dev.read(), 1.0)
