"""Sample quality against the number of velocity evaluations (NFE).

For the default chapter recipe (train_flow's defaults: 2000 steps of batch 1000 on a
1000-point ring) with independent and with minibatch-OT coupling, for the exact field,
and for the source chapter's recipe (500 steps at a constant learning rate, sampled with
500 Euler steps): MMD², energy distance and W2 against fresh data at each NFE for Euler,
midpoint and RK4, plus dopri5 at its own NFE. Medians over seeds, beside the null band (two true draws).

    python benchmarks/quality_vs_nfe.py [--quick]
"""

from __future__ import annotations

import statistics

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import torch
from common import parse_args, report, table

import fmkit as fm
from fmkit import metrics
from fmkit.solvers import EVALS_PER_STEP

NFES = [1, 2, 4, 8, 16, 32, 100]
METRICS = {"MMD²": metrics.mmd, "energy": metrics.energy_distance, "W2": metrics.wasserstein2}


def train(seed: int, n_steps: int, **kwargs) -> torch.nn.Module:
    g = torch.Generator().manual_seed(seed)
    data = fm.ring_of_gaussians(1000, generator=g)
    torch.manual_seed(seed)
    model = fm.VelocityField()
    fm.train_flow(model, data, n_steps=n_steps, generator=g, progress=False, **kwargs)
    return model


def evaluate(velocity, seed: int, n: int, configs) -> dict:
    """Scores for each (method, n_steps) on one fresh draw of base and reference points."""
    g = torch.Generator().manual_seed(10_000 + seed)
    x_0, reference = fm.sample("gaussian", n, generator=g), fm.sample("ring", n, generator=g)
    scores = {}
    for method, n_steps in configs:
        sol = fm.integrate(velocity, x_0, n_steps=n_steps, method=method)
        column = "dopri5" if method == "dopri5" else sol.nfe  # dopri5 picks its own NFE
        scores[(method, column)] = {
            "nfe": sol.nfe,
            **{k: f(sol.x, reference) for k, f in METRICS.items()},
        }
    return scores


def main() -> None:
    args = parse_args(__doc__)
    seeds, n, n_steps = (range(1), 200, 30) if args.quick else (range(3), 1000, 2000)
    configs = [(m, nfe // k) for m, k in EVALS_PER_STEP.items() for nfe in NFES if nfe % k == 0]
    configs.append(("dopri5", None))
    models = {
        "independent": lambda s: train(s, n_steps),
        "OT": lambda s: train(s, n_steps, coupling="ot"),
        "exact field": lambda s: fm.exact.ring_field(),
    }
    runs: dict[tuple, list[dict]] = {}
    for name, make in models.items():
        for s in seeds:
            for key, val in evaluate(make(s), s, n, configs).items():
                runs.setdefault((name, *key), []).append(val)
    for s in seeds:  # the source chapter's recipe, sampled as it is there
        source = train(s, n_steps // 4, lr_schedule="constant")
        for key, val in evaluate(source, s, n, [("euler", 500)]).items():
            runs.setdefault(("source chapter", *key), []).append(val)
    median = {
        k: {m: statistics.median(v[m] for v in vals) for m in ["nfe", *METRICS]}
        for k, vals in runs.items()
    }
    floor = {
        m: metrics.noise_floor(
            fm.data.ring_of_gaussians,
            f,
            n,
            n_repeats=10,
            generator=torch.Generator().manual_seed(7),
        )
        for m, f in METRICS.items()
    }

    parts = [
        f"{n} samples against {n} fresh ring points, median over {len(seeds)} seed(s). "
        f"Null band (two true draws): "
        + ", ".join(
            f"{m} median {fl.median:.4f} (p10-p90 {fl.p10:.4f}-{fl.p90:.4f})"
            for m, fl in floor.items()
        )
    ]
    order = [*models, "source chapter"]
    lines = sorted({k[:2] for k in median}, key=lambda x: (order.index(x[0]), x[1]))
    columns = [*NFES, 500, "dopri5"]

    def cell(key, metric):
        if key not in median:
            return ""
        value = f"{median[key][metric]:.4f}"
        return f"{value} ({median[key]['nfe']:.0f} NFE)" if key[2] == "dopri5" else value

    for metric in METRICS:
        rows = [
            [model, method] + [cell((model, method, c), metric) for c in columns]
            for model, method in lines
            if any((model, method, c) in median for c in columns)
        ]
        header = ["model", "method"] + [c if c == "dopri5" else f"NFE {c}" for c in columns]
        parts.append(f"### {metric}\n\n" + table(header, rows))
    report(args, "quality_vs_nfe", "Sample quality against NFE", "\n\n".join(parts))

    fig, ax = plt.subplots(figsize=(7, 4.5))
    for model, method in lines:
        pts = sorted((v["nfe"], v["MMD²"]) for k, v in median.items() if k[:2] == (model, method))
        ax.plot(*zip(*pts), marker="o", label=f"{model}, {method}")
    ax.axhspan(
        floor["MMD²"].p10, floor["MMD²"].p90, color="grey", alpha=0.3, label="null band (p10-p90)"
    )
    ax.set_xscale("log")
    ax.set_yscale("symlog", linthresh=1e-3)
    ax.set_xlabel("NFE (velocity evaluations)")
    ax.set_ylabel("MMD² to fresh data")
    ax.legend(fontsize=7, ncol=2)
    fig.tight_layout()
    fig.savefig(args.out / "quality_vs_nfe.png", dpi=120)


if __name__ == "__main__":
    main()
