"""A PNG picture of a netlist's coupling graph (matplotlib, Agg canvas, no pyplot state)."""
from __future__ import annotations

import io
import math
import re
import textwrap

import networkx as nx
import numpy as np

from spucircuit._util.files import atomic_write_bytes
from spucircuit.circuit.netlist import GROUND, KINDS, Netlist
from spucircuit.errors import NetlistError
from spucircuit.io.graphml import as_netlist, graphml_graph

MAX_NODES_DEFAULT = 64  # larger netlists are refused by plot_coupling_graph unless summary=True
KIND_COLOURS = {
    "R": "#1f77b4",  # blue
    "C": "#d62728",  # red
    "L": "#2ca02c",  # green
    "G": "#9467bd",  # purple
    "U": "#ff7f0e",  # orange
    "V": "#8c564b",  # brown
    "I": "#e377c2",  # pink
    "N": "#7f7f7f",  # grey
    "E": "#bcbd22",  # olive
    "F": "#17becf",  # cyan
    "H": "#aec7e8",  # light blue
    "K": "#98df8a",  # light green (no edge: a coupling has no terminals)
}



def _strength(kind: str, value: float) -> float:
    """Coupling strength shown as edge width: conductance 1/R (S), capacitance C (F),
    inverse inductance 1/L (1/H), |gm| (S); NaN for kinds without one (drawn at a fixed width)."""
    if not math.isfinite(value) or value == 0:
        return float("nan")
    if kind in "RL":
        return 1.0 / value
    if kind in "CG":
        return abs(value)
    return float("nan")


def _widths(kinds, values, wmin=0.6, wmax=4.0):
    """Edge widths on a log scale of the strength, normalised per kind (units differ)."""
    s = np.array([_strength(k, v) for k, v in zip(kinds, values)], dtype=float)
    w = np.full(len(s), 1.2)
    for k in set(kinds):
        sel = np.array([kk == k for kk in kinds]) & np.isfinite(s)
        if not sel.any():
            continue
        ls = np.log10(s[sel])
        lo, hi = ls.min(), ls.max()
        w[sel] = (wmin + wmax) / 2 if hi - lo < 1e-12 else wmin + (ls - lo) / (hi - lo) * (wmax - wmin)
    return w


def _layout(g: nx.Graph, layout: str, seed: int):
    n = g.number_of_nodes()
    if layout == "auto":
        m = g.number_of_edges()
        density = 2.0 * m / (n * (n - 1)) if n > 1 else 0.0
        layout = "circular" if density > 0.25 or n <= 3 else "spring"
    if layout == "circular":
        return nx.circular_layout(sorted(g.nodes, key=_natural))
    if layout == "spring":
        return nx.spring_layout(g, seed=seed, k=1.5 / math.sqrt(max(n, 1)), iterations=200)
    if layout == "kamada_kawai":
        return nx.kamada_kawai_layout(g)
    if layout == "shell":
        return nx.shell_layout(g)
    raise NetlistError(f"unknown layout {layout!r}: use 'auto', 'circular', 'spring', 'kamada_kawai' or 'shell'")


def _natural(name: str):
    return [int(p) if p.isdigit() else p for p in re.split(r"(\d+)", str(name))]


