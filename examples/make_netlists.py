"""Write the example SPICE netlists shipped in ``netlists/`` (deterministic: same bytes every run).

Run:  .venv/bin/python examples/make_netlists.py [--out netlists]

* ``tngd_fig6_3node.cir``: the 3-node op-amp integrator array of the TNGD paper's Fig. 6 (App. C)
  for a 3 x 3 SPD example with a negative entry (so one inverting buffer appears), 50 tau.
* ``integrator16_cond20.cir``: a 16-node integrator array for random_spd(16, cond=20, seed=0),
  b = 1, 50 tau.
* ``capacitive8.cir``: the built SPU's architecture (8 capacitively coupled RLC cells with
  injected noise, Melanson et al.), with seeded TRRANDOM noise so ngspice samples N(0, A^-1)
  in x units; 50 tau_slow.

Each runs in ngspice as shipped:  ngspice -b -r out.raw netlists/<file>.cir  (writes every node
voltage; the comments at the top of each file state the map volts -> x), and on the twin:
``spu simulate netlists/<file>.cir --out samples.npz``.
"""
from __future__ import annotations

import argparse
import os

import numpy as np

import spucircuit as sc
from spucircuit.linalg.solve import range_mapping
from spucircuit.statespace.mna import compile_netlist
from spucircuit.io.spice import write_spice

FIG6_A = np.array([[2.0, -0.8, 0.4],
                   [-0.8, 1.5, 0.3],
                   [0.4, 0.3, 1.2]])
FIG6_B = np.array([1.0, -0.5, 0.25])


def _fastest(netlist) -> float:
    ev = np.linalg.eigvals(compile_netlist(netlist, noise=False).drift.to_dense())
    return 1.0 / float(np.max(np.abs(ev)))


def integrator_netlist(A, b, span_tau: float = 50.0):
    v_unit, _ = range_mapping(A, b, seed=0)  # the array as programmed after it ranged itself
    mc = sc.integrator_array(A, b, scale=v_unit)
    tstep = _fastest(mc.netlist) / 20.0
    nsteps = int(np.ceil(span_tau * mc.tau_s / tstep))
    return mc, (tstep, nsteps * tstep, tstep / 4)  # tmax = tstep / 4: ~1e-6 from the exact transient


def capacitive_matrix(n: int = 8, seed: int = 0) -> np.ndarray:
    """Random SPD matrix a passive capacitor array realises: non-positive off-diagonals, strictly
    diagonally dominant rows (every cell keeps a capacitor to ground)."""
    rng = np.random.default_rng(seed)
    off = -rng.uniform(0.05, 0.25, size=(n, n))
    off = np.triu(off, 1)
    off = off + off.T
    A = off + np.diag(np.abs(off).sum(axis=1) + rng.uniform(0.3, 0.6, size=n))
    return A


def main(argv=None) -> list[str]:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "netlists"),
                    help="output folder (default: the repository's netlists/)")
    args = ap.parse_args(argv)
    out = os.path.normpath(args.out)
    written = []

    mc, tran = integrator_netlist(FIG6_A, FIG6_B)
    mc.netlist.title = "TNGD Fig. 6: 3-node op-amp integrator array (3x3 SPD example), 50 tau"
    p = os.path.join(out, "tngd_fig6_3node.cir")
    write_spice(mc, p, tran=tran, control=False)
    written.append(p)

    A16 = sc.random_spd(16, cond=20, seed=0)
    mc, tran = integrator_netlist(A16, np.ones(16))
    mc.netlist.title = "16-node op-amp integrator array, random_spd(16, cond=20, seed=0), b = 1, 50 tau"
    p = os.path.join(out, "integrator16_cond20.cir")
    write_spice(mc, p, tran=tran, control=False)
    written.append(p)

    try:
        from spucircuit.circuit.capacitive_array import capacitive_spu
        from spucircuit.linalg.capacitive import dynamics
    except ImportError:  # pragma: no cover
        capacitive_spu = None
    if capacitive_spu is not None:
        cc = capacitive_spu(capacitive_matrix(8, seed=0))
        cc.netlist.title = "8-cell capacitive SPU (coupled RLC cells, injected noise), samples N(0, A^-1)"
        dyn = dynamics(cc)
        tstep = _fastest(cc.netlist) / 20.0
        nsteps = int(np.ceil(50.0 * dyn["tau_slow_s"] / tstep))
        p = os.path.join(out, "capacitive8.cir")
        write_spice(cc, p, tran=(tstep, nsteps * tstep, tstep),
                    noise=dict(seed=1, nt=2.0 * tstep, temperature_k=cc.temperature_k), control=False)
        written.append(p)
    # a small factored TNGD circuit (App. C): J (m x N), H (b blocks of dz x dz), J^T, lambda, g
    from spucircuit.circuit.factored_array import factored_circuit

    rng = np.random.default_rng(0)
    bsz, dz, N = 2, 3, 8
    J = rng.standard_normal((bsz * dz, N))
    logits = rng.standard_normal((bsz, dz))
    prob = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    H = np.stack([np.diag(p_) - np.outer(p_, p_) for p_ in prob])  # softmax Hessian blocks
    fc = factored_circuit(J, H, 0.5, rng.standard_normal(N))
    nl = fc.netlist
    nl.title = "factored TNGD circuit (App. C): J, H, J^T arrays, N = 8, b = 2, dz = 3, lambda = 0.5, 50 tau"
    tstep = _fastest(nl) / 20.0
    nsteps = int(np.ceil(50.0 * fc.tau_s / tstep))
    p = os.path.join(out, "factored_tngd_n8.cir")
    write_spice(nl, p, tran=(tstep, nsteps * tstep, tstep / 4), control=False)
    written.append(p)
    for w in written:
        print("wrote", w)
    return written


if __name__ == "__main__":
    main()
