"""Smoke tests: each benchmark runs at tiny sizes and writes its table and plot.
(The measured numbers live in benchmarks/README.md, not in assertions.)"""

import pathlib
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]


@pytest.mark.parametrize(
    "script",
    [
        "train_throughput",
        "quality_vs_nfe",
        "recipe_cost",
        "peers",
        "digits",
        "recipe_ablation",
        "onestep",
        "ot_sub_batch",
    ],
)
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


def _peers_without_torchcfm(*args: str) -> subprocess.CompletedProcess:
    """Run benchmarks/peers.py as if TorchCFM were not installed, whether or not it is."""
    script = ROOT / "benchmarks" / "peers.py"
    code = (
        "import runpy, sys\n"
        "sys.modules['torchcfm'] = None  # any import of it now raises ImportError\n"
        f"sys.path.insert(0, {str(script.parent)!r})\n"
        f"sys.argv = [{str(script)!r}, *{list(args)!r}]\n"
        f"runpy.run_path({str(script)!r}, run_name='__main__')\n"
    )
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)


def test_peers_quick_runs_without_torchcfm_and_says_its_rows_were_skipped(tmp_path):
    run = _peers_without_torchcfm("--quick", "--out", str(tmp_path))
    assert run.returncode == 0, run.stderr
    assert "skipped because the torchcfm package is not installed" in run.stdout
    assert "TorchCFM independent" not in run.stdout  # no row pretends to be TorchCFM's
    assert "| fmkit independent |" in run.stdout and "| source chapter (DataLoader) |" in run.stdout
    assert (tmp_path / "peers.md").read_text().startswith("## Against TorchCFM")
    assert (tmp_path / "peers.png").stat().st_size > 1000


def test_peers_full_run_without_torchcfm_stops_and_says_how_to_install_it(tmp_path):
    run = _peers_without_torchcfm("--out", str(tmp_path))
    assert run.returncode != 0
    assert "make bench-peers" in run.stderr
    assert not (tmp_path / "peers.md").exists()
