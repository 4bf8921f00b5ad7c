"""Numbers in one place: render the result files into the marked blocks of the READMEs.

A block is the text between two markers::

    <!-- results: NAME -->
    ...
    <!-- /results -->

and holds what ``RENDERERS[NAME]`` makes, by default the first markdown table of
``benchmarks/results/NAME.md`` and a line naming that file and where it was measured. Nothing
outside the blocks changes. ``tests/test_results.py`` fails when a block differs from what this
script writes, so a figure edited by hand in a README does not survive.

Usage::

    python benchmarks/render.py           # rewrite the blocks of README.md and benchmarks/README.md
    python benchmarks/render.py --check   # name the blocks that differ (exit 1), write nothing

Standard library only; it times nothing.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import re
import sys
from pathlib import Path
from typing import Callable

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
RESULTS = HERE / "results"
# The files whose blocks are rendered.
TARGETS = (ROOT / "README.md", HERE / "README.md")
BLOCK = re.compile(r"(<!-- results: (?P<name>[\w.+-]+) -->\n)(?P<body>.*?)(<!-- /results -->)",
                   re.S)


def read_json(name: str) -> tuple[dict, dict | None]:
    """The data of ``results/<name>.json`` and its stamp (None for a file written before result
    files were stamped, whose data is the whole file)."""
    payload = json.loads((RESULTS / f"{name}.json").read_text())
    if "stamp" in payload:
        return payload["results"], payload["stamp"]
    return payload, None


def markdown_tables(text: str) -> list[list[str]]:
    """The pipe tables of a markdown text, each as its lines."""
    tables, block = [], []
    for line in [*text.splitlines(), ""]:
        if line.lstrip().startswith("|"):
            block.append(line.strip())
        elif block:
            tables.append(block)
            block = []
    return tables


def source_line(name: str, base: Path) -> str:
    """Where the figures come from: the file, relative to the README that shows them, and its
    stamp when it has one."""
    path = RESULTS / f"{name}.md"
    link = Path(os.path.relpath(path, base)).as_posix()
    text = f"From [`benchmarks/results/{name}.md`]({link})"
    stamp = read_json(name)[1] if path.with_suffix(".json").exists() else None
    if stamp:
        text += (f", measured at commit {stamp['commit']} on {stamp['cpu']} "
                 f"({stamp['cpu_count']} cores), {stamp['date']}")
    return text + "."


def first_table(name: str, base: Path) -> str:
    """The default: the first table of ``results/<name>.md`` as it is."""
    tables = markdown_tables((RESULTS / f"{name}.md").read_text())
    if not tables:
        raise ValueError(f"benchmarks/results/{name}.md has no markdown table")
    return "\n".join(tables[0]) + "\n\n" + source_line(name, base)


def table1(name: str, base: Path) -> str:
    """Table 1 in short: each structure's held-out EPE frozen (TV-L1) and trained with
    ``train="all"`` at every size, beside the reference at IPOL's defaults."""
    data, _ = read_json(name)
    sizes = data["args"]["sizes"]
    header = ["structure"] + [f"{label}, {size}" for size in sizes
                              for label in ("frozen", 'trained `"all"`')]
    lines = ["| " + " | ".join(header) + " |", "|---" * len(header) + "|"]
    for row in data["rows"]:
        cells = row["columns"]
        lines.append(f"| {row['structure']} | " + " | ".join(
            f"{cells[column][size]['epe']:.4f}" for size in sizes for column in ("None", "all"))
            + " |")
    reference = data["reference_ipol_defaults"]
    # The reference is not trained: its EPE under "frozen", nothing under "trained".
    cells = [cell for size in sizes for cell in (f"{reference[size]['epe']:.4f}", "")]
    lines.append("| reference TV-L1 at IPOL defaults | " + " | ".join(cells) + " |")
    return ("\n".join(lines) + "\n\nHeld-out EPE (px) of pairs from images unseen in training. "
            + source_line(name, base))


