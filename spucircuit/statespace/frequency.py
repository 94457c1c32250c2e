"""Small-signal frequency response and noise spectra of a compiled StateSpace (``.ac``, ``.noise``).

For the linear SDE  dx = (F x + B u) dt + dW,  cov(dW) = Q dt,  with node voltages v = Y x + Z u
(:meth:`StateSpace.node_voltage_map`), a sinusoidal input u = Re(a e^{jwt}) (a: each source's AC
magnitude and phase, as a complex amplitude) gives the node phasors

    V(jw) = [Y (jwI - F)^-1 B + Z] a                                   (the transfer function)

and the white diffusion gives the one-sided output noise PSD of v_out = c x (c = Y[out] - Y[ref]):

    S_out(f) = 2 c (jwI - F)^-1 Q (jwI - F)^-H c^H      (V^2/Hz, w = 2 pi f)

(the two-sided PSD of the white driving noise is Q; one-sided doubles it). Check: an RC node has
Q = 2 k_B T / (R C^2), F = -1/(RC), so S_out = 4 k_B T R / (1 + (w R C)^2), ngspice's resistor noise
4 k_B T / R through |Z|^2, and its integral over f in [0, inf) is k_B T / C.

``.noise`` computes it per noise source instead (:func:`output_noise_psd`), as ngspice does: each
current source k between nodes p, q reaches v_out = c x + d j through g(jw) = T_j^T (jwI - F)^-T c^T + d
(T_j: the compile's state response to node injections, Q = T_j L_S T_j^T; d: the part that passes no
state, e.g. a resistive divider's 4 k_B T (R1 || R2)), so S_out = sum_k S_k(f) |g_p - g_q|^2. That
also carries the resistors' flicker noise S = m kf |I/m|^af / (area f^ef) at the DC current I
(ngspice's resnoise.c), which the transient (white noise only) does not.

The equivalent input noise is S_out / |G(jw)|^2 with G the transfer from the ``.noise`` input source
at unit amplitude (every other source off, whatever its AC value: ngspice's MODEACNOISE) to
v(out) - v(ref), as ngspice's ``inoise_spectrum`` (its gain floor 1e-20 included).

Each frequency costs one solve with (jwI - F): dense LAPACK for small n, a sparse LU otherwise;
never an inverse. ``c`` enters through the adjoint solve (jwI - F)^H y = c^H, so S_out = 2 y^H Q y.
"""
from __future__ import annotations

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla

from spucircuit.circuit.noise import flicker_coefficient, flicker_resistors, noise_sources
from spucircuit.circuit.source_lines import locating, where
from spucircuit.errors import NetlistError, SpiceError
from spucircuit.statespace.model import StateSpace
from spucircuit.statespace.sparameters import port_list, port_noise, s_parameters

SWEEPS = ("dec", "oct", "lin")
NGSPICE_RELTOL = 1e-3  # ngspice's default reltol, which sets its sweep's end tolerance
MIN_GAIN_SQ = 1e-20  # ngspice's N_MINGAIN: floor of |gain|^2 in the equivalent input noise
_DENSE_MAX_N = 200  # dense LAPACK solves up to this many states, a sparse LU beyond
MAX_POINTS = 10_000_000


