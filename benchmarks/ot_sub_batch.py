"""OT sub-batch size: how tight a coupling is against what it costs per training step.

Four parts, all on one thread:

1. The exact solvers: SciPy's ``linear_sum_assignment`` against POT's ``ot.emd`` on square
   cost matrices of 32 to 1000 points (Gaussian noise against ring points, as in training,
   and two Gaussian clouds); median of several runs, the two solvers alternating. The
   crossover is the smallest size from which POT is faster at every larger size.
2. One minibatch-OT pairing of a batch of 1000 for each sub-batch size, with fmkit's shipped
   threshold and with the crossover measured in part 1.
3. The chapters' default recipe (train_flow's defaults: 2000 steps of batch 1000 on a
   1000-point ring, fm.VelocityField()) with independent pairs and with OT in sub-batches
   of 50, 128, 256 and the whole batch, each solved by the faster solver (part 1). Per run:
   seconds per step (the settings alternate within each seed, and each run's step time is
   divided by the independent run's in the same round), the final training loss (tighter
   couplings leave less to average, so a lower loss), the straightness of a 32-step Euler
   solve, and MMD² of 1000 samples against 1000 fresh ring points at 1, 2 and 4 NFE.
   Medians over seeds, beside the MMD² null band (two true draws, 200 pairs).
4. Equal wall-clock budgets: every setting trains for as long as 2000 independent steps
   took in part 3, and for three times that (slower settings take fewer steps), then MMD²
   at 1 and 2 NFE.

    python benchmarks/ot_sub_batch.py [--quick]
"""

from __future__ import annotations

import statistics
import sys
import time
from collections.abc import Callable

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import ot
import torch
from common import parse_args, report, table
from scipy.optimize import linear_sum_assignment

import fmkit as fm
from fmkit import metrics

SHIPPED_POT_ABOVE = fm.paths.POT_ABOVE
SETTINGS: dict[str, tuple[str, int | None]] = {  # name: (coupling, ot_sub_batch)
    "independent": ("independent", None),
    "OT, sub-batch 50": ("ot", 50),
    "OT, sub-batch 128": ("ot", 128),
    "OT, sub-batch 256": ("ot", 256),
    "OT, full batch": ("ot", None),
}
# (label, method, solver steps): Euler at 1, 2, 4 NFE and midpoint at 2 and 4 NFE.
SOLVES = [
    ("Euler 1", "euler", 1),
    ("Euler 2", "euler", 2),
    ("Euler 4", "euler", 4),
    ("midpoint 2", "midpoint", 1),
    ("midpoint 4", "midpoint", 2),
]
BATCH = 1000
BUDGETS = (1, 3)  # equal wall-clock budgets, in multiples of the independent default's time


# --------------------------------------------------------------------------- 1. the two solvers


def _seconds(fn: Callable[..., object], *args, **kwargs) -> float:
    start = time.perf_counter()
    fn(*args, **kwargs)
    return time.perf_counter() - start


def _scipy(cost: np.ndarray) -> np.ndarray:
    return linear_sum_assignment(cost)[1]


def _pot(cost: np.ndarray) -> np.ndarray:
    weights = np.full(len(cost), 1.0 / len(cost))
    return ot.emd(weights, weights, cost).argmax(axis=1)


def _cost(n: int, kind: str, ring: torch.Tensor, g: torch.Generator) -> np.ndarray:
    """Squared distances ``(n, n)`` from n noise points to n ring points drawn with
    replacement (what training solves), or between two Gaussian clouds."""
    x_0 = torch.randn(n, 2, generator=g, dtype=torch.float64)
    if kind == "ring":
        x_1 = ring[torch.randint(len(ring), (n,), generator=g)].double()
    else:
        x_1 = torch.randn(n, 2, generator=g, dtype=torch.float64)
    return (torch.cdist(x_1, x_0) ** 2).numpy()


