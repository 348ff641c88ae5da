"""Execute the chapters and store only what should be committed.

Cells tagged ``nbval-check-output`` keep their text output (the key numbers that nbval
compares on every test run); every other cell is stored without outputs, so the
notebooks stay small and diff well. Run after editing a chapter:

    OMP_NUM_THREADS=1 .venv/bin/python tools/refresh_notebooks.py [notebooks/01-paths.ipynb ...]
"""

from __future__ import annotations

import pathlib
import sys
import time

import nbformat
from nbclient import NotebookClient

ROOT = pathlib.Path(__file__).resolve().parents[1]
KEEP_TAG = "nbval-check-output"
TEXT_ONLY = ("text/plain",)


def keep_text(output: dict) -> dict | None:
    """The text part of an output, or None if it has none worth comparing."""
    if output["output_type"] == "stream":
        return output if output["name"] == "stdout" else None
    if output["output_type"] == "execute_result":
        data = {k: v for k, v in output["data"].items() if k in TEXT_ONLY}
        return {**output, "data": data, "metadata": {}} if data else None
    return None


def merge_streams(outputs: list[dict]) -> list[dict]:
    """Join consecutive stdout chunks into one output, as a reader sees them."""
    merged: list[dict] = []
    for out in outputs:
        if merged and out["output_type"] == "stream" and merged[-1]["output_type"] == "stream":
            merged[-1]["text"] += out["text"]
        else:
            merged.append(out)
    return merged


def refresh(path: pathlib.Path) -> float:
    nb = nbformat.read(path, as_version=4)
    start = time.perf_counter()
    NotebookClient(
        nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}}
    ).execute()
    seconds = time.perf_counter() - start
    count = 0
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        if KEEP_TAG in cell.metadata.get("tags", []):
            count += 1
            cell.outputs = merge_streams([o for o in map(keep_text, cell.outputs) if o is not None])
            cell.execution_count = count
        else:
            cell.outputs, cell.execution_count = [], None
        cell.metadata.pop("execution", None)
    nb.metadata.pop("widgets", None)
    nbformat.write(nb, path)
    return seconds


def main(paths: list[str]) -> None:
    targets = [pathlib.Path(p) for p in paths] or sorted(
        (ROOT / "notebooks").glob("[0-9][0-9]-*.ipynb")
    )
    for path in targets:
        print(f"{path.name}: executed in {refresh(path):.1f} s")


if __name__ == "__main__":
    main(sys.argv[1:])
