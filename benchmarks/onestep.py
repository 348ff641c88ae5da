"""Sampling in one, two and four network evaluations: flows and their solvers against
learned flow maps (fmkit.onestep).

For each method, trained on 1000 points of the target (the ring, and the checkerboard as a
harder one): MMD² of 1000 samples against 1000 fresh points at 1, 2 and 4 NFE, median over
seeds, beside the null band (two true draws), and the seconds its own training took (a
teacher's training counted apart). Flows are sampled with Euler (1, 2, 4 NFE) and midpoint
(2, 4 NFE); flow maps with 1, 2 and 4 jumps of fmkit.onestep.map_sample.

    python benchmarks/onestep.py [--quick]
"""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import torch
from common import parse_args, report, table

import fmkit as fm
from fmkit import metrics, onestep

NFES = (1, 2, 4)
TARGETS = ("ring", "checkerboard")

# The recipes the chapter uses: each trainer's keyword arguments. Every flow map is a
# default fm.onestep.TwoTimeField() (ReLU and SiLU were tried: ReLU trained as well or better).
FLOW = dict(n_steps=2000)  # the course's default flow (chapters 2-4)
REFLOW = dict(n_pairs=5000, pair_steps=32, n_steps=2000)  # chapter 4's reflow
DISTIL = dict(n_pairs=10_000, teacher_steps=32, map_steps=(1, 2, 4), n_steps=500, lr=1e-2)
SHORTCUT = dict(coupling="ot", batch_size=500, n_steps=1500, lr=1e-2)
MEANFLOW = dict(coupling="ot", n_steps=500, lr=5e-3)  # and equal_fraction=0.25, loss_power=1


@dataclass
class Trained:
    model: torch.nn.Module
    kind: str  # "flow" (a velocity, solved) or "map" (a two-time network, jumped)
    wall: float  # seconds of its own training, pairs included
    cpu: float
    teacher_wall: float = 0.0  # seconds the teacher it learned from took to train
    teacher_cpu: float = 0.0


def timed(train) -> tuple[float, float]:
    """Wall-clock and CPU seconds of ``train()``: on a shared machine the CPU time is close
    to what one idle core would take."""
    wall, cpu = time.perf_counter(), time.process_time()
    train()
    return time.perf_counter() - wall, time.process_time() - cpu


def flow(data, g, **kwargs) -> Trained:
    model = fm.VelocityField()
    return Trained(
        model,
        "flow",
        *timed(lambda: fm.train_flow(model, data, generator=g, progress=False, **kwargs)),
    )


def reflow(teacher: Trained, g, *, n_pairs, pair_steps, n_steps) -> Trained:
    model = fm.VelocityField()

    def train():
        x_0, x_1 = fm.reflow_pairs(teacher.model, n_pairs, n_steps=pair_steps, generator=g)
        fm.train_on_pairs(model, x_0, x_1, n_steps=n_steps, generator=g, progress=False)

    return Trained(model, "flow", *timed(train), teacher.wall, teacher.cpu)


def flow_map(trainer, source, g, recipe: dict, teacher: Trained | None = None) -> Trained:
    model = onestep.TwoTimeField()
    wall, cpu = timed(lambda: trainer(model, source, generator=g, progress=False, **recipe))
    if teacher is None:
        return Trained(model, "map", wall, cpu)
    return Trained(model, "map", wall, cpu, teacher.wall, teacher.cpu)


