"""The TNGD paper's experiments on Fashion-MNIST (issue 5, part 6), with plots and JSON.

    python examples/paper_experiments.py                       # all groups, 3 seeds, 3 epochs
    python examples/paper_experiments.py --groups a,b --epochs 1 --seeds 0 --out /tmp/paper

Groups (paper settings: CNN = 1 conv + 2 dense, batch 64, lambda = 0.01, TNGD lr 0.01, Adam lr 1e-3):

  a  TNGD (t = 50 tau) against Adam: loss and accuracy against iteration and estimated runtime
  b  analog time t = 5, 10, 20, 50 tau against exact NGD (Woodbury: the exact solve, m = 640 << N)
  c  delay td = 0, 0.2 tau, tau at t = 5 tau
  d  noise kappa0 = 0, 0.001, 0.01, 0.1 at t = tau
  e  the factored circuit twin at finite resistor precision (bits), with and without K-device
     mitigation, against the ideal device (see --e-* options; costlier, so fewer steps by default)

Groups a-d use the ideal device (exact OU propagation with the low-rank GGN: the paper's
"digital simulation", without its 0.1 tau Euler discretisation); e runs the circuit itself.
Each run is one JSON in OUT/runs/ (skipped when present, so an interrupted sweep resumes);
OUT/summary.json holds final figures per configuration and OUT/*.png the plots. Runs go to a
process pool (--jobs, one BLAS thread each). Every random draw is seeded by --seeds.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

from spucircuit._util.files import atomic_write_bytes, atomic_write_text

N_TRAIN = N_TEST = 10_000
PAPER = dict(batch_size=64, damping=0.01, tngd_lr=0.01, adam_lr=1e-3)


def configs(groups, e_bits, e_k, e_k_bits=(), x0_modes=("warm",), twin_bits=None):
    """(group, label, optimizer kwargs) for every configuration asked for, the configurations to run
    (one per distinct settings and length) and, per label, the label of the run that serves it.
    Paper mode with td > 0 keeps the device state, so it is served by the warm run (and the other
    way round: whichever comes first in ``x0_modes`` runs). With ``twin_bits`` groups a and b also
    run t = 50 tau on the factored circuit twin (resistors of that many bits, 300 K noise) in the
    first mode.
    Every TNGD configuration of groups a-d runs in each of ``x0_modes`` (warm keeps the plain label,
    as the runs committed before x0 was a setting; reset and paper get a " [mode]" suffix, so their
    run files never collide): the warm-start variant beside the paper's."""
    out = []
    for i, mode in enumerate(x0_modes):
        tag = "" if mode == "warm" else f" [{mode}]"
        for g, label, kw in _configs(groups, e_bits, e_k, e_k_bits, mode, twin_bits if i == 0 else None):
            if i == 0 or (kw.get("optimizer") == "tngd" and g != "e"):
                out.append((g, label + (tag if kw.get("optimizer") == "tngd" else ""), kw))
    def key(g, kw):  # paper mode with td > 0 keeps the state: the same run as warm (group e is shorter)
        kw = {k: v for k, v in kw.items() if not (k == "x0" and v == "paper" and kw.get("td", 0) > 0)}
        return json.dumps(kw, sort_keys=True), g == "e"
    first, unique = {}, []
    for g, label, kw in out:  # the same configuration in two groups runs once
        if key(g, kw) not in first:
            first[key(g, kw)] = label
            unique.append((g, label, kw))
    return out, unique, {label: first[key(g, kw)] for g, label, kw in out}


