"""Tests of ``sktvnet flow``: inputs, formats, resume, errors, and a run killed mid-way."""

import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import torch
from _media import moving_texture, write_video
from PIL import Image

from conftest import listing
from sktvnet import cli, io
from sktvnet.cli import flow as flow_cli

pytest.importorskip("av")

# Frozen TVNet with very few iterations: these tests check plumbing, not accuracy.
FAST = ["--weights", "none", "--n-scales", "1", "--n-warps", "1", "--n-iters", "3",
        "--no-compile", "-q"]
T, H, W = 8, 32, 48


@pytest.fixture(scope="module")
def media(tmp_path_factory):
    """An mp4 (H.264), a lossless mkv, a folder of PNG frames and a pair of PNG files."""
    folder = tmp_path_factory.mktemp("media")
    frames = moving_texture(T, H, W, dx=1)
    paths = {
        "mp4": write_video(folder / "walk.mp4", frames),
        "mkv": write_video(folder / "lossless.mkv", frames),
        "folder": folder / "frames",
        "pair": (folder / "a.png", folder / "b.png"),
    }
    paths["folder"].mkdir()
    for t, rgb in enumerate(frames):
        Image.fromarray(rgb).save(paths["folder"] / f"{t:06d}.png")
    Image.fromarray(frames[0]).save(paths["pair"][0])
    Image.fromarray(frames[1]).save(paths["pair"][1])
    return paths


def run(argv, capsys):
    """``sktvnet flow ARGV`` in this process: (status, stdout, stderr)."""
    status = cli.main(["flow", *(os.fspath(a) for a in argv)])
    out, err = capsys.readouterr()
    return status, out, err



def flo_names(n):
    return [f"{t:06d}.flo" for t in range(n)]


# ------------------------------------------------------------------------------------ formats
def test_every_format_gives_one_flow_per_pair(media, tmp_path, capsys):
    out_dir = tmp_path / "out"
    status, out, err = run([media["mp4"], "-o", out_dir, "--format", "flo,npz",
                            "--format", "png,mp4", "--legend", *FAST], capsys)
    assert status == 0, err
    assert listing(out_dir) == ["walk", "walk.mp4", "walk.npz"]
    names = listing(out_dir / "walk")
    assert names == sorted(flo_names(T - 1) + [f"{t:06d}.png" for t in range(T - 1)])
    with np.load(out_dir / "walk.npz") as archive:
        stack = archive["flow"]
    assert stack.shape == (T - 1, 2, H, W) and stack.dtype == np.float32
    for t in range(T - 1):
        np.testing.assert_array_equal(io.read_flo(out_dir / "walk" / f"{t:06d}.flo"), stack[t])
        with Image.open(out_dir / "walk" / f"{t:06d}.png") as png:
            assert png.size == (W, H) and png.mode == "RGB"
    video = io.read_video(out_dir / "walk.mp4")
    assert video.shape == (T - 1, H, W, 3)
    assert io.probe_video(out_dir / "walk.mp4").fps == 25  # the input's rate
    assert "walk: 7 flows in" in out and "1 of 1 input done, 7 flows computed" in out
    assert not any(name.startswith(".") for name in listing(out_dir) + names)


def test_flows_are_right_and_u_comes_first(media, tmp_path, capsys):
    """The texture moves 1 px right per frame: u = 1, v = 0 away from the uncovered border."""
    status, _, err = run([media["mkv"], "-o", tmp_path, "--format", "npz", "--weights", "none",
                          "--n-scales", "2", "--n-warps", "2", "--n-iters", "20", "--no-compile",
                          "-q"], capsys)
    assert status == 0, err
    with np.load(tmp_path / "lossless.npz") as archive:
        interior = archive["flow"][:, :, 4:-4, 4:-4]
    assert abs(np.median(interior[:, 0]) - 1.0) < 0.1
    assert abs(np.median(interior[:, 1])) < 0.1


