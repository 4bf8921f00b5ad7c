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
