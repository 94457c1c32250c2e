"""Text forms of the hardware cost model: the tables ``spu cost`` prints (:func:`format_cost`,
:func:`format_comparison`) and strict JSON of costs and sweeps (:func:`to_json`)."""
from __future__ import annotations

import json
from dataclasses import asdict

from spucircuit._util.jsonable import to_jsonable
from spucircuit.studies.cost.load import DeviceLoad
from spucircuit.studies.cost.model import LABELS, Cost
from spucircuit.studies.cost.params import Hardware, Host


def _si(x: float, unit: str) -> str:
    if x == 0:
        return f"0 {unit}"
    for f, p in ((1e9, "G"), (1e6, "M"), (1e3, "k"), (1.0, ""), (1e-3, "m"), (1e-6, "u"), (1e-9, "n"),
                 (1e-12, "p")):
        if abs(x) >= f:
            return f"{x / f:.4g} {p}{unit}"
    return f"{x:.3g} {unit}"


def format_cost(cost: Cost) -> str:
    """A table of one cost: time phases and energy consumers with their shares.

    Args:
        cost: a :class:`~spucircuit.studies.cost.model.Cost`.

    Returns:
        The table, one line per phase / consumer plus the upload and pipelining summary.
    """
    per = cost.kind if cost.kind in ("solve", "inv") else "iteration"
    lines = [f"{cost.kind}: {_si(cost.total_s, 's')} per {per}, {_si(cost.total_energy_j, 'J')}"]
    lines.append(f"  {'time phase':<22}{'time':>14}{'share':>8}")
    for k, v in cost.time_s.items():
        lines.append(f"  {k:<22}{_si(v, 's'):>14}{100 * v / cost.total_s if cost.total_s else 0:7.1f}%")
    lines.append(f"  {'energy':<22}{'':>14}")
    te = cost.total_energy_j
    for k, v in cost.energy_j.items():
        lines.append(f"  {k:<22}{_si(v, 'J'):>14}{100 * v / te if te else 0:7.1f}%")
    d = cost.detail
    if "transfer_in_s" in d:
        lines.append(f"  upload: transfer {_si(d['transfer_in_s'], 's')}, resistor writes {_si(d['program_s'], 's')} "
                     f"({d['writes']} writes), DAC {_si(d['dac_s'], 's')} -> bound by {d['upload_bound_by']}")
    if "pipelined_total_s" in d:
        lines.append(f"  pipelined (host || device): {_si(d['pipelined_total_s'], 's')}; tau = {_si(d['tau_s'], 's')} "
                     f"({d['tau_source']})")
    elif "tau_s" in d:
        lines.append(f"  tau = {_si(d['tau_s'], 's')} ({d['tau_source']}), {d['samples']} samples, "
                     f"sampling bound by {d['sampling_bound_by']}")
    return "\n".join(lines)


def format_comparison(costs: dict) -> str:
    """Time and energy per iteration of every method, with the ratio to TNGD.

    Args:
        costs: {method: Cost}, e.g. from :func:`~spucircuit.studies.cost.model.compare_iteration`.

    Returns:
        The table, one line per method (time, energy, time / TNGD, host memory, source).
    """
    ref = costs.get("tngd")
    lines = [f"  {'method':<16}{'time/iter':>14}{'energy/iter':>14}{'time / TNGD':>13}{'memory':>10}  source"]
    for mt, c in costs.items():
        ratio = f"{c.total_s / ref.total_s:12.3g}x" if ref is not None else ""
        mem = c.detail.get("memory_bytes")
        fits = "" if mem is None else (_si(mem, "B") if c.detail.get("fits_in_memory", True) else "> host")
        src = "measured" if "measured" in c.time_s or any("measured" in n for n in c.notes) else "model"
        lines.append(f"  {LABELS.get(mt, mt):<16}{_si(c.total_s, 's'):>14}{_si(c.total_energy_j, 'J'):>14}{ratio:>13}"
                     f"{fits:>10}  {src}")
    return "\n".join(lines)


def to_json(obj) -> str:
    """Strict JSON (NaN / inf -> null) of costs, sweeps and plain data.

    Args:
        obj: Cost, DeviceLoad, Hardware, Host objects nested in dicts, lists and plain data.

    Returns:
        Indented JSON text.
    """
    def conv(o):
        if isinstance(o, Cost):
            return o.to_dict()
        if isinstance(o, DeviceLoad):
            return o.to_dict()
        if isinstance(o, (Hardware, Host)):
            return asdict(o)
        if isinstance(o, dict):
            return {str(k): conv(v) for k, v in o.items()}
        if isinstance(o, (list, tuple)):
            return [conv(v) for v in o]
        return to_jsonable(o)
    return json.dumps(conv(obj), indent=1, allow_nan=False)