def test_a_format_registered_in_flow_formats_works_end_to_end(media, tmp_path, capsys,
                                                              monkeypatch):
    """A new format is one entry of the table: --format, the help and the writing follow it."""
    class MeanWriter:
        """One line per pair, the mean u and v of its flow, published on close."""

        def __init__(self, path, fps):
            self.path, self.lines = path, [f"fps {fps:g}"]

        def write(self, flow):
            self.lines.append(f"{flow[0].mean():.6f} {flow[1].mean():.6f}")

        def close(self):
            with open(self.path, "w") as file:
                file.write("\n".join(self.lines) + "\n")

        def abort(self):
            self.lines = None

    monkeypatch.setitem(flow_cli.FLOW_FORMATS, "txt", flow_cli.FlowFormat(
        "txt", "mean u and v of every pair", open=lambda path, args, fps: MeanWriter(path, fps),
        reads=("fps",)))
    with pytest.raises(SystemExit):
        cli.main(["flow", "--help"])
    text = " ".join(capsys.readouterr().out.split())  # argparse wraps lines
    assert "OUTDIR/<name>.txt (txt, mean u and v of every pair)" in text
    assert "formats among flo, npz, png, mp4, txt" in text
    assert "png, mp4 and txt outputs:" in text and "frame rate of mp4 and txt outputs" in text
    status, out, err = run([media["mp4"], "-o", tmp_path, "--format", "npz,txt", "--fps", "12",
                            *FAST], capsys)
    assert status == 0, err
    assert "walk: 7 flows in" in out
    with np.load(tmp_path / "walk.npz") as archive:
        stack = archive["flow"]
    lines = (tmp_path / "walk.txt").read_text().splitlines()
    assert lines == ["fps 12"] + [f"{flow[0].mean():.6f} {flow[1].mean():.6f}" for flow in stack]
    status, out, err = run([media["mp4"], "-o", tmp_path, "--format", "txt", "--resume", *FAST],
                           capsys)
    assert status == 0, err
    assert "walk: 0 flows in" in out and "7 already complete" in out


def test_flo_files_read_by_opencv(media, tmp_path, capsys):
    cv2 = pytest.importorskip("cv2")
    assert run([media["mp4"], "-o", tmp_path, *FAST], capsys)[0] == 0
    for t in range(T - 1):
        path = tmp_path / "walk" / f"{t:06d}.flo"
        theirs = cv2.readOpticalFlow(str(path))  # (H, W, 2), u then v
        np.testing.assert_array_equal(np.moveaxis(theirs, -1, 0), io.read_flo(path))


def test_progress_bars_on_a_terminal(media, tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)  # bars show only on a terminal
    argv = [media["mp4"], media["folder"], "-o", tmp_path, *[a for a in FAST if a != "-q"]]
    status, _, err = run(argv, capsys)
    assert status == 0
    assert "inputs: 100%" in err and "2/2" in err  # over the files
    assert "walk:" in err and "7/7" in err and "pair/s" in err  # over the pairs of each


def test_progress_lines_through_a_pipe_arrive_before_the_run_ends(tmp_path):
    """stderr is a pipe (a log, nohup, CI): whole progress lines, flushed as the pairs are done."""
    n_frames = 24
    video = write_video(tmp_path / "long.mp4", moving_texture(n_frames, 64, 64, dx=1))
    argv = [sys.executable, "-m", "sktvnet", "flow", str(video), "-o", str(tmp_path / "out"),
            "--batch-size", "1", "--weights", "none", "--n-scales", "1", "--n-warps", "1",
            "--n-iters", "100", "--no-compile"]
    env = dict(os.environ, SKTVNET_COMPILE="0", SKTVNET_PROGRESS_INTERVAL="0")
    process = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True)
    try:
        model = process.stderr.readline()  # the command says first which model it runs
        first = process.stderr.readline()
        running_when_read = process.poll() is None
        _, rest = process.communicate(timeout=120)
    finally:
        process.kill()
    assert process.returncode == 0, first + rest
    assert model.startswith("sktvnet flow: TVNet, TV-L1 (no weights): TVNet-1-1-100")
    assert first.startswith(f"long: 1/{n_frames - 1} pairs (4%), ")
    assert "pairs/s, ETA " in first
    assert running_when_read, "the first progress line came only when the run had ended"
    lines = [first.rstrip("\n"), *rest.splitlines()]
    assert [line.split()[1] for line in lines[:n_frames - 1]] == [
        f"{k}/{n_frames - 1}" for k in range(1, n_frames)]


def test_image_folder_and_image_pair_inputs(media, tmp_path, capsys):
    status, out, err = run([media["folder"], *media["pair"], "-o", tmp_path, *FAST], capsys)
    assert status == 0, err
    assert listing(tmp_path) == ["a", "frames"]
    assert listing(tmp_path / "frames") == flo_names(T - 1)
    assert listing(tmp_path / "a") == flo_names(1)
    assert "2 of 2 inputs done, 8 flows computed" in out


