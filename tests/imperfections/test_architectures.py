"""One device stack for every architecture: the same imperfection chain (resistor bank bits,
fabrication tolerance, DAC, ADC) applied through the same Device to an integrator array and to a
factored circuit realising the same A = U^T U + lambda I, with the statistics theory predicts."""
import numpy as np
import pytest

import spucircuit as sc
from spucircuit.circuit.factored_array import factored_circuit
from spucircuit.imperfections.base import chain
from spucircuit.imperfections.instance import Device
from spucircuit.imperfections.models import ADC, DAC, ResistorBank, Tolerance
from spucircuit.linalg.solve import device_solve, range_device
from tests.helpers import zscores

pytestmark = pytest.mark.usefixtures("one_blas_thread")
R_RANGE = (1e3, 1e9)


def circuits(N=6, m=4, lam=0.5, seed=0):
    rng = np.random.default_rng(seed)
    U = rng.standard_normal((m, N)) / np.sqrt(m)
    g = rng.standard_normal(N)
    A = U.T @ U + lam * np.eye(N)
    mc = sc.integrator_array(A, g, r_min=R_RANGE[0], r_max=R_RANGE[1])
    fc = factored_circuit(U, None, lam, g, r_min=R_RANGE[0], r_max=R_RANGE[1])
    return A, g, {"integrator": mc, "factored": fc}


def ranged(dev, g):
    """An integrator-array device ranged for g as it can (a factored circuit keeps its mapped scale)."""
    if not dev.factored:
        range_device(dev, g)
    return dev


def imperfections(adc=True):
    return chain(ResistorBank(10, R_RANGE, rounding="stochastic"), Tolerance(0.2),
                 DAC(16, full_scale_v=2.0, rounding="stochastic"), ADC(16, full_scale_v=2.0) if adc else None)


def test_the_nominal_device_is_exact_on_both():
    A, g, circ = circuits()
    xs = np.linalg.solve(A, g)
    for name, c in circ.items():
        x, rep = Device(None, seed=0).program_circuit(c).steady_x()
        assert np.allclose(x, xs, rtol=1e-9, atol=1e-12), name
        assert rep == {"dac_clipped": 0, "adc_clipped": 0}


def test_unbiased_imperfections_average_out_on_both_architectures():
    """Stochastic (conductance-unbiased) rounding, zero-mean tolerance and dithered DACs make every
    device's exact read-out x_d an unbiased estimate of x* to first order, on either architecture:
    the mean over device draws is within 4 standard errors of x*, and of the other architecture's."""
    A, g, circ = circuits()
    xs = np.linalg.solve(A, g)
    draws = 40
    means, ses = {}, {}
    for name, c in circ.items():
        err = np.array([ranged(Device(imperfections(), seed=d).program_circuit(c), g).steady_x(warn=False)[0] - xs
                        for d in range(draws)])
        assert err.std(axis=0).min() > 1e-5, f"{name}: the imperfections did not reach the circuit"
        means[name], ses[name] = err.mean(axis=0), err.std(axis=0, ddof=1) / np.sqrt(draws)
        assert np.max(np.abs(zscores(means[name], 0.0, ses[name]))) < 4.0, name
    diff = zscores(means["integrator"], means["factored"], np.hypot(ses["integrator"], ses["factored"]))
    assert np.max(np.abs(diff)) < 4.0


@pytest.mark.parametrize("arch", ["integrator", "factored"])
def test_the_noisy_twin_of_an_imperfect_device_finds_its_exact_read_out(arch):
    """device_solve's time average (thermal noise) agrees with the same device's exact stationary
    read-out within its computed standard error, on either architecture; and the device is
    measurably off x* (the imperfections are in what the twin simulates)."""
    A, g, circ = circuits(seed=1)
    dev = Device(imperfections(adc=False), seed=7).program_circuit(circ[arch])
    x_exact, _ = dev.steady_x()
    x, info = device_solve(dev, chains=4, seed=3)
    z = zscores(x, x_exact, info["standard_error"])
    assert np.max(np.abs(z)) < 4.5, z
    xs = np.linalg.solve(A, g)
    assert np.max(np.abs(x_exact - xs)) > 10 * np.max(info["standard_error"])
