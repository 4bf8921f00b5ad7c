"""Shared fixtures: devices, dtypes, the tolerance table, a random flow, one torch thread for a
module, and a fresh compile policy, used across the test modules."""

import contextlib
import os

# Compilation (torch.compile) takes tens of seconds per shape on a small CPU: tests run eager.
os.environ.setdefault("SKTVNET_COMPILE", "0")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

# Absolute tolerances by dtype for comparisons of flows (pixels) between two implementations.
TOLERANCES = {"float32": 1e-3, "float64": 1e-8}


def listing(folder):
    """The names in ``folder``, sorted: what a write left there (or did not)."""
    return sorted(os.listdir(folder))


def _cuda_available():
    try:
        import torch
    except ImportError:  # pragma: no cover - torch is a hard dependency
        return False
    return torch.cuda.is_available()


DEVICES = ["cpu", pytest.param("cuda", marks=pytest.mark.skipif(
    not _cuda_available(), reason="no CUDA device on this machine"))]


@pytest.fixture(params=DEVICES)
def device(request):
    return request.param


@pytest.fixture(params=["float32", "float64"])
def dtype(request):
    return request.param


@pytest.fixture
def rng():
    return np.random.default_rng(0)


@pytest.fixture
def flow(rng):
    """A random float32 flow field (2, 5, 7) of a few pixels."""
    return rng.normal(scale=4.0, size=(2, 5, 7)).astype(np.float32)


@pytest.fixture(scope="module")
def one_thread():
    """One torch thread for a module's tests (``pytestmark = pytest.mark.usefixtures(
    "one_thread")``): tensors this small gain nothing from a thread pool, and lose much when
    cores are busy."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture
def compile_policy():
    """Installs a fresh compile policy for the test, ``install(**kwargs)`` ->
    ``sktvnet._compile.CompilePolicy(**kwargs)``: nothing compiled yet, no eager work counted
    (the process's own policy is left as it was)."""
    from sktvnet import _compile

    with contextlib.ExitStack() as stack:
        def install(**kwargs):
            return stack.enter_context(_compile.use_policy(_compile.CompilePolicy(**kwargs)))

        yield install