def _configs(groups, e_bits, e_k, e_k_bits, x0, twin_bits=None):
    def tngd(**kw):
        base = dict(optimizer="tngd", lr=PAPER["tngd_lr"], t=50.0, td=0.0, kappa0=0.0, solver="exact")
        if x0 != "warm":  # the runs committed before x0 was a setting are warm: their settings stay as they were
            base["x0"] = x0
        return {**base, **kw}
    out = []
    if "a" in groups:
        out += [("a", "adam", dict(optimizer="adam", lr=PAPER["adam_lr"])), ("a", "tngd t=50", tngd())]
    twin = tngd(solver="factored", bits=int(twin_bits), mitigation=1) if twin_bits else None
    if "a" in groups and twin:
        out += [("a", f"twin t=50 {twin_bits} bits", twin)]
    if "b" in groups:
        out += [("b", f"tngd t={t:g}", tngd(t=float(t))) for t in (5, 10, 20, 50)]
        if twin:
            out += [("b", f"twin t=50 {twin_bits} bits", twin)]
        out += [("b", "ngd (exact)", dict(optimizer="ngd-woodbury", lr=PAPER["tngd_lr"]))]
    if "c" in groups:
        out += [("c", f"tngd t=5 td={td:g}", tngd(t=5.0, td=float(td))) for td in (0, 0.2, 1)]
    if "d" in groups:
        out += [("d", f"tngd t=1 kappa0={k:g}", tngd(t=1.0, kappa0=float(k))) for k in (0, 0.001, 0.01, 0.1)]
    if "e" in groups:
        out += [("e", "tngd ideal device", tngd(t=50.0))]
        for b in e_bits:
            out += [("e", f"twin {b} bits", tngd(solver="factored", bits=int(b), mitigation=1))]
            if e_k > 1 and b in e_k_bits:
                out += [("e", f"twin {b} bits K={e_k}", tngd(solver="factored", bits=int(b), mitigation=int(e_k)))]
    return out


def _fname(label, seed):
    return label.replace(" ", "_").replace("=", "").replace("(", "").replace(")", "") + f"_s{seed}.json"


def _round(v, sig=5):
    return None if v is None else float(f"{v:.{sig}g}")


