"""The numba kernels that run a :class:`~spucircuit.integrate.discretize.Discretization`: the affine
recursion x_{k+1} = M x_k + c + N xi_k for many chains at once, no Python per step.

Dense M (one gemv/gemm per step, or plain loops for one small chain), CSR M, or the eigenbasis of a
symmetric drift (a diagonal scaling per step); noise off, diagonal, full (whitened basis, or the
factor applied in blocks of steps by BLAS-3) or sparse. Normals come from a numpy ``Generator``
(PCG64) seeded per call, so a seed reproduces the samples bit for bit (same BLAS and thread count).
"""
from __future__ import annotations

import numba as nb
import numpy as np
import scipy.linalg as sla

from spucircuit.integrate.discretize import NOISE_DIAG, NOISE_FULL, NOISE_SPARSE, Discretization

# -------------------------------------------------------------------- kernels
# Random numbers: a numpy ``Generator`` (PCG64, seeded with ``seed``) is passed into the kernel;
# numba draws from it natively (~4 ns per normal here, against ~29 ns for the legacy
# ``np.random.standard_normal`` inside numba), so a given seed gives the same stream on every run.
#
# Explicit full noise (mode 2 outside the whitened basis) is applied in blocks of ``block`` steps:
# XiT (r, block*k) normals, then ZT = N XiT (n, block*k) by one BLAS gemm per row band of N. When
# N is the Cholesky factor (lower triangular) the bands skip the zero upper triangle (~40% fewer
# flops). Each step adds c + noise and accumulates xsum in one fused pass, without temporaries.
# Diagonal noise (mode 1, and the whitened basis) draws each step's k*n normals in one tight
# loop before the update pass (~2x faster than drawing inside the update loop).
# numba ``parallel=True`` is not used: on 2 cores the gemv/gemm already runs on both (BLAS
# threads), and the remaining O(k n) loops are memory-bound.


SMALL_N = 128  # one chain below this: a plain loop beats a BLAS gemv (whose threads cost more than the work)


@nb.njit(cache=True)
def _small_gemm(A, B, C):
    """C = A @ B by plain loops, for one chain of a small system: a 2-thread OpenBLAS call costs
    more in thread hand-off than the arithmetic (500 Euler steps at n = 64: 14.3 ms through gemv,
    1.5 ms with this loop)."""
    for i in range(A.shape[0]):
        for j in range(C.shape[1]):
            C[i, j] = 0.0
        for p in range(A.shape[1]):
            aip = A[i, p]
            for j in range(C.shape[1]):
                C[i, j] += aip * B[p, j]


@nb.njit(cache=True)
def _noise_block(rng, Npack, nedges, nwidth, noffs, XiT, ZT, small=False):
    """ZT = N @ XiT for fresh standard normals XiT; N packed as row bands N[s:e, :w]. ``small``:
    plain loops instead of BLAS (one chain of a small system)."""
    flat = XiT.reshape(-1)
    for i in range(flat.size):
        flat[i] = rng.standard_normal()
    for b in range(nedges.size - 1):
        s = nedges[b]
        e = nedges[b + 1]
        w = nwidth[b]
        Nb = Npack[noffs[b]:noffs[b + 1]].reshape((e - s, w))
        if small:
            _small_gemm(Nb, XiT[:w], ZT[s:e])
        else:
            np.dot(Nb, XiT[:w], ZT[s:e])  # BLAS gemm on contiguous blocks (one per block of steps)


@nb.njit(cache=True)
def _noise_buffers(mode, Npack, nwidth, n, cols):
    """Work arrays of the blocked full-noise path (mode 2): normals XiT (r_max, cols) and noise
    ZT (n, cols); 1 x 1 placeholders otherwise."""
    if mode == 2:
        rmax = 1
        for b in range(nwidth.size):
            rmax = max(rmax, nwidth[b])
        return np.empty((rmax, cols), Npack.dtype), np.empty((n, cols), Npack.dtype)
    return np.empty((1, 1), Npack.dtype), np.empty((1, 1), Npack.dtype)