def test_reference_method_resize_and_fps(media, tmp_path, capsys):
    status, _, err = run([media["mkv"], "-o", tmp_path, "--method", "reference", "--n-scales", "1",
                          "--n-warps", "1", "--n-iters", "3", "--frame-shape", "16x", "--format",
                          "npz,mp4", "--fps", "10", "-q"], capsys)
    assert status == 0, err
    assert ("sktvnet flow: the reference TV-L1 (NumPy), n_scales=1, n_warps=1, n_iters=3; "
            "IPOL's defaults otherwise") in err
    with np.load(tmp_path / "lossless.npz") as archive:
        assert archive["flow"].shape == (T - 1, 2, 16, 24)
    assert io.probe_video(tmp_path / "lossless.mp4").fps == 10


def test_batch_size_does_not_change_the_flows(media, tmp_path, capsys):
    for batch in ("1", "3"):
        assert run([media["mkv"], "-o", tmp_path / batch, "--format", "npz", "--batch-size", batch,
                    *FAST], capsys)[0] == 0
    with np.load(tmp_path / "1" / "lossless.npz") as one, \
            np.load(tmp_path / "3" / "lossless.npz") as three:
        np.testing.assert_allclose(one["flow"], three["flow"], atol=1e-4)


# ------------------------------------------------------------------------------------- resume
def test_resume_computes_only_what_is_missing(media, tmp_path, capsys):
    argv = [media["mp4"], "-o", tmp_path, "--format", "flo,npz", *FAST]
    assert run(argv, capsys)[0] == 0
    folder = tmp_path / "walk"
    kept = {name: os.stat(folder / name).st_mtime_ns for name in listing(folder)}
    os.remove(folder / "000003.flo")
    npz_time = os.stat(tmp_path / "walk.npz").st_mtime_ns
    (folder / ".000004.flo.0123456789ab.tmp").write_bytes(b"PIEH half")  # a killed write

    status, out, err = run([*argv, "--format", "flo", "--resume"], capsys)
    assert status == 0, err
    assert "1 flow computed" in out and "6 already complete" in out
    assert listing(folder) == flo_names(T - 1)  # the stale temporary is gone
    for name, mtime in kept.items():
        if name != "000003.flo":
            assert os.stat(folder / name).st_mtime_ns == mtime
    assert os.stat(tmp_path / "walk.npz").st_mtime_ns == npz_time  # complete: not rewritten

    # Everything complete: nothing is computed, nothing rewritten.
    status, out, _ = run([*argv, "--resume"], capsys)
    assert status == 0 and "0 flows computed" in out


def test_without_resume_outputs_are_rewritten(media, tmp_path, capsys):
    argv = [media["mp4"], "-o", tmp_path, "--format", "npz", *FAST]
    assert run(argv, capsys)[0] == 0
    (tmp_path / "walk.npz").write_bytes(b"stale")
    assert run(argv, capsys)[0] == 0
    with np.load(tmp_path / "walk.npz") as archive:
        assert archive["flow"].shape == (T - 1, 2, H, W)


