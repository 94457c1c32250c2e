"""The demo's report: the relaxation plot and the printed table."""
from __future__ import annotations

import io

from spucircuit._util.files import atomic_write_bytes


def plot_relaxation(t, dist, theory, floor, path, n, cond) -> None:
    """PNG of ||x(t) - x*|| (one noisy chain) against t / tau beside the theoretical mean relaxation
    and the thermal noise floor, written atomically to ``path``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.2), dpi=120)
    ax.semilogy(t, dist, lw=1.0, label="twin: ||x(t) - x*|| (one noisy chain)")
    ax.semilogy(t, theory, "k--", lw=1.4, label="theory: ||expm(-A t)(x0 - x*)||")
    ax.axhline(floor, color="tab:red", ls=":", label="thermal noise floor sqrt(tr cov x)")
    ax.set_xlabel("analog time t / tau")
    ax.set_ylabel("||x(t) - x*||  (problem units)")
    ax.set_title(f"Integrator-array SPU twin, n = {n}, cond(A) = {cond:.0f}, T = 300 K")
    ax.legend(fontsize=8)
    ax.grid(True, which="both", alpha=0.3)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    plt.close(fig)
    atomic_write_bytes(path, buf.getvalue())


def format_demo_table(s, x_star, x_twin, se) -> str:
    """The demo's printed table: exact against twin per component, error, analog time, components."""
    lines = []
    lines.append(f"SPU twin demo: n = {s['n']}, cond(A) = {s['condition_number']:.1f}, seed = {s['seed']}")
    lines.append(f"{'i':>3} {'exact x*':>14} {'twin x':>14} {'error':>11} {'std err':>10}")
    for i in range(s["n"]):
        lines.append(f"{i:>3} {x_star[i]:>14.8f} {x_twin[i]:>14.8f} {x_twin[i] - x_star[i]:>11.2e} {se[i]:>10.2e}")
    c = s["components"]
    lines.append(f"relative error ||x - x*|| / ||x*|| = {s['relative_error']:.3e}   "
                 f"(max |error| / std err = {s['max_abs_z']:.2f})")
    lines.append(f"analog time = {s['analog_time_s']:.4g} s ({s['analog_time_s'] / s['tau_s']:.1f} tau, "
                 f"tau = {s['tau_s']:.4g} s), burn-in {s['burn_in_s'] / s['tau_s']:.1f} tau")
    lines.append(f"components: {c['resistors']} resistors, {c['capacitors']} capacitors, {c['op-amps']} op-amps "
                 f"({c['integrators']} integrators + {c['inverting_buffers']} inverting buffers), "
                 f"{c['DC_voltage_sources']} DAC sources; {c['total']} in all")
    lines.append(f"wall time {s['wall_time_s']:.2f} s; plot: {s['png']}")
    return "\n".join(lines)
