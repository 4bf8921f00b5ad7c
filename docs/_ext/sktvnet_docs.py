"""Sphinx extension: everything in the docs that is computed rather than written.

At ``builder-inited`` (before any page is read) it writes into ``docs/_generated/``:

- ``api/<module>.rst``: autodoc directives for every name in the module's ``__all__``, so the API
  reference follows the code without a hand-kept list;
- ``help_<command>.txt``: the ``--help`` text of each ``sktvnet`` subcommand;
- ``results_<name>.rst``: the markdown tables of ``benchmarks/results/`` as reST tables (or a note
  saying which command writes a missing one; the list is the index in ``benchmarks/run_all.py``),
  ``table1.png``, a chart of Table 1's EPEs, and ``heldout_tradeoff.png``, the held-out
  benchmark's EPE against pairs/s;
- ``flow_pictures.png``, ``color_wheel.png`` and ``structures.rst``: flow pictures and a structure
  comparison computed at build time on small synthetic pairs (a few seconds on one CPU thread).
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.util
import inspect
import io
import os
import re
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
RESULTS = ROOT / "benchmarks" / "results"
# Modules of the API reference, in the order of the page, with their heading.
API_MODULES = {
    "sktvnet": "Top level",
    "sktvnet.estimators": "Estimators",
    "sktvnet.network": "The network",
    "sktvnet.pretrained": "Pretrained weights",
    "sktvnet.export": "Export",
    "sktvnet.reference": "Reference TV-L1",
    "sktvnet.functional": "Differentiable operations",
    "sktvnet.losses": "Losses",
    "sktvnet.heads": "Classification heads",
    "sktvnet.io": "Input and output",
    "sktvnet.visualization": "Visualization",
    "sktvnet.metrics": "Metrics",
    "sktvnet.datasets": "Datasets",
}


def _benchmark_index():
    """``benchmarks/run_all.py``, which holds the index of the benchmarks (standard library
    only), loaded by path: ``benchmarks/`` is no package."""
    key = "sktvnet_benchmarks_run_all"
    if key not in sys.modules:
        spec = importlib.util.spec_from_file_location(key, ROOT / "benchmarks" / "run_all.py")
        module = importlib.util.module_from_spec(spec)
        sys.modules[key] = module
        spec.loader.exec_module(module)
    return sys.modules[key].INDEX


# Benchmark results shown in the docs (those the index gives a page), and the command that
# writes each.
RESULT_TABLES = {name: run.command for run in _benchmark_index() if run.docs
                 for name in run.results}
PICTURE_SHAPE = (96, 128)
STRUCTURES = ["1-1-50", "3-1-50", "6-1-50", "6-3-30", "6-5-50"]


def _write_if_changed(path: Path, text: str) -> None:
    """Leave an identical file untouched so that Sphinx does not rebuild pages for nothing."""
    if not path.exists() or path.read_text() != text:
        path.write_text(text)


# ------------------------------------------------------------------------------------------ API
def _summary(obj) -> str:
    doc = inspect.getdoc(obj) or ""
    return doc.split("\n\n")[0].replace("\n", " ")


def _api_pages(out: Path) -> None:
    """One page fragment per module. Each object is documented once, in the first listed module
    that exports it from its own code; the top level links to those entries."""
    out.mkdir(parents=True, exist_ok=True)
    exports = {name: importlib.import_module(name) for name in API_MODULES}
    homes: dict[int, str] = {}
    for module_name, module in exports.items():
        if module_name == "sktvnet":
            continue
        for name in getattr(module, "__all__", []):
            obj = getattr(module, name)
            owner = getattr(obj, "__module__", module_name) or module_name
            if owner.startswith(module_name):
                homes.setdefault(id(obj), f"{module_name}.{name}")
    for module_name, module in exports.items():
        names = [n for n in getattr(module, "__all__", []) if not n.startswith("_")]
        if module_name == "sktvnet":
            lines = []
            for name in names:
                obj = getattr(module, name)
                if id(obj) in homes:
                    lines.append(f"- :py:obj:`sktvnet.{name} <{homes[id(obj)]}>`: "
                                 f"{_summary(obj)}")
            _write_if_changed(out / f"{module_name}.rst", "\n".join(lines) + "\n")
            continue
        own = [n for n in names if homes.get(id(getattr(module, n))) == f"{module_name}.{n}"]
        lines = [f".. currentmodule:: {module_name}", "", ".. autosummary::", ""]
        lines += [f"   {name}" for name in own]
        lines.append("")
        for name in own:
            obj = getattr(module, name)
            if inspect.isclass(obj):
                lines += [f".. autoclass:: {name}", "   :members:", ""]
            elif callable(obj):
                lines += [f".. autofunction:: {name}", ""]
            else:
                lines += [f".. autodata:: {name}", "   :no-value:", ""]
        _write_if_changed(out / f"{module_name}.rst", "\n".join(lines))


# ---------------------------------------------------------------------------------------- CLI
def _cli_help(out: Path) -> None:
    from sktvnet import cli

    os.environ["COLUMNS"] = "96"  # argparse wraps to the terminal width: fix it for the page
    for command in ("demo", "flow", "export"):
        buffer = io.StringIO()
        with contextlib.redirect_stdout(buffer), contextlib.suppress(SystemExit):
            cli.main([command, "--help"])
        _write_if_changed(out / f"help_{command}.txt", buffer.getvalue())


# ------------------------------------------------------------------------------------ results
_CELL_SEPARATOR = re.compile(r"(?<=\s)\|(?=\s)")


def _markdown_cells(line: str) -> list[str]:
    """Cells of a markdown table row. Separators are pipes with blanks on both sides, so a cell
    may hold ``|a - b|``."""
    inner = line.strip()[1:-1]
    return [cell.strip() for cell in _CELL_SEPARATOR.split(f" {inner} ")]


def _rst_text(text: str) -> str:
    text = re.sub(r"`([^`]+)`", r"``\1``", text)
    return re.sub(r"(?<!`)([|*])", r"\\\1", text)


def _markdown_to_rst(markdown: str) -> tuple[str, list[list[str]]]:
    """A markdown file of paragraphs and pipe tables as reST, and the rows of its first table."""
    out, first_table, block = [], None, []

    def flush_table():
        nonlocal first_table
        if not block:
            return
        header = _markdown_cells(block[0])
        body = [_markdown_cells(line) for line in block[2:]]
        if first_table is None:
            first_table = [header, *body]
        out.extend([".. list-table::", "   :header-rows: 1", ""])
        for row in [header, *body]:
            row = (row + [""] * len(header))[:len(header)]
            out.append(f"   * - {_rst_text(row[0]) or '..'}")
            out.extend(f"     - {_rst_text(cell)}" if cell else "     -" for cell in row[1:])
        out.append("")
        block.clear()

    for line in markdown.splitlines():
        if line.lstrip().startswith("|"):
            block.append(line)
            continue
        flush_table()
        out.append(_rst_text(line))
    flush_table()
    return "\n".join(out) + "\n", first_table or []


def _results(out: Path) -> None:
    for name, command in RESULT_TABLES.items():
        source = RESULTS / f"{name}.md"
        if source.exists():
            text, rows = _markdown_to_rst(source.read_text())
            text += f"\n*Written by* ``{command}`` *into* ``benchmarks/results/{name}.md``.\n"
            if name == "table1":
                _table1_chart(rows, out / "table1.png")
                text = (".. figure:: /_generated/table1.png\n   :width: 90%\n\n"
                        "   Held-out EPE of each structure: frozen TVNet (TV-L1) and trained.\n\n"
                        + text)
            data = RESULTS / f"{name}.json"
            chart = out / "heldout_tradeoff.png"
            if name == "heldout" and data.exists() and _heldout_chart(data, chart):
                text = (".. figure:: /_generated/heldout_tradeoff.png\n   :width: 100%\n\n"
                        "   EPE against speed on each held-out set (both axes logarithmic; "
                        "lower right is better): sktvnet's models eager (filled) and compiled, "
                        "warm (open, joined to the same model), the reference (star) and "
                        "OpenCV's methods (triangles). The grey lines trade iterations of "
                        "frozen TVNet-8-2-N for speed.\n\n" + text)
        else:
            text = (f".. note::\n\n   ``{command}`` writes this table into "
                    f"``benchmarks/results/{name}.md``; it was not there when these pages "
                    "were built.\n")
        _write_if_changed(out / f"results_{name}.rst", text)


def _number(cell: str) -> float | None:
    try:
        return float(cell.split()[0].rstrip("%"))
    except (ValueError, IndexError):
        return None


def _table1_chart(rows: list[list[str]], path: Path) -> None:
    """Grouped bars: one group per structure, one bar per column of EPEs (the numeric columns
    whose heading names a method: reference, frozen, trained)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    if len(rows) < 2:
        return
    header, body = rows[0], [r for r in rows[1:] if r and r[0].startswith("TVNet")]
    columns = [i for i, title in enumerate(header)
               if re.search(r"reference|frozen|train", title, re.I)
               and not re.search(r"time|gain|/", title, re.I)
               and all(_number(r[i]) is not None for r in body if i < len(r))]
    if not body or not columns:
        return
    fig, ax = plt.subplots(figsize=(7, 3.2), dpi=110)
    width = 0.8 / len(columns)
    for k, i in enumerate(columns):
        ax.bar(np.arange(len(body)) + k * width, [_number(r[i]) for r in body], width,
               label=header[i])
    ax.set_xticks(np.arange(len(body)) + 0.4 - width / 2, [r[0] for r in body])
    ax.set_ylabel("held-out EPE (px)")
    ax.legend(fontsize=7, frameon=False)
    ax.spines[["top", "right"]].set_visible(False)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def _heldout_chart(source: Path, path: Path) -> bool:
    """EPE against pairs/s (one thread), one panel per held-out set with a ground truth:
    sktvnet's models eager (filled) and compiled (open), the frozen sweeps of the recommended
    structure as lines, the reference and OpenCV's methods as the points to beat. The paper's
    TVNet-50 and the variants without a part are left to the table. False when there are no
    rows."""
    import json

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    results = json.loads(source.read_text()).get("results", {})
    rows = results.get("rows", [])
    sets = [s for s in results.get("sets", []) if s != "video"]
    if not rows or not sets:
        return False

    def label(row):
        name = row["method"].replace("`", "")
        for long, brief in (("reference TV-L1 (IPOL defaults)", "reference TV-L1"),
                            (" (recommended: TVNetFlow())", " (recommended)"),
                            ("frozen TVNet-10-1-50, zoom 0.7 (TVNetFlow(weights=None))",
                             "TVNetFlow(weights=None)"),
                            ("OpenCV ", ""), (" (defaults)", "")):
            name = name.replace(long, brief)
        return name

    sweeps: dict = {}
    points = []
    for row in rows:
        match = re.match(r"frozen TVNet-8-2-(\d+), zoom 0.6, (\w+), matched", row["method"])
        if match:
            sweeps.setdefault(match.group(2), []).append((int(match.group(1)), row))
        elif "TVNet-50" not in row["method"] and "without" not in row["method"]:
            points.append(row)
    fig, axes = plt.subplots(2, (len(sets) + 1) // 2, figsize=(9, 7), dpi=110, squeeze=False)
    axes = axes.ravel()
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for ax, name in zip(axes, sets):
        for k, (interpolation, sweep) in enumerate(sorted(sweeps.items())):
            sweep.sort(key=lambda item: item[0])
            xs = [row["pairs_per_s"]["1"] for _, row in sweep]
            ys = [row["scores"][name] for _, row in sweep]
            ax.plot(xs, ys, "-", color="0.65", lw=1, marker="os"[k % 2], ms=3.5, mfc="white",
                    label=f"frozen TVNet-8-2-N, {interpolation}, eager (N = 5, 10, 15)")
            for (n_iters, _), x, y in zip(sweep, xs, ys):
                ax.annotate(str(n_iters), (x, y), fontsize=6, color="0.45", xytext=(3, -7),
                            textcoords="offset points")
        mine = 0
        for row in points:
            x, y = row["pairs_per_s"]["1"], row["scores"][name]
            if row["kind"] == "opencv":
                ax.plot(x, y, "^", color="0.3", ms=6)
            elif row["kind"] == "reference":
                ax.plot(x, y, "*", color="black", ms=10)
            else:
                colour = colours[mine % len(colours)]
                mine += 1
                ax.plot(x, y, "o", color=colour, ms=6)
                fast = row.get("pairs_per_s_compiled")
                if fast:
                    ax.plot([x, fast], [y, y], "-", color=colour, lw=1)
                    ax.plot(fast, y, "o", color=colour, mfc="white", ms=6)
            ax.annotate(label(row), (x, y), fontsize=6.5, xytext=(4, 3),
                        textcoords="offset points")
        ax.set_xscale("log")
        ax.set_yscale("log")
        for axis in (ax.xaxis, ax.yaxis):
            axis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
            axis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:g}"))
            axis.set_minor_formatter(NullFormatter())
        ax.set_title(f"{name}: EPE (px), lower is better", fontsize=9)
        ax.set_xlabel("pairs/s at 240x320, 1 thread (filled: eager, open: compiled)", fontsize=7)
        ax.tick_params(labelsize=7)
        ax.spines[["top", "right"]].set_visible(False)
    for ax in axes[len(sets):]:
        ax.set_visible(False)
    axes[0].legend(fontsize=6.5, frameon=False, loc="upper left")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return True


