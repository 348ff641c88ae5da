"""Against TorchCFM: fmkit's train_flow beside a minimal loop on TorchCFM's matchers.

Every recipe trains the same network (``fm.VelocityField()``) on the same data pool with
AdamW at the same constant learning rate, on one thread; runs of the recipes alternate
(A, B, C, A, B, C, ...) and medians are compared. From TorchCFM (v1.0.7) only the matchers
(``ConditionalFlowMatcher``, ``ExactOptimalTransportConditionalFlowMatcher``) and the data
samplers (``sample_8gaussians``, ``sample_moons``) are used; the loop around the matchers
is ours, written the way its examples train. The source chapter's DataLoader loop is the one
in ``train_throughput.py``.

1. Steps per second at batch 256, 512 and 1000, for independent pairs and OT couplings,
   with each coupling's pairing cost (mean ``|x_1 - x_0|^2``: lower is tighter).
2. Sample quality at a fixed budget (the same number of steps, and the same wall clock) on
   TorchCFM's 8 Gaussians and moons: W2 and MMD², each beside its null band.

    make bench-peers                   # installs torchcfm without its dependencies, runs this
    python benchmarks/peers.py --quick # a smoke test: runs without TorchCFM installed
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import torch
from common import parse_args, report, table
from train_throughput import chapter_recipe

import fmkit as fm

try:  # only the matchers and the samplers: the rest of TorchCFM is not needed
    from torchcfm.conditional_flow_matching import (
        ConditionalFlowMatcher,
        ExactOptimalTransportConditionalFlowMatcher,
    )
    from torchcfm.utils import sample_8gaussians, sample_moons
except ImportError:
    ConditionalFlowMatcher = None

LR = 1e-3
CHAPTER = "source chapter (DataLoader)"
Sampler = Callable[..., torch.Tensor]  # sampler(n, generator=...) -> (n, 2)


@dataclass(frozen=True)
class Sizes:
    batches: tuple[int, ...]  # training batches timed in part 1
    repeats: int  # interleaved runs per recipe and batch
    steps: dict[int, int]  # steps per timed run, independent and sub-batch OT, per batch
    full_ot_steps: dict[int, int]  # steps per timed run with one exact plan per batch
    batch: int  # part 2: training batch
    quality_steps: int  # part 2: the fixed number of steps
    quality_seconds: float  # part 2: the fixed wall clock
    seeds: int  # part 2: training seeds per recipe
    n_eval: int  # part 2: samples scored, and points per null-band draw
    pool: int  # part 2: size of the training data pool
    null_pairs: int  # part 2: pairs of true draws in each null band


FULL = Sizes(
    batches=(256, 512, 1000),
    repeats=5,
    steps={256: 100, 512: 60, 1000: 40},
    full_ot_steps={256: 20, 512: 10, 1000: 5},
    batch=256,
    quality_steps=400,
    quality_seconds=3.0,
    seeds=3,
    n_eval=1000,
    pool=20_000,
    null_pairs=10,
)
QUICK = Sizes(
    batches=(64,),
    repeats=2,
    steps={64: 8},
    full_ot_steps={64: 4},
    batch=64,
    quality_steps=20,
    quality_seconds=0.1,
    seeds=1,
    n_eval=100,
    pool=500,
    null_pairs=3,
)


@dataclass
class Run:
    seconds: float  # the training loop's own time
    loss: list[float]  # one per step
    model: torch.nn.Module

    @property
    def steps_per_second(self) -> float:
        return len(self.loss) / self.seconds

    def final_loss(self, window: int = 100) -> float:
        tail = self.loss[-window:]
        return sum(tail) / len(tail)


Trainer = Callable[..., Run]  # trainer(data, batch, seed, n_steps=... or seconds=...)


# --------------------------------------------------------------------------- the recipes


def fmkit_trainer(coupling: str, ot_sub_batch: int | None = 50) -> Trainer:
    """``fm.train_flow`` at a constant learning rate; a wall-clock budget is met by
    resuming the same run in chunks until its loop has used ``seconds`` (the time between
    chunks, spent checking arguments, is not counted: a single call would not spend it)."""

    def train(data, batch, seed, *, n_steps=None, seconds=None) -> Run:
        torch.manual_seed(seed)
        model = fm.VelocityField()
        settings = dict(
            batch_size=batch,
            lr=LR,
            lr_schedule="constant",
            time_sampling="uniform",  # as TorchCFM's matchers draw t
            coupling=coupling,
            ot_sub_batch=ot_sub_batch,
            generator=torch.Generator().manual_seed(seed),
            progress=False,
        )
        if seconds is None:
            history = fm.train_flow(model, data, n_steps=n_steps, **settings)
        else:  # chunks sized by the rate so far, so the run stops within a step of the budget
            history = fm.train_flow(model, data, n_steps=1, **settings)
            while history.seconds < seconds:
                left = (seconds - history.seconds) * history.steps_per_second
                chunk = max(1, min(50, int(left)))
                history = fm.train_flow(model, data, n_steps=chunk, resume=history, **settings)
        return Run(history.seconds, history.loss, model)

    return train


def torchcfm_trainer(make_matcher: Callable[[], object]) -> Trainer:
    """A minimal loop around one of TorchCFM's matchers, as its examples train: the
    matcher draws the times (and, for exact OT, re-pairs the batch by its plan)."""

    def train(data, batch, seed, *, n_steps=None, seconds=None) -> Run:
        torch.manual_seed(seed)  # TorchCFM draws t from torch's global generator
        np.random.seed(seed)  # and its OT pairs from NumPy's
        model = fm.VelocityField()
        matcher = make_matcher()
        optimizer = torch.optim.AdamW(model.parameters(), lr=LR)  # weight decay 0.01, as fmkit
        generator = torch.Generator().manual_seed(seed)
        loss_values: list[float] = []
        start = time.perf_counter()
        while (
            len(loss_values) < n_steps if seconds is None else time.perf_counter() - start < seconds
        ):
            x_1 = data[torch.randint(len(data), (batch,), generator=generator)]  # (batch, 2)
            x_0 = torch.randn(x_1.shape, generator=generator)  # (batch, 2)
            t, x_t, u_t = matcher.sample_location_and_conditional_flow(x_0, x_1)  # t: (batch,)
            loss = torch.mean((model(x_t, t[:, None]) - u_t) ** 2)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            loss_values.append(loss.item())
        seconds_used = time.perf_counter() - start
        model.eval()
        return Run(seconds_used, loss_values, model)

    return train


def recipes(with_torchcfm: bool) -> dict[str, tuple[str, Trainer, bool]]:
    """name -> (coupling, trainer, whether it solves one exact plan per batch)."""
    out = {
        "fmkit independent": ("independent", fmkit_trainer("independent"), False),
        "fmkit OT, sub-batch 50": ("OT", fmkit_trainer("ot", 50), False),
        "fmkit OT, full batch": ("OT", fmkit_trainer("ot", None), True),
    }
    if with_torchcfm:
        out["TorchCFM independent"] = (
            "independent",
            torchcfm_trainer(lambda: ConditionalFlowMatcher(sigma=0.0)),
            False,
        )
        out["TorchCFM exact OT"] = (
            "OT",
            torchcfm_trainer(lambda: ExactOptimalTransportConditionalFlowMatcher(sigma=0.0)),
            True,
        )
    return dict(sorted(out.items(), key=lambda kv: kv[1][0] != "independent"))


# --------------------------------------------------------------------------- data


def seeded(sample: Callable[[int], torch.Tensor]) -> Sampler:
    """One of TorchCFM's samplers (which draw from the global generators) as a sampler that
    takes ``generator=``, so null bands and pools are reproducible."""

    def draw(n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        seed = int(torch.randint(2**31 - 1, (1,), generator=generator))
        state = np.random.get_state()
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            np.random.seed(seed)
            try:
                return sample(n).float()  # (n, 2)
            finally:
                np.random.set_state(state)

    return draw


def iid_moons(n: int) -> torch.Tensor:
    """TorchCFM's moons as independent draws. ``sample_moons(n)`` itself puts its ``n`` points
    on a fixed grid of angles and only the noise is random, so two of its draws are nearly
    the same cloud and their null band is tighter than any independent sample can reach;
    ``n`` random rows of a draw 100 times larger are independent draws of the same law."""
    many = sample_moons(100 * n)  # (100 n, 2)
    return many[torch.randperm(len(many))[:n]]  # (n, 2)


def datasets(with_torchcfm: bool) -> dict[str, Sampler]:
    if with_torchcfm:
        return {"8 Gaussians": seeded(sample_8gaussians), "moons": seeded(iid_moons)}
    return {"ring (fmkit)": fm.ring_of_gaussians, "moons (fmkit)": fm.data.moons}


# --------------------------------------------------------------------------- part 1: speed


def pairing_cost(
    batch: int, sampler: Sampler, with_torchcfm: bool, n: int
) -> dict[str, tuple[float, float]]:
    """For each coupling, the mean ``|x_1 - x_0|^2`` over the pairs it makes (how tight it
    is) and the milliseconds it takes to pair one batch (medians over ``n`` batches)."""
    generator = torch.Generator().manual_seed(batch)
    couplings = {
        "independent": lambda a, b: (a, b),
        "fmkit OT, sub-batch 50": lambda a, b: fm.ot_pairing(a, b, sub_batch=50),
        "fmkit OT, full batch": lambda a, b: fm.ot_pairing(a, b, sub_batch=None),
    }
    if with_torchcfm:
        plan = ExactOptimalTransportConditionalFlowMatcher().ot_sampler
        couplings["TorchCFM exact OT"] = plan.sample_plan
    costs: dict[str, list[tuple[float, float]]] = {k: [] for k in couplings}
    for _ in range(n):
        x_0, x_1 = torch.randn(batch, 2, generator=generator), sampler(batch, generator=generator)
        for name, pair in couplings.items():
            start = time.perf_counter()
            a, b = pair(x_0, x_1)
            ms = 1000 * (time.perf_counter() - start)
            costs[name].append((float(((b - a) ** 2).sum(1).mean()), ms))
    return {
        k: (statistics.median(c for c, _ in v), statistics.median(m for _, m in v))
        for k, v in costs.items()
    }


def speed(sizes: Sizes, sampler: Sampler, with_torchcfm: bool):
    """Steps per second of every recipe at each batch, runs interleaved (the order rotates
    each round). The data pool holds four batches, so the chapter's DataLoader takes four
    full steps per pass."""
    rates: dict[tuple[int, str], list[float]] = {}
    costs: dict[int, dict[str, tuple[float, float]]] = {}
    all_recipes = recipes(with_torchcfm)
    for batch in sizes.batches:
        pool = sampler(4 * batch, generator=torch.Generator().manual_seed(batch))  # (4 batch, 2)
        costs[batch] = pairing_cost(batch, sampler, with_torchcfm, n=sizes.repeats)
        names = [*all_recipes, CHAPTER]
        for r in range(sizes.repeats):
            for name in names[r % len(names) :] + names[: r % len(names)]:
                if name == CHAPTER:
                    rate = chapter_recipe(pool, max(1, sizes.steps[batch] // 4), batch)
                else:
                    _, train, full = all_recipes[name]
                    n_steps = (sizes.full_ot_steps if full else sizes.steps)[batch]
                    rate = train(pool, batch, r, n_steps=n_steps).steps_per_second
                rates.setdefault((batch, name), []).append(rate)
            print(f"batch {batch}, round {r + 1}/{sizes.repeats} done", flush=True)
    return rates, costs


def speed_table(sizes: Sizes, rates, costs, with_torchcfm: bool) -> tuple[str, dict]:
    all_recipes = recipes(with_torchcfm)
    med = {k: statistics.median(v) for k, v in rates.items()}
    rows, ratios = [], {}
    for batch in sizes.batches:
        for name in [*all_recipes, CHAPTER]:
            coupling = "independent" if name == CHAPTER else all_recipes[name][0]
            peer = "TorchCFM independent" if coupling == "independent" else "TorchCFM exact OT"
            m = med[(batch, name)]
            vs_peer = f"{m / med[(batch, peer)]:.2f}x" if (batch, peer) in med else "-"
            vs_chapter = f"{m / med[(batch, CHAPTER)]:.2f}x" if coupling == "independent" else "-"
            ratios[(batch, name)] = (
                m / med[(batch, peer)] if (batch, peer) in med else None,
                m / med[(batch, CHAPTER)],
            )
            cost_key = "independent" if coupling == "independent" else name
            cost, ms = costs[batch].get(cost_key, (None, None))
            rows.append(
                [
                    batch,
                    name,
                    f"{m:.1f}",
                    f"{min(rates[(batch, name)]):.1f}-{max(rates[(batch, name)]):.1f}",
                    vs_peer,
                    vs_chapter,
                    f"{cost:.3f}" if cost is not None else "-",
                    f"{ms:.2f}" if ms is not None and coupling == "OT" else "-",
                ]
            )
    header = [
        "batch",
        "recipe",
        "steps/s (median)",
        "range",
        "vs TorchCFM, same coupling",
        "vs source loop",
        "pairing cost",
        "pairing ms",
    ]
    return table(header, rows), ratios


# --------------------------------------------------------------------------- part 2: quality


SOLVES = {"2 NFE": ("euler", 2), "100 NFE": ("rk4", 25)}


def score(model: torch.nn.Module, x_0: torch.Tensor, reference: torch.Tensor) -> dict[str, float]:
    """W2 and MMD² of the model's samples (from ``x_0``) against fresh data, per solve."""
    out = {}
    for label, (method, n_steps) in SOLVES.items():
        x = fm.integrate(model, x_0, n_steps=n_steps, method=method).x  # (n_eval, 2)
        out[f"W2 {label}"] = fm.metrics.wasserstein2(x, reference)
        out[f"MMD² {label}"] = fm.metrics.mmd(x, reference)
    return out