def which_model(name: str, base: Path) -> str:
    """The README's "which model?" table from the held-out benchmark: the recommended model,
    the fastest sktvnet model, exact TV-L1 (the reference) and the paper's TVNet-50."""
    data, _ = read_json(name)
    rows = data["rows"]
    recommended = next(row for row in rows if "(recommended" in row["method"])
    reference = next(row for row in rows if row["kind"] == "reference")
    tvnet50 = next(row for row in rows if "TVNet-50" in row["method"])
    ours = [row for row in rows if row["kind"] != "opencv" and row["kind"] != "reference"]
    fastest = max(ours, key=lambda row: row["pairs_per_s"]["1"])
    choices = [("the recommended model", "`TVNetFlow()`", recommended),
               ("exact TV-L1 (IPOL's algorithm, NumPy)", "`tvl1_optical_flow(image0, image1)`",
                reference),
               ("the paper's TVNet-50, to train end to end", "`TVNet()`", tvnet50)]
    if fastest is not recommended and fastest is not tvnet50:
        choices.insert(1, ("the fastest", fastest["method"], fastest))
    sets = [s for s in data["sets"] if s != "video"]
    compiled = any("pairs_per_s_compiled" in row for _, _, row in choices)
    header = (["when you want", "use"] + [f"EPE {s} (px)" for s in sets] + ["pairs/s, 1 thread"]
              + (["compiled"] if compiled else []))
    lines = ["| " + " | ".join(header) + " |", "|---" * len(header) + "|"]
    for label, call, row in choices:
        cells = [f"{row['scores'][s]:.3f}" for s in sets] + [f"{row['pairs_per_s']['1']:.1f}"]
        if compiled:
            fast = row.get("pairs_per_s_compiled")
            cells.append("-" if fast is None else f"{fast:.1f}")
        lines.append(f"| {label} | {call} | " + " | ".join(cells) + " |")
    return ("\n".join(lines) + "\n\nHeld-out pairs from sources nothing in sktvnet trains on: "
            "exact warps, a 2% brightness change with noise, motions of 5-50 px at 384x512, the "
            "real motorcycle stereo pair; speed at 240x320, eager (a short job) and compiled "
            "(warm: what a long job such as a video or a dataset gets). "
            + source_line(name, base))


def load_run_all():
    """``benchmarks/run_all.py`` as a module (it holds the index), without putting
    ``benchmarks/`` on ``sys.path``."""
    key = "sktvnet_benchmarks_run_all"
    if key not in sys.modules:
        spec = importlib.util.spec_from_file_location(key, HERE / "run_all.py")
        module = importlib.util.module_from_spec(spec)
        sys.modules[key] = module  # dataclasses look their module up there
        spec.loader.exec_module(module)
    return sys.modules[key]


def benchmark_index(name: str, base: Path) -> str:
    """The index of ``benchmarks/``: ``run_all.INDEX`` as a table."""
    return load_run_all().index_table()


#: Renderers by block name; a name not here gets :func:`first_table`.
RENDERERS: dict[str, Callable[[str, Path], str]] = {
    "table1": table1,
    "heldout": which_model,
    "index": benchmark_index,
}


def render_block(name: str, base: Path) -> str:
    """The text of block ``name`` in a file of folder ``base``."""
    return RENDERERS.get(name, first_table)(name, base).rstrip("\n") + "\n"


def rewrite(text: str, base: Path) -> str:
    """``text`` with every block rendered anew."""
    return BLOCK.sub(lambda m: m.group(1) + render_block(m.group("name"), base) + m.group(4),
                     text)


def blocks(text: str) -> list[tuple[str, str]]:
    """``(name, body)`` of every block of ``text``."""
    return [(m.group("name"), m.group("body")) for m in BLOCK.finditer(text)]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true",
                        help="name the blocks that differ from the result files; write nothing")
    args = parser.parse_args(argv)
    stale = []
    for path in TARGETS:
        text = path.read_text()
        new = rewrite(text, path.parent)
        old_blocks, new_blocks = blocks(text), blocks(new)
        stale += [f"{path.relative_to(ROOT)}: {name}"
                  for (name, body), (_, fresh) in zip(old_blocks, new_blocks) if body != fresh]
        if new != text and not args.check:
            path.write_text(new)
    for line in stale:
        print(("differs: " if args.check else "rewrote: ") + line)
    return 1 if stale and args.check else 0


if __name__ == "__main__":
    sys.exit(main())
