"""What the chapters' default recipes cost: wall time to train and to sample.

python benchmarks/recipe_cost.py [--quick]
"""

from __future__ import annotations

import time

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import torch
from common import parse_args, report, table

import fmkit as fm


def timed(fn):
    start = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - start


def main() -> None:
    args = parse_args(__doc__)
    n_steps = 30 if args.quick else 2000
    g = torch.Generator().manual_seed(0)
    data = fm.ring_of_gaussians(1000, generator=g)
    rows = []
    for coupling in ("independent", "ot"):
        torch.manual_seed(0)
        model = fm.VelocityField()
        history, seconds = timed(
            lambda model=model, coupling=coupling: fm.train_flow(
                model, data, n_steps=n_steps, coupling=coupling, generator=g, progress=False
            )
        )
        rows.append(
            [f"train, {coupling} coupling", f"{n_steps} steps x batch 1000", f"{seconds:.2f}"]
        )
    x_0 = fm.sample("gaussian", 1000, generator=g)
    for method, steps, keep in [
        ("euler", 8, False),
        ("midpoint", 4, False),
        ("rk4", 25, False),
        ("euler", 100, True),
        ("dopri5", None, False),
    ]:
        sol, seconds = timed(
            lambda steps=steps, method=method, keep=keep: fm.integrate(
                model, x_0, n_steps=steps, method=method, return_trajectory=keep
            )
        )
        what = f"1000 samples, {sol.nfe} NFE" + (", whole trajectory" if keep else "")
        rows.append([f"sample, {method}", what, f"{seconds:.3f}"])
    report(
        args, "recipe_cost", "Cost of the default recipes", table(["task", "size", "seconds"], rows)
    )

    fig, ax = plt.subplots(figsize=(6, 3))
    ax.barh([r[0] for r in rows], [float(r[2]) for r in rows])
    ax.set_xscale("log")
    ax.set_xlabel("seconds")
    fig.tight_layout()
    fig.savefig(args.out / "recipe_cost.png", dpi=120)


if __name__ == "__main__":
    main()