def test_killed_run_then_resume_completes_every_output(tmp_path):
    """SIGKILL in the middle of a run (no clean-up possible), then --resume: every output exists,
    reads back, and agrees with the stack computed in the same run."""
    n_frames = 12
    video = write_video(tmp_path / "long.mp4", moving_texture(n_frames, 64, 64, dx=1))
    out_dir = tmp_path / "out"
    # Slow enough per pair (one pair per call, many iterations) to be caught mid-run.
    argv = [sys.executable, "-m", "sktvnet", "flow", str(video), "-o", str(out_dir),
            "--format", "flo,npz", "--batch-size", "1", "--weights", "none", "--n-scales", "1",
            "--n-warps", "1", "--n-iters", "40", "--no-compile", "-q"]
    env = dict(os.environ, SKTVNET_COMPILE="0")
    process = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    folder = out_dir / "long"
    deadline = time.monotonic() + 60
    try:
        while time.monotonic() < deadline and process.poll() is None:
            if folder.is_dir() and sum(n.endswith(".flo") for n in os.listdir(folder)) >= 2:
                break
            time.sleep(0.005)
    finally:
        process.send_signal(signal.SIGKILL)
        process.communicate()
    assert process.returncode == -signal.SIGKILL, "the run ended before it could be killed"
    done = [n for n in os.listdir(folder) if n.endswith(".flo")]
    assert 2 <= len(done) < n_frames - 1
    assert not (out_dir / "long.npz").exists()  # published only when complete
    kept = {name: os.stat(folder / name).st_mtime_ns for name in done}

    result = subprocess.run(argv + ["--resume"], env=env, capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr
    assert listing(folder) == flo_names(n_frames - 1)  # no temporary left either
    assert {name: os.stat(folder / name).st_mtime_ns for name in done} == kept  # not rewritten
    with np.load(out_dir / "long.npz") as archive:
        stack = archive["flow"]
    assert stack.shape == (n_frames - 1, 2, 64, 64)
    for t in range(n_frames - 1):
        np.testing.assert_array_equal(io.read_flo(folder / f"{t:06d}.flo"), stack[t])


# ------------------------------------------------------------------------------------- errors
def test_one_bad_input_is_reported_and_skipped(media, tmp_path, capsys):
    bad = tmp_path / "broken.mp4"
    bad.write_bytes(b"not a video at all" * 20)
    missing = tmp_path / "missing.avi"
    status, out, err = run([bad, media["mp4"], missing, "-o", tmp_path / "out", *FAST], capsys)
    assert status == 1
    assert listing(tmp_path / "out") == ["walk"]
    assert listing(tmp_path / "out" / "walk") == flo_names(T - 1)
    assert f"sktvnet flow: error: cannot read '{bad}' as a video" in err
    assert f"no such video file or image folder: '{missing}'; skipped" in err
    assert "2 inputs failed" in err and "1 of 3 inputs done" in out


def test_truncated_video_is_reported(tmp_path, capsys):
    path = write_video(tmp_path / "cut.mkv", moving_texture(30, 32, 48))
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    status, _, err = run([path, "-o", tmp_path / "out", "--format", "npz", *FAST], capsys)
    assert status == 1
    assert "is truncated or corrupt" in err and str(path) in err
    assert listing(tmp_path / "out") == []  # the stack of a failed input is not published


def test_truncated_video_summary_counts_the_flows_written(tmp_path, capsys):
    path = write_video(tmp_path / "cut.mkv", moving_texture(30, 32, 48))
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    status, out, err = run([path, "-o", tmp_path / "out", *FAST], capsys)
    assert status == 1 and "is truncated or corrupt" in err
    written = len(listing(tmp_path / "out" / "cut"))
    assert written > 0
    assert f"0 of 1 input done, {written} flows computed" in out


def test_single_frame_video(tmp_path, capsys):
    path = write_video(tmp_path / "one.mkv", moving_texture(1, 32, 48))
    status, _, err = run([path, "-o", tmp_path / "out", *FAST], capsys)
    assert status == 1 and "has a single frame: a flow needs at least two" in err


def test_failed_inputs_leave_no_empty_folder(media, tmp_path, capsys):
    """Per-pair outputs go to OUTDIR/<name>/: an input that fails before its first flow (frames
    of two sizes, a single frame) must not leave that folder behind, empty."""
    mixed = tmp_path / "mixed"
    mixed.mkdir()
    Image.fromarray(np.zeros((32, 48, 3), np.uint8)).save(mixed / "0.png")
    Image.fromarray(np.zeros((32, 40, 3), np.uint8)).save(mixed / "1.png")
    single = write_video(tmp_path / "one.mkv", moving_texture(1, 32, 48))
    out = tmp_path / "out"
    status, _, err = run([mixed, single, media["folder"], "-o", out, "--format", "flo,png",
                          *FAST], capsys)
    assert status == 1
    assert "all frames of an image sequence must have the same size" in err
    assert "has a single frame" in err
    assert listing(out) == ["frames"]  # only the input that worked has a folder
    assert len(listing(out / "frames")) == 2 * (T - 1)


def test_failed_input_keeps_a_folder_it_did_not_create(tmp_path, capsys):
    out = tmp_path / "out"
    (out / "one").mkdir(parents=True)
    single = write_video(tmp_path / "one.mkv", moving_texture(1, 32, 48))
    status, _, _ = run([single, "-o", out, *FAST], capsys)
    assert status == 1 and listing(out) == ["one"]


@pytest.mark.parametrize("inputs, message", [
    (["a.png"], "image files are read in pairs (frame t, then frame t+1), but 'a.png' is "
                "followed by nothing"),
    (["a.png", "clip.mp4"], "'a.png' is followed by 'clip.mp4'"),
    (["x/clip.mp4", "y/clip.avi"], "'x/clip.mp4' and 'y/clip.avi' would write the same outputs"),
])
def test_bad_input_lists_fail_before_any_work(tmp_path, capsys, inputs, message):
    status, _, err = run([*inputs, "-o", tmp_path / "out", *FAST], capsys)
    assert status == 1
    assert message in err
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("option, message", [
    (["--tau", "0.5"], "tau must be <= 0.25, got 0.5"),
    (["--method", "reference", "--tol", "-1"], "tol must be >= 0.0, got -1.0"),
    (["--device", "nonsense"], "--device must be auto, cpu, cuda or cuda:N, got 'nonsense'"),
    (["--weights", "nope"], "neither 'DEFAULT', a bundled name"),
    pytest.param(["--device", "cuda:0"], "CUDA is not available here", marks=pytest.mark.skipif(
        torch.cuda.is_available(), reason="CUDA is available on this machine")),
])
def test_bad_solver_options_fail_with_a_message(media, tmp_path, capsys, option, message):
    fast = FAST[2:] if "--weights" in option else FAST
    status, _, err = run([media["mp4"], "-o", tmp_path, *fast, *option], capsys)
    assert status == 1 and message in err
    assert listing(tmp_path) == []


@pytest.mark.parametrize("option, message", [
    (["--format", "gif"], "expected one or more of flo, npz, png, mp4"),
    (["--frame-shape", "0x10"], "expected HEIGHTxWIDTH with positive sizes"),
    (["--frame-shape", "big"], "expected HEIGHTxWIDTH"),
    (["--n-iters", "0"], "expected a positive int, got '0'"),
    (["--batch-size", "two"], "expected a int, got 'two'"),
])
def test_bad_option_values_are_usage_errors(media, tmp_path, capsys, option, message):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["flow", os.fspath(media["mp4"]), "-o", os.fspath(tmp_path), *option])
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err


