"""Smoke tests: each benchmark runs at tiny sizes and writes its table and plot.
(The measured numbers live in benchmarks/README.md, not in assertions.)"""

import pathlib
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("script", ["train_throughput", "quality_vs_nfe", "recipe_cost"])
def test_benchmark_runs_quickly_and_writes_a_table_and_a_plot(script, tmp_path):
    run = subprocess.run(
        [
            sys.executable,
            str(ROOT / "benchmarks" / f"{script}.py"),
            "--quick",
            "--out",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stderr
    assert "| " in run.stdout and "|---|" in run.stdout  # a markdown table was printed
    assert (tmp_path / f"{script}.md").read_text().startswith("## ")
    assert (tmp_path / f"{script}.png").stat().st_size > 1000
