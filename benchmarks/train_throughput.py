"""Training throughput: fmkit's train_flow against the source chapter's DataLoader loop.

Both train the same network on the same 1000-point ring with batch 1000. The chapter's
recipe iterates a DataLoader once per "epoch" and uses AdamW's default implementation;
train_flow indexes the data tensor directly and uses fused AdamW. Runs alternate between
the two in one process, and the medians are compared.

    python benchmarks/train_throughput.py [--quick]
"""

from __future__ import annotations

import statistics
import time

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import torch
from common import parse_args, report, table

import fmkit as fm


def chapter_recipe(data: torch.Tensor, n_steps: int, batch_size: int) -> float:
    """The source chapter's loop, rewritten: returns steps per second."""
    model = fm.VelocityField(activation="relu")  # the source chapter's network
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    loader = fm.make_loader(data, batch_size=batch_size)
    steps, start = 0, time.perf_counter()
    for _ in range(n_steps):  # one pass over 1000 points in batches of 1000 = one step
        for (x_1,) in loader:
            x_0 = torch.randn_like(x_1)
            t = torch.rand(len(x_1), 1)
            loss = torch.nn.functional.mse_loss(model((1 - t) * x_0 + t * x_1, t), x_1 - x_0)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            steps += 1
    return steps / (time.perf_counter() - start)


def fmkit_recipe(data: torch.Tensor, n_steps: int, batch_size: int) -> float:
    history = fm.train_flow(  # the same network and the same work per step as the loop above
        fm.VelocityField(activation="relu"),
        data,
        n_steps=n_steps,
        batch_size=batch_size,
        time_sampling="uniform",
        progress=False,
    )
    return history.steps_per_second


def main() -> None:
    args = parse_args(__doc__)
    n_steps, repeats = (20, 2) if args.quick else (500, 5)
    data = fm.ring_of_gaussians(1000, generator=torch.Generator().manual_seed(0))
    torch.manual_seed(0)
    results = {"source chapter (DataLoader)": [], "fmkit.train_flow": []}
    for _ in range(repeats):  # interleaved, so drifts in machine load hit both alike
        results["source chapter (DataLoader)"].append(chapter_recipe(data, n_steps, 1000))
        results["fmkit.train_flow"].append(fmkit_recipe(data, n_steps, 1000))
    medians = {k: statistics.median(v) for k, v in results.items()}
    base = medians["source chapter (DataLoader)"]
    rows = [
        [k, f"{m:.0f}", f"{min(results[k]):.0f}-{max(results[k]):.0f}", f"{m / base:.2f}x"]
        for k, m in medians.items()
    ]
    body = f"Batch 1000, {n_steps} steps, median of {repeats} interleaved runs.\n\n" + table(
        ["recipe", "steps/s (median)", "range", "speed-up"], rows
    )
    report(args, "train_throughput", "Training throughput", body)

    fig, ax = plt.subplots(figsize=(6, 3))
    for i, (k, v) in enumerate(results.items()):
        ax.scatter([i] * len(v), v, alpha=0.6)
        ax.hlines(medians[k], i - 0.2, i + 0.2, color="k")
    ax.set_xticks(range(len(results)), list(results))
    ax.set_ylabel("training steps per second")
    ax.set_xlim(-0.5, len(results) - 0.5)
    fig.tight_layout()
    fig.savefig(args.out / "train_throughput.png", dpi=120)


if __name__ == "__main__":
    main()
