"""The numba kernels of the factored circuit twin (spucircuit.factored) against straightforward numpy:
the stage kernels (J rows, J^T by columns), the fused Euler-Maruyama pass (one stream over the shared
J / J^T buffer per step, row groups of whole H blocks, chunk accumulators) for the shared buffer, a
J^T array of its own, finite-gain buffers, several chains and odd shapes (partial 4-row blocks, a
partial column tile, uneven chunks), without and with noise (numba's Generator draws numpy's
normals, so the noisy step is compared exactly, draw for draw); the exponential step (one J and one
J^T pass) against its formula in dense numpy; thread-count independence of the bits."""
from dataclasses import replace

import numba
import numpy as np
import pytest

from spucircuit.circuit.factored_array import factored_circuit
from spucircuit.device.factored_spu import FactoredSPU
from spucircuit.integrate.chain_exponential import exponential_discretization, exponential_step
from spucircuit.integrate.chain_kernels import euler_partition
from spucircuit.numerics.signed_arrays import COLBLK, TILE, stage_cols, stage_rows
from spucircuit.statespace.chain import ChainDrift

pytestmark = pytest.mark.usefixtures("one_blas_thread")


def rel(a, b):
    return np.linalg.norm(np.asarray(a) - np.asarray(b)) / np.linalg.norm(b)


def signed(rng, shape, zeros=0.1):
    G = rng.standard_normal(shape)
    G[rng.random(shape) < zeros] = 0.0
    return G


# --------------------------------------------------------------------------- stage kernels
@pytest.mark.parametrize("R,n,k", [(1, 7, 1), (5, 3, 2), (13, 2 * TILE + 37, 1), (8, TILE, 3),
                                   (640, 300, 2)])
def test_stage_rows_matches_numpy(R, n, k):
    rng = np.random.default_rng(R + n + k)
    G = signed(rng, (R, n))
    UP, DM = rng.standard_normal((k, n)), rng.standard_normal((k, n))
    OUT = np.full((k, R), np.nan)
    stage_rows(G, UP, DM, OUT, 0.7)
    ref = 0.7 * (UP @ G.T + DM @ np.minimum(G, 0.0).T)
    assert rel(OUT, ref) < 1e-12


@pytest.mark.parametrize("R,n,k", [(1, 7, 1), (6, 3, 2), (11, 2 * COLBLK + 5, 1), (640, 300, 3)])
def test_stage_cols_matches_numpy(R, n, k):
    rng = np.random.default_rng(10 * R + n + k)
    G = signed(rng, (R, n))
    UP, DM = rng.standard_normal((k, R)), rng.standard_normal((k, R))
    OUT = np.full((k, n), np.nan)
    stage_cols(G, UP, DM, OUT, 1.3)
    ref = 1.3 * (UP @ G + DM @ np.minimum(G, 0.0))
    assert rel(OUT, ref) < 1e-12


# --------------------------------------------------------------------------- fused Euler pass
def circuit(N, b, dz, seed=0, gain=np.inf, lam=0.2):
    rng = np.random.default_rng(seed)
    J = signed(rng, (b * dz, N)) / np.sqrt(N)
    p = rng.dirichlet(np.ones(dz), size=b)
    R = 0.3 * rng.standard_normal((b, dz, dz))
    H = np.einsum("bi,ij->bij", p, np.eye(dz)) - np.einsum("bi,bj->bij", p, p) + R @ R.transpose(0, 2, 1)
    g = rng.standard_normal(N)
    return factored_circuit(J, H, lam, g, r_max=1e12, opamp_gain=gain, netlist=False)