def test_output_is_required(media, capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["flow", os.fspath(media["mp4"])])
    assert exit_info.value.code == 2
    assert "the following arguments are required: -o/--output" in capsys.readouterr().err


@pytest.mark.parametrize("command, options", [
    ("flow", ["--format", "--resume", "--method", "--n-scales", "--n-warps", "--n-iters", "--tau",
              "--lmbda", "--theta", "--zoom-factor", "--eps", "--tol", "--device", "--batch-size",
              "--frame-shape", "--no-compile", "--max-flow", "--legend", "--fps", "--texture",
              "--interpolation"]),
    ("demo", ["--quick", "--output"]),
])
def test_every_subcommand_has_help(capsys, command, options):
    with pytest.raises(SystemExit) as exit_info:
        cli.main([command, "--help"])
    assert exit_info.value.code == 0
    text = capsys.readouterr().out
    assert text.startswith(f"usage: sktvnet {command}")
    for option in options:
        assert option in text


def test_weights_file_sets_the_steps(media, tmp_path, capsys):
    from sktvnet.network import TVNet
    from sktvnet.pretrained import save_weights

    net = TVNet(n_scales=1, n_warps=1, n_iters=3)
    with torch.no_grad():
        net.log_lmbda.fill_(1.0)  # a data term e times heavier
    save_weights(net, tmp_path / "w.safetensors")
    flows = {}
    for weights in ("none", tmp_path / "w.safetensors"):
        out = tmp_path / str(len(flows))
        # The file's structure is TVNet-1-1-3 too: FAST's options agree with it.
        status, _, err = run([media["mkv"], "-o", out, "--format", "npz", *FAST[2:],
                              "--weights", weights], capsys)
        assert status == 0, err
        with np.load(out / "lossless.npz") as archive:
            flows[str(weights)] = archive["flow"]
    assert np.abs(flows[str(tmp_path / "w.safetensors")] - flows["none"]).max() > 1e-3


@pytest.mark.parametrize("option", [["--texture"], ["--interpolation", "bicubic"]])
def test_texture_and_interpolation_options_reach_the_network(media, tmp_path, capsys, option):
    flows = {}
    for options in ([], option):
        out = tmp_path / str(len(flows))
        # Two warps: the first warp of one level samples at whole pixels, the same either way.
        status, _, err = run([media["mkv"], "-o", out, "--format", "npz", *FAST,
                              "--n-warps", "2", *options], capsys)
        assert status == 0, err
        with np.load(out / "lossless.npz") as archive:
            flows[tuple(options)] = archive["flow"]
    assert np.isfinite(flows[tuple(option)]).all()
    assert np.abs(flows[tuple(option)] - flows[()]).max() > 1e-3


