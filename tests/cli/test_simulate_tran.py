"""`spu simulate` on a netlist with a .tran card, as SPICE means it: output on the TSTEP grid from
TSTART, the internal step chosen for accuracy (never forced to TSTEP), TMAX capping it; `.tran 1n 1`
on a slow RC circuit in well under a second, thinned to --max-samples with a note."""
import math
import time

import numpy as np

from spucircuit.circuit.waveforms import Pulse
from spucircuit.cli import main as spu
from tests.integrate.test_transient import rc_pwl_response

SLOW = "slow rc\nV1 in 0 PULSE(0 1 0.1 1m 1m 0.4 1)\nR1 in a 1k\nC1 a 0 100u\n.tran 1n 1\n.end\n"


def test_tran_1n_1_slow_rc_is_fast_and_accurate(tmp_path, capsys):
    net, out = tmp_path / "slow.cir", tmp_path / "slow.npz"
    net.write_text(SLOW)
    assert spu(["simulate", str(net), "--noise", "off", "--out", str(out)]) == 0  # warm: numba cache, imports
    t0 = time.perf_counter()
    assert spu(["simulate", str(net), "--noise", "off", "--out", str(out)]) == 0
    elapsed = time.perf_counter() - t0
    assert elapsed < 1.0, elapsed
    err = capsys.readouterr().err
    assert "more than --max-samples 20000 points" in err
    d = np.load(out)
    assert len(d["t"]) <= 20001 and d["t"][0] == 0 and d["t"][-1] == 1.0
    k = round(float(d["tstep"]) / 1e-9)  # every k-th point of the 1 ns grid
    assert np.allclose(np.diff(d["t"])[:-1], k * 1e-9, rtol=1e-9) and k > 1
    p = Pulse(0, 1, 0.1, 1e-3, 1e-3, 0.4, 1).resolve(1e-9, 1.0)
    b = p.breakpoints(0, 1.0)
    ref = rc_pwl_response(tuple(b), (0.0, 1.0, 1.0, 0.0), d["t"], 0.1)
    assert np.max(np.abs(d["v"][:, list(d["nodes"]).index("a")] - ref)) < 1e-9


def test_tstart_tmax_and_noise(tmp_path, capsys):
    net, out = tmp_path / "w.cir", tmp_path / "w.npz"
    net.write_text("w\nV1 in 0 SIN(0 1 100k)\nR1 in a 1k\nC1 a 0 1n\n.tran 1u 20u 5u 0.1u\n.end\n")
    assert spu(["simulate", str(net), "--noise", "off", "--out", str(out)]) == 0
    d = np.load(out)
    assert np.allclose(d["t"], 5e-6 + 1e-6 * np.arange(16), rtol=0, atol=1e-18)  # TSTEP grid from TSTART
    assert d["dt"] <= 0.1e-6 * (1 + 1e-12)  # TMAX caps the internal step
    w, tau = 2 * math.pi * 1e5, 1e-6
    mag, phi = 1 / math.hypot(1, w * tau), math.atan(w * tau)
    ref = mag * (np.sin(w * d["t"] - phi) + math.sin(phi) * np.exp(-d["t"] / tau))
    assert np.max(np.abs(d["v"][:, list(d["nodes"]).index("a")] - ref)) < 1e-8
    # noise on: the same grid, seeded, around the deterministic answer (kT/C ~ 2e-6 V rms)
    for seed in (1, 1):
        assert spu(["simulate", str(net), "--seed", str(seed), "--out", str(tmp_path / f"n{seed}.npz")]) == 0
    n1 = np.load(tmp_path / "n1.npz")["v"]
    assert 0 < np.max(np.abs(n1 - d["v"])) < 2e-5 and np.array_equal(n1, np.load(tmp_path / "n1.npz")["v"])
    assert spu(["check", str(net)]) == 0
    assert "time-dependent sources: 1 (V1 SIN)" in capsys.readouterr().out


def test_tran_1n_1_slow_rc_with_noise_on_takes_the_tran_path(tmp_path, capsys):
    """Issue 13: `.tran 1n 1` with noise on (the default) and only DC sources runs as SPICE's .tran
    (internal steps onto the thinned output grid, the exact Ornstein-Uhlenbeck step), not 1e9 steps
    of TSTEP. From uic (v = 0) the mean is 1 - exp(-t/tau); the spread around it is kT/C (1 - exp(-2t/tau))."""
    from spucircuit.constants import K_B

    R, C, T = 1e9, 1e-12, 300.0
    tau = R * C  # 1 ms: 1000 tau in the run, 20 output samples per tau after thinning
    net, out = tmp_path / "rc.cir", tmp_path / "rc.npz"
    net.write_text(f"slow rc\nV1 in 0 1\nR1 in a {R:g}\nC1 a 0 {C:g} IC=0\n.tran 1n 1 uic\n.end\n")
    assert spu(["simulate", str(net), "--seed", "7", "--temperature", str(T), "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "internal steps" in text and "noise on" in text, text  # the .tran path
    n_steps = int(text.split(" internal steps")[0].split()[-1])
    assert n_steps < 1e5, n_steps  # not 1e9 steps of 1 ns
    d = np.load(out)
    t, v = d["t"], d["v"][:, list(d["nodes"]).index("a")]
    var0 = K_B * T / C  # kT/C, V^2
    sd = np.sqrt(var0 * (1 - np.exp(-2 * t / tau)))  # exact spread of the OU process started at v = 0
    resid = v - (1 - np.exp(-t / tau))
    z = resid[1:] / sd[1:]
    # each |z| is standard normal: P(max over N > 5.5) < N * 4e-8 < 1e-3 for N = 2e4
    assert np.max(np.abs(z)) < 5.5, np.max(np.abs(z))
    # stationary part (t > 10 tau): an AR(1) sequence with a = exp(-dt/tau) between samples
    s = resid[t > 10 * tau]
    N = s.size
    a = math.exp(-float(np.median(np.diff(t))) / tau)
    se_mean = math.sqrt(var0 / N * (1 + a) / (1 - a))  # standard error of the mean of an AR(1) sequence
    assert abs(s.mean()) < 5 * se_mean, (s.mean(), se_mean)
    var = float(np.mean(s ** 2))  # the mean is known (1 V)
    se_var = var0 * math.sqrt(2 / N * (1 + a * a) / (1 - a * a))  # of the sample variance of AR(1) (known mean)
    assert abs(var - var0) < 5 * se_var, (var, var0, se_var)
    assert se_var < 0.1 * var0  # the check resolves kT/C to 10 %