def quality(sizes: Sizes, sampler: Sampler, with_torchcfm: bool):
    """Train every recipe for a fixed number of steps and for a fixed wall clock, and score
    its samples against fresh data; the recipes alternate within each seed."""
    all_recipes = recipes(with_torchcfm)
    pool = sampler(sizes.pool, generator=torch.Generator().manual_seed(1))  # (pool, 2)
    results: dict[tuple[str, str], list[dict[str, float]]] = {}
    names = list(all_recipes)
    for seed in range(sizes.seeds):
        generator = torch.Generator().manual_seed(100 + seed)
        x_0 = torch.randn(sizes.n_eval, 2, generator=generator)  # the same start points for all
        reference = sampler(sizes.n_eval, generator=generator)  # (n_eval, 2), fresh data
        for name in names[seed % len(names) :] + names[: seed % len(names)]:
            train = all_recipes[name][1]
            for budget, kwargs in [
                ("steps", {"n_steps": sizes.quality_steps}),
                ("seconds", {"seconds": sizes.quality_seconds}),
            ]:
                run = train(pool, sizes.batch, seed, **kwargs)
                row = {"steps": len(run.loss), "seconds": run.seconds, "loss": run.final_loss()}
                row.update(score(run.model, x_0, reference))
                results.setdefault((name, budget), []).append(row)
        print(f"seed {seed + 1}/{sizes.seeds} done", flush=True)
    bands = {
        metric: fm.metrics.null_band(
            sampler,
            fn,
            sizes.n_eval,
            n_repeats=sizes.null_pairs,
            generator=torch.Generator().manual_seed(7),
        )
        for metric, fn in [("W2", fm.metrics.wasserstein2), ("MMD²", fm.metrics.mmd)]
    }
    return results, bands