def frequency_grid(sweep: str, points: int, fstart_hz: float, fstop_hz: float) -> np.ndarray:
    """The frequencies (Hz) of ``.ac``/``.noise`` ``DEC|OCT|LIN points fstart fstop``, as ngspice steps them.

    DEC / OCT: fstart times 10^(k/points) (2^(k/points)) while below fstop (1 + reltol); LIN: ``points``
    equally spaced points from fstart to fstop (one point, fstart, when points is 1 or 2, as ngspice)."""
    sweep = str(sweep).lower()
    if sweep not in SWEEPS:
        raise NetlistError(f"frequency sweep must be one of {SWEEPS}, got {sweep!r}")
    if isinstance(points, bool) or not isinstance(points, (int, np.integer)) or not 1 <= points <= MAX_POINTS:
        raise NetlistError(f"number of frequency points must be an integer in [1, {MAX_POINTS}], got {points!r}")
    fstart_hz, fstop_hz = float(fstart_hz), float(fstop_hz)
    if not (np.isfinite(fstart_hz) and np.isfinite(fstop_hz) and fstop_hz >= fstart_hz):
        raise NetlistError(f"frequency sweep needs finite fstart <= fstop, got {fstart_hz!r}, {fstop_hz!r}")
    if sweep == "lin":
        if fstart_hz < 0:
            raise NetlistError(f"a linear sweep needs fstart >= 0 Hz, got {fstart_hz!r}")
        # ngspice steps by (fstop - fstart) / (points - 1) only when points - 1 > 1, else by 0, which ends the
        # sweep after its first point (acan.c, span.c: "a linear step with only one point"): LIN 2 is fstart alone
        return np.linspace(fstart_hz, fstop_hz, points) if points > 2 else np.array([fstart_hz])
    if fstart_hz <= 0:
        raise NetlistError(f"a {sweep} sweep needs fstart > 0 Hz, got {fstart_hz!r}")
    base = 10.0 if sweep == "dec" else 2.0
    # ngspice multiplies by delta = base^(1/points) while f <= fstop + delta fstop reltol
    span = np.log(fstop_hz * (1.0 + np.exp(np.log(base) / points) * NGSPICE_RELTOL) / fstart_hz) / np.log(base)
    count = int(np.floor(span * points + 1e-9)) + 1
    if count > MAX_POINTS:
        raise NetlistError(f"the sweep has {count} points, more than {MAX_POINTS}")
    delta = np.exp(np.log(base) / points)
    return fstart_hz * delta ** np.arange(count)


def ac_amplitudes(ss: StateSpace, specs: dict) -> np.ndarray:
    """Complex AC amplitudes a aligned with ``ss.input_names`` from ``{source name: (magnitude, phase_deg)}``
    (sources not named have a = 0). Names are matched case-insensitively."""
    index = {nm.lower(): i for i, nm in enumerate(ss.input_names)}
    a = np.zeros(len(ss.input_names), dtype=complex)
    for name, spec in specs.items():
        i = index.get(str(name).lower())
        if i is None:
            raise NetlistError(f"AC source {name!r} is not an input of the circuit; inputs are {ss.input_names}")
        mag, phase_deg = spec
        a[i] = float(mag) * np.exp(1j * np.deg2rad(float(phase_deg)))
    return a


def _solver(ss: StateSpace):
    """solve(w, rhs, adjoint) -> (jwI - F)^-1 rhs, or (jwI - F)^-H rhs when adjoint."""
    n = ss.n
    if n <= _DENSE_MAX_N:
        F = ss.drift.to_dense()
        eye = np.eye(n)

        def solve(w, rhs, adjoint=False):
            A = 1j * w * eye - F
            try:
                return np.linalg.solve(A.conj().T if adjoint else A, rhs)
            except np.linalg.LinAlgError:  # exactly singular: reported by _check_solution
                return np.full(np.shape(rhs), np.nan, dtype=complex)
    else:
        Fs = sp.csc_matrix(ss.drift.csr if hasattr(ss.drift, "csr") else ss.drift.to_dense())
        eye = sp.identity(n, format="csc")

        def solve(w, rhs, adjoint=False):
            A = (1j * w * eye - Fs).tocsc()
            try:
                return spla.splu((A.conj().T if adjoint else A).tocsc()).solve(np.asarray(rhs, dtype=complex))
            except RuntimeError:  # exactly singular: reported by _check_solution
                return np.full(np.shape(rhs), np.nan, dtype=complex)
    return solve


def _check_solution(x, w, what: str):
    if not np.all(np.isfinite(x)):
        raise NetlistError(f"{what}: (jwI - F) is singular at f = {w / (2 * np.pi):.6g} Hz "
                           "(a pole on the imaginary axis: an undamped or unstable circuit)")


