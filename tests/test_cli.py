"""Tests of the ``sktvnet`` command's entry point (sktvnet.cli.main, python -m sktvnet)."""

import os
import subprocess
import sys
import time

import pytest

from sktvnet import cli


@pytest.mark.parametrize("module", ["sktvnet", "sktvnet.cli"])
def test_python_dash_m_help(module):
    result = subprocess.run(
        [sys.executable, "-m", module, "demo", "--help"],
        capture_output=True, text=True, timeout=60,
    )
    assert result.returncode == 0
    assert "--quick" in result.stdout and "--output" in result.stdout


def test_version(capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["--version"])
    assert exit_info.value.code == 0
    assert capsys.readouterr().out.startswith("sktvnet ")


def test_no_subcommand_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.main([])
    assert exit_info.value.code == 2
    assert "the following arguments are required: COMMAND" in capsys.readouterr().err


def test_unknown_subcommand_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["fly"])
    assert exit_info.value.code == 2
    assert "invalid choice: 'fly'" in capsys.readouterr().err


@pytest.mark.parametrize("command", [["demo", "--quick"], ["flow", "a.mp4", "--no-compile"]])
def test_unwritable_output_fails_with_a_message(tmp_path, capsys, command):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    status = cli.main([*command, "-o", str(blocker / "out")])
    assert status == 1
    err = capsys.readouterr().err
    assert err.startswith(f"sktvnet {command[0]}: error: cannot create the output folder ")
    assert f"{blocker / 'out'}" in err


def test_errors_inside_a_command_return_1(tmp_path, capsys, monkeypatch):
    def broken(image0, image1):
        raise ValueError("frames must have the same shape, got (2, 2) and (3, 3)")

    monkeypatch.setattr(cli.demo, "_DEMO_METHODS", [("broken", "broken", broken)])
    status = cli.main(["demo", "--quick", "-o", str(tmp_path)])
    assert status == 1
    assert "sktvnet demo: error: frames must have the same shape" in capsys.readouterr().err


def test_keyboard_interrupt_returns_130(tmp_path, capsys, monkeypatch):
    def interrupted(image0, image1):
        raise KeyboardInterrupt

    monkeypatch.setattr(cli.demo, "_DEMO_METHODS", [("x", "x", interrupted)])
    assert cli.main(["demo", "--quick", "-o", str(tmp_path)]) == 130
    assert "interrupted" in capsys.readouterr().err


# The child replaces the flow handler by one that reports the wait policy torch would start with.
_REPORT_WAIT_POLICY = """
import os, sys
from sktvnet.cli import flow, main

import sktvnet._threads
sktvnet._threads.busy_cores = lambda: float(sys.argv[1])  # the machine's use, as the test sets it

def report(args):
    print("torch loaded:", "torch" in sys.modules)
    print("OMP_WAIT_POLICY:", os.environ.get("OMP_WAIT_POLICY"))
    return 0

flow.run = report
sys.exit(main(["flow", "a.png", "b.png", "-o", "out"]))
"""


@pytest.mark.parametrize("user_value, load, seen", [
    (None, 1.5, "PASSIVE"),   # busy: sleeping threads leave the cores to the other work
    (None, 0.1, "None"),      # idle: OpenMP's default (spinning) is faster
    (None, "nan", "None"),    # unknown use: OpenMP's default
    ("ACTIVE", 1.5, "ACTIVE"),  # the user's choice is kept
])
def test_command_sets_a_passive_wait_policy_on_a_busy_machine_unless_the_user_chose(
        user_value, load, seen):
    env = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"}
    if user_value is not None:
        env["OMP_WAIT_POLICY"] = user_value
    result = subprocess.run([sys.executable, "-c", _REPORT_WAIT_POLICY, str(load)],
                            capture_output=True, text=True, timeout=60, env=env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ["torch loaded: False", f"OMP_WAIT_POLICY: {seen}"]


def test_busy_cores_sees_a_busy_process():
    from sktvnet import _threads

    idle = _threads.busy_cores()
    busy = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        time.sleep(0.3)
        loaded = _threads.busy_cores()
    finally:
        busy.kill()
    assert idle is not None and loaded is not None
    assert loaded > 0.5  # one spinning process keeps about one core busy