def numpy_chain_rate(comp, X):
    """dv/dt of the chain without noise, from the component arrays with plain numpy (dense G2 and
    G3 = J^T array as (N, m)): the reference for the numba chain."""
    ch = ChainDrift(comp, noise=False)
    G1, G2, G3 = comp.G1, comp.G2_dense(), comp.G3_array()
    up = X * ch.om
    Y = -(up @ G1.T + ((ch.gx - 1.0) * up) @ np.minimum(G1, 0.0).T) / ch.D1
    W = -(Y @ G2.T + ((ch.gy - 1.0) * Y) @ np.minimum(G2, 0.0).T) / ch.D2
    Z = W @ G3.T + ((ch.gw - 1.0) * W) @ np.minimum(G3, 0.0).T
    return -(Z + ch.d * X + comp.g_in * comp.v_in) * ch.invc


CASES = {  # name: (N, b, dz, chains, gain, how the J^T array is held)
    "shared, dz 10, 8 chunks": (3000, 64, 10, 1, np.inf, "shared"),
    "shared, dz 3, uneven chunks, partial tile": (2 * TILE + 77, 37, 3, 1, np.inf, "shared"),
    "shared, dz 1, 3 chains": (500, 48, 1, 3, np.inf, "shared"),
    "shared, g3 ratio, finite gain": (900, 16, 5, 2, 3e3, "ratio"),
    "own J^T array (perturbed), finite gain": (700, 12, 4, 2, 1e4, "own"),
    "one row": (50, 1, 1, 1, np.inf, "shared"),
}


@pytest.mark.parametrize("case", list(CASES))
def test_euler_step_matches_numpy_chain(case):
    N, b, dz, k, gain, how = CASES[case]
    fc = circuit(N, b, dz, seed=N + b, gain=gain)
    comp = fc.components
    if how == "ratio":
        comp = replace(comp, G1=comp.G1 / 0.8, g3_ratio=0.8, scan_cache=None)
    elif how == "own":
        comp = comp.perturbed(0.02, 3)
    assert (comp.G3 is None) == (how != "own")
    fc = replace(fc, components=comp)
    spu = FactoredSPU(fc, scheme="euler", noise=False, chains=k)
    if how != "own":
        gstart, cstart = euler_partition(b, dz, k)
        assert gstart[-1] == b * dz and np.all(np.diff(gstart) % dz == 0) and cstart[-1] == len(gstart) - 1
    x0 = np.random.default_rng(1).standard_normal((k, N))
    spu.reset(x0)
    v0 = spu.state.copy()
    v = v0.copy()
    h = 0.5 * spu.max_stable_dt()
    spu.run(3 * h, dt=h)
    for _ in range(3):
        v = v + h * numpy_chain_rate(comp, v)
    assert rel(spu.state - v0, v - v0) < 1e-12  # the increments (not the state) to ~1e-12


def euler_reference(comp, X, h, n_steps, seed, temperature_k=300.0):
    """Euler-Maruyama with every Johnson-noise source in plain numpy (dense arrays), drawing the
    normals from numpy's PCG64(seed) in the kernel's order: per step the x-buffer nodes (chain by
    chain, columns with a buffer), then per chain and stage row the a-node, y-buffer, c-node and
    w-buffer noise, then the integrator nodes; a node without noise draws nothing."""
    ch = ChainDrift(comp, temperature_k)
    rng = np.random.Generator(np.random.PCG64(seed))
    G1, G2, G3 = comp.G1, comp.G2_dense(), comp.G3_array()
    sq = lambda q: np.sqrt(q * h)  # noqa: E731
    sbx, sa, sby = sq(ch.q_bx) / ch.Dx, sq(ch.q_a), sq(ch.q_by) / ch.Dy
    sc, sbw, ss = sq(ch.q_c), sq(ch.q_bw) / ch.Dw, sq(ch.q_sum)
    X = X.copy()
    k, N = X.shape
    for _ in range(n_steps):
        zx = np.zeros((k, N))
        for c in range(k):
            zx[c, sbx != 0] = rng.standard_normal(np.count_nonzero(sbx))
        zm = np.zeros((4, k, ch.m))
        for c in range(k):
            for r in range(ch.m):
                for i, s_ in enumerate((sa, sby, sc, sbw)):
                    if s_[r] != 0:
                        zm[i, c, r] = rng.standard_normal()
        zs = np.zeros((k, N))
        for c in range(k):
            zs[c, ss != 0] = rng.standard_normal(np.count_nonzero(ss))
        up = h * ch.om * X
        um = (ch.gx - 1.0) * up + sbx * zx
        y = -(up @ G1.T + um @ np.minimum(G1, 0.0).T + sa * zm[0]) / ch.D1
        um2 = (ch.gy - 1.0) * y + sby * zm[1]
        w = -(y @ G2.T + um2 @ np.minimum(G2, 0.0).T + sc * zm[2]) / ch.D2
        um3 = (ch.gw - 1.0) * w + sbw * zm[3]
        z = w @ G3.T + um3 @ np.minimum(G3, 0.0).T + h * ch.d * X + h * comp.g_in * comp.v_in + ss * zs
        X = X - z * ch.invc
    return X