# ------------------------------------------------------------------------------------ figures
def _as_batch(image):
    import torch

    return torch.from_numpy(np.ascontiguousarray(image, dtype=np.float32))[None, None]


def _tvnet_flow(image0, image1, structure: str) -> np.ndarray:
    from sktvnet.network import TVNet

    n_scales, n_warps, n_iters = (int(n) for n in structure.split("-"))
    net = TVNet(n_scales=n_scales, n_warps=n_warps, n_iters=n_iters, compiled=False)
    return net(_as_batch(image0), _as_batch(image1))[0].numpy()


def _flow_pictures(out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from sktvnet import endpoint_error, flow_to_color, make_synthetic_pair, tvl1_optical_flow

    image0, image1, truth = make_synthetic_pair(
        "astronaut", PICTURE_SHAPE, flow="random", max_displacement=6.0, random_state=3)
    reference = tvl1_optical_flow(image0, image1)
    tvnet = _tvnet_flow(image0, image1, "6-3-30")
    scale = float(np.hypot(*truth).max())
    panels = [
        ("frame t", np.clip(image0, 0, 1), "gray"),
        ("frame t+1", np.clip(image1, 0, 1), "gray"),
        ("ground truth (legend)", flow_to_color(truth, max_flow=scale, legend=True), None),
        (f"reference TV-L1\nEPE {endpoint_error(reference, truth):.2f} px",
         flow_to_color(reference, max_flow=scale), None),
        (f"TVNet-6-3-30 (frozen)\nEPE {endpoint_error(tvnet, truth):.2f} px",
         flow_to_color(tvnet, max_flow=scale), None),
    ]
    fig, axes = plt.subplots(1, len(panels), figsize=(11, 2.3), dpi=110)
    for ax, (title, image, cmap) in zip(axes, panels):
        ax.imshow(image, cmap=cmap, vmin=0, vmax=1)
        ax.set_title(title, fontsize=8)
        ax.set_axis_off()
    fig.tight_layout()
    fig.savefig(out / "flow_pictures.png", bbox_inches="tight")
    plt.close(fig)

    side = 129
    offsets = np.arange(side) - side // 2
    v, u = np.meshgrid(offsets.astype(float), offsets.astype(float), indexing="ij")
    fig, ax = plt.subplots(figsize=(2.6, 2.6), dpi=110)
    ax.imshow(flow_to_color(np.stack([u, v]), max_flow=side // 2),
              extent=(-1, 1, 1, -1))
    ax.set_xlabel("u (right +)", fontsize=8)
    ax.set_ylabel("v (down +)", fontsize=8)
    ax.tick_params(labelsize=7)
    fig.tight_layout()
    fig.savefig(out / "color_wheel.png")
    plt.close(fig)


def _structures(out: Path) -> None:
    """EPE and time of a few structures on two small pairs: small smooth motion, larger motion."""
    from sktvnet import endpoint_error, make_synthetic_pair, tvl1_optical_flow

    pairs = {
        "sine, 0.5-3.5 px": make_synthetic_pair("camera", PICTURE_SHAPE),
        "random, up to 10 px": make_synthetic_pair("astronaut", PICTURE_SHAPE, flow="random",
                                                   max_displacement=10.0, random_state=0),
    }
    header = ["structure"] + [f"EPE (px), {name}" for name in pairs] + ["time per pair (s)"]
    rows = []
    for label, run in [("reference TV-L1 (IPOL defaults)", tvl1_optical_flow)] + [
            (f"TVNet-{s}", lambda i0, i1, s=s: _tvnet_flow(i0, i1, s)) for s in STRUCTURES]:
        errors, seconds = [], 0.0
        for image0, image1, truth in pairs.values():
            start = time.perf_counter()
            flow = run(image0, image1)
            seconds += time.perf_counter() - start
            errors.append(f"{endpoint_error(flow, truth):.3f}")
        rows.append([label, *errors, f"{seconds / len(pairs):.3f}"])
    lines = [".. list-table::", "   :header-rows: 1", ""]
    for row in [header, *rows]:
        lines.append(f"   * - {row[0]}")
        lines += [f"     - {cell}" for cell in row[1:]]
    lines += ["", f"Measured when these pages were built: {PICTURE_SHAPE[0]}x{PICTURE_SHAPE[1]} "
              "pairs, one CPU thread, TVNet eager (not compiled)."]
    _write_if_changed(out / "structures.rst", "\n".join(lines) + "\n")


def generate(app) -> None:
    import torch

    out = Path(app.srcdir) / "_generated"
    out.mkdir(exist_ok=True)
    # One thread: the timings are steadier and a busy machine does not slow the build to a crawl.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        _api_pages(out / "api")
        _cli_help(out)
        _results(out)
        _flow_pictures(out)
        _structures(out)
    finally:
        torch.set_num_threads(threads)


def _skip_metadata_routing(app, what, name, obj, skip, options):
    """scikit-learn generates ``set_<method>_request`` methods whose docstrings cite its own
    glossary; they are routing plumbing, not sktvnet's API, so they stay out of the pages."""
    if name.startswith("set_") and name.endswith("_request"):
        return True
    return None


def setup(app):
    # Before autosummary and autodoc look at any page.
    app.connect("builder-inited", generate, priority=100)
    app.setup_extension("sphinx.ext.autodoc")  # defines the event connected below
    app.connect("autodoc-skip-member", _skip_metadata_routing)
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}
