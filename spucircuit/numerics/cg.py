"""Conjugate gradients for SPD systems given only a mat-vec (shared by the factored circuit's
scale estimate and ``tngd``'s NGD-CG optimizer)."""
from __future__ import annotations

import numpy as np


def conjugate_gradient(matvec, b, x0=None, iters: int = 10, stop_on_nonpositive: bool = False):
    """Plain CG on A x = b, exactly ``iters`` iterations (stops early at an exactly zero residual,
    and with ``stop_on_nonpositive`` at a direction of non-positive curvature p^T A p <= 0, where
    CG would divide by it). Returns x."""
    x = np.zeros_like(np.asarray(b, dtype=float)) if x0 is None else np.array(x0, dtype=float, copy=True)
    r = b - matvec(x) if x0 is not None else np.array(b, dtype=float, copy=True)
    p = r.copy()
    rs = float(r @ r)
    for _ in range(int(iters)):
        if rs == 0.0:
            break
        Ap = matvec(p)
        pAp = float(p @ Ap)
        if stop_on_nonpositive and pAp <= 0:
            break
        alpha = rs / pAp
        x += alpha * p
        r -= alpha * Ap
        rs_new = float(r @ r)
        p = r + (rs_new / rs) * p
        rs = rs_new
    return x
