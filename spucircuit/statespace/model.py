"""The compiled linear SDE of a circuit, dx = (F x + B u) dt + dW, cov(dW) = Q dt, as data.

Every compiler (MNA, the closed-form virtual-ground compile, the factored chain) produces this one
type. Its spectrum and read-out maps are computed on first use and kept in declared fields.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp

from spucircuit.circuit.netlist import Netlist
from spucircuit.errors import NetlistError
from spucircuit.statespace.operators import DriftOperator


@dataclass
class StateSpace:
    """Compiled linear SDE  dx = (F x + B u) dt + dW,  cov(dW) = Q dt.   (SI units)

    Attributes
    ----------
    drift : DriftOperator       F (1/s), dense or sparse, see :mod:`spucircuit.statespace.operators`
    input_matrix : ndarray      B, (n_states, n_inputs); state units per second per input unit
    inputs : ndarray            u, DC source levels (V for voltage sources, A for current sources)
    input_names : list[str]     source names, in the order of u
    diffusion : ndarray         Q, (n_states, n_states), state units^2 / s (a scipy.sparse matrix
                                from the sparse compile)
    diffusion_factor : sparse   G with G G^T = Q (n_states, m), one column per noise source or
                                virtual ground, or None (the sparse compile sets it)
    state_names : list[str]     'v(C1)' (V) or 'i(L1)' (A)
    x0 : ndarray                initial state from the elements' ``ic`` values
    temperature_k : float       temperature used for the Johnson noise, K
    """

    drift: DriftOperator
    input_matrix: np.ndarray
    inputs: np.ndarray
    input_names: list
    diffusion: np.ndarray
    state_names: list
    x0: np.ndarray
    temperature_k: float
    netlist: Netlist | None = field(default=None, repr=False, compare=False)  # what it was compiled from
    readout_cache: dict = field(default_factory=dict, repr=False, compare=False)
    mna_factor: object = field(default=None, repr=False, compare=False)  # LU of the MNA matrix
    mna_rhs: tuple = field(default=None, repr=False, compare=False)  # (P_x, P_u) of K z = P_x x + P_u u
    node_map: tuple = field(default=None, repr=False, compare=False)  # (Vx, Vu) sparse, from the closed-form compile
    # spectrum caches, filled on first use by spucircuit.integrate.discretize (O(n^3) once)
    symmetric_eigen_cache: tuple | None = field(default=None, repr=False, compare=False)
    eigenvalues_cache: np.ndarray | None = field(default=None, repr=False, compare=False)
    diffusion_factor: object = field(default=None, repr=False, compare=False)
    # (T_j, compiled netlist) of an MNA compile for .noise (compile_netlist(noise_analysis=True)): dx/dt per unit current injected at each node (columns:
    # node index - 1 of that netlist), the map Q = T_j L_S T_j^T is built with; .noise reuses it per source
    injection_map: tuple | None = field(default=None, repr=False, compare=False)
    # B_1, (n_states, n_inputs): dx/dt per unit du/dt, the current C du/dt a voltage source drives into a loop
    # of capacitors (MNA compile; None when no source closes such a loop). The SDE above keeps u constant
    # (DC levels); the small-signal response uses (B + jw B_1) a (spucircuit.statespace.frequency)
    input_rate_matrix: np.ndarray | None = field(default=None, repr=False, compare=False)

    @property
    def n(self) -> int:
        return self.drift.n

    @property
    def compile_method(self) -> str:
        """'virtual_ground' (closed form from the component values) or 'mna' (the general solve)."""
        return "virtual_ground" if self.node_map is not None else "mna"

    @property
    def offset(self) -> np.ndarray:
        """B u: the constant drift term (state units / s)."""
        return self.input_matrix @ self.inputs

    def set_input(self, name: str, value: float) -> None:
        """Change one DC source level (V or A) without recompiling."""
        low = name.lower()
        for i, nm in enumerate(self.input_names):
            if nm.lower() == low:
                if not np.isfinite(value):
                    raise NetlistError(f"input {name!r}: value must be finite, got {value!r}")
                self.inputs = self.inputs.copy()
                self.inputs[i] = float(value)
                return
        raise NetlistError(f"no DC source named {name!r}; inputs are {self.input_names}")

    def noise_factor(self, rtol: float = 1e-13):
        """A factor N of Q (Q = N N^T): ('diag', vector) when Q is diagonal, else ('dense', N)."""
        return noise_factor(self.diffusion, rtol)

    def node_voltage_map(self, nodes):
        """Affine map (Y, Z) with V[nodes] = Y x + Z u, noise-free part (V).

        Algebraic nodes driven by white noise have unbounded variance in the white-noise limit;
        the readout returns their noise-free value (the average a band-limited probe would see).
        """
        if self.netlist is None:
            raise NetlistError("this state space was not compiled from a netlist")
        idx = [self.netlist.node_index(nm) for nm in nodes]
        key = tuple(idx)
        if key not in self.readout_cache and self.node_map is not None:
            Vx, Vu = self.node_map
            if self.diffusion_factor is not None or sp.issparse(self.diffusion):  # the sparse compile: stays sparse
                self.readout_cache[key] = (sp.csr_matrix(Vx[idx]), sp.csr_matrix(Vu[idx]))
            else:
                self.readout_cache[key] = (Vx[idx].toarray(), Vu[idx].toarray())
        if key not in self.readout_cache:
            Px, Pu = self.mna_rhs
            rows = [i - 1 for i in idx]
            zx = np.zeros((len(idx), Px.shape[1]))
            zu = np.zeros((len(idx), Pu.shape[1]))
            sel = [k for k, i in enumerate(idx) if i > 0]
            if sel:
                if Px.shape[1]:
                    zx[sel] = self.mna_factor.solve(Px.toarray())[[rows[k] for k in sel]]
                if Pu.shape[1]:
                    zu[sel] = self.mna_factor.solve(Pu.toarray())[[rows[k] for k in sel]]
            self.readout_cache[key] = (zx, zu)
        return self.readout_cache[key]


def noise_factor(Q: np.ndarray, rtol: float = 1e-13):
    """Factor a PSD diffusion matrix: ('diag', sqrt(diag Q)) if Q is diagonal to ``rtol``,
    otherwise ('dense', U sqrt(L)) from an eigendecomposition, dropping null directions."""
    Q = np.asarray(Q, dtype=float)
    scale = float(np.max(np.abs(np.diag(Q)))) if Q.size else 0.0
    off = Q - np.diag(np.diag(Q))
    if scale == 0.0 or np.max(np.abs(off)) <= rtol * scale:
        return "diag", np.sqrt(np.clip(np.diag(Q), 0.0, None))
    w, U = np.linalg.eigh(0.5 * (Q + Q.T))
    if w[0] < -1e-10 * w[-1]:
        raise NetlistError(f"diffusion matrix is not positive semidefinite (eigenvalue {w[0]:.3g})")
    keep = w > 1e-14 * w[-1]
    return "dense", np.ascontiguousarray(U[:, keep] * np.sqrt(w[keep]))
