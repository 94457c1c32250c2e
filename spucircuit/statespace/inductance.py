"""The inductance matrix of coupled inductors (K cards) and its inverse, checked positive definite.

M_ii = L_i, M_ij = k_ij sqrt(L_i L_j) (H); v_L = M di_L/dt with each current flowing from an
inductor's first node to its second (SPICE's dot convention).
"""
from __future__ import annotations

import numpy as np

from spucircuit.circuit.netlist import Netlist
from spucircuit.errors import NetlistError

__all__ = ["inductance_matrix", "inverse_inductance"]


def _scaled_eigh(netlist: Netlist):
    """(M, 1 / sqrt(L), eigenvalues, eigenvectors of the unit-diagonal coupling matrix), refusing
    a coupling matrix that is not positive definite, naming the couplings involved."""
    t = netlist.tables
    Lv = t["L"].values.astype(float)
    M = np.diag(Lv)
    rows = netlist.ref_rows("K") if len(t["K"]) else []
    for (a, b), k in zip(rows, t["K"].values):
        M[a, b] += k * np.sqrt(Lv[a] * Lv[b])
        M[b, a] = M[a, b]
    s = 1.0 / np.sqrt(Lv)
    w, V = np.linalg.eigh(s[:, None] * M * s[None, :])  # the coupling-coefficient matrix, unit diagonal
    if len(Lv) and w[0] <= 64 * len(Lv) * np.finfo(float).eps:
        bad = np.abs(V[:, 0]) > 1e-6 * np.abs(V[:, 0]).max()
        names = [nm for nm, (a, b) in zip(t["K"].names, rows) if bad[a] and bad[b]]
        raise NetlistError(f"the inductance matrix of the coupled inductors is not positive definite (eigenvalue "
                           f"{w[0]:.3g} of the coupling matrix): couplings {', '.join(names)} (|k| = 1 or "
                           "incompatible couplings) store negative or zero magnetic energy")
    return M, s, w, V


def inductance_matrix(netlist: Netlist) -> np.ndarray:
    """M (H), refused unless positive definite (the magnetic energy i^T M i / 2 > 0)."""
    return _scaled_eigh(netlist)[0]


def inverse_inductance(netlist: Netlist) -> np.ndarray:
    """M^-1 of the inductance matrix (1/H), M diagonal unless K couples inductors.

    M must be positive definite (the magnetic energy i^T M i / 2 > 0): a set of couplings that
    violates it (e.g. k = 1, or three inductors with pairwise k = 0.9 of alternating sign) is
    refused, naming the couplings involved."""
    t = netlist.tables
    if not len(t["K"]):
        return np.diag(1.0 / t["L"].values)
    _, s, w, V = _scaled_eigh(netlist)
    return (s[:, None] * (V / w) @ V.T) * s[None, :]