def ac_response(ss: StateSpace, nodes, amplitudes, freqs_hz) -> np.ndarray:
    """Node voltage phasors V (complex, V) of shape (len(freqs_hz), len(nodes)) for the complex input
    amplitudes ``amplitudes`` (see :func:`ac_amplitudes`): V = [Y (jwI - F)^-1 (B + jw B_1) + Z] a, B_1 the
    sources' du/dt term (``ss.input_rate_matrix``: a voltage source closing a loop of capacitors), else 0."""
    Y, Z = ss.node_voltage_map(list(nodes))
    Y = Y.toarray() if sp.issparse(Y) else np.asarray(Y)
    Z = Z.toarray() if sp.issparse(Z) else np.asarray(Z)
    a = np.asarray(amplitudes, dtype=complex)
    if a.shape != (len(ss.input_names),):
        raise NetlistError(f"need one AC amplitude per input ({len(ss.input_names)}), got shape {a.shape}")
    dc_only = getattr(ss, "dc_only_inputs", None) or {}
    B1 = ss.input_rate_matrix  # dx/dt per du/dt (a source closing a capacitor loop): (B + jw B1) a
    for i in np.flatnonzero(a):  # a source whose du/dt the compile dropped: an AC value would be silently wrong
        why = dc_only.get(ss.input_names[i])
        if why is not None and (B1 is None or not np.any(B1[:, i])):
            name = ss.input_names[i]
            raise NetlistError(f"AC source {name!r}: {why}, and the compile keeps only its DC level there (the "
                               f"current C du/dt it drives is dropped), so its AC response is not supported (a "
                               "resistor that breaks the capacitor loop or gives the inductor's node another path "
                               "lifts it)")
    B = ss.input_matrix.toarray() if sp.issparse(ss.input_matrix) else np.asarray(ss.input_matrix)
    ba = B @ a if B.shape[1] else np.zeros(ss.n, dtype=complex)
    b1a = B1 @ a if B1 is not None and B1.shape[1] else None
    direct = Z @ a if Z.shape[1] else np.zeros(len(nodes), dtype=complex)
    f = np.asarray(freqs_hz, dtype=float)
    out = np.empty((len(f), len(nodes)), dtype=complex)
    solve = _solver(ss) if ss.n else None
    for k, fk in enumerate(f):
        w = 2 * np.pi * fk
        if ss.n:
            with np.errstate(all="ignore"):
                x = solve(w, ba if b1a is None else ba + 1j * w * b1a)
            _check_solution(x, w, "AC analysis")
            out[k] = Y @ x + direct
        else:
            out[k] = direct
    return out


def _output_row(ss: StateSpace, out: str, ref: str | None) -> np.ndarray:
    nodes = [out] + ([ref] if ref is not None else [])
    Y, _ = ss.node_voltage_map(nodes)
    Y = Y.toarray() if sp.issparse(Y) else np.asarray(Y)
    return Y[0] - Y[1] if ref is not None else Y[0]


def _injection_compile(ss: StateSpace) -> StateSpace:
    """``ss`` if its MNA compile kept the node-injection map T_j, else the MNA compile of its netlist that does."""
    if ss.injection_map is not None:
        return ss
    from spucircuit.statespace.mna import compile_netlist

    return compile_netlist(ss.netlist, ss.temperature_k, noise=True, fast=False, noise_analysis=True)


def _direct_gain(m: StateSpace, nl, out: str, ref: str | None) -> np.ndarray:
    """d (N,): d[v(out) - v(ref)] / d j_node with the states held (the MNA solve's algebraic part)."""
    e = np.zeros(m.mna_rhs[0].shape[0])
    for node, sign in ((out, 1.0), (ref, -1.0)):
        if node is not None:
            i = nl.node_index(node)
            if i > 0:
                e[i - 1] += sign
    return m.mna_factor.solve(e, trans="T")[: nl.n_nodes]  # K^-T e: over node current injections