def plot_coupling_graph(netlist, path, *, layout: str = "auto", show_ground: bool = False,
                        max_nodes: int = MAX_NODES_DEFAULT, summary: bool = False,
                        title: str | None = None, seed: int = 0, dpi: int = 120) -> dict:
    """Write a PNG of the netlist's coupling graph to ``path`` (atomically).

    Nodes are the circuit nodes, labelled by name; every element is an edge coloured by its kind
    (legend) with a width on a log scale of its conductance (R, G), capacitance (C) or inverse
    inductance (L), normalised per kind; parallel elements are drawn as separate arcs. Elements
    to ground are listed under their node (``gnd: C L N R``) unless ``show_ground=True`` draws
    ground as a node. Layout ``'auto'`` is circular for dense graphs (all-to-all couplings),
    spring (seeded) otherwise.

    Netlists with more than ``max_nodes`` non-ground nodes raise :class:`NetlistError` (nothing
    is written) unless ``summary=True``, which draws a summary instead: the node-by-node
    connection density (binned) and the element counts per kind.
    Returns a small dict describing what was drawn.
    """
    nl = as_netlist(netlist)
    n_nodes = nl.n_nodes
    if not isinstance(max_nodes, (int, np.integer)) or max_nodes < 1:
        raise NetlistError(f"max_nodes must be a positive integer, got {max_nodes!r}")
    if n_nodes > max_nodes and not summary:
        raise NetlistError(
            f"netlist has {n_nodes} nodes, more than max_nodes = {max_nodes} that stay readable in a "
            "graph drawing: pass summary=True for a summarised plot, or raise max_nodes"
        )
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure  # no pyplot: no global state, Agg canvas below

    if n_nodes > max_nodes:
        fig, info = _summary_figure(nl, title, Figure)
    else:
        fig, info = _graph_figure(nl, layout, show_ground, title, seed, Figure)
    FigureCanvasAgg(fig)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    data = buf.getvalue()
    atomic_write_bytes(path, data)
    info["bytes"] = len(data)
    return info


def _graph_figure(nl: Netlist, layout, show_ground, title, seed, Figure):
    from matplotlib.lines import Line2D
    from matplotlib.patches import PathPatch
    from matplotlib.path import Path

    g = graphml_graph(nl)
    if not show_ground:
        g.remove_node(GROUND)
    simple = nx.Graph(g)
    pos = _layout(simple, layout, seed)
    n = g.number_of_nodes()
    size = min(14.0, max(6.0, 0.9 * math.sqrt(max(n, 1)) + 4.0))
    fig = Figure(figsize=(size + 3.0, size))  # room for the legend on the right
    ax = fig.add_subplot(1, 1, 1)
    ax.set_aspect("equal")
    ax.axis("off")

    edges = list(g.edges(keys=True, data=True))
    widths = _widths([d["kind"] for *_, d in edges], [d.get("value", float("nan")) for *_, d in edges])
    groups: dict = {}
    for k, (a, b, key, d) in enumerate(edges):
        groups.setdefault(frozenset((a, b)), []).append(k)
    kinds_drawn = set()
    n_edges = len(edges)
    if n_edges > 100:  # dense drawings (e.g. 64 all-to-all cells = 2016 edges): thin, translucent
        widths = widths * max(0.08, math.sqrt(100.0 / n_edges))
    alpha = float(min(0.8, max(0.15, 8.0 / math.sqrt(max(n_edges, 1)))))
    for pair, ks in groups.items():
        a, b = sorted(pair, key=_natural) if len(pair) == 2 else (next(iter(pair)),) * 2
        pa, pb = np.asarray(pos[a]), np.asarray(pos[b])
        d = pb - pa
        length = float(np.hypot(*d)) or 1.0
        normal = np.array([-d[1], d[0]]) / length
        m = len(ks)
        for r, k in enumerate(ks):
            _, _, _, data = edges[k]
            off = (r - (m - 1) / 2) * 0.12 * length  # parallel elements: separate arcs
            ctrl = (pa + pb) / 2 + normal * off
            style = "--" if data.get("role") in ("control", "input") else "-"
            patch = PathPatch(Path([pa, ctrl, pb], [Path.MOVETO, Path.CURVE3, Path.CURVE3]),
                              facecolor="none", edgecolor=KIND_COLOURS[data["kind"]], lw=widths[k],
                              ls=style, alpha=alpha, zorder=1)
            ax.add_patch(patch)
            kinds_drawn.add(data["kind"])
    xy = np.array([pos[v] for v in g.nodes]) if n else np.zeros((0, 2))
    fs = 9 if n <= 32 else 7
    to_ground: dict = {}
    if not show_ground:
        for el in nl.elements():
            ends = (el.nodes[0], GROUND) if el.kind == "U" else el.nodes[:2]
            if GROUND in ends:
                other = ends[0] if ends[1] == GROUND else ends[1]
                if other != GROUND:
                    to_ground.setdefault(other, set()).add(el.kind)
    for v, (x, y) in zip(g.nodes, xy):  # the label box is the node marker
        gnd = v == GROUND
        ax.annotate(str(v), (x, y), ha="center", va="center", fontsize=fs, zorder=3,
                    color="white" if gnd else "black",
                    bbox=dict(boxstyle="round,pad=0.3", fc="black" if gnd else "white", ec="#333333", lw=1.0))
        if v in to_ground and n <= 32:
            ax.annotate("gnd: " + " ".join(sorted(to_ground[v])), (x, y), xytext=(0, -11),
                        textcoords="offset points", ha="center", va="top", fontsize=fs - 2,
                        color="#444444", zorder=3,
                        bbox=dict(boxstyle="square,pad=0.1", fc="white", ec="none", alpha=0.8))
    if n:
        lo, hi = xy.min(axis=0), xy.max(axis=0)
        pad = 0.15 * max(float(np.max(hi - lo)), 1.0)
        ax.set_xlim(lo[0] - pad, hi[0] + pad)
        ax.set_ylim(lo[1] - pad, hi[1] + pad)
    handles = [Line2D([0], [0], color=KIND_COLOURS[k], lw=2.5, label=f"{k}: {KINDS[k][1]}")
               for k in KINDS if k in kinds_drawn]
    if handles:
        note = "width: log of 1/R, C, 1/L, |gm| (per kind)"
        if to_ground and n <= 32:
            note += "\ngnd: elements to ground"
        ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8,
                  framealpha=0.9, title=note, title_fontsize=7)
    ax.set_title(textwrap.fill(title or nl.summary(), 90), fontsize=10)
    fig.tight_layout()
    return fig, {"kind": "graph", "nodes": n, "edges": len(edges), "layout": layout,
                 "ground_shown": bool(show_ground)}