def time_solvers(sizes: list[int], repeats: int) -> dict[tuple[str, int], tuple[float, float]]:
    """Median seconds (SciPy, POT) per solve for each (cloud kind, size)."""
    g = torch.Generator().manual_seed(0)
    ring = fm.ring_of_gaussians(1000, generator=g)
    out = {}
    for kind in ("ring", "gaussian"):
        for n in sizes:
            scipy_s, pot_s = [], []
            for r in range(repeats if n <= 256 else max(3, repeats // 2)):
                cost = _cost(n, kind, ring, g)
                pair = [(scipy_s, _scipy), (pot_s, _pot)]
                for times, solve in pair if r % 2 else pair[::-1]:  # alternate who goes first
                    times.append(_seconds(solve, cost))
            out[(kind, n)] = (statistics.median(scipy_s), statistics.median(pot_s))
    return out


def crossover(solver_times: dict, sizes: list[int]) -> int | None:
    """The smallest size from which POT is faster at every larger size (training clouds)."""
    faster = [solver_times[("ring", n)][1] < solver_times[("ring", n)][0] for n in sizes]
    for i in range(len(sizes)):
        if all(faster[i:]):
            return sizes[i]
    return None


# --------------------------------------------------------------------------- 2. one pairing


def time_pairings(pot_above: dict[str, int], repeats: int) -> dict[tuple[str, str], float]:
    """Median seconds of one ot_pairing of a batch of 1000, per (setting, threshold name)."""
    g = torch.Generator().manual_seed(1)
    ring = fm.ring_of_gaussians(1000, generator=g)
    times: dict[tuple[str, str], list[float]] = {}
    for _ in range(repeats):
        for name, (coupling, sub_batch) in SETTINGS.items():
            if coupling != "ot":
                continue
            x_0 = torch.randn(BATCH, 2, generator=g)
            x_1 = ring[torch.randint(len(ring), (BATCH,), generator=g)]
            for which, threshold in pot_above.items():
                fm.paths.POT_ABOVE = threshold
                seconds = _seconds(fm.paths.ot_pairing, x_0, x_1, sub_batch=sub_batch)
                times.setdefault((name, which), []).append(seconds)
    return {k: statistics.median(v) for k, v in times.items()}


# --------------------------------------------------------------------------- 3. and 4. training


def train(name: str, seed: int, n_steps: int) -> tuple[torch.nn.Module, fm.History]:
    coupling, sub_batch = SETTINGS[name]
    g = torch.Generator().manual_seed(seed)
    data = fm.ring_of_gaussians(1000, generator=g)
    torch.manual_seed(seed)
    model = fm.VelocityField()
    extra = {"ot_sub_batch": sub_batch} if coupling == "ot" else {}
    history = fm.train_flow(
        model, data, n_steps=n_steps, coupling=coupling, generator=g, progress=False, **extra
    )
    return model, history


def score(model: torch.nn.Module, seed: int, n: int, solves, straightness: bool) -> dict:
    """MMD² of n samples (one shared draw of base points per seed) against n fresh ring
    points; with ``straightness`` also a 32-step Euler solve's straightness and MMD²."""
    reference = fm.ring_of_gaussians(n, generator=torch.Generator().manual_seed(20_000 + seed))
    out = {}
    for label, method, steps in solves:
        g = torch.Generator().manual_seed(10_000 + seed)
        x = fm.generate(model, n, n_steps=steps, method=method, generator=g)
        out[label] = metrics.mmd(x, reference)
    if straightness:
        x_0 = fm.sample("gaussian", n, generator=torch.Generator().manual_seed(10_000 + seed))
        sol = fm.integrate(model, x_0, n_steps=32, method="euler", return_trajectory=True)
        out["straightness"] = metrics.straightness(sol)
        out["Euler 32"] = metrics.mmd(sol.x, reference)
    return out


def solver_used(sub_batch: int | None, pot_above: int) -> str:
    size = BATCH if sub_batch is None else sub_batch
    return "POT" if size > pot_above else "SciPy"


def main() -> None:
    args = parse_args(__doc__)
    if args.quick:
        sizes, solver_repeats, pair_repeats = [32, 64], 2, 2
        seeds, n, n_steps, null_repeats = range(1), 200, 20, 5
    else:
        sizes, solver_repeats = [32, 50, 64, 100, 128, 200, 256, 384, 512, 768, 1000], 15
        pair_repeats, seeds, n, n_steps, null_repeats = 9, range(5), 1000, 2000, 200

    # 1. Which exact solver is faster at which size.
    solver_times = time_solvers(sizes, solver_repeats)
    cross = crossover(solver_times, sizes)
    # ot_pairing uses POT for chunks of more than POT_ABOVE points: set it just below the
    # measured crossover (the shipped value if POT never won).
    if cross is None:
        fastest_above = SHIPPED_POT_ABOVE
    else:
        below = [s for s in sizes if s < cross]
        fastest_above = below[-1] if below else cross - 1
    rows = []
    for n_points in sizes:
        row = [n_points]
        for kind in ("ring", "gaussian"):
            scipy_s, pot_s = solver_times[(kind, n_points)]
            row += [f"{scipy_s * 1e3:.3f}", f"{pot_s * 1e3:.3f}", f"{pot_s / scipy_s:.2f}"]
        rows.append(row)
    parts = [
        "### The exact solvers\n\n"
        "Milliseconds per solve of an n x n squared-distance cost, median of "
        f"{solver_repeats} runs up to 256 points and {max(3, solver_repeats // 2)} above, "
        "the solvers alternating. *noise to ring*: n Gaussian points against n ring points "
        "drawn with replacement, as a training batch; *two Gaussians*: two standard normal "
        + (
            f"clouds. POT is faster on training clouds from **{cross}** points up "
            if cross
            else "clouds. POT is faster on training clouds at no size measured "
        )
        + f"(fmkit ships POT above {SHIPPED_POT_ABOVE}); the runs below use POT above "
        f"{fastest_above}.\n\n"
        + table(
            [
                "points",
                "SciPy ms (noise to ring)",
                "POT ms",
                "POT / SciPy",
                "SciPy ms (two Gaussians)",
                "POT ms",
                "POT / SciPy",
            ],
            rows,
        )
    ]

    # 2. What one pairing of a training batch costs, with each threshold.
    thresholds = {"shipped": SHIPPED_POT_ABOVE, "measured": fastest_above}
    pairing = time_pairings(thresholds, pair_repeats)
    rows = [
        [
            name,
            f"{pairing[(name, 'shipped')] * 1e3:.1f} ({solver_used(sb, SHIPPED_POT_ABOVE)})",
            f"{pairing[(name, 'measured')] * 1e3:.1f} ({solver_used(sb, fastest_above)})",
            f"{pairing[(name, 'shipped')] / pairing[(name, 'measured')]:.2f}x",
        ]
        for name, (coupling, sb) in SETTINGS.items()
        if coupling == "ot"
    ]
    parts.append(
        f"### One OT pairing of a batch of {BATCH}\n\n"
        f"Milliseconds per `fm.paths.ot_pairing` call, median of {pair_repeats} interleaved "
        "runs, with fmkit's shipped threshold and with the measured one.\n\n"
        + table(
            [
                "coupling",
                f"ms, POT above {SHIPPED_POT_ABOVE} (shipped)",
                f"ms, POT above {fastest_above} (measured)",
                "speed-up",
            ],
            rows,
        )
    )
    fm.paths.POT_ABOVE = fastest_above  # the fastest exact solver at each size, from here on

    # 3. Quality, tightness and cost at the default 2000 steps, settings interleaved per seed.
    runs: dict[str, list[dict]] = {name: [] for name in SETTINGS}
    for seed in seeds:
        for name in SETTINGS:
            model, history = train(name, seed, n_steps)
            runs[name].append(
                {
                    "seconds": history.seconds,
                    "step": history.seconds / history.n_steps,
                    "loss": history.final_loss(),
                    **score(model, seed, n, SOLVES, straightness=True),
                }
            )
            print(f"seed {seed}, {name}: {runs[name][-1]}", file=sys.stderr, flush=True)
    for name in SETTINGS:  # each run's step time over the independent run's in its round
        for run, base in zip(runs[name], runs["independent"], strict=True):
            run["ratio"] = run["step"] / base["step"]
    med = {
        name: {k: statistics.median(r[k] for r in rs) for k in rs[0]} for name, rs in runs.items()
    }
    band = metrics.null_band(
        fm.ring_of_gaussians,
        metrics.mmd,
        n,
        n_repeats=null_repeats,
        generator=torch.Generator().manual_seed(7),
    )
    labels = [label for label, _, _ in SOLVES] + ["Euler 32"]
    rows = [
        [
            name,
            "-"
            if SETTINGS[name][0] == "independent"
            else solver_used(SETTINGS[name][1], fastest_above),
            f"{m['step'] * 1e3:.1f}",
            f"{m['ratio']:.2f}x",
            f"{m['seconds']:.1f}",
            f"{m['loss']:.3f}",
            f"{m['straightness']:.4f}",
            *(f"{m[label]:.4f}" for label in labels),
        ]
        for name, m in med.items()
    ]
    parts.append(
        f"### Default recipe ({n_steps} steps, batch {BATCH})\n\n"
        f"Medians over {len(seeds)} seed(s); the settings alternate within each seed. "
        "*x independent*: each run's step time over the independent run's in the same round. "
        "*final loss*: mean training loss of the last 100 steps (lower: tighter pairs). "
        "*straightness*: 0 for straight paths (32-step Euler solve). MMD² of "
        f"{n} samples against {n} fresh ring points; *midpoint 2* is one midpoint step "
        f"(2 NFE). MMD² null band ({null_repeats} pairs of true draws): median "
        f"{band.median:.4f}, p10-p90 {band.p10:.4f} to {band.p90:.4f}.\n\n"
        + table(
            [
                "coupling",
                "solver",
                "ms/step",
                "x independent",
                "train s",
                "final loss",
                "straightness",
                *(f"MMD² {label} NFE" if " " in label else label for label in labels),
            ],
            rows,
        )
    )

    # 4. Equal wall-clock budgets, in multiples of the independent default's training time:
    # each setting takes as many steps as fit at its step-time ratio (measured under the
    # same load as the independent runs, unlike the absolute seconds).
    equal_solves = SOLVES[:2] + SOLVES[3:4]  # Euler 1, Euler 2, midpoint 2 (NFE 1 and 2)
    eq_med: dict[tuple[int, str], dict] = {}
    steps_for: dict[tuple[int, str], int] = {}
    for factor in BUDGETS:
        equal: dict[str, list[dict]] = {name: [] for name in SETTINGS}
        for name, m in med.items():
            steps_for[(factor, name)] = max(1, round(factor * n_steps / m["ratio"]))
        for i, seed in enumerate(seeds):
            for name in SETTINGS:
                if steps_for[(factor, name)] == n_steps:  # the default run above already is it
                    equal[name].append(runs[name][i])
                    continue
                model, history = train(name, seed, steps_for[(factor, name)])
                equal[name].append(
                    {"seconds": history.seconds, **score(model, seed, n, equal_solves, False)}
                )
                print(f"{factor}x, seed {seed}, {name}: {equal[name][-1]}", file=sys.stderr)
        for name, rs in equal.items():
            keys = ("seconds", *(label for label, _, _ in equal_solves))
            eq_med[(factor, name)] = {k: statistics.median(r[k] for r in rs) for k in keys}
    base = med["independent"]["seconds"]
    rows = [
        [
            f"{factor}x ({factor * base:.1f} s)",
            name,
            steps_for[(factor, name)],
            f"{m['seconds']:.1f}",
            *(f"{m[label]:.4f}" for label, _, _ in equal_solves),
        ]
        for (factor, name), m in eq_med.items()
    ]
    parts.append(
        "### Equal wall-clock budgets\n\n"
        "Budgets in multiples of the independent default's training time. Each setting takes "
        "as many steps as fit at its median step-time ratio above (the cosine schedule spans "
        "those steps); *train s* is what those steps took in this phase, which differs from "
        "the budget when the machine's load changed between phases. Medians over "
        f"{len(seeds)} seed(s).\n\n"
        + table(
            [
                "budget",
                "coupling",
                "steps",
                "train s",
                *(f"MMD² {label} NFE" for label, _, _ in equal_solves),
            ],
            rows,
        )
    )
    report(args, "ot_sub_batch", "OT sub-batch size: tightness against cost", "\n\n".join(parts))
    plot(args.out / "ot_sub_batch.png", med, eq_med, band, equal_solves, n_steps)


def plot(path, med: dict, eq_med: dict, band: metrics.NullBand, equal_solves, n_steps: int) -> None:
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.2), sharey=True)
    names = list(med)
    ticks = range(len(names))
    short = [name.replace("OT, ", "").replace("sub-batch ", "OT ") for name in names]
    for label in ("Euler 1", "Euler 2", "Euler 4", "midpoint 4"):
        left.plot(ticks, [med[name][label] for name in names], marker="o", label=label)
    left.set_xticks(ticks, [f"{s}\n{med[n]['ratio']:.1f}x per step" for s, n in zip(short, names)])
    left.set_title(f"{n_steps} training steps each", fontsize=10)
    for factor, style in zip(BUDGETS, ["-", "--", ":"]):
        for colour, (label, _, _) in enumerate(equal_solves):
            right.plot(
                ticks,
                [eq_med[(factor, name)][label] for name in names],
                marker="o",
                linestyle=style,
                color=f"C{colour}",
                label=f"{label}, {factor}x budget",
            )
    right.set_xticks(ticks, short)
    right.set_title("Equal budgets (multiples of the independent run's time)", fontsize=10)
    for ax in (left, right):
        ax.tick_params(axis="x", labelsize=8)
        ax.axhspan(band.p10, band.p90, color="grey", alpha=0.3, label="null band (p10-p90)")
        ax.set_yscale("symlog", linthresh=1e-3)
        ax.legend(fontsize=7)
    left.set_ylabel("MMD² to fresh data")
    fig.tight_layout()
    fig.savefig(path, dpi=120)


if __name__ == "__main__":
    main()
