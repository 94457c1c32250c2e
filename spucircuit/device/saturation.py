"""Op-amp rails: a netlist whose op-amp outputs clip at +-rail, simulated mode by mode.

An ideal op-amp whose output would leave [-rail, rail] sits on the rail instead: it becomes a voltage
source of +-rail at its output and its inputs are no longer held together. For an inverting
integrator (capacitor C from output x to summing node s) that is exactly what a real one does:
the output stops, s leaves virtual ground, and the capacitor keeps charging through the input
resistors (wind-up) until the input current reverses; the output leaves the rail when the op-amp's
differential input changes sign. In terms of the state (the capacitor voltages, the same in every
mode) that happens when the op-amp's *linear-mode* output V_lin = Y x + Z u comes back inside the
rails, so the mode of each op-amp is sign(V_lin) where |V_lin| > rail, else 0, and its output is
clip(V_lin) (for the integrator: V_s = clip(V_lin) - V_lin is how far the summing node has moved).

Each mode is a linear circuit: the netlist with the saturated op-amps replaced by rail sources,
compiled by MNA and discretised exactly (expm and the exact noise covariance) once, then cached.
The kernel (:func:`spucircuit.integrate.saturating.run_mode`) runs a chain in its mode until a mode
changes; the switch is located to within one step. Cost: one compile and one expm per mode visited
(O(n^3) each) and O(n^2) per step; chains run one after another (each has its own modes).
"""
from __future__ import annotations

import numpy as np
import scipy.linalg as sla

from spucircuit.circuit.netlist import Netlist
from spucircuit.errors import NetlistError
from spucircuit.integrate.discretize import exact_noise_covariance
from spucircuit.integrate.saturating import next_mode, run_mode
from spucircuit.statespace.mna import compile_netlist


def with_rail_sources(nl: Netlist, rows, signs, rail_v: float) -> Netlist:
    """``nl`` with the op-amps at ``rows`` replaced by sources of signs x rail_v at their outputs
    (named ``RAIL_<op-amp>``); everything else, names and order included, is kept."""
    drop = set(int(r) for r in rows)
    new = nl.select({"U": [i for i in range(len(nl.tables["U"])) if i not in drop]})
    new.meta = dict(nl.meta)
    if len(drop):
        t = nl.tables["U"]
        r = np.array(sorted(drop))
        sgn = dict(zip((int(i) for i in rows), signs))
        new.add_elements("V", [f"RAIL_{t.names[i]}" for i in r], np.stack([t.nodes[r, 0], np.zeros(len(r), np.int64)], 1),
                         np.array([sgn[int(i)] * rail_v for i in r], float))
    return new