@pytest.mark.parametrize("case", list(CASES))
def test_euler_step_with_noise_matches_numpy_with_the_same_normals(case):
    """numba's Generator draws numpy's normals: the noisy step is checked exactly (every source)."""
    N, b, dz, k, gain, how = CASES[case]
    fc = circuit(N, b, dz, seed=N + b + 1, gain=gain)
    comp = fc.components.perturbed(0.02, 3) if how == "own" else fc.components
    fc = replace(fc, components=comp)
    spu = FactoredSPU(fc, scheme="euler", chains=k, temperature_k=300.0)
    x0 = np.random.default_rng(2).standard_normal((k, N))
    spu.reset(x0)
    v0 = spu.state.copy()
    h = spu.auto_dt()
    spu.run(2 * h, dt=h, seed=11)
    ref = euler_reference(comp, v0, h, 2, 11)
    assert rel(spu.state - v0, ref - v0) < 1e-12


def test_euler_multi_chunk_noise_is_the_chain_diffusion():
    """With noise, one step's increment covariance is h Q (Q: the MNA-verified diffusion of the
    chain), here with several chunk accumulators and groups of several H blocks."""
    N, b, dz, k = 4, 64, 4, 16
    fc = circuit(N, b, dz, seed=4, gain=3e4)
    gstart, cstart = euler_partition(b, dz, k)
    assert len(cstart) - 1 >= 2 and np.all(np.diff(gstart) > dz)
    spu = FactoredSPU(fc, scheme="euler", chains=k, seed=7)
    h = spu.auto_dt()
    x0 = np.tile(fc.components.ic, (k, 1))
    runs = 200
    inc = np.empty((runs, k, N))
    for i in range(runs):
        spu.state = x0.copy()
        spu.run(h, dt=h)
        inc[i] = spu.state - x0 - h * spu.chain.offset
    inc = inc.reshape(-1, N)
    n = inc.shape[0]
    Qh = h * spu.chain.diffusion_dense()
    d = np.diag(Qh)
    z = (np.cov(inc.T) - Qh) / np.sqrt((np.outer(d, d) + Qh**2) / n)
    assert np.max(np.abs(z)) < 5
    assert np.max(np.abs(inc.mean(0) / np.sqrt(d / n))) < 5


@pytest.mark.skipif(numba.config.NUMBA_NUM_THREADS < 2, reason="needs >= 2 numba threads")
def test_euler_and_exponential_bits_do_not_depend_on_the_thread_count():
    fc = circuit(3000, 32, 5, seed=2)
    out = []
    nt = numba.get_num_threads()
    try:
        for t in (1, 2):
            numba.set_num_threads(t)
            e = FactoredSPU(fc, scheme="euler", seed=3)
            e.run(4 * e.auto_dt())
            x = FactoredSPU(fc, scheme="exponential", seed=3)
            x.run("3tau", dt=fc.tau_s)
            out.append((e.state.copy(), x.state.copy()))
    finally:
        numba.set_num_threads(nt)
    assert np.array_equal(out[0][0], out[1][0]) and np.array_equal(out[0][1], out[1][1])


