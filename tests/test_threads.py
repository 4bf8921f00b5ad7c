"""The wait policy of the Python API: the command's rule, applied when sktvnet loads torch."""

import os
import subprocess
import sys

import pytest

# The child fakes the machine's use, imports what the test says, and reports the policy that
# torch started with.
_REPORT = """
import os, sys
import sktvnet._threads

def sampled():
    print("sampled")
    return float(sys.argv[1])

sktvnet._threads.busy_cores = sampled
exec(sys.argv[2])
print("OMP_WAIT_POLICY:", os.environ.get("OMP_WAIT_POLICY"))
"""


def _policy(load: float, code: str, user_value: str | None = None) -> list[str]:
    env = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"}
    if user_value is not None:
        env["OMP_WAIT_POLICY"] = user_value
    result = subprocess.run([sys.executable, "-c", _REPORT, str(load), code],
                            capture_output=True, text=True, timeout=120, env=env)
    assert result.returncode == 0, result.stderr
    return result.stdout.splitlines()


@pytest.mark.parametrize("code", ["from sktvnet import TVNetFlow",
                                  "from sktvnet.estimators import TVNetFlow",
                                  "import sktvnet; sktvnet.TVNet",
                                  # every module that imports torch, imported directly
                                  "import sktvnet.network", "import sktvnet.functional",
                                  "import sktvnet.losses", "import sktvnet.heads",
                                  "import sktvnet.export", "import sktvnet._compile",
                                  "import sktvnet._match",
                                  "from sktvnet.pretrained import load_tvnet; load_tvnet(None)"])
def test_the_package_sets_passive_threads_on_a_busy_machine_before_loading_torch(code):
    assert _policy(1.5, code) == ["sampled", "OMP_WAIT_POLICY: PASSIVE"]


def test_an_idle_machine_keeps_openmp_default():
    assert _policy(0.1, "from sktvnet import TVNetFlow") == ["sampled", "OMP_WAIT_POLICY: None"]


def test_the_user_choice_is_kept():
    assert _policy(1.5, "from sktvnet import TVNetFlow", "ACTIVE") == ["OMP_WAIT_POLICY: ACTIVE"]


def test_nothing_is_sampled_when_torch_was_loaded_first():
    """OpenMP has read its policy already: changing the variable would only mislead."""
    lines = _policy(1.5, "import torch\nfrom sktvnet import TVNetFlow")
    assert lines == ["OMP_WAIT_POLICY: None"]


def test_the_numpy_side_samples_nothing():
    lines = _policy(1.5, "import sktvnet.reference, sktvnet.io\nfrom sktvnet import read_flo")
    assert lines == ["OMP_WAIT_POLICY: None"]