class RailedCircuit:
    """The saturation modes of one netlist at one rail: per-mode exact steps, the mode rule and the
    clipped read-out.

    ss   : the netlist's compiled (all-linear) state space, whose inputs are the current levels
    rail_v : +-V; output_nodes: the read-out nodes, each an integrator's output (an op-amp whose
           feedback is its capacitor: its output is clip(v_C + V(inp)) whatever the other op-amps do)
    """

    def __init__(self, ss, rail_v: float, output_nodes, noise: bool):
        nl = ss.netlist
        t = nl.tables["U"]
        if not len(t):
            raise NetlistError("rails need op-amps: this netlist has none")
        self.ss, self.nl, self.rail = ss, nl, float(rail_v)
        self.noise = bool(noise)
        self.opamps = list(t.names)
        self._nodes = [[nl.node_names[j] for j in t.nodes[:, c]] for c in range(3)]  # out, inp, inn
        pos = {nm.lower(): i for i, nm in enumerate(self._nodes[0])}
        try:
            self.read_rows = np.array([pos[nm.lower()] for nm in output_nodes], dtype=np.int64)
        except KeyError as exc:
            raise NetlistError(f"read-out node {exc.args[0]!r} is not an op-amp output: rails need "
                               "integrator outputs") from None
        self.Wr, self.Zr = ss.node_voltage_map(list(output_nodes))
        self._cache: dict = {}

    def _key(self, *parts):
        return (*parts, tuple(self.ss.inputs))

    def read_w(self) -> np.ndarray:
        return self.Zr @ self.ss.inputs

    def outputs(self, X) -> np.ndarray:
        """Clipped outputs (V) of the read-out integrators for states X (..., n)."""
        return np.clip(np.asarray(X) @ self.Wr.T + self.read_w(), -self.rail, self.rail)

    def system(self, mode: tuple):
        """The compiled state space of ``mode`` (rail sources in place of the saturated op-amps),
        with the current input levels."""
        key = self._key("ss", mode)
        hit = self._cache.get(key)
        if hit is None:
            rows = [i for i, s in enumerate(mode) if s]
            if not rows:
                hit = self.ss
            else:
                nl = with_rail_sources(self.nl, rows, [mode[i] for i in rows], self.rail)
                hit = compile_netlist(nl, self.ss.temperature_k, noise=self.noise, validate=False)
                if list(hit.state_names) != list(self.ss.state_names):
                    raise NetlistError("a saturated op-amp changes this circuit's states: rails need "
                                       "integrators whose capacitors stay states")
                for nm, v in zip(self.ss.input_names, self.ss.inputs):
                    hit.set_input(nm, float(v))
            self._cache[key] = hit
        return hit

    def detection(self, mode: tuple):
        """(Wd, wd) of ``mode``: per op-amp its output (linear) or its differential input signed
        towards its rail (saturated), affine in the state."""
        key = self._key("det", mode)
        hit = self._cache.get(key)
        if hit is None:
            ss = self.system(mode)
            Wd = np.zeros((len(mode), ss.n))
            wd = np.zeros(len(mode))
            out, inp, inn = self._nodes
            for i, s in enumerate(mode):
                if s == 0:
                    Y, Z = ss.node_voltage_map([out[i]])
                    Wd[i], wd[i] = Y[0], (Z @ ss.inputs)[0]
                else:
                    Y, Z = ss.node_voltage_map([inp[i], inn[i]])
                    Wd[i] = s * (Y[0] - Y[1])
                    wd[i] = s * float((Z[0] - Z[1]) @ ss.inputs)
            hit = (np.ascontiguousarray(Wd), np.ascontiguousarray(wd))
            self._cache[key] = hit
        return hit

    def settle(self, x, mode=None) -> tuple:
        """The consistent mode of state x (n,): apply the mode rule until it stops changing."""
        mode = np.zeros(len(self.opamps), dtype=np.int64) if mode is None else np.array(mode, dtype=np.int64)
        new = np.empty_like(mode)
        for _ in range(2 * len(mode) + 2):
            Wd, wd = self.detection(tuple(int(s) for s in mode))
            if not next_mode(Wd @ x + wd, mode, self.rail, new):
                return tuple(int(s) for s in mode)
            mode = new.copy()
        raise NetlistError("the op-amps' saturation modes do not settle for this state")

    def step(self, mode: tuple, dt: float):
        """(Phi, c, L) of ``mode``'s exact step of length dt (cached)."""
        key = self._key("step", mode, float(dt))
        hit = self._cache.get(key)
        if hit is None:
            ss = self.system(mode)
            F = ss.drift.to_dense()
            n = F.shape[0]
            Phi = sla.expm(F * dt)
            u = ss.input_matrix @ ss.inputs
            c = np.linalg.solve(F, (Phi - np.eye(n)) @ u)
            if self.noise:
                Q = ss.diffusion.toarray() if hasattr(ss.diffusion, "toarray") else np.asarray(ss.diffusion)
                Qh = exact_noise_covariance(F, Q, dt, Phi)
                ev, V = np.linalg.eigh(Qh)
                L = V * np.sqrt(np.clip(ev, 0.0, None))
            else:
                L = np.zeros((n, 0))
            hit = (np.ascontiguousarray(Phi), np.ascontiguousarray(c), np.ascontiguousarray(L))
            self._cache[key] = hit
        return hit

    def advance(self, X, n_steps: int, dt: float, save_every: int, seeds, meter):
        """Run every chain of X (chains, n) for n_steps: (X, samples, xsum, osum, satcount), osum the
        sum over steps of the read-out integrators' clipped outputs (chains, n_read) and satcount
        the steps each op-amp spent saturated (summed over chains)."""
        X = np.array(X, dtype=float)
        k, n = X.shape
        m = len(self.opamps)
        samples = np.zeros((n_steps // save_every, k, n))
        xsum = np.zeros((k, n))
        osum = np.zeros((k, len(self.read_rows)))
        satcount = np.zeros(m, dtype=np.int64)
        Wr, wr = np.ascontiguousarray(self.Wr), np.ascontiguousarray(self.read_w())
        ss = seeds if isinstance(seeds, np.random.SeedSequence) else np.random.SeedSequence(seeds)
        meter.start(n_steps * k, "step", "analog run (rails)")
        for ch, cseed in enumerate(ss.spawn(k)):
            x = X[ch].copy()
            mode = self.settle(x)
            done = 0
            buf = np.zeros((n_steps // save_every, n))
            seg_seeds = iter(cseed.generate_state(1 << 10))  # more segments draw further children
            while done < n_steps:
                Phi, c, L = self.step(mode, dt)
                Wd, wd = self.detection(mode)
                seed = next(seg_seeds, None)
                if seed is None:
                    cseed = cseed.spawn(1)[0]
                    seg_seeds = iter(cseed.generate_state(1 << 10))
                    seed = next(seg_seeds)
                marr = np.array(mode, dtype=np.int64)
                did = run_mode(Phi, c, L, x, n_steps - done, done, save_every, int(seed), Wd, wd, self.rail, marr,
                               Wr, wr, buf, xsum[ch], osum[ch], satcount)
                done += did
                mode = self.settle(x, mode)
                meter.update(did)
            X[ch] = x
            samples[:, ch, :] = buf
        meter.close()
        return X, samples, xsum, osum, satcount

    def steady(self, max_iter: int | None = None):
        """The noise-free stationary state of the piecewise-linear circuit at the current inputs:
        the stationary state of a mode, re-moded by the mode rule until consistent. Returns
        (states, mode)."""
        mode = (0,) * len(self.opamps)
        for _ in range(max_iter or 2 * len(mode) + 2):
            ss = self.system(mode)
            x = -np.linalg.solve(ss.drift.to_dense(), ss.input_matrix @ ss.inputs)
            new = self.settle(x, mode)
            if new == mode:
                return x, np.array(mode)
            mode = new
        raise NetlistError("the saturation modes did not settle: no consistent stationary state within the rails")