@pytest.mark.parametrize("options, recommended", [
    ([], True),  # the default: the recommended weights, with their structure
    (["--weights", "RECOMMENDED"], True),
    (["--n-iters", "15", "--lmbda", "0.15"], True),  # the weights' own values: no conflict
    (["--weights", "none"], False),  # frozen TV-L1, TVNetFlow(weights=None)'s structure
])
def test_the_model_is_the_weights_and_the_command_says_which(
        media, tmp_path, capsys, monkeypatch, options, recommended):
    from sktvnet import pretrained
    from sktvnet.network import TVNet

    built = []
    original = TVNet.__init__

    def record(self, **kwargs):
        original(self, **kwargs)
        built.append(self)

    monkeypatch.setattr(TVNet, "__init__", record)
    name = pretrained.RECOMMENDED
    options = [name if option == "RECOMMENDED" else option for option in options]
    status, _, err = run([media["mkv"], "-o", tmp_path, "--format", "npz", "--frame-shape", "24x32",
                          "--no-compile", *options], capsys)
    assert status == 0, err
    config = pretrained.WEIGHTS[name].config
    from sktvnet import network

    aligners = list(network._MATCH_ALIGNERS.values())  # match_brightness's, built when used
    net = [net for net in built if not any(net is aligner for aligner in aligners)][-1]
    assert ({k: getattr(net, k) for k in config} == config) is recommended
    trained = pretrained.load_weights(pretrained.WEIGHTS[name].path)[0]["log_lmbda"]
    said = [line for line in err.splitlines() if line.startswith("sktvnet flow: TVNet, ")]
    assert len(said) == 1  # once
    if recommended:
        torch.testing.assert_close(net.log_lmbda.detach().cpu(), trained, rtol=0, atol=0)
        assert f"weights {name!r}: TVNet-8-2-15" in said[0]
    else:
        assert not net.log_lmbda.any() and net.texture is False and net.n_scales == 10
        assert "TV-L1 (no weights): TVNet-10-1-50" in said[0]


@pytest.mark.parametrize("options, message", [
    (["--n-iters", "20"], "--n-iters 20 contradicts the weights 'RECOMMENDED', made for "
                          "--n-iters 15; drop --n-iters to follow the weights, or add "
                          "--weights none"),
    (["--weights", "tvnet-8-2-15", "--texture"], "--texture contradicts the weights "
                                                 "'tvnet-8-2-15', made for --no-texture"),
    (["--method", "reference", "--weights", "tvnet-8-2-15"],
     "--weights applies to --method tvnet; the reference TV-L1 has no weights"),
    (["--tol", "0.1"], "--tol 0.1 contradicts the weights 'RECOMMENDED', made for --tol 0.0"),
    (["--weights", "tvnet-8-2-15", "--preset", "opencv"],
     "--preset opencv contradicts the weights 'tvnet-8-2-15', made without --preset"),
    (["--method", "reference", "--device", "cpu"], "--device applies to --method tvnet"),
    (["--device", "cuda"], "--device cuda: CUDA is not available here; use --device auto or "
                           "--device cpu"),
])
def test_contradictory_options_are_errors_that_speak_cli(media, tmp_path, capsys, options,
                                                         message):
    from sktvnet import pretrained

    if "CUDA" in message and torch.cuda.is_available():
        pytest.skip("CUDA is available on this machine")
    message = message.replace("RECOMMENDED", pretrained.RECOMMENDED)
    status, out, err = run([media["mkv"], "-o", tmp_path / "out", "--no-compile", *options],
                           capsys)
    assert status == 1 and message in err
    assert "n_iters=" not in err and "weights=None" not in err  # no Python API advice
    assert "device=" not in err and "None" not in err
    assert not (tmp_path / "out").exists()