def _summary_figure(nl: Netlist, title, Figure):
    n = len(nl.node_names)
    bins = min(n, 256)
    H = np.zeros((bins, bins))
    for k, t in nl.tables.items():
        if not len(t):
            continue
        nodes = t.nodes
        if nodes.shape[1] == 0:  # K: a coupling of two inductors, no terminals of its own
            continue
        pairs = [(0, 1)] if nodes.shape[1] == 2 else ([(0, 1), (2, 3)] if k in "GE" else [(0, 0), (1, 2)])
        for a, b in pairs:
            p = nodes[:, a]
            q = np.zeros_like(p) if (k == "U" and a == b) else nodes[:, b]
            bp, bq = p * bins // n, q * bins // n
            np.add.at(H, (bp, bq), 1.0)
            np.add.at(H, (bq, bp), 1.0)
    fig = Figure(figsize=(12, 5.5))
    ax1 = fig.add_subplot(1, 2, 1)
    im = ax1.imshow(np.log10(1.0 + H), cmap="viridis", interpolation="nearest", origin="upper",
                    extent=(0, n, n, 0))
    fig.colorbar(im, ax=ax1, label="log10(1 + elements)")
    ax1.set_xlabel("node index (0 = ground)")
    ax1.set_ylabel("node index")
    ax1.set_title(f"connections, {bins} x {bins} bins", fontsize=10)
    ax2 = fig.add_subplot(1, 2, 2)
    counts = [(k, len(t)) for k, t in nl.tables.items() if len(t)]
    ax2.barh([f"{k} ({KINDS[k][1]})" for k, _ in counts], [c for _, c in counts],
             color=[KIND_COLOURS[k] for k, _ in counts])
    for i, (_, c) in enumerate(counts):
        ax2.annotate(f"{c:,}", (c, i), xytext=(3, 0), textcoords="offset points", va="center", fontsize=8)
    ax2.set_xscale("log")
    ax2.set_xlabel("elements")
    fig.suptitle(textwrap.fill(title or f"{nl.title}: {nl.n_nodes} nodes, {len(nl)} elements (summary)", 110),
                 fontsize=11)
    fig.tight_layout()
    return fig, {"kind": "summary", "nodes": nl.n_nodes, "elements": len(nl), "bins": bins}