def train_all(target: str, seed: int, quick: bool) -> dict[str, Trained]:
    """Every method, trained on 1000 points of ``target`` (200 and 20 steps with --quick)."""
    g = torch.Generator().manual_seed(seed)
    data = fm.sample(target, 200 if quick else 1000, generator=g)

    def scale(recipe: dict) -> dict:
        tiny = {"n_steps": 20} | ({"n_pairs": 500} if "n_pairs" in recipe else {})
        return recipe | tiny if quick else recipe

    torch.manual_seed(seed)
    teacher = flow(data, g, **scale(FLOW))
    out = {"flow": teacher, "flow, OT coupling": flow(data, g, coupling="ot", **scale(FLOW))}
    out["reflow (flow teacher)"] = reflow(teacher, g, **scale(REFLOW))
    distil = onestep.train_distillation
    if target == "ring":  # the exact field is the ring's only
        exact = fm.exact.ring_field()
        out["distillation (exact field)"] = flow_map(distil, exact, g, scale(DISTIL))
    out["distillation (flow teacher)"] = flow_map(distil, teacher.model, g, scale(DISTIL), teacher)
    out["shortcut"] = flow_map(onestep.train_shortcut, data, g, scale(SHORTCUT))
    out["MeanFlow"] = flow_map(onestep.train_meanflow, data, g, scale(MEANFLOW))
    return out


