"""The closed-form (virtual-ground) compile must give the general MNA compile's state space."""
from __future__ import annotations

import numpy as np
import pytest

import spucircuit as sc
from spucircuit.circuit.netlist import Netlist
from spucircuit.statespace.mna import compile_netlist


def _same(nl, temperature_k=300.0, nodes=None, tol=1e-12):
    fast = compile_netlist(nl, temperature_k)
    assert fast.compile_method == "virtual_ground", "closed-form compile did not apply"
    ref = compile_netlist(nl, temperature_k, fast=False)
    assert fast.state_names == ref.state_names and fast.input_names == ref.input_names
    np.testing.assert_array_equal(fast.inputs, ref.inputs)
    np.testing.assert_array_equal(fast.x0, ref.x0)
    pairs = [(fast.drift.to_dense(), ref.drift.to_dense()), (fast.input_matrix, ref.input_matrix),
             (fast.diffusion, ref.diffusion)]
    nodes = nodes if nodes is not None else nl.node_names
    pairs += list(zip(fast.node_voltage_map(nodes), ref.node_voltage_map(nodes)))
    for a, b in pairs:
        assert a.shape == b.shape
        scale = max(np.max(np.abs(b)), 1e-300) if b.size else 1.0
        assert np.max(np.abs(a - b), initial=0.0) <= tol * scale
    return fast


@pytest.mark.parametrize("n,kw", [(5, {}), (24, {}), (24, {"noise_psd": 1e-21}), (24, {"r_buffer": 3e3}),
                                  (12, {"x0": np.linspace(-0.5, 0.5, 12)})])
def test_integrator_array_matches_mna(n, kw):
    A = sc.random_spd(n, cond=10, seed=n)
    b = np.random.default_rng(n).standard_normal(n)
    mc = sc.integrator_array(A, b, prune=True, **kw)
    ss = _same(mc.netlist)
    F = ss.drift.to_dense()
    np.testing.assert_array_equal(F, F.T)  # equal resistors and capacitors: an exactly symmetric drift
    np.testing.assert_allclose(-F * mc.tau_s, mc.A, rtol=1e-12, atol=1e-14)


def test_perturbed_array_matches_mna():
    from spucircuit._util.keys import DeviceKey
    from spucircuit.imperfections.base import Build
    from spucircuit.imperfections.models import Tolerance

    A = sc.random_spd(16, cond=10, seed=2)
    mc = sc.integrator_array(A, np.ones(16), prune=True)
    nl = Tolerance(pct=5.0).apply(Build(mc), DeviceKey.make(3)).netlist
    ss = _same(nl)
    F = ss.drift.to_dense()
    assert np.max(np.abs(F - F.T)) > 1e-3 * np.max(np.abs(F))  # mismatch breaks the symmetry


def _hand_built(reverse_cap=False, chain=False, leak=False, isrc=False, vneg=False, vgvg=False):
    """Two integrators, an inverting amplifier of gain -2 (and optionally a second amplifier fed by
    the first: a non-diagonal amplifier system), DC inputs, a noise source and extras."""
    nl = Netlist("hand")
    for i in range(2):
        nl.add_opamp(f"U{i}", f"x{i}", "0", f"s{i}")
        if reverse_cap and i == 1:
            nl.add_capacitor(f"C{i}", f"s{i}", f"x{i}", 2e-9 * (i + 1), ic_v=0.1)
        else:
            nl.add_capacitor(f"C{i}", f"x{i}", f"s{i}", 1e-9 * (i + 1), ic_v=-0.2)
    nl.add_opamp("UA", "xa", "0", "ba")
    nl.add_resistor("RGA", "x0", "ba", 1e3)
    nl.add_resistor("RFA", "ba", "xa", 2e3)
    drive = "xa"
    if chain:
        nl.add_opamp("UB", "xb", "0", "bb")
        nl.add_resistor("RGB", "xa", "bb", 1.5e3)
        nl.add_resistor("RFB", "bb", "xb", 1e3)
        nl.add_resistor("RXB", "x1", "bb", 4e3)
        drive = "xb"
    nl.add_resistor("R01", drive, "s1", 5e3)
    nl.add_resistor("R10", "x1", "s0", 5e3)
    nl.add_resistor("R00", "x0", "s0", 2e3)
    nl.add_resistor("R11", "x1", "s1", 3e3)
    nl.add_vsource("VIN0", "0" if vneg else "in0", "in0" if vneg else "0", 0.3)
    nl.add_resistor("RIN0", "in0", "s0", 1e4)
    nl.add_noise_source("NS1", "0", "s1", 1e-22)
    if leak:
        nl.add_resistor("RL", "s0", "0", 1e5)  # no DC effect (virtual ground), but Johnson noise
        nl.add_resistor("RLOAD", "x1", "0", 1e3)  # loads an output: no effect at all
    if isrc:
        nl.add_isource("I1", "s1", "0", 1e-6)  # leaves s1
    if vgvg:  # between two virtual grounds: no signal current, correlated Johnson noise
        nl.add_resistor("RSS", "s0", "s1", 1e5)
        nl.add_noise_source("NSB", "s0", "ba", 1e-22)
    return nl


@pytest.mark.parametrize("opts", [{}, {"reverse_cap": True}, {"chain": True}, {"leak": True},
                                  {"isrc": True}, {"vneg": True}, {"vgvg": True},
                                  {"reverse_cap": True, "chain": True, "leak": True, "isrc": True}])
def test_hand_built_networks_match_mna(opts):
    _same(_hand_built(**opts))


def test_outside_the_pattern_falls_back_to_mna():
    A = sc.random_spd(6, cond=5, seed=1)
    mc = sc.integrator_array(A, np.ones(6), prune=True, opamp_gain=1e5)  # finite gain
    assert compile_netlist(mc.netlist).compile_method == "mna"
    nl = _hand_built()
    nl.add_resistor("RDIV", "in0", "mid", 1e3)  # an intermediate node: needs the MNA solve
    nl.add_resistor("RDIV2", "mid", "0", 1e3)
    nl.add_resistor("RM", "mid", "s1", 1e4)
    assert compile_netlist(nl).compile_method == "mna"


def test_amplifier_without_feedback_is_still_an_error():
    nl = _hand_built()
    nl.add_opamp("UX", "xx", "0", "bx")
    nl.add_resistor("RX", "x0", "bx", 1e3)  # no feedback resistor: singular
    nl.add_resistor("RXL", "xx", "s0", 1e3)
    with pytest.raises(sc.NetlistError, match="singular"):
        compile_netlist(nl)