def _sources(nl, temperature_k: float, flicker_a) -> list:
    """[(p, q, S(f) -> (m,) one-sided current PSD A^2/Hz)] of every noise current source of ``nl``:
    the white ones of :func:`~spucircuit.circuit.noise.noise_sources` and the resistors' flicker noise
    a / f^ef (``flicker_a``: their coefficients, in the order of :func:`flicker_resistors`)."""
    out = []
    for nodes, S in noise_sources(nl, temperature_k, True):
        S = np.asarray(S, dtype=float)
        out.append((nodes[:, 0].astype(np.int64), nodes[:, 1].astype(np.int64), lambda f, S=S: S))
    fl = flicker_resistors(nl) if flicker_a is not None and len(flicker_a) else []
    if fl:
        rows = np.array([i for _, i, _ in fl], dtype=np.int64)
        nodes = nl.tables["R"].nodes[rows]
        a = np.asarray(flicker_a, dtype=float)
        ef = np.array([float(p.get("ef", 1.0)) for _, _, p in fl])
        out.append((nodes[:, 0].astype(np.int64), nodes[:, 1].astype(np.int64), lambda f, a=a, ef=ef: a / f ** ef))
    return out


def flicker_coefficients(netlist) -> np.ndarray:
    """The flicker coefficients a (S = a / f^ef, A^2/Hz) of :func:`flicker_resistors` at the DC operating
    point (each resistor's current (V_p - V_q) / R: SPICE's noise analysis linearises about it)."""
    fl = flicker_resistors(netlist)
    if not fl:
        return np.zeros(0)
    from spucircuit.statespace.operating_point import operating_point

    op = operating_point(netlist)
    V = np.concatenate([[0.0], op.node_voltages_v])
    t = netlist.tables["R"]
    rows = np.array([i for _, i, _ in fl], dtype=np.int64)
    current = (V[t.nodes[rows, 0]] - V[t.nodes[rows, 1]]) / t.values[rows]
    prm = [p for _, _, p in fl]
    return np.array([flicker_coefficient(current[k], float(p["kf"]), float(p.get("af", 1.0)), float(p.get("m", 1.0)),
                                         float(p.get("area", 1.0))) for k, p in enumerate(prm)])


def direct_noise_psd(ss: StateSpace, out: str, ref: str | None = None) -> float:
    """The white part (V^2/Hz, one-sided) of v(out) - v(ref) that reaches it from the white noise sources
    without passing a state (a node tied to a capacitor or inductor only through resistors: an RL mid-node,
    a resistive divider): the high-frequency floor of :func:`output_noise_psd`. 0.0 for a state space
    without a netlist."""
    if ss.netlist is None:
        return 0.0
    m = _injection_compile(ss)
    nl = m.injection_map[1]
    d = np.concatenate([[0.0], _direct_gain(m, nl, out, ref)])
    return float(sum(np.sum(S(np.inf) * (d[p] - d[q]) ** 2) for p, q, S in _sources(nl, m.temperature_k, None)))


def output_noise_psd(ss: StateSpace, out: str, ref: str | None, freqs_hz, *, flicker_a=None) -> np.ndarray:
    """One-sided PSD (V^2/Hz) of v(out) - v(ref) at each frequency.

    Every noise current source k (between nodes p, q, one-sided PSD S_k(f)) reaches the output through
    the gain h_k(jw) = g(jw)[p] - g(jw)[q], with g over the node injections

        g(jw) = T_j^T (jwI - F)^-T c^T + d,        S_out = sum_k S_k(f) |h_k(jw)|^2,

    T_j the compile's state response to node injections (the same map as Q = T_j L_S T_j^T) and d the
    algebraic part that passes no state (:func:`direct_noise_psd`; a resistive divider has only it).
    Without the flicker sources this equals 2 c (jwI-F)^-1 Q (jwI-F)^-H c^H + the white floor. The
    sources are the resistors' Johnson noise, the explicit noise sources and the flicker noise of
    resistors with a model kf (``flicker_a``: :func:`flicker_coefficients`, computed when None). A state
    space without a netlist has only Q: its state-borne PSD is returned."""
    f = np.asarray(freqs_hz, dtype=float)
    if ss.netlist is None:
        return _state_noise_psd(ss, out, ref, f)
    m = _injection_compile(ss)
    Tj, nl = m.injection_map
    c = _output_row(m, out, ref).astype(complex)
    d = _direct_gain(m, nl, out, ref)
    if flicker_a is None:
        flicker_a = flicker_coefficients(nl)
    sources = _sources(nl, m.temperature_k, flicker_a)
    psd = np.empty(len(f))
    solve = _solver(m) if m.n else None
    g = np.zeros(nl.n_nodes + 1, dtype=complex)  # index 0: ground
    for k, fk in enumerate(f):
        g[1:] = d
        if m.n:
            w = 2 * np.pi * fk
            with np.errstate(all="ignore"):
                y = solve(w, c.conj(), adjoint=True)  # y = (jwI - F)^-H c^H, so (jwI - F)^-T c^T = conj(y)
            _check_solution(y, w, "noise analysis")
            g[1:] += Tj.T @ y.conj()
        with np.errstate(divide="ignore"):
            psd[k] = sum(float(np.sum(S(fk) * np.abs(g[p] - g[q]) ** 2)) for p, q, S in sources)
    return psd