def run_one(job):
    """Train one configuration with one seed; returns the path of its JSON (written atomically)."""
    label, kw, seed, steps, out_dir, n_train, n_test, dataset, init = job
    path = Path(out_dir) / "runs" / _fname(label, seed)
    if path.exists():
        return str(path)
    import numpy as np

    from tngd.data import load_dataset
    from tngd.nn.losses import make_loss
    from tngd.train import build_model, build_optimizer, train

    ds = load_dataset(dataset, n_train, n_test)
    model = build_model("cnn", ds, init=init)
    kw = dict(kw)
    name = kw.pop("optimizer")
    solver_kw = {k: kw.pop(k) for k in ("bits", "mitigation") if k in kw}
    if kw.get("solver") == "factored":
        solver_kw["seed"] = seed  # independent devices (roundings, mismatch) per training seed
    opt = build_optimizer(name, damping=PAPER["damping"], seed=seed, solver_options=solver_kw or None, **kw)
    t0 = time.perf_counter()
    h = train(ds, model, make_loss("ce"), opt, steps=steps, batch_size=PAPER["batch_size"], seed=seed,
              eval_every=max(1, steps // 20))
    wall = time.perf_counter() - t0
    res = {"label": label, "seed": seed, "settings": {"optimizer": name, **kw, **solver_kw,
                                                      "damping": PAPER["damping"], "batch_size": PAPER["batch_size"],
                                                      "steps": steps, "n_train": n_train, "n_test": n_test,
                                                      "dataset": dataset, "init": init},
           "model": model.describe(), "wall_s": round(wall, 2), "diverged": h["diverged"],
           "loss": [_round(v) for v in h["loss"]],
           "runtime_estimate_s": [_round(v, 4) for v in np.asarray(h["runtime_estimate_s"])],
           "eval": [{k: (_round(v) if k != "step" else v) for k, v in e.items()} for e in h["eval"]]}
    if "curvature" in h:  # the curvature operating point: GGN top eigenvalue and trace per step, Euler limit
        res["curvature"] = {k: ([_round(x, 4) for x in v] if isinstance(v, list) else v) for k, v in h["curvature"].items()}
    for k in ("train_loss", "train_accuracy", "test_loss", "test_accuracy"):
        res[k] = _round(h[k])
    atomic_write_text(path, json.dumps(res) + "\n")
    return str(path)


def precision_table(out_dir, bits_list=(4, 6, 8, 10, 12), ks=(1, 4), seeds=(0, 1, 2), t=50.0,
                    dataset="fashion-mnist", n_train=N_TRAIN, init="he"):
    """Group e without training: the twin's natural gradient for one batch at the CNN's initial
    parameters against the exact (F + lambda I)^-1 grad-propagation of the ideal device (same t,
    started from the gradient), for each resistor precision and ensemble size. Writes
    e_static.json and e_static.png; returns the table."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    from tngd.nn.curvature import MiniBatchCurvature
    from tngd.data import load_dataset
    from tngd.nn.losses import make_loss
    from tngd.devices import ExactOUSolver, make_solver
    from tngd.train import build_model

    ds = load_dataset(dataset, n_train, 100)
    model = build_model("cnn", ds, init=init)
    rows = []
    for seed in seeds:
        theta = model.init(seed)
        idx = np.random.default_rng([seed, 1]).permutation(len(ds.y_train))[:PAPER["batch_size"]]
        b = MiniBatchCurvature(model, make_loss("ce"), theta, ds.x_train[idx], ds.y_train[idx])
        U, g = b.factor(), b.grad
        ex = ExactOUSolver()
        ref = ex.propagate(ex.prepare(U, PAPER["damping"], g), g, t, 0.0, None)
        for bits in (None, *bits_list):
            for k in ((1,) if bits is None else ks):
                sol = make_solver("factored", bits=bits, mitigation=k, seed=seed)
                x = sol.propagate(sol.prepare(U, PAPER["damping"], g), g, t, 0.0, np.random.default_rng([seed, 2]))
                rows.append({"seed": seed, "bits": bits, "K": k,
                             "rel_error": float(np.linalg.norm(x - ref) / np.linalg.norm(ref)),
                             "norm_ratio": float(np.linalg.norm(x) / np.linalg.norm(ref)),
                             "cosine": float(x @ ref / np.linalg.norm(x) / np.linalg.norm(ref))})
    fig, ax = plt.subplots(figsize=(6, 4))
    for k, mk in zip(ks, "os^"):
        bb = list(bits_list)
        e = [np.mean([r["rel_error"] for r in rows if r["bits"] == q and r["K"] == k]) for q in bb]
        ax.semilogy(bb, e, marker=mk, label=f"K = {k} device{'s' if k > 1 else ''}")
    e0 = np.mean([r["rel_error"] for r in rows if r["bits"] is None])
    ax.axhline(e0, color="gray", ls="--", label="unquantised twin (300 K noise, tau-scale error)")
    ax.set(xlabel="resistor precision (bits)", ylabel="relative error of g~ vs ideal device",
           title=f"twin natural gradient, CNN N = {model.n_params}, t = {t:g} tau, mean of {len(seeds)} batches")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    _save_png(fig, Path(out_dir) / "e_static.png")
    atomic_write_text(Path(out_dir) / "e_static.json",
                      json.dumps({"t_tau": t, "damping": PAPER["damping"], "dataset": dataset, "init": init,
                                  "rows": rows}, indent=1) + "\n")
    return rows


def _save_png(fig, path):
    """Save and close a figure atomically (never half a PNG)."""
    import io

    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    fig.savefig(buf, dpi=100, format="png")
    plt.close(fig)
    atomic_write_bytes(path, buf.getvalue())


SMOOTH = 20  # moving-average window of the plotted mini-batch loss (--smooth)


def _smooth(y, w=None):
    import numpy as np

    w = SMOOTH if w is None else w
    y = np.asarray(y, float)
    if len(y) < w:
        return y
    c = np.cumsum(np.insert(y, 0, 0.0))
    head = c[1:w] / np.arange(1, w)
    return np.concatenate([head, (c[w:] - c[:-w]) / w])


MODE_TITLES = {"paper": "paper's setting (reset when td = 0, else warm)", "reset": "reset every step",
               "warm": "warm start (Algorithm 1)"}


def label_mode(label):
    """(x0 mode, label without its mode tag): TNGD labels end in " [paper]" or " [reset]" (warm has no
    tag); other optimizers (Adam, NGD) have no device state and belong to every mode (None)."""
    for m in ("paper", "reset"):
        if label.endswith(f" [{m}]"):
            return m, label[: -len(m) - 3]
    return ("warm" if label.startswith(("tngd", "twin")) else None), label


def _curves(rs):
    """(iterations, mean, sd) of the smoothed mini-batch loss over the runs ``rs`` (seeds)."""
    import numpy as np

    n = min(len(r["loss"]) for r in rs)
    L = np.array([_smooth([np.nan if v is None else v for v in r["loss"][:n]]) for r in rs])
    return np.arange(1, n + 1), np.nanmean(L, 0), np.nanstd(L, 0)


def plot_group(group, labels, runs, out_dir, title):
    """The group's figure, shaped like the paper's: the smoothed mini-batch training loss against
    iteration (one panel per x0 mode present; Adam and NGD in each), the test accuracy against
    iteration (the first mode solid, the others dashed) and, for group a, the loss against the
    estimated runtime (the paper's Fig. 3). Lines are means over seeds, bands +- one sd. A dotted
    line marks where the moving-average window fills (before it, the mean of all iterations so far)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    modes = list(dict.fromkeys(m for m in (label_mode(lab)[0] for lab in labels) if m is not None)) or [None]
    ncol = len(modes) + 1 + (group == "a")
    fig, axes = plt.subplots(1, ncol, figsize=(5.2 * ncol, 4.2))
    bases = list(dict.fromkeys(label_mode(lab)[1] for lab in labels))
    color = {b: f"C{i}" for i, b in enumerate(bases)}
    for lab in labels:
        rs = [r for r in runs if r["label"] == lab]
        if not rs:
            continue
        mode, base = label_mode(lab)
        c = color[base]
        it, mu, sd = _curves(rs)
        for j, m in enumerate(modes):
            if mode in (m, None):
                ax = axes[j]
                ax.plot(it, mu, color=c, label=f"{base} ({len(rs)} seeds)")
                ax.fill_between(it, mu - sd, mu + sd, color=c, alpha=0.2)
        ls = "-" if mode in (None, modes[0]) else "--"
        steps = [e["step"] for e in rs[0]["eval"]]
        A = np.array([[e.get("test_accuracy") or np.nan for e in r["eval"]][:len(steps)] for r in rs], float)
        axes[len(modes)].errorbar(steps, np.nanmean(A, 0), yerr=np.nanstd(A, 0), color=c, ls=ls, marker=".", ms=4,
                                  capsize=2, label=f"{base}" + (f" [{mode}]" if mode and len(modes) > 1 else ""))
        if group == "a" and mode in (None, modes[0]):
            T = np.mean([r["runtime_estimate_s"][:len(it)] for r in rs], 0)
            axes[-1].plot(T, mu, color=c, label=base)
            axes[-1].fill_between(T, mu - sd, mu + sd, color=c, alpha=0.2)
    for j, m in enumerate(modes):
        axes[j].set(xlabel="iteration", ylabel=f"training loss (mini-batch, {SMOOTH}-step moving average)",
                    yscale="log", title=MODE_TITLES.get(m, "") if m else "")
    for j in range(len(modes)):  # before it the average runs over all iterations so far (the curve's kink)
        axes[j].axvline(SMOOTH, color="gray", ls=":", lw=1)
    axes[len(modes)].set(xlabel="iteration", ylabel="test accuracy",
                         title=("solid: " + ", dashed: ".join(m for m in modes)) if len(modes) > 1 else "")
    if group == "a":
        axes[-1].set(xlabel="runtime (s): Adam measured here; TNGD = digital part measured here\n"
                            "+ SPU model (t x 1 us, 16-bit words over 50 Gb/s)", ylabel="training loss",
                     xscale="log", yscale="log", title=MODE_TITLES.get(modes[0], "") if modes[0] else "")
    for ax in axes:
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    path = Path(out_dir) / f"{group}_{PNG[group]}.png"
    _save_png(fig, path)
    return str(path)


def loss_at(run, it, w=None):
    """The smoothed mini-batch loss at iteration ``it`` (1-based; the last if beyond the run)."""
    y = _smooth([float("nan") if v is None else v for v in run["loss"]], w)
    return float(y[min(it, len(y)) - 1])


PNG = {"a": "tngd_vs_adam", "b": "analog_time", "c": "delay", "d": "noise", "e": "twin_precision"}
TITLES = {"a": "(a) TNGD (t = 50 tau) vs Adam (paper Fig. 3)", "b": "(b) analog time t vs exact NGD (paper Fig. 4a)",
          "c": "(c) delay td at t = 5 tau (paper Fig. 4b)", "d": "(d) device noise kappa0 at t = tau (paper Fig. 7)",
          "e": "(e) factored circuit twin: resistor precision, with and without K-device mitigation"}


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--groups", default="a,b,c,d", help="comma separated subset of a,b,c,d,e (default a,b,c,d)")
    p.add_argument("--seeds", default="0,1,2")
    p.add_argument("--epochs", type=float, default=3.0, help="epochs over the training subset (default 3)")
    p.add_argument("--e-epochs", type=float, default=1.0, help="epochs for group e (default 1)")
    p.add_argument("--e-bits", default="4,6,8", help="resistor bits for group e (default 4,6,8)")
    p.add_argument("--e-k", type=int, default=4, help="devices in the mitigation ensemble for group e (default 4)")
    p.add_argument("--e-k-bits", default="4", help="bits at which group e also runs the K-device ensemble (default 4)")
    p.add_argument("--n-train", type=int, default=N_TRAIN)
    p.add_argument("--n-test", type=int, default=N_TEST)
    p.add_argument("--jobs", type=int, default=2)
    p.add_argument("--plot-only", action="store_true")
    p.add_argument("--e-static", action="store_true",
                   help="also measure the twin's natural-gradient error vs bits on one batch (e_static.json/png)")
    p.add_argument("--dataset", default="fashion-mnist", help="fashion-mnist (default) or mnist (the paper's)")
    p.add_argument("--init", default="he", choices=["he", "pytorch"], help="initial weights (pytorch: the paper's scale)")
    p.add_argument("--x0", default="warm", help="comma separated TNGD start modes, each a variant of every TNGD "
                                                "configuration of groups a-d: warm (default), reset, paper; e.g. paper,warm")
    p.add_argument("--twin-bits", type=int, default=None,
                   help="also run t = 50 tau in groups a and b on the factored circuit twin with resistors of this "
                        "many bits (300 K noise; about 2.5 s per step at N = 22,034), in the first --x0 mode")
    p.add_argument("--runs", default="all", choices=["all", "twin", "ideal"],
                   help="train only the twin runs or only the others (two sweeps side by side; default all)")
    p.add_argument("--twin-seeds", default=None, help="the seeds of the twin runs (default: --seeds)")
    p.add_argument("--smooth", type=int, default=20, help="moving-average window of the plotted mini-batch loss "
                                                          "(default 20; the paper plots 200)")
    p.add_argument("--out", default=str(Path(__file__).parent / "results" / "paper"))
    a = p.parse_args(argv)
    groups = [g.strip() for g in a.groups.split(",") if g.strip()]
    seeds = [int(s) for s in a.seeds.split(",")]
    out = Path(a.out)
    (out / "runs").mkdir(parents=True, exist_ok=True)
    x0_modes = [m.strip() for m in a.x0.split(",") if m.strip()]
    if not x0_modes or any(m not in ("warm", "reset", "paper") for m in x0_modes):
        p.error(f"--x0 takes warm, reset and paper, got {a.x0!r}")
    per_group, unique, alias = configs(groups, [int(b) for b in a.e_bits.split(",")], a.e_k,
                                [int(b) for b in a.e_k_bits.split(",") if b.strip()], x0_modes, a.twin_bits)
    from tngd.data import load_dataset

    n_avail = len(load_dataset(a.dataset, a.n_train, 1).y_train)  # MNIST has 4,000 training digits
    steps = lambda g: int(round((a.e_epochs if g == "e" else a.epochs) * n_avail / PAPER["batch_size"]))  # noqa: E731
    twin_seeds = seeds if a.twin_seeds is None else [int(s) for s in a.twin_seeds.split(",")]
    is_twin = lambda kw: kw.get("solver") == "factored"  # noqa: E731
    jobs = [(label, kw, s, steps(g), str(out), a.n_train, a.n_test, a.dataset, a.init)
            for g, label, kw in unique for s in (twin_seeds if is_twin(kw) and g != "e" else seeds)]
    if a.runs != "all":
        jobs = [j for j in jobs if is_twin(j[1]) == (a.runs == "twin")]
    # the longest (twin) runs first, then by --x0 mode (the first mode's seeds all before the second's)
    mode_rank = {m: i for i, m in enumerate(x0_modes)}
    mode = lambda kw: kw.get("x0", "warm") if kw.get("optimizer") == "tngd" else x0_modes[0]  # noqa: E731
    jobs.sort(key=lambda j: (not is_twin(j[1]), mode_rank[mode(j[1])], j[2]))
    global SMOOTH
    SMOOTH = a.smooth
    if not a.plot_only:
        os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # one BLAS thread per worker process
        from concurrent.futures import ProcessPoolExecutor, as_completed

        from tqdm.auto import tqdm

        if a.jobs == 1:  # in this process, one after the other
            for j in tqdm(jobs, desc="runs", unit="run"):
                run_one(j)
        else:
            with ProcessPoolExecutor(a.jobs) as ex:
                futs = [ex.submit(run_one, j) for j in jobs]
                for f in tqdm(as_completed(futs), total=len(futs), desc="runs", unit="run"):
                    f.result()
    if a.e_static:
        precision_table(out, seeds=seeds, dataset=a.dataset, n_train=a.n_train, init=a.init)
    runs = []  # every shown label's runs, read from the run that serves it
    for lab in dict.fromkeys(lab for _, lab, _ in per_group):
        for s in seeds:
            f = out / "runs" / _fname(alias[lab], s)
            if f.exists():
                runs.append({**json.loads(f.read_text()), "label": lab})
    old = out / "summary.json"
    summary = json.loads(old.read_text()) if old.exists() else {}  # other groups' entries are kept
    shown = [g for g in groups if any(r["label"] == lab for gg, lab, _ in per_group if gg == g for r in runs)]
    for g in shown:  # (a group without any run yet, e.g. e with --e-static only, gets no plot or entry)
        labels = [lab for gg, lab, _ in per_group if gg == g]
        summary[g] = {"title": TITLES[g], "plot": plot_group(g, labels, runs, out, TITLES[g]).split("/")[-1],
                      "configs": {}}
        for lab in labels:
            rs = [r for r in runs if r["label"] == lab]
            summary[g]["configs"][lab] = {
                "seeds": [r["seed"] for r in rs], "settings": rs[0]["settings"] if rs else None,
                **{k: [r[k] for r in rs] for k in ("train_loss", "train_accuracy", "test_loss", "test_accuracy",
                                                   "diverged", "wall_s")},
                # the paper's plotted quantity: the smoothed mini-batch loss, early (iteration EARLY) and at the end
                f"smoothed_loss_at_{EARLY}": [_round(loss_at(r, EARLY)) for r in rs],
                "smoothed_loss_end": [_round(loss_at(r, len(r["loss"]))) for r in rs],
                "ggn_top_first_last": [[r["curvature"]["ggn_top"][0], r["curvature"]["ggn_top"][-1]]
                                       if r.get("curvature") else None for r in rs],
                # the first iteration whose GGN top eigenvalue the paper's Euler step (0.1 tau) cannot take
                "euler_unstable_from": [euler_unstable_from(r) for r in rs]}
    atomic_write_text(out / "summary.json", json.dumps(summary, indent=1) + "\n")
    table = results_table(summary, shown)
    atomic_write_text(out / "table.md", table)
    print(table)
    return 0


EARLY = 200  # the "early" figure of the table: the smoothed mini-batch loss at this iteration


def euler_unstable_from(run):
    """The first iteration at which the GGN's top eigenvalue exceeds the Euler limit 2 / dt - lambda
    (dt = 0.1 tau, the paper's simulation step), None if never (or no curvature log)."""
    c = run.get("curvature")
    if not c:
        return None
    return next((i for i, top in enumerate(c["ggn_top"]) if top is not None and top > c["euler_top_limit"]), None)


def results_table(summary, groups):
    """A Markdown table of every configuration: x0 mode, seeds, smoothed mini-batch loss early and at
    the end, final train loss (the whole training set) and test accuracy, mean +- sd over seeds."""
    import numpy as np

    def ms(vals, fmt=".3f"):
        v = [x for x in vals if x is not None and np.isfinite(x)]
        if not v:
            return "n/a"
        return f"{np.mean(v):{fmt}} ± {np.std(v):{fmt}}" if len(v) > 1 else f"{v[0]:{fmt}}"

    rows = [f"| group | configuration | x0 | seeds | smoothed loss at {EARLY} | smoothed loss at end | "
            "final train loss | final test accuracy | GGN top first → last (Euler at 0.1 tau unstable from iteration) |", "|---|---|---|---|---|---|---|---|---|"]
    for g in groups:
        for lab, c in summary[g]["configs"].items():
            mode, base = label_mode(lab)
            tops = [t for t in c.get("ggn_top_first_last", []) if t]
            top = f"{np.mean([t[0] for t in tops]):.3g} → {np.mean([t[1] for t in tops]):.3g}" if tops else ""
            unstable = [u for u in c.get("euler_unstable_from", []) if u is not None]
            top += f" ({min(unstable)}–{max(unstable)})" if unstable else ""
            rows.append(f"| {g} | {base} | {mode or '-'} | {len(c['seeds'])} | {ms(c[f'smoothed_loss_at_{EARLY}'])} | "
                        f"{ms(c['smoothed_loss_end'])} | {ms(c['train_loss'])} | {ms(c['test_accuracy'])} | {top} |")
    return "\n".join(rows) + "\n"


if __name__ == "__main__":
    sys.exit(main())