def test_a_weights_file_needs_no_structure_repeated_and_one_contradicting_is_an_error(
        media, tmp_path, capsys):
    from sktvnet.network import TVNet
    from sktvnet.pretrained import save_weights

    save_weights(TVNet(n_scales=1, n_warps=1, n_iters=3), tmp_path / "w.safetensors")
    status, _, err = run([media["mkv"], "-o", tmp_path / "a", "--no-compile", "-q",
                          "--weights", tmp_path / "w.safetensors"], capsys)
    assert status == 0, err
    assert f"weights file {str(tmp_path / 'w.safetensors')!r}: TVNet-1-1-3" in err
    status, _, err = run([media["mkv"], "-o", tmp_path / "b", "--no-compile", "-q",
                          "--weights", tmp_path / "w.safetensors", "--n-iters", "20"], capsys)
    assert status == 1 and "--n-iters 20 contradicts the weights file" in err
    assert "made for --n-iters 3" in err


def test_the_command_writes_what_tvnetflow_computes(media, tmp_path, capsys):
    """`sktvnet flow` and TVNetFlow() run the same default model, and equal load_pretrained."""
    from sktvnet import TVNetFlow, load_pretrained
    from sktvnet.io import read_video

    status, _, err = run([media["mkv"], "-o", tmp_path, "--format", "npz", "--frame-shape", "24x32",
                          "--no-compile", "-q"], capsys)
    assert status == 0, err
    with np.load(tmp_path / "lossless.npz") as archive:
        written = archive["flow"]
    video = read_video(media["mkv"], frame_shape=(24, 32))[None]
    expected = TVNetFlow(batch_size=8).fit_transform(video)[0]
    np.testing.assert_array_equal(expected, load_pretrained().transform(video)[0])
    np.testing.assert_allclose(written, expected, rtol=0, atol=1e-4)


def test_a_saved_model_is_a_model_for_the_command(media, tmp_path, capsys):
    from sktvnet import TVNetFlow
    from sktvnet.io import read_video

    video = read_video(media["mkv"], frame_shape=(24, 32))[None]
    est = TVNetFlow(weights=None, n_scales=1, n_iters=3).fit(video)
    est.save(tmp_path / "model.zip")
    status, _, err = run([media["mkv"], "-o", tmp_path / "out", "--format", "npz", "--frame-shape",
                          "24x32", "--no-compile", "-q", "--weights", tmp_path / "model.zip"],
                         capsys)
    assert status == 0, err
    assert "model file" in err and "TVNet-1-1-3" in err
    with np.load(tmp_path / "out" / "lossless.npz") as archive:
        np.testing.assert_allclose(archive["flow"], est.transform(video)[0], rtol=0, atol=1e-4)


def test_a_non_finite_flow_exits_non_zero_and_names_the_pair(media, tmp_path, capsys,
                                                             monkeypatch):
    from sktvnet.network import TVNet

    original = TVNet.forward

    def broken(self, x0, x1):
        flow = original(self, x0, x1)
        flow[-1, 0, 0, 0] = float("nan")  # the last pair of every batch
        return flow

    monkeypatch.setattr(TVNet, "forward", broken)
    status, out, err = run([media["mkv"], "-o", tmp_path, *FAST, "--batch-size", "3"], capsys)
    assert status == 1
    assert (f"the flow of pair 2 of {str(media['mkv'])!r} (frames 2 and 3) is not finite"
            in err)
    # What was written before it is counted, and kept for --resume.
    assert listing(tmp_path / "lossless") == flo_names(2)
    assert "0 of 1 input done, 2 flows computed" in out


def test_preset_opencv_with_the_reference_and_with_tvnet(media, tmp_path, capsys):
    from sktvnet import tvl1_optical_flow

    status, _, err = run([media["mkv"], "-o", tmp_path / "ref", "--format", "npz", "--method",
                          "reference", "--preset", "opencv", "--n-warps", "1", "--n-iters", "10",
                          "-q"], capsys)
    assert status == 0, err
    assert "n_warps=1, n_iters=10, preset='opencv'; OpenCV DualTVL1's defaults otherwise" in err
    frames = io.read_video(media["mkv"])
    expected = tvl1_optical_flow(frames[0], frames[1], preset="opencv", n_warps=1, n_iters=10)
    with np.load(tmp_path / "ref" / "lossless.npz") as archive:
        np.testing.assert_allclose(archive["flow"][0], expected, atol=1e-5)
    # TVNet without --weights: frozen TV-L1 as OpenCV, not the recommended weights.
    status, _, err = run([media["mkv"], "-o", tmp_path / "tvnet", "--format", "npz", "--preset",
                          "opencv", "--n-iters", "2", "--no-compile", "-q"], capsys)
    assert status == 0, err
    assert "TVNet-5-5-2" in err and "preset='opencv'" in err and "median_filter=5" in err