def _state_noise_psd(ss: StateSpace, out: str, ref: str | None, f) -> np.ndarray:
    """2 c (jwI-F)^-1 Q (jwI-F)^-H c^H: the state-borne PSD from the diffusion Q alone."""
    c = _output_row(ss, out, ref).astype(complex)
    Q = ss.diffusion
    G = ss.diffusion_factor
    psd = np.zeros(len(f))
    solve = _solver(ss) if ss.n else None
    for k, fk in enumerate(f):
        if not ss.n:
            continue
        w = 2 * np.pi * fk
        with np.errstate(all="ignore"):
            y = solve(w, c.conj(), adjoint=True)  # y = (jwI - F)^-H c^H
        _check_solution(y, w, "noise analysis")
        if G is not None:
            gg = G.T @ y
            psd[k] = 2.0 * float(np.real(np.vdot(gg, gg)))
        else:
            psd[k] = 2.0 * float(np.real(np.vdot(y, Q @ y)))
    return psd


def input_noise_psd(onoise_psd, gain) -> np.ndarray:
    """Equivalent input noise PSD: onoise / |gain|^2, with ngspice's floor |gain|^2 >= 1e-20."""
    g2 = np.maximum(np.abs(np.asarray(gain)) ** 2, MIN_GAIN_SQ)
    return np.asarray(onoise_psd, dtype=float) / g2


NGSPICE_TNOM_K = 300.15  # ngspice's default circuit temperature, 27 C