# --------------------------------------------------------------------------- exponential step
def dense_factors(comp):
    """Vt (m, N), U (N, m) and G3m (N, m) of the chain as dense numpy arrays, from the component
    arrays: F = -D - U Vt; the w-buffer noise enters the integrators through diag(1/C) G3m."""
    ch = ChainDrift(comp, noise=False)
    G1, G2, G3 = comp.G1, comp.G2_dense(), comp.G3_array()
    G1e = np.where(G1 < 0, G1 * ch.gx[None, :], G1)
    G2e = np.where(G2 < 0, G2 * ch.gy[None, :], G2)
    G3e = np.where(G3 < 0, G3 * ch.gw[None, :], G3)
    Vt = (G2e / ch.D2[:, None]) @ (G1e / ch.D1[:, None]) * ch.om[None, :]
    return Vt, G3e * ch.invc[:, None], np.minimum(G3, 0.0)


def exponential_step_reference(ch, disc, X, rng, Vt, U, G3m):
    """The exponential step of ExpDiscretization's docstring in plain numpy (dense factors)."""
    k, N = X.shape
    rows, R = [X], None
    if not disc.uniform:
        R = ch.offset - disc.delta * X
        rows.append(R)
    if disc.noise:
        zs = rng.standard_normal((k, N))
        zb = rng.standard_normal((k, ch.m))
        zm = rng.standard_normal((k, disc.Lc.shape[1]))
        Z1 = np.sqrt(disc.a) * (disc.sigma_sum * zs + ((disc.sigma_bw * zb) @ G3m.T) * ch.invc)
        rows.append(Z1)
    T = np.concatenate(rows) @ Vt.T @ disc.Winv.T
    vals = [disc.phi] + ([] if disc.uniform else [disc.psi]) + ([disc.xa] if disc.noise else [])
    mu = sum(T[i * k:(i + 1) * k] * v for i, v in enumerate(vals)) @ disc.W.T
    mu = mu.real if np.iscomplexobj(mu) else mu
    new = disc.e_dh * X
    if disc.uniform:
        new = new + disc.force_n
        mu = mu + disc.force_m
    else:
        new = new + disc.a1 * R
    if disc.noise:
        mu = mu + zm @ disc.Lc.T
        new = new + Z1
    return new + mu @ U.T


@pytest.mark.parametrize("case", ["nominal", "perturbed arrays", "perturbed, non-uniform diagonal", "finite gain"])
def test_exponential_step_matches_numpy_reference(case):
    fc = circuit(40, 6, 3, seed=5, gain=2e3 if case == "finite gain" else np.inf)
    comp = fc.components
    if case.startswith("perturbed"):
        comp = comp.perturbed(0.02, 8)
        if case == "perturbed arrays":
            comp.g_lambda[:] = fc.components.g_lambda
    ch = ChainDrift(comp, 300.0)
    Vt, U, G3m = dense_factors(comp)
    assert rel(ch.to_dense(), -(np.diag(ch.diag) + U @ Vt)) < 1e-12
    x = np.random.default_rng(0).standard_normal((2, ch.n))
    for h_tau in (0.05, 3.0):
        disc = exponential_discretization(ch, h_tau * fc.tau_s)
        assert disc.noise and np.any(disc.sigma_bw > 0)
        assert disc.uniform == (case in ("nominal", "perturbed arrays"))
        new = exponential_step(ch, disc, x.copy(), np.random.default_rng(4))
        ref = exponential_step_reference(ch, disc, x.copy(), np.random.default_rng(4), Vt, U, G3m)
        assert rel(new - disc.e_dh * x, ref - disc.e_dh * x) < 1e-11