@nb.njit(cache=True)
def _run_dense(MT, c, mode, noise_diag, Npack, nedges, nwidth, noffs, X0, n_steps, save_every, rng,
               samples, xsum, block):
    """x <- M x + c + N xi for all chains (rows of X); saves every ``save_every`` steps."""
    k, n = X0.shape
    X = X0.copy()
    Y = np.empty_like(X)
    XiT, ZT = _noise_buffers(mode, Npack, nwidth, n, block * k)
    Z1 = np.empty((k, n)) if mode == 1 else np.empty((1, 1))
    zf = Z1.reshape(-1)
    zpos = block
    isave = 0
    small = k == 1 and n <= SMALL_N  # no BLAS call at all (see SMALL_N)
    for step in range(n_steps):
        if small:
            _small_gemm(X, MT, Y)
        elif k == 1:
            np.dot(X[0], MT, Y[0])  # BLAS gemv
        else:
            np.dot(X, MT, Y)  # BLAS gemm
        if mode == 2:
            if zpos == block:
                _noise_block(rng, Npack, nedges, nwidth, noffs, XiT, ZT, small)
                zpos = 0
            z0 = zpos * k
            for a in range(k):
                za = z0 + a
                for i in range(n):
                    v = Y[a, i] + c[i] + ZT[i, za]
                    Y[a, i] = v
                    xsum[a, i] += v
            zpos += 1
        elif mode == 1:
            for j in range(zf.size):  # a tight draw loop first: ~2x faster than drawing inside
                zf[j] = rng.standard_normal()  # the update loop below
            for a in range(k):
                for i in range(n):
                    v = Y[a, i] + c[i] + noise_diag[i] * Z1[a, i]
                    Y[a, i] = v
                    xsum[a, i] += v
        else:
            for a in range(k):
                for i in range(n):
                    v = Y[a, i] + c[i]
                    Y[a, i] = v
                    xsum[a, i] += v
        X, Y = Y, X
        if (step + 1) % save_every == 0 and isave < samples.shape[0]:
            samples[isave] = X
            isave += 1
    return X


@nb.njit(cache=True)
def _diag_steps(d, c, Z, X, step0, save_every, samples, isave, xsum):
    """x <- d * x + c + z_s for the steps s of block Z (steps, k, n; noise already drawn) and all
    chains: the recursion in the eigenbasis of a symmetric drift. No BLAS here (see ``run``)."""
    steps, k, n = Z.shape
    for s in range(steps):
        for a in range(k):
            for i in range(n):
                v = d[i] * X[a, i] + c[i] + Z[s, a, i]
                X[a, i] = v
                xsum[a, i] += v
        if (step0 + s + 1) % save_every == 0 and isave < samples.shape[0]:
            samples[isave] = X
            isave += 1
    return isave


@nb.njit(cache=True)
def _csr_matvec(indptr, indices, data, x, y):
    """y = M x (CSR). Unsigned index arrays: numba then skips the negative-index wraparound."""
    for i in range(y.size):
        acc = 0.0
        for p in range(indptr[i], indptr[i + 1]):
            acc += data[p] * x[indices[p]]
        y[i] = acc


@nb.njit(cache=True)
def _csr_matmat(indptr, indices, data, XT, YT):
    """YT = M XT (CSR) for state-major XT (n, k): the inner loop runs over chains, unit stride."""
    n, k = YT.shape
    for i in range(n):
        for a in range(k):
            YT[i, a] = 0.0
        for p in range(indptr[i], indptr[i + 1]):
            d = data[p]
            j = indices[p]
            for a in range(k):
                YT[i, a] += d * XT[j, a]


@nb.njit(cache=True)
def _csr_step(indptr, indices, data, XT, YT, ST, c, W, add_w):
    """YT = M XT + c (+ W) and ST += YT, row by row while the row is in cache (CSR M; chains
    state-major (n, k)). k == 1 has its own loop: a one-trip inner loop runs ~4x slower."""
    n, k = YT.shape
    if k == 1:
        x = XT.reshape(-1)
        y = YT.reshape(-1)
        st = ST.reshape(-1)
        for i in range(n):
            acc = 0.0
            for p in range(indptr[i], indptr[i + 1]):
                acc += data[p] * x[indices[p]]
            acc += c[i]
            if add_w:
                acc += W[i, 0]
            y[i] = acc
            st[i] += acc
        return
    for i in range(n):
        for a in range(k):
            YT[i, a] = 0.0
        for p in range(indptr[i], indptr[i + 1]):
            d = data[p]
            j = indices[p]
            for a in range(k):
                YT[i, a] += d * XT[j, a]
        ci = c[i]
        if add_w:
            for a in range(k):
                v = YT[i, a] + ci + W[i, a]
                YT[i, a] = v
                ST[i, a] += v
        else:
            for a in range(k):
                v = YT[i, a] + ci
                YT[i, a] = v
                ST[i, a] += v