@locating
def small_signal_analyses(netlist, temperature_k: float | None = None) -> dict:
    """Run the ``.ac``, ``.noise``, ``.sp``, ``.dc``, ``.tf``, ``.sens`` and ``.pz`` analyses a SPICE netlist's cards
    ask for (``netlist.meta['spice_file']`` from :func:`spucircuit.io.spice.read_spice`); {} when it has none.

    Returns arrays keyed as ``spu simulate`` writes them: ``ac_f`` (Hz), ``ac_v`` (complex, frequencies x
    nodes, V per the sources' AC amplitudes), ``ac_nodes``; ``noise_f`` (Hz), ``noise_onoise_psd`` (V^2/Hz,
    one-sided, of v(out) - v(ref)), ``noise_inoise_psd`` (input units^2/Hz: V^2/Hz for a V source, A^2/Hz for
    an I source), ``noise_gain`` (complex, the transfer from the input source at unit amplitude to the output,
    as ngspice: the other sources off); ``sp_f`` (Hz), ``sp_s``, ``sp_y`` (S), ``sp_z`` (Ohm) (complex,
    frequencies x port x port, ports in port-number order), ``sp_ports`` (their sources), ``sp_z0_ohm``; with
    ``.sp ... 1`` (donoise) also ``sp_cy`` (A^2/Hz, the ports' noise current correlation) and for two ports
    ``sp_nf_db``, ``sp_sopt``, ``sp_nfmin_db``, ``sp_rn_ohm`` (:mod:`spucircuit.statespace.sparameters`);
    ``sens_names``, ``sens_values`` and, for an AC sweep, ``sens_f`` (:mod:`spucircuit.statespace.sensitivity`);
    ``dc_sweep`` [, ``dc_sweep2``], ``dc_v``, ``dc_nodes`` (:mod:`spucircuit.statespace.dc_sweep`); ``tf_gain``,
    ``tf_input_impedance_ohm``, ``tf_output_impedance_ohm`` (:mod:`spucircuit.statespace.transfer`); ``pz_poles``,
    ``pz_zeros`` (complex, rad/s, :mod:`spucircuit.statespace.polezero`). The noise
    temperature is ``temperature_k``, else the netlist's ``.temp`` (deg C), else ngspice's 27 C.
    What an analysis cannot do raises :class:`SpiceError` naming the file and the card's line (errors of the
    circuit itself are the compiler's, as for a transient)."""
    from spucircuit.statespace.mna import compile_netlist

    info = netlist.meta.get("spice_file", {}) if isinstance(netlist.meta, dict) else {}
    acd, nsd, spd = info.get("ac"), info.get("noise_analysis"), info.get("sp")
    out: dict = {}
    if acd or spd:
        ss = compile_netlist(ac_netlist(netlist), noise=False)
    if acd:
        out.update(_card_errors(_ac_analysis, info, acd, netlist, ss))
    if spd:
        spd = dict(spd, temperature_k=_noise_temperature(info, temperature_k))
        out.update(_card_errors(_sp_analysis, info, spd, netlist, ss))
    if nsd:
        temperature_k = _noise_temperature(info, temperature_k)
        ss = compile_netlist(ac_netlist(netlist), temperature_k=temperature_k, noise=True, fast=False,
                             noise_analysis=True)
        out.update(_card_errors(_noise_analysis, info, nsd, netlist, ss))
    if info.get("dc"):
        from spucircuit.statespace.dc_sweep import dc_sweep

        out.update(_card_errors(lambda card, specs, nl: dc_sweep(nl, card), info, info["dc"], netlist))
    if info.get("tf"):
        from spucircuit.statespace.transfer import transfer_function

        out.update(_card_errors(lambda card, specs, nl: transfer_function(nl, card), info, info["tf"], netlist))
    if info.get("sens"):
        from spucircuit.statespace.sensitivity import sensitivity_analysis

        out.update(_card_errors(lambda card, specs, nl: sensitivity_analysis(card, specs, nl, ac_netlist, _ac_output),
                                info, info["sens"], netlist))
    if info.get("pz"):
        from spucircuit.statespace.polezero import pole_zero

        out.update(_card_errors(lambda card, specs, nl: pole_zero(ac_netlist(nl), card, specs), info, info["pz"],
                                netlist))
    return out


def _noise_temperature(info: dict, temperature_k):
    """``temperature_k``, else the netlist's ``.temp`` (deg C), else ngspice's 27 C."""
    if temperature_k is not None:
        return float(temperature_k)
    return float(info["temp_c"]) + 273.15 if "temp_c" in info else NGSPICE_TNOM_K


def ac_netlist(netlist):
    """``netlist`` with each resistor's ``ac=`` value (``meta['ac']['resistors']``) in place of its
    value: ngspice's .ac and .noise use the AC resistance; the DC operating point and the transient do
    not, nor does the resistors' thermal noise (kept at the DC value in ``meta['noise_resistance']``)."""
    ac = netlist.meta.get("ac", {}) if isinstance(netlist.meta.get("ac"), dict) else {}
    res = ac.get("resistors") or {}
    if not res:
        return netlist
    opened = netlist.meta.get("open_resistors") if isinstance(netlist.meta.get("open_resistors"), dict) else {}
    nl = netlist.copy()
    noise_r = nl.meta.setdefault("noise_resistance", {})
    for name, ohm in res.items():
        if name in opened:  # no DC conductance (ngspice: a zero effective width), only its AC one
            p, q = opened[name]
            nl.add_resistor(name, p, q, float(ohm))
            noise_r[name] = None
        else:
            kind, row = nl.find(name)
            if kind == "G":  # a negative resistor, G p q p q 1/R: noise-free, as it is active
                nl.set_value(name, 1.0 / float(ohm))
                continue
            noise_r[name] = float(nl.tables[kind].values[row])
            nl.set_value(name, float(ohm))
    return nl


