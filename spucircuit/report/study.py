"""A study's report: its JSON and CSV files, the error plots and the plain-text table."""
from __future__ import annotations

import csv
import io
import json
import os

import numpy as np

from spucircuit._util.files import atomic_write_bytes, atomic_write_text
from spucircuit._util.jsonable import to_jsonable
from spucircuit.studies.knobs import KNOB
from spucircuit.studies.sweep import StudyResult


def write_study(result: StudyResult, out_dir: str, name: str = "study", plot: bool = True) -> list:
    """Write NAME.json (config, sweep, summary, rows), NAME.csv, NAME_summary.csv and, with ``plot``,
one PNG per error metric into ``out_dir``; returns the paths."""
    os.makedirs(out_dir, exist_ok=True)
    paths = []
    js = os.path.join(out_dir, f"{name}.json")
    atomic_write_text(js, json.dumps(to_jsonable(result.to_dict()), indent=1, allow_nan=False))
    paths.append(js)
    for kind, rows in (("rows", result.rows), ("summary", result.summary())):
        cp = os.path.join(out_dir, f"{name}_{kind}.csv" if kind == "summary" else f"{name}.csv")
        atomic_write_text(cp, _csv(rows, result.sweep if kind == "rows" else {}, result.points if kind == "rows" else None))
        paths.append(cp)
    if plot:
        paths += plot_study(result, out_dir, name)
    return paths

def plot_study(result: StudyResult, out_dir: str, name: str = "study") -> list:
    """PNG per error metric: median and 10-90 % band over draws and matrices against the first
swept knob (one line per combination of the others); returns the paths."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(result.sweep)
    xname = names[0] if names else None
    others = names[1:]
    summ = result.summary()
    paths = []
    for met in result.metrics:
        fig, ax = plt.subplots(figsize=(6.4, 4.4))
        groups: dict = {}
        for s in summ:
            key = tuple(s[k] for k in others)
            groups.setdefault(key, []).append(s)
        for key, ss in groups.items():
            xs = [s[xname] if xname else 0 for s in ss]
            xs = [_num(x) for x in xs]
            med = [s.get(met + "_median", np.nan) for s in ss]
            lo = [s.get(met + "_p10", np.nan) for s in ss]
            hi = [s.get(met + "_p90", np.nan) for s in ss]
            label = ", ".join(f"{k}={_fmt(v)}" for k, v in zip(others, key)) or "median"
            line, = ax.plot(xs, med, "o-", label=label)
            ax.fill_between(xs, lo, hi, color=line.get_color(), alpha=0.2, lw=0)
        lows = [s.get(met + "_p10", np.nan) for s in summ]
        if lows and np.all(np.asarray(lows) > 0):
            ax.set_yscale("log")
        if xname and KNOB[xname].log and all(_num(s[xname]) > 0 for s in summ):
            ax.set_xscale("log")
        ax.set_xlabel(_axis_label(xname))
        ax.set_ylabel(f"relative {met.replace('_error', '')} error")
        draws = result.config["draws"]
        ax.set_title(f"{met.replace('_', ' ')}: median and 10-90 % over {draws} draws x matrices", fontsize=9)
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=7)
        fig.tight_layout()
        buf = io.BytesIO()
        fig.savefig(buf, format="png", dpi=110)
        plt.close(fig)
        path = os.path.join(out_dir, f"{name}_{met}.png")
        atomic_write_bytes(path, buf.getvalue())
        paths.append(path)
    return paths


def _num(x):
    if isinstance(x, bool):
        return float(x)
    if isinstance(x, (int, float)):
        return float(x)
    return x


def _fmt(v):
    if isinstance(v, bool):
        return "on" if v else "off"
    if isinstance(v, float):
        return f"{v:g}"
    return str(v)


def _axis_label(name):
    if name is None:
        return ""
    units = {"tolerance": "tolerance, %", "temperature": "temperature, K", "time": "analog time",
             "noise_psd": "injected noise PSD, A^2/Hz", "opamp_gain": "open-loop gain",
             "opamp_offset": "offset, V", "gbw": "gain-bandwidth, Hz", "bits": "resistor bank bits",
             "K": "ensemble size K", "samples": "ADC samples per run"}
    return units.get(name, name)



def _csv(rows, sweep, points) -> str:
    if not rows:
        return ""
    buf = io.StringIO()
    extra = list(sweep)
    keys = extra + [k for k in rows[0] if k not in extra]
    for r in rows:
        for k in r:
            if k not in keys:
                keys.append(k)
    w = csv.DictWriter(buf, fieldnames=keys, extrasaction="ignore")
    w.writeheader()
    for r in rows:
        rr = dict(r)
        if points is not None:
            rr.update({k: points[r["point"]][k] for k in extra})
        w.writerow({k: _fmt(v) if isinstance(v, bool) else v for k, v in rr.items()})
    return buf.getvalue()


def study_table(result: StudyResult, metric: str = "solve_error", stat: str = "median", rows_knob: str | None = None,
          cols_knobs: list | None = None) -> str:
    """A plain-text table of a summary statistic: one row per value of ``rows_knob`` (default the
    first swept knob), one column per combination of the others."""
    names = list(result.sweep)
    rk = rows_knob or (names[0] if names else None)
    ck = cols_knobs if cols_knobs is not None else [k for k in names if k != rk]
    summ = result.summary()
    rvals = sorted({s[rk] for s in summ}, key=_num) if rk else [None]
    cvals = list(dict.fromkeys(tuple(s[k] for k in ck) for s in summ))
    head = [rk or ""] + [", ".join(f"{k}={_fmt(v)}" for k, v in zip(ck, c)) or stat for c in cvals]
    lines = [" | ".join(head), " | ".join("---" for _ in head)]
    for rv in rvals:
        cells = [_fmt(rv)]
        for c in cvals:
            hit = [s for s in summ if (rk is None or s[rk] == rv) and tuple(s[k] for k in ck) == c]
            v = hit[0].get(f"{metric}_{stat}") if hit else None
            cells.append(f"{v:.2e}" if v is not None and np.isfinite(v) else "-")
        lines.append(" | ".join(cells))
    return "\n".join(lines)
