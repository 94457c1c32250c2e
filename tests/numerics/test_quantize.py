"""One quantiser: the numba kernel (factored arrays) and its numpy reference (netlist banks) round on
the conductance grid bit for bit alike, and the reference is what ResistorBank uses."""
import numpy as np
import pytest

from spucircuit._util.keys import counter_uniforms, stream_key
from spucircuit.numerics.quantize import conductance_grid, quantize_array, quantize_conductances, quantize_values


def signed_array(rng, shape, r_min, r_max):
    """Conductances across the range, a few outside it (clipped), some open (0), both signs."""
    g = np.exp(rng.uniform(np.log(0.5 / r_max), np.log(2.0 / r_min), shape))
    g *= rng.choice([-1.0, 1.0], shape)
    g[rng.random(shape) < 0.1] = 0.0
    return g


@pytest.mark.parametrize("rounding", ["nearest", "stochastic"])
@pytest.mark.parametrize("bits", [1, 4, 8, 13])
def test_kernel_and_reference_agree_bit_for_bit(rounding, bits):
    rng = np.random.default_rng(bits)
    r_min, r_max = 1e3, 1e6
    G = signed_array(rng, (37, 53), r_min, r_max)
    seed = 1234 + bits
    out, clipped = quantize_array(G, bits, r_min, r_max, rounding, seed)
    u = counter_uniforms(stream_key(seed), G.size).reshape(G.shape) if rounding == "stochastic" else None
    ref, clipped_ref = quantize_conductances(G, bits, r_min, r_max, rounding, u)
    assert clipped == clipped_ref > 0
    assert np.array_equal(out.view(np.uint64), ref.view(np.uint64))  # the same bits, zeros and signs


def test_reference_lands_on_the_grid_and_is_unbiased():
    r_min, r_max, bits = 1e3, 1e6, 6
    g0, dg, L = conductance_grid(bits, r_min, r_max)
    G = np.full(200_000, g0 + 17.3 * dg)
    u = np.random.default_rng(0).random(G.size)
    q, _ = quantize_conductances(G, bits, r_min, r_max, "stochastic", u)
    k = (q - g0) / dg
    assert np.allclose(k, np.round(k), atol=1e-9) and set(np.round(k)) == {17.0, 18.0}
    # E[q] = G: the sample mean is within 4 standard errors (sd of a two-point law: dg sqrt(p (1 - p)))
    se = dg * np.sqrt(0.3 * 0.7) / np.sqrt(G.size)
    assert abs(q.mean() - G[0]) < 4 * se


def test_resistor_bank_uses_the_reference_rule():
    """quantize_values on the conductance grid (resistances in and out) is the reference rule."""
    rng = np.random.default_rng(3)
    R = np.exp(rng.uniform(np.log(1e3), np.log(1e6), 500))
    u = rng.random(R.size)
    for rounding in ("nearest", "stochastic"):
        got, _ = quantize_values(R, 8, 1e3, 1e6, "conductance", rounding, "conductance", u)
        ref, _ = quantize_conductances(1.0 / R, 8, 1e3, 1e6, rounding, u)
        assert np.array_equal(got, 1.0 / ref)
