"""Shared fixtures: devices, dtypes and the tolerance table used across the test modules."""

import contextlib
import os

# Compilation (torch.compile) takes tens of seconds per shape on a small CPU: tests run eager.
os.environ.setdefault("SKTVNET_COMPILE", "0")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

# Absolute tolerances by dtype for comparisons of flows (pixels) between two implementations.
TOLERANCES = {"float32": 1e-3, "float64": 1e-8}


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
def compile_policy():
    """Installs a fresh compile policy for the test, ``install(**kwargs)`` ->
    ``sktvnet._compile.CompilePolicy(**kwargs)``: nothing compiled yet, no eager work counted
    (the process's own policy is left as it was)."""
    from sktvnet import _compile

    with contextlib.ExitStack() as stack:
        def install(**kwargs):
            return stack.enter_context(_compile.use_policy(_compile.CompilePolicy(**kwargs)))

        yield install