@nb.njit(cache=True)
def _run_sparse(indptr, indices, data, c, mode, noise_diag, Npack, nedges, nwidth, noffs,
                nindptr, nindices, ndata, X0, n_steps, save_every, rng, samples, xsum, block):
    """Same recursion with M in CSR form (indices unsigned). The chains are held state-major
    (n, k) inside, so products and updates run over chains with unit stride; mode 3 applies a
    sparse (CSR) noise factor to n fresh normals per chain and step."""
    k, n = X0.shape
    XT = np.ascontiguousarray(X0.T)
    YT = np.empty_like(XT)
    ST = np.zeros((n, k))
    XiT, ZT = _noise_buffers(mode, Npack, nwidth, n, block * k)
    XI = np.empty((n, k)) if mode == 3 else np.empty((1, 1))
    W = np.empty((n, k)) if mode == 1 or mode == 3 else np.empty((1, 1))
    zpos = block
    isave = 0
    for step in range(n_steps):
        if mode == 1:
            for i in range(n):
                si = noise_diag[i]
                for a in range(k):
                    W[i, a] = si * rng.standard_normal()
            _csr_step(indptr, indices, data, XT, YT, ST, c, W, True)
        elif mode == 2:
            if zpos == block:
                _noise_block(rng, Npack, nedges, nwidth, noffs, XiT, ZT)
                zpos = 0
            _csr_step(indptr, indices, data, XT, YT, ST, c, ZT[:, zpos * k:(zpos + 1) * k], True)
            zpos += 1
        elif mode == 3:
            xf = XI.reshape(-1)
            for i in range(xf.size):
                xf[i] = rng.standard_normal()
            if k == 1:
                _csr_matvec(nindptr, nindices, ndata, xf, W.reshape(-1))
            else:
                _csr_matmat(nindptr, nindices, ndata, XI, W)
            _csr_step(indptr, indices, data, XT, YT, ST, c, W, True)
        else:
            _csr_step(indptr, indices, data, XT, YT, ST, c, W, False)
        XT, YT = YT, XT
        if (step + 1) % save_every == 0 and isave < samples.shape[0]:
            samples[isave] = XT.T
            isave += 1
    xsum += ST.T
    return np.ascontiguousarray(XT.T)