def _ac_output(netlist, nodes, specs, freqs_hz) -> np.ndarray:
    """Phasors (frequencies x nodes) of ``nodes`` for the AC values ``specs``: compile, then :func:`ac_response`."""
    from spucircuit.statespace.mna import compile_netlist

    ss = compile_netlist(netlist, noise=False)
    return ac_response(ss, nodes, ac_amplitudes(ss, specs), freqs_hz)


def _card_errors(fn, info, card, *args):
    """``fn(card, *args)``, its NetlistError re-raised as a SpiceError at the card's file and line."""
    try:
        return fn(card, info.get("ac_sources", {}), *args)
    except SpiceError:
        raise
    except NetlistError as exc:
        raise SpiceError(str(exc), *where(info, card.get("line"))) from None


def _ac_analysis(acd, specs, netlist, ss):
    nodes = list(netlist.node_names[1:])
    f = frequency_grid(acd["sweep"], acd["points"], acd["fstart_hz"], acd["fstop_hz"])
    return dict(ac_f=f, ac_v=ac_response(ss, nodes, ac_amplitudes(ss, specs), f), ac_nodes=np.array(nodes, dtype=str))


def _sp_analysis(spd, specs, netlist, ss):
    """``.sp``: S, Y, Z of the RF ports (:mod:`spucircuit.statespace.sparameters`); the AC values of the
    sources play no part (ngspice's MODESP: only the driven port excites the circuit)."""
    ports = port_list(netlist)
    f = frequency_grid(spd["sweep"], spd["points"], spd["fstart_hz"], spd["fstop_hz"])
    m = s_parameters(ss, ports, f, ac_response)
    out = dict(sp_f=f, sp_s=m["s"], sp_y=m["y"], sp_z=m["z"], sp_ports=np.array([p[0] for p in ports], dtype=str),
               sp_z0_ohm=np.array([p[3] for p in ports]))
    if spd.get("donoise"):
        from spucircuit.statespace.mna import compile_netlist

        temperature_k = spd["temperature_k"]
        nz = port_noise(ac_netlist(netlist), ports, f, m["y"], temperature_k,
                        lambda nl: compile_netlist(nl, noise=False), ac_response)
        out.update({"sp_" + k: v for k, v in nz.items()}, sp_temperature_k=np.float64(temperature_k))
    return out


def _noise_analysis(nsd, specs, netlist, ss):
    src = nsd["source"]
    if src not in {nm.lower() for nm in ss.input_names}:
        raise NetlistError(f".noise: input source {src!r} is not an independent source of the circuit")
    if src not in {nm.lower() for nm in specs}:
        raise NetlistError(f".noise: input source {src!r} has no AC value (give it 'AC 1')")
    known = {nm.lower() for nm in netlist.node_names}
    for node in (nsd["output"], nsd["ref"]):
        if node is not None and node not in known:
            raise NetlistError(f".noise: the circuit has no node {node!r}")
    f = frequency_grid(nsd["sweep"], nsd["points"], nsd["fstart_hz"], nsd["fstop_hz"])
    ref = nsd["ref"]
    outn = nsd["output"]
    onoise = output_noise_psd(ss, outn, ref, f, flicker_a=flicker_coefficients(netlist))  # DC currents
    nodes = [outn] + ([ref] if ref else [])
    unit = {nm: (1.0, 0.0) for nm in ss.input_names if nm.lower() == src}  # ngspice: the input alone, at 1
    v = ac_response(ss, nodes, ac_amplitudes(ss, unit), f)
    gain = v[:, 0] - (v[:, 1] if ref else 0.0)
    return dict(noise_f=f, noise_onoise_psd=onoise, noise_inoise_psd=input_noise_psd(onoise, gain),
                noise_gain=gain, noise_temperature_k=np.float64(ss.temperature_k))
