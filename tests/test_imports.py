"""The package imports lazily: the NumPy side and the command's --help load no torch or sklearn."""

import subprocess
import sys

import pytest

import sktvnet

HEAVY = ("torch", "sklearn")


def _heavy_modules_after(code: str) -> list[str]:
    """Run ``code`` in a fresh interpreter; return the heavy packages it left in sys.modules."""
    probe = f"{code}\nimport sys\nprint(sorted(m for m in {HEAVY!r} if m in sys.modules))"
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                            check=True)
    return eval(result.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("code", [
    "import sktvnet",
    "import sktvnet.reference",
    "import sktvnet.io",
    "import sktvnet.metrics",
    "import sktvnet.visualization",
    "import sktvnet.datasets",
    "from sktvnet import read_flo, flow_to_color, tvl1_optical_flow, endpoint_error",
    "import contextlib, io\nfrom sktvnet.cli import main\n"
    "with contextlib.redirect_stdout(io.StringIO()), contextlib.suppress(SystemExit):\n"
    "    main(['flow', '--help'])",
])
def test_numpy_side_loads_neither_torch_nor_sklearn(code):
    assert _heavy_modules_after(code) == []


def test_torch_names_load_torch_when_used():
    assert _heavy_modules_after("from sktvnet import TVNetFlow") == ["sklearn", "torch"]


def test_every_public_name_resolves_and_is_listed():
    assert set(sktvnet.__all__) <= set(dir(sktvnet))
    for name in sktvnet.__all__:
        assert getattr(sktvnet, name) is not None
    assert sktvnet.flow_to_color is sktvnet.visualization.flow_to_color
    assert sktvnet.read_flo is sktvnet.io.read_flo
    assert sktvnet.FlowHistogram is sktvnet.estimators.FlowHistogram


def test_unknown_name_is_an_attribute_error():
    with pytest.raises(AttributeError, match="module 'sktvnet' has no attribute 'tvnet'"):
        sktvnet.tvnet  # noqa: B018


def _modules() -> dict:
    """sktvnet's modules by dotted name -> (path, whether it is a package's ``__init__``)."""
    import pathlib

    root = pathlib.Path(sktvnet.__file__).parent
    modules = {}
    for path in root.rglob("*.py"):
        parts = list(path.relative_to(root.parent).with_suffix("").parts)
        package = parts[-1] == "__init__"
        modules[".".join(parts[:-1] if package else parts)] = (path, package)
    return modules


def _import_graph() -> dict[str, set[str]]:
    """sktvnet's modules -> the sktvnet modules they import, at module level or in functions."""
    import ast

    modules = _modules()
    graph = {}
    for name, (path, package) in modules.items():
        here = name.split(".") if package else name.split(".")[:-1]
        found = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom):
                base = here[:len(here) - node.level + 1] if node.level else []
                target = ".".join(base + ([node.module] if node.module else []))
                for alias in node.names:
                    found.add(f"{target}.{alias.name}" if f"{target}.{alias.name}" in modules
                              else target)
            elif isinstance(node, ast.Import):
                found |= {alias.name for alias in node.names}
        # A module importing its own package's __init__ (or its parent) is not a dependency.
        graph[name] = {m for m in found if m in modules and m != name
                       and not name.startswith(m + ".")}
    return graph


def test_no_import_cycle_between_sktvnet_modules():
    graph = _import_graph()
    state: dict[str, str] = {}

    def visit(module, path):
        state[module] = "open"
        for dependency in sorted(graph[module]):
            if state.get(dependency) == "open":
                raise AssertionError(f"import cycle: {' -> '.join(path + [dependency])}")
            if dependency not in state:
                visit(dependency, path + [dependency])
        state[module] = "done"

    for module in sorted(graph):
        if module not in state:
            visit(module, [module])
    # The cycle this closed: pretrained imported the estimators, which import pretrained.
    assert "sktvnet.pretrained" in graph["sktvnet.estimators._flow"]
    assert not any(m.startswith("sktvnet.estimators") for m in graph["sktvnet.pretrained"])


def _package_of(module: str, modules: dict) -> str:
    """The subpackage a module belongs to (``sktvnet.io``), or ``sktvnet`` for the top level."""
    parts = module.split(".")
    return ".".join(parts[:2]) if len(parts) > 2 or modules[module][1] else "sktvnet"


def test_no_private_name_crosses_a_package_boundary():
    """A module takes no ``_name``, and nothing from a private module, of another subpackage
    (the top level's private modules, ``_core``, ``_validation``, ..., serve every package)."""
    import ast

    modules = _modules()
    crossings = []
    for name, (path, package) in modules.items():
        here = name.split(".") if package else name.split(".")[:-1]
        aliases = {}
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if not isinstance(node, ast.ImportFrom) or not node.level:
                continue
            target = ".".join(here[:len(here) - node.level + 1] + ([node.module] if node.module
                                                                   else []))
            for alias in node.names:
                owner = f"{target}.{alias.name}"
                if owner in modules:
                    aliases[alias.asname or alias.name] = owner
                else:
                    owner = target
                if _package_of(owner, modules) in ("sktvnet", _package_of(name, modules)):
                    continue
                inner = owner.split(".")[2:] + ([] if owner.endswith(alias.name) else [alias.name])
                if any(part.startswith("_") and part != "__init__" for part in inner):
                    crossings.append(f"{name}: from {target} import {alias.name}")
        for node in ast.walk(tree):
            if (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name)
                    and node.attr.startswith("_") and not node.attr.startswith("__")
                    and node.value.id in aliases):
                owner = aliases[node.value.id]
                if _package_of(owner, modules) not in ("sktvnet", _package_of(name, modules)):
                    crossings.append(f"{name}: {node.value.id}.{node.attr}")
    assert crossings == []