def quality_table(sizes: Sizes, results, bands, with_torchcfm: bool) -> str:
    keys = ["W2 2 NFE", "W2 100 NFE", "MMD² 2 NFE", "MMD² 100 NFE"]
    rows = []
    for budget in ("steps", "seconds"):
        for name in recipes(with_torchcfm):
            runs = results[(name, budget)]
            med = {k: statistics.median(r[k] for r in runs) for k in runs[0]}
            rows.append(
                [
                    f"{sizes.quality_steps} steps"
                    if budget == "steps"
                    else f"{sizes.quality_seconds:g} s",
                    name,
                    f"{med['steps']:.0f}",
                    f"{med['seconds']:.2f}",
                    f"{med['loss']:.3f}",
                    *(f"{med[k]:.4f}" for k in keys),
                ]
            )
    for metric, band in bands.items():
        cells = [f"{band.p10:.4f} to {band.p90:.4f}"] * 2
        blank = ["", ""]
        scores = cells + blank if metric == "W2" else blank + cells
        rows.append(["null band", f"{metric}, p10-p90", "", "", "", *scores])
    header = ["budget", "recipe", "steps", "train s", "final loss", *keys]
    return table(header, rows)


# --------------------------------------------------------------------------- verdicts and plot


def verdicts(sizes: Sizes, ratios, quality_runs, with_torchcfm: bool) -> str:
    """Each target, met or not, from the numbers above."""
    lines = []
    if with_torchcfm:
        got = [f"{b}: {ratios[(b, 'fmkit independent')][0]:.2f}x" for b in sizes.batches]
        met = all(ratios[(b, "fmkit independent")][0] >= 1.0 for b in sizes.batches)
        lines.append(
            f"* At least as fast as TorchCFM per step, independent pairs: "
            f"{'met' if met else 'NOT met'} (batch {', '.join(got)})."
        )
    else:
        lines.append(
            "* TorchCFM rows skipped: the torchcfm package is not installed "
            "(`make bench-peers` installs it)."
        )
    got = [f"{b}: {ratios[(b, 'fmkit independent')][1]:.2f}x" for b in sizes.batches]
    met = all(ratios[(b, "fmkit independent")][1] >= 2.0 for b in sizes.batches)
    lines.append(
        f"* At least 2x the source chapter's loop: {'met' if met else 'NOT met'} "
        f"(batch {', '.join(got)})."
    )
    if with_torchcfm:
        for data, (results, band) in quality_runs.items():
            p90 = band["MMD²"].p90
            parts = []
            for solve in SOLVES:
                key = f"MMD² {solve}"
                ours, theirs = (
                    [r[key] for r in results[(name, "seconds")]]
                    for name in ("fmkit OT, full batch", "TorchCFM exact OT")
                )
                a, b = statistics.median(ours), statistics.median(theirs)
                verdict = "better" if a < b else "NOT better"
                inside = " (both inside the null band)" if max(a, b) <= p90 else ""
                parts.append(
                    f"{solve}: {a:.4f} vs {b:.4f} (seeds {min(ours):.4f}-{max(ours):.4f} vs "
                    f"{min(theirs):.4f}-{max(theirs):.4f}), {verdict}{inside}"
                )
            steps = [
                statistics.median(r["steps"] for r in results[(name, "seconds")])
                for name in ("fmkit OT, full batch", "TorchCFM exact OT")
            ]
            lines.append(
                f"* Better quality per second for OT at equal tightness (fmkit full-batch OT vs "
                f"TorchCFM exact OT, MMD² after {sizes.quality_seconds:g} s, in which they took "
                f"{steps[0]:.0f} and {steps[1]:.0f} steps) on {data}: " + "; ".join(parts) + "."
            )
    return "\n".join(lines)


