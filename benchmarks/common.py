"""Shared plumbing for the benchmark scripts: arguments, output folder, markdown tables."""

from __future__ import annotations

import argparse
import os
import pathlib
import platform
import time

import torch


def parse_args(description: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument(
        "--quick", action="store_true", help="tiny sizes: a smoke test, not a measurement"
    )
    parser.add_argument(
        "--out",
        type=pathlib.Path,
        default=pathlib.Path(__file__).parent / "output",
        help="folder for the table (.md) and the plot (.png)",
    )
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "1")))
    return args


def machine() -> str:
    return (
        f"{time.strftime('%Y-%m-%d')}, {platform.machine()}, {os.cpu_count()} cores, "
        f"torch {torch.__version__}, {torch.get_num_threads()} thread(s)"
    )


def table(header: list[str], rows: list[list]) -> str:
    def cell(v):
        return f"{v:.4g}" if isinstance(v, float) else str(v)

    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def report(args: argparse.Namespace, name: str, title: str, body: str) -> None:
    """Print the table and save it beside the plot."""
    text = f"## {title}\n\n{machine()}\n\n{body}\n"
    print(text)
    (args.out / f"{name}.md").write_text(text)
