"""Numbers in one place: the READMEs' result blocks, the weights registry's metrics and the index
of the benchmarks agree with the result files in ``benchmarks/results/``.

The tests read the repository's files (CI runs from a clone). Of ``benchmarks/`` they load only
``render.py`` and ``run_all.py``, which use the standard library and time nothing; no benchmark
script is imported.
"""

import importlib.util
import json
import re
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BENCHMARKS = ROOT / "benchmarks"
RESULTS = BENCHMARKS / "results"
DOCS = ROOT / "docs"
# What benchmarks/ holds beside the benchmark scripts.
NOT_BENCHMARKS = {"_common.py", "render.py", "run_all.py"}

if not (BENCHMARKS / "render.py").exists():  # an unpacked sdist has no benchmarks
    pytest.skip("needs the repository's benchmarks/", allow_module_level=True)


def _load(name: str):
    key = f"sktvnet_benchmarks_{name}"
    if key not in sys.modules:
        spec = importlib.util.spec_from_file_location(key, BENCHMARKS / f"{name}.py")
        module = importlib.util.module_from_spec(spec)
        sys.modules[key] = module
        spec.loader.exec_module(module)
    return sys.modules[key]


render = _load("render")
INDEX = _load("run_all").INDEX


def _report(path: Path) -> dict:
    """A result file's data, stamped (under "results") or from before the stamp (the file)."""
    payload = json.loads(path.read_text())
    return payload["results"] if "stamp" in payload else payload


BLOCKS = [(path, name) for path in render.TARGETS for name, _ in render.blocks(path.read_text())]


def test_the_readmes_have_result_blocks():
    names = {(path.name, name) for path, name in BLOCKS}
    assert ("README.md", "table1") in names
    assert ("README.md", "heldout") in names     # the "which model?" table
    assert (BENCHMARKS / "README.md", "index") in BLOCKS


@pytest.mark.parametrize("path, name", BLOCKS,
                         ids=[f"{p.relative_to(ROOT)}:{n}" for p, n in BLOCKS])
def test_readme_block_is_what_render_writes(path, name):
    body = dict(render.blocks(path.read_text()))[name]
    expected = render.render_block(name, path.parent)
    differ = [f"README: {a!r}\nrender: {b!r}"
              for a, b in zip(body.splitlines(), expected.splitlines()) if a != b]
    assert body == expected, (
        f"{path.relative_to(ROOT)}, block {name!r} differs from benchmarks/results/{name}.*; "
        "run `python benchmarks/render.py` instead of editing figures by hand:\n"
        + "\n".join(differ[:5] or [f"{len(body.splitlines())} lines against "
                                   f"{len(expected.splitlines())}"]))


def test_a_figure_edited_by_hand_is_rendered_back():
    readme = ROOT / "README.md"
    text = readme.read_text()
    name, body = next((n, b) for n, b in render.blocks(text) if re.search(r"\d\.\d", b))
    edited = text.replace(body, re.sub(r"(\d)\.(\d)", r"\1.9\2", body, count=1), 1)
    assert edited != text
    rendered = render.rewrite(edited, readme.parent)
    assert rendered != edited
    assert rendered == render.rewrite(text, readme.parent)


def test_registry_metrics_are_the_heldout_benchmark():
    """Every bundled entry's metrics are its row of results/heldout.json, as bench_heldout.py
    wrote them into the package: nothing typed by hand, nothing stale."""
    from sktvnet.pretrained import WEIGHTS

    heldout = RESULTS / "heldout.json"
    if not heldout.exists():
        pytest.skip("benchmarks/results/heldout.json is not there yet")
    rows = _report(heldout)["rows"]
    measured = {row["kind"].split(":", 1)[1]: row for row in rows
                if row["kind"].startswith("bundled:")}
    assert set(measured) == set(WEIGHTS), "heldout.json must measure every bundled entry"
    for name, entry in WEIGHTS.items():
        row = measured[name]
        assert entry.metrics, f"{name} has no metrics: run python benchmarks/bench_heldout.py"
        for key, value in entry.metrics.items():
            kind, _, what = key.partition("_")
            if key == "pairs_per_s_1_thread_compiled":
                source, digits = row["pairs_per_s_compiled"], 1
            elif key.startswith("pairs_per_s_"):
                source = row["pairs_per_s"][key.split("_")[3]]
                digits = 1
            else:
                source = row["scores"]["video" if kind == "warp" else key[len("epe_"):]]
                digits = 3 if kind == "warp" else 4
            assert value == round(source, digits), (
                f"{name}: the registry says {key}={value}, heldout.json says {source}")


def test_every_bundled_entry_has_its_run():
    from sktvnet.pretrained import WEIGHTS

    runs = {run.results[0] for run in INDEX if run.script == "train_pretrained.py"}
    assert runs == {f"pretrained_{name}" for name in WEIGHTS}


def test_every_result_file_is_written_by_a_run_of_the_index():
    written = {name for run in INDEX for name in run.results}
    files = {path.stem for path in RESULTS.glob("*") if path.suffix in (".md", ".json")}
    assert files, "benchmarks/results/ is empty"
    assert files <= written, f"result files that no run of the index writes: {files - written}"


def test_every_benchmark_script_is_in_the_index():
    scripts = {path.name for path in BENCHMARKS.glob("*.py")} - NOT_BENCHMARKS
    listed = {run.script for run in INDEX}
    assert scripts <= listed, f"scripts missing from run_all.INDEX: {scripts - listed}"
    assert {s for s in listed if not (BENCHMARKS / s).exists()} <= {"bench_heldout.py"}


def test_the_docs_show_the_tables_the_index_names():
    includes = {}
    for page in DOCS.glob("*.rst"):
        for name in re.findall(r"_generated/results_(\S+)\.rst", page.read_text()):
            includes[name] = page.name
    named = {}
    for run in INDEX:
        if run.docs:
            page, section = run.docs.split(": ", 1)
            assert section in (DOCS / page).read_text(), f"{run.docs}: no such section"
            named.update({name: page for name in run.results})
    assert includes == named