def w2_note(bands_by_data, n_eval: int) -> str:
    spans = ", ".join(
        f"{data} {b['W2'].p10:.2f} to {b['W2'].p90:.2f} "
        f"(MMD² {b['MMD²'].p10:.4f} to {b['MMD²'].p90:.4f})"
        for data, b in bands_by_data.items()
    )
    return (
        f"W2 at {n_eval:,} points cannot rank models when its null band is wide: two true draws "
        f"already differ by W2 p10-p90 {spans}. A W2 gap between models smaller than that band "
        "says nothing; MMD² (bandwidth 0.5) is the score to rank by."
    )


def plot(path, sizes: Sizes, rates, quality_runs, with_torchcfm: bool) -> None:
    names = [*recipes(with_torchcfm), CHAPTER]
    fig, axes = plt.subplots(1, 1 + len(quality_runs), figsize=(5 * (1 + len(quality_runs)), 4))
    ax = axes[0]
    for name in names:
        med = [statistics.median(rates[(b, name)]) for b in sizes.batches]
        ax.plot(sizes.batches, med, marker="o", label=name)
    ax.set(xlabel="batch", ylabel="training steps per second", yscale="log", title="speed")
    ax.legend(fontsize=7)
    for ax, (data, (results, bands)) in zip(axes[1:], quality_runs.items(), strict=True):
        band = bands["MMD²"]
        ax.axhspan(band.p10, band.p90, color="0.85", label="null band (p10-p90)")
        for i, name in enumerate(recipes(with_torchcfm)):
            for budget, marker in (("steps", "o"), ("seconds", "s")):
                runs = results[(name, budget)]
                ax.scatter(
                    [r["seconds"] for r in runs],
                    [r["MMD² 100 NFE"] for r in runs],
                    color=f"C{i}",
                    marker=marker,
                    label=name if budget == "steps" else None,
                )
        ax.set(
            xlabel="training seconds (o: fixed steps, s: fixed wall clock)",
            ylabel="MMD², 100 NFE",
            yscale="symlog",
            title=data,
        )
        ax.set_yscale("symlog", linthresh=1e-3)
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def main() -> None:
    args = parse_args(__doc__)
    sizes = QUICK if args.quick else FULL
    with_torchcfm = ConditionalFlowMatcher is not None
    if not with_torchcfm and not args.quick:
        raise SystemExit(
            "TorchCFM is not installed: run `make bench-peers`, which installs torchcfm==1.0.7 "
            "and torchdyn with --no-deps (never a CUDA torch), or pass --quick to skip its rows."
        )
    data = datasets(with_torchcfm)
    first = next(iter(data.values()))
    rates, costs = speed(sizes, first, with_torchcfm)
    speed_md, ratios = speed_table(sizes, rates, costs, with_torchcfm)
    quality_runs = {name: quality(sizes, sampler, with_torchcfm) for name, sampler in data.items()}

    peer = (
        "TorchCFM 1.0.7"
        if with_torchcfm
        else "TorchCFM: its rows were skipped because the torchcfm package is not installed, "
        "and fmkit's own ring and moons stand in for its data"
    )
    parts = [
        f"Against {peer}. Network fm.VelocityField() for every recipe; AdamW, lr {LR:g}, "
        "constant; one thread. The TorchCFM recipes are a minimal loop of ours around its "
        "matcher with torch.optim.AdamW's default implementation; fmkit's train_flow uses "
        "the fused one.",
        f"### Steps per second\n\nData: {next(iter(data))}, a pool of four batches. "
        f"Median of {sizes.repeats} interleaved runs; steps per run "
        f"{', '.join(f'{s} at batch {b}' for b, s in sizes.steps.items())} (exact full-batch "
        f"OT: {', '.join(f'{s} at batch {b}' for b, s in sizes.full_ot_steps.items())}). "
        "Pairing cost: mean |x_1 - x_0|² of the pairs each coupling makes (lower is tighter); "
        "pairing ms: time to pair one batch, outside training; both medians over "
        f"{sizes.repeats} batches.\n\n" + speed_md,
    ]
    for name, (results, bands) in quality_runs.items():
        parts.append(
            f"### Quality on {name}\n\nBatch {sizes.batch}, data pool of {sizes.pool:,}; "
            f"median of {sizes.seeds} seed(s). Each recipe trains for {sizes.quality_steps} "
            f"steps, and again for {sizes.quality_seconds:g} s of training loop; final loss is "
            f"the mean of the last 100 steps' loss. Scores: {sizes.n_eval:,} samples from the "
            f"same start points against {sizes.n_eval:,} fresh data points; 2 NFE is Euler, "
            f"100 NFE is RK4 with 25 steps. Null band: {sizes.null_pairs} pairs of two true draws.\n\n"
            + quality_table(sizes, results, bands, with_torchcfm)
        )
    parts.append(w2_note({k: v[1] for k, v in quality_runs.items()}, sizes.n_eval))
    parts.append("### Targets\n\n" + verdicts(sizes, ratios, quality_runs, with_torchcfm))
    report(args, "peers", "Against TorchCFM", "\n\n".join(parts))
    plot(args.out / "peers.png", sizes, rates, quality_runs, with_torchcfm)


if __name__ == "__main__":
    main()
