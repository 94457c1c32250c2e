"""Plots of the hardware cost model: the paper's Fig. 2 from a
:func:`~spucircuit.studies.cost.model.fig2_sweep` (matplotlib, written as PNG)."""
from __future__ import annotations

import io
import math

import numpy as np

from spucircuit._util.files import atomic_write_bytes
from spucircuit.studies.cost.model import LABELS

_COLORS = {"ngd": "C0", "ngd-cg": "C1", "ngd-woodbury": "C2", "tngd": "C3", "adam": "0.5", "sgd": "0.7"}


def plot_fig2(sweep: dict, path, *, measured: dict | None = None, overlay: dict | None = None,
              overlay_label: str = "model, host fitted to the measurements", measured_label: str = "measured",
              panel_notes: dict | None = None, title: str | None = None) -> None:
    """Three panels: time per iteration vs N (dz fixed), vs dz (N fixed), energy vs N. Solid:
    the model (dotted where the host memory is exceeded). ``measured``: {'vs_N': rows,
    'vs_dz': rows} of {'method', 'N', 'dz', 'seconds'} as markers; ``overlay``: a second sweep
    (e.g. with :func:`calibrate_host`'s host at the measured sizes), dashed. ``panel_notes``:
    {'vs_N' | 'vs_dz': text} written in the corner of the time panels.

    Args:
        sweep: a :func:`~spucircuit.studies.cost.model.fig2_sweep` result.
        path: the PNG file to write (atomically).
        measured: {'vs_N': rows, 'vs_dz': rows} of ``{'method', 'N', 'dz', 'seconds'}``.
        overlay: a second sweep drawn dashed (time panels).
        overlay_label, measured_label: legend suffixes.
        panel_notes: {'vs_N' | 'vs_dz': text}.
        title: a figure title.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg  # matplotlib only when drawing
    from matplotlib.figure import Figure

    fig = Figure(figsize=(15, 6.2))
    FigureCanvasAgg(fig)
    axs = fig.subplots(1, 3)
    panels = [("vs_N", "N", "time_s", axs[0], f"(a) runtime per iteration, dz = {sweep['vs_N']['dz']}, b = {sweep['b']}"),
              ("vs_dz", "dz", "time_s", axs[1], f"(b) runtime per iteration, N = {sweep['vs_dz']['N']:.3g}, b = {sweep['b']}"),
              ("vs_N", "N", "energy_j", axs[2], f"(c) energy per iteration, dz = {sweep['vs_N']['dz']}")]
    for key, xk, qk, ax, ttl in panels:
        p = sweep[key]
        xs = np.asarray(p[xk], float)
        for mt, ys in p[qk].items():
            ys = np.asarray(ys, float)
            ok = np.asarray(p["fits_in_memory"][mt], bool)
            lab = LABELS.get(mt, mt) + (" (estimated SPU)" if mt == "tngd" else " (model)")
            ax.loglog(xs, np.where(ok, ys, np.nan), "-", color=_COLORS.get(mt), lw=2, label=lab)
            if not ok.all():
                ax.loglog(xs, np.where(~ok | np.roll(~ok, -1), ys, np.nan), ":", color=_COLORS.get(mt), lw=1.5)
        if overlay is not None and qk == "time_s":
            po = overlay[key]
            for mt, ys in po[qk].items():
                ax.loglog(po[xk], ys, "--", color=_COLORS.get(mt), lw=1,
                          label=f"{LABELS.get(mt, mt)} ({overlay_label})")
        if measured is not None and qk == "time_s":
            for mt in _COLORS:
                rs = [r for r in measured.get(key, []) if r["method"] == mt]
                if rs:
                    ax.loglog([r[xk] for r in rs], [r["seconds"] for r in rs], "o", color=_COLORS.get(mt), ms=6,
                              mec="k", label=f"{LABELS.get(mt, mt)} ({measured_label}"
                              + ("; host part, + modelled SPU)" if mt == "tngd" else ")"))
        note = (panel_notes or {}).get(key) if qk == "time_s" else None
        if note:
            ax.text(0.02, 0.98, note, transform=ax.transAxes, ha="left", va="top", fontsize=7.5, color="0.25")
        cap = 1e4 if qk == "time_s" else 1e6  # dense NGD's N^3 would squash the rest
        lo, hi = ax.get_ylim()
        if hi > cap:
            ax.set_ylim(lo, cap)
        ax.set_xlabel("number of parameters N" if xk == "N" else "output dimension dz")
        ax.set_ylabel("seconds per iteration" if qk == "time_s" else "joules per iteration")
        ax.set_title(ttl, fontsize=10)
        ax.grid(True, which="both", alpha=0.3)
    handles, labels = axs[0].get_legend_handles_labels()
    seen = dict(zip(labels, handles))
    for h_, l_ in zip(*axs[1].get_legend_handles_labels()):
        seen.setdefault(l_, h_)
    ncol = 3 if len(seen) > 5 else len(seen)
    fig.legend(list(seen.values()), list(seen.keys()), loc="lower center", ncol=ncol, fontsize=7.5, frameon=False)
    if title:
        fig.suptitle(title, fontsize=10)
    rows_ = math.ceil(len(seen) / ncol)
    fig.tight_layout(rect=(0, 0.035 * rows_ + 0.02, 1, 1))
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=120)
    atomic_write_bytes(path, buf.getvalue())