def sample(trained: Trained, x_0: torch.Tensor, nfe: int, method: str) -> torch.Tensor:
    if trained.kind == "map":
        return onestep.map_sample(trained.model, x_0, n_steps=nfe).x
    per_step = 2 if method == "midpoint" else 1
    return fm.integrate(trained.model, x_0, n_steps=nfe // per_step, method=method).x


def samplers(kind: str) -> list[tuple[str, int]]:
    """(sampler, NFE) pairs: jumps for a map; Euler, and midpoint at even NFE, for a flow."""
    if kind == "map":
        return [("map", k) for k in NFES]
    return [("euler", k) for k in NFES] + [("midpoint", k) for k in NFES if k % 2 == 0]


def warm_up() -> None:
    """One tiny run of each kind first, so no timed run pays for first-call set-up."""
    g = torch.Generator().manual_seed(0)
    data = fm.ring_of_gaussians(100, generator=g)
    fm.train_flow(fm.VelocityField(), data, n_steps=5, generator=g, progress=False)
    onestep.train_meanflow(
        onestep.TwoTimeField(), data, n_steps=5, coupling="ot", generator=g, progress=False
    )


def main() -> None:
    args = parse_args(__doc__)
    seeds, n, repeats = (range(1), 200, 5) if args.quick else (range(3), 1000, 200)
    warm_up()
    scores: dict[tuple, list[float]] = {}  # (target, method, sampler, nfe) -> per seed
    runs: dict[tuple, list[Trained]] = {}  # (target, method) -> per seed
    one_step = {}
    for target in TARGETS:
        for seed in seeds:
            g = torch.Generator().manual_seed(10_000 + seed)
            x_0, reference = (
                fm.sample("gaussian", n, generator=g),
                fm.sample(target, n, generator=g),
            )
            for name, trained in train_all(target, seed, args.quick).items():
                runs.setdefault((target, name), []).append(trained)
                for sampler, nfe in samplers(trained.kind):
                    x = sample(trained, x_0, nfe, sampler)
                    scores.setdefault((target, name, sampler, nfe), []).append(
                        metrics.mmd(x, reference)
                    )
                    if (target, seed, nfe, sampler) == ("ring", 0, 1, samplers(trained.kind)[0][0]):
                        one_step[name] = x
    band = {
        target: metrics.null_band(
            fm.data.get_sampler(target),
            metrics.mmd,
            n,
            n_repeats=repeats,
            generator=torch.Generator().manual_seed(7),
        )
        for target in TARGETS
    }
    median = {key: statistics.median(values) for key, values in scores.items()}
    write_tables(args, median, runs, band, len(seeds), n)
    plot(args, median, runs, band, one_step)


def write_tables(args, median, runs, band, n_seeds: int, n: int) -> None:
    parts = [
        f"{n} samples against {n} fresh points, MMD² (bandwidth 0.5), median over {n_seeds} "
        f"seed(s); each model trained on {n} points of the target. Seconds: the method's own "
        "training (teacher pairs included), median over seeds, wall clock and CPU time (on "
        "a shared machine the CPU time is the closer to an idle core), and the CPU time as "
        "a multiple of the default flow's in the same run; the teacher's own training is "
        f"counted apart. Null band (MMD² between two true draws, {repeats(band)} "
        "pairs): "
        + ", ".join(
            f"{t} p10 {b.p10:.4f}, median {b.median:.4f}, p90 {b.p90:.4f}" for t, b in band.items()
        )
        + ".",
        "Recipes (keyword arguments; every flow map is a default "
        "`fm.onestep.TwoTimeField()`): "
        f"flow `train_flow({fmt(FLOW)})`; reflow `reflow_pairs` then `train_on_pairs` "
        f"({fmt(REFLOW)}); distillation `train_distillation({fmt(DISTIL)})`; shortcut "
        f"`train_shortcut({fmt(SHORTCUT)})`; MeanFlow `train_meanflow({fmt(MEANFLOW)})`.",
    ]
    header = [
        "method",
        "sampler",
        *(f"NFE {k}" for k in NFES),
        "train s",
        "CPU s",
        "CPU vs flow",
        "teacher CPU s",
    ]
    for target in TARGETS:
        rows = []
        unit = statistics.median(r.cpu for r in runs[(target, "flow")])
        for (t, name), trained in runs.items():
            if t != target:
                continue
            wall = statistics.median(r.wall for r in trained)
            cpu = statistics.median(r.cpu for r in trained)
            teacher = statistics.median(r.teacher_cpu for r in trained)
            times = [
                f"{wall:.1f}",
                f"{cpu:.1f}",
                f"{cpu / unit:.2f}x",
                f"{teacher:.1f}" if teacher else "",
            ]
            for sampler in dict.fromkeys(s for s, _ in samplers(trained[0].kind)):
                cells = [
                    f"{median[key]:.4f}" if (key := (target, name, sampler, k)) in median else ""
                    for k in NFES
                ]
                rows.append([name, sampler, *cells, *times])
        parts.append(f"### {target}\n\n" + table(header, rows))
    report(args, "onestep", "One-step sampling", "\n\n".join(parts))


def repeats(band: dict) -> int:
    return len(next(iter(band.values())).values)


def fmt(kwargs: dict) -> str:
    return ", ".join(f"{k}={v!r}" for k, v in kwargs.items())


def plot(args, median, runs, band, one_step) -> None:
    fig = plt.figure(figsize=(14, 8))
    grid = fig.add_gridspec(2, len(one_step), height_ratios=[2.2, 1])
    half = len(one_step) // 2
    for i, target in enumerate(TARGETS):
        ax = fig.add_subplot(grid[0, i * half : (i + 1) * half])
        for t, name in runs:
            if t != target:
                continue
            for sampler in ("euler", "midpoint", "map"):
                keys = [(t, name, sampler, k) for k in NFES]
                pts = [(key[3], median[key]) for key in keys if key in median]
                if pts:
                    ax.plot(*zip(*pts), marker="o", label=f"{name}, {sampler}")
        ax.axhspan(band[target].p10, band[target].p90, color="grey", alpha=0.3, label="null band")
        ax.set_xscale("log", base=2)
        ax.set_xticks(NFES, [str(k) for k in NFES])
        ax.set_yscale("symlog", linthresh=1e-3)
        ax.set_xlabel("NFE (network evaluations)")
        ax.set_ylabel("MMD² to fresh data")
        ax.set_title(target)
        ax.legend(fontsize=6, ncol=2)
    for j, (name, x) in enumerate(one_step.items()):
        ax = fig.add_subplot(grid[1, j])
        ax.scatter(*x.T, s=1, alpha=0.4)
        ax.set(xlim=(-4.5, 4.5), ylim=(-4.5, 4.5), xticks=[], yticks=[], aspect="equal")
        ax.set_title(f"{name}\n1 NFE (ring)", fontsize=7)
    fig.tight_layout()
    fig.savefig(args.out / "onestep.png", dpi=120)


if __name__ == "__main__":
    main()