def noise_block(k: int, n: int) -> int:
    """Steps of full-matrix noise generated per gemm: ~256 rows, at most ~32 MB of buffer."""
    b = max(1, 256 // max(k, 1))
    return int(max(1, min(b, 4_000_000 // max(k * n, 1))))


NOISE_BAND_ROWS = 128  # smallest row band of a triangular noise factor (keeps each gemm efficient)
NOISE_MAX_BANDS = 16


def noise_bands(NT: np.ndarray):
    """Pack N = NT^T as row bands for :func:`_noise_block`: (Npack, edges, widths, offsets).

    Band b holds N[edges[b]:edges[b+1], :widths[b]] (C order). For a lower-triangular N (the
    Cholesky factor) widths[b] = edges[b+1], so the zero upper triangle is skipped: with m bands
    the noise gemm costs (m + 1) / (2 m) of the full product. Otherwise one band of width r.
    """
    r, n = NT.shape
    N = NT.T
    if r == n and n >= 2 * NOISE_BAND_ROWS and not np.any(np.tril(NT, -1)):
        rows = max(NOISE_BAND_ROWS, -(-n // NOISE_MAX_BANDS))
        edges = np.append(np.arange(0, n, rows), n).astype(np.int64)
        widths = edges[1:].copy()
    else:
        edges = np.array([0, n], dtype=np.int64)
        widths = np.array([r], dtype=np.int64)
    parts = [np.ascontiguousarray(N[edges[b]:edges[b + 1], :widths[b]], dtype=np.float64).ravel()
             for b in range(len(widths))]
    offs = np.concatenate([[0], np.cumsum([p.size for p in parts])]).astype(np.int64)
    return np.concatenate(parts), edges, widths, offs


_EMPTY_F = np.zeros(1)
_EMPTY_I = np.zeros(2, dtype=np.int64)
_EMPTY_U = np.zeros(2, dtype=np.uint64)


def _unsigned(disc: Discretization, *names):
    """uint64 copies of CSR index arrays for the kernels, cached on ``disc`` per source array."""
    out = []
    for nm in names:
        src = getattr(disc, nm)
        key = "_u_" + nm
        cache = disc.__dict__.get(key)
        if cache is None or cache[0] is not src:
            cache = (src, np.ascontiguousarray(src, dtype=np.uint64))
            disc.__dict__[key] = cache
        out.append(cache[1])
    return out


def _kernel_noise(disc: Discretization):
    """Packed full-noise factor for the kernels, cached on ``disc`` (rebuilt if NT is replaced)."""
    if disc.noise_mode != NOISE_FULL:
        return _EMPTY_F, _EMPTY_I, _EMPTY_I[:1], _EMPTY_I
    cache = disc.__dict__.get("_bands")
    if cache is None or cache[0] is not disc.NT:
        cache = (disc.NT, *noise_bands(disc.NT))
        disc.__dict__["_bands"] = cache
    return cache[1:]


WHITEN_MIN_STEPS = 64  # shorter runs apply N explicitly (the change of basis costs ~3 steps)
WHITEN_MAX_COND = 1e4  # largest cond_1(L) for which the whitened basis is used


def whitened(disc: Discretization):
    """(L, L^T, MwT, cw) of the whitened recursion for full noise with a Cholesky factor, else None.

    With N = L lower triangular (N N^T = Q_h) and y = L^-1 x, the recursion
    x' = M x + c + L xi  is exactly  y' = Mw y + cw + xi,  Mw = L^-1 M L = I + L^-1 (M - I) L,
    cw = L^-1 c: the same process, but its noise is n independent standard normals per chain and
    step, so the n x n noise product disappears from every step (the per-step cost becomes that
    of diagonal noise). x = L y is formed only for what ``run`` returns.

    Round-off: forming Mw and mapping back multiply the relative rounding errors of the
    deterministic part by at most ~cond(L) = sqrt(cond(Q_h)); the basis is used only when the
    LAPACK estimate of cond_1(L) is <= WHITEN_MAX_COND (errors <= ~1e-12 relative), otherwise
    (and for a semidefinite Q_h, whose factor is not triangular) N is applied explicitly.
    Cached on ``disc`` (rebuilt if MT, NT or c are replaced).
    """
    key = (disc.MT, disc.NT, disc.c)
    cache = disc.__dict__.get("_white")
    if cache is not None and all(a is b for a, b in zip(cache[0], key)):
        return cache[1]
    res = None
    NT = disc.NT
    r, n = NT.shape
    if (disc.kind == "dense" and disc.noise_mode == NOISE_FULL and r == n
            and not np.any(np.tril(NT, -1)) and np.all(np.diag(NT) > 0)):
        from scipy.linalg import lapack

        L = np.ascontiguousarray(NT.T)
        rcond, info = lapack.dtrcon(L, norm="1", uplo="L", diag="N")
        if info == 0 and rcond * WHITEN_MAX_COND >= 1.0:
            D = disc.MT.T - np.eye(n)
            Mw = sla.solve_triangular(L, D @ L, lower=True, check_finite=False)
            Mw[np.diag_indices(n)] += 1.0
            cw = sla.solve_triangular(L, disc.c, lower=True, check_finite=False)
            if np.all(np.isfinite(Mw)) and np.all(np.isfinite(cw)):
                res = (L, np.ascontiguousarray(NT), np.ascontiguousarray(Mw.T), np.ascontiguousarray(cw))
    disc.__dict__["_white"] = (key, res)
    return res


@nb.njit(cache=True)
def _from_white(Y, LT, chunk):
    """x = L y for the rows of Y (rows, n), in place, one gemm per ``chunk`` rows. Inside numba so
    that it runs on the kernels' BLAS: a numpy matmul here would wake numpy's own OpenBLAS
    threads, whose spinning then slows the next run's gemms on a 2-core machine."""
    rows, n = Y.shape
    if rows == 0:
        return
    tmp = np.empty((min(chunk, rows), n))
    for r0 in range(0, rows, chunk):
        r1 = min(r0 + chunk, rows)
        t = tmp[:r1 - r0]
        np.dot(Y[r0:r1], LT, t)
        Y[r0:r1] = t


def _run_eigen(disc: Discretization, X0, n_steps: int, save_every: int, rng, samples, xsum):
    """The eigenbasis recursion (kind 'eigen'). Every product here (x <-> y = U^T x, the noise
    N xi for a block of steps) goes through numpy's BLAS, as the set-up (eigh, U^T Q U) does: the
    numba kernels call scipy's OpenBLAS, and alternating between two OpenBLAS libraries makes
    each wait for the other's spinning idle threads (a 2-thread n = 256 solve took 3x longer)."""
    k, n = X0.shape
    U = disc.basis
    Y = X0 @ U  # chains as rows: y^T = x^T U
    steps_per_block = max(1, min(n_steps, noise_block(k, n) * 4))
    Z = np.empty((steps_per_block, k, n))
    NT = disc.NT
    isave, done = 0, 0
    while done < n_steps:
        s = min(steps_per_block, n_steps - done)
        Zs = Z[:s]
        if disc.noise_mode == NOISE_FULL:
            Xi = rng.standard_normal((s * k, NT.shape[0]))
            np.matmul(Xi, NT, out=Zs.reshape(s * k, n))  # rows of N xi, N = NT^T
        elif disc.noise_mode == NOISE_DIAG:
            rng.standard_normal(out=Zs.reshape(-1))
            Zs *= disc.noise_diag
        else:
            Zs[...] = 0.0
        isave = _diag_steps(disc.diag, disc.c, Zs, Y, done, save_every, samples, isave, xsum)
        done += s
    UT = U.T
    flat = samples.reshape(-1, n)
    for r0 in range(0, flat.shape[0], 4096):  # x = U y, in place, bounded temporaries
        flat[r0:r0 + 4096] = flat[r0:r0 + 4096] @ UT
    xsum[...] = xsum @ UT
    return Y @ UT, samples, xsum


def run(disc: Discretization, X0: np.ndarray, n_steps: int, save_every: int, seed: int):
    """Advance chains X0 (k, n) by ``n_steps``; returns (X_final, samples, xsum).

    samples: (n_steps // save_every, k, n), the state after every ``save_every`` steps;
    xsum: (k, n), the sum of the state after each step (for time averages).
    The normals come from ``numpy.random.Generator(PCG64(seed & 0xFFFFFFFF))``: the same seed
    gives bit-identical results (for the same BLAS and thread count).
    Full noise with a well-conditioned Cholesky factor runs in the whitened basis (see
    :func:`whitened`) when ``n_steps >= WHITEN_MIN_STEPS``.
    """
    X0 = np.ascontiguousarray(X0, dtype=np.float64)
    k, n = X0.shape
    n_steps = int(n_steps)
    save_every = max(1, int(save_every))
    samples = np.zeros((n_steps // save_every, k, n))
    xsum = np.zeros((k, n))
    seed = int(seed) & 0xFFFFFFFF
    rng = np.random.Generator(np.random.PCG64(seed))
    block = noise_block(k, n)
    if disc.kind == "eigen":
        return _run_eigen(disc, X0, n_steps, save_every, rng, samples, xsum)
    if disc.kind == "dense":
        # a single small chain skips the whitened basis: its set-up and back-transform are BLAS
        # calls (scipy's trsm, numba's gemm) that cost more in thread hand-off than they save
        white = whitened(disc) if n_steps >= WHITEN_MIN_STEPS and (n > SMALL_N or k > 1) else None
        if white is not None:
            L, LT, MwT, cw = white
            Y0 = np.ascontiguousarray(sla.solve_triangular(L, X0.T, lower=True, check_finite=False).T)
            Y = _run_dense(MwT, cw, NOISE_DIAG, np.ones(n), _EMPTY_F, _EMPTY_I, _EMPTY_I[:1],
                           _EMPTY_I, Y0, n_steps, save_every, rng, samples, xsum, block)
            for arr in (Y, samples.reshape(-1, n), xsum):
                _from_white(arr, LT, 4096)
            return Y, samples, xsum
        Npack, nedges, nwidth, noffs = _kernel_noise(disc)
        X = _run_dense(disc.MT, disc.c, disc.noise_mode, disc.noise_diag, Npack, nedges, nwidth,
                       noffs, X0, n_steps, save_every, rng, samples, xsum, block)
    else:
        Npack, nedges, nwidth, noffs = _kernel_noise(disc)
        ip, ix = _unsigned(disc, "indptr", "indices")
        if disc.noise_mode == NOISE_SPARSE:
            (nip, nix), ndt = _unsigned(disc, "noise_indptr", "noise_indices"), disc.noise_data
        else:
            nip, nix, ndt = _EMPTY_U, _EMPTY_U, _EMPTY_F
        X = _run_sparse(ip, ix, np.ascontiguousarray(disc.data, dtype=np.float64), disc.c,
                        disc.noise_mode, disc.noise_diag, Npack, nedges, nwidth, noffs, nip, nix,
                        np.ascontiguousarray(ndt, dtype=np.float64), X0, n_steps, save_every, rng,
                        samples, xsum, block)
    return X, samples, xsum
