"""Tests of ``sktvnet extract``: a tree of videos to rawframes, resume, bad videos, a killed run."""

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
from _media import moving_texture, write_video
from PIL import Image

from sktvnet import cli
from sktvnet.cli.extract import _new_size
from sktvnet.datasets import load_rawframes_folder
from sktvnet.io import read_rawframes

# Writing the mp4 files of the dataset needs the video extra (PyAV).
pytest.importorskip("av", reason="the video extra (av) is not installed")

# Frozen TV-L1 with very few iterations: these tests check plumbing, not accuracy.
FAST = ["--weights", "none", "--n-scales", "1", "--n-warps", "1", "--n-iters", "10",
        "--no-compile", "-q"]
H, W = 24, 32
# (output name, frames, dx) of the tree's videos, the first two one level deeper.
VIDEOS = [("Left/take1/a", 6, -1), ("Left/take1/b", 5, -1), ("Right/c", 6, 1), ("Right/d", 4, 1)]


def make_tree(root):
    """Two classes of small mp4 videos moving left or right, with clutter to ignore."""
    for name, n_frames, dx in VIDEOS:
        path = root / f"{name}.mp4"
        path.parent.mkdir(parents=True, exist_ok=True)
        write_video(path, moving_texture(n_frames, H, W, dx=dx, seed=len(name) + n_frames))
    (root / "Right" / "notes.txt").write_text("not a video")
    (root / "Right" / ".hidden.mp4").write_bytes(b"")
    (root / "classInd.txt").write_text("1 Left\n2 Right\n")
    return root


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    return make_tree(tmp_path_factory.mktemp("dataset"))


def run(argv, capsys):
    """``sktvnet extract ARGV`` in this process: (status, stdout, stderr)."""
    status = cli.main(["extract", *(os.fspath(a) for a in argv)])
    out, err = capsys.readouterr()
    return status, out, err


def manifest(out):
    with open(out / "manifest.jsonl") as handle:
        return [json.loads(line) for line in handle]


def manifest_lines(out):
    """The manifest's entries that parse (a line cut by a crash does not)."""
    entries = []
    for line in (out / "manifest.jsonl").read_text().splitlines():
        try:
            entries.append(json.loads(line))
        except ValueError:
            continue
    return entries


def flow_names(n_pairs, start=1):
    return sorted(f"flow_{axis}_{t:05d}.jpg" for axis in "xy"
                  for t in range(start, start + n_pairs))


def tree_files(root):
    """{relative path: bytes} of every file under root but the manifest."""
    files = {}
    for folder, _, names in os.walk(root):
        for name in names:
            path = os.path.join(folder, name)
            if name != "manifest.jsonl":
                with open(path, "rb") as handle:
                    files[os.path.relpath(path, root)] = handle.read()
    return files


# ---------------------------------------------------------------------------------- the tree
def test_tree_extracted_end_to_end(dataset, tmp_path, capsys):
    out = tmp_path / "out"
    status, stdout, err = run([dataset, "-o", out, "--rgb", *FAST], capsys)
    assert status == 0, err
    assert sorted(os.listdir(out)) == ["Left", "Right", "manifest.jsonl"]
    for name, n_frames, dx in VIDEOS:
        folder = out / name
        images = [f"img_{t:05d}.jpg" for t in range(1, n_frames + 1)]
        assert sorted(os.listdir(folder)) == sorted(flow_names(n_frames - 1) + images), name
        flows = read_rawframes(folder)
        assert flows.shape == (n_frames - 1, 2, H, W)
        inner = flows[:, :, 6:-6, 6:-6]
        assert abs(inner[:, 0].mean() - dx) < 0.3 and abs(inner[:, 1].mean()) < 0.3, name
        with Image.open(folder / "img_00001.jpg") as image:
            assert (image.format, image.mode, image.size) == ("JPEG", "RGB", (W, H))
    records = manifest(out)
    assert records[0]["settings"]["layout"] == "rawframes" and records[0]["settings"]["bound"] == 20
    assert [(r["video"], r["status"], r["frames"], r["pairs"]) for r in records[1:]] == [
        (name, "done", n, n - 1) for name, n, _ in VIDEOS]
    assert "4 of 4 videos extracted, 17 pairs" in stdout
    assert "flow by TVNet, frozen TV-L1 (no weights)" in err

    # What the other end reads: (X, y) for FlowHistogram.
    X, y = load_rawframes_folder(out)
    assert y.tolist() == ["Left", "Left", "Right", "Right"]
    assert [x.shape[0] for x in X] == [n - 1 for _, n, _ in VIDEOS]


def test_bad_video_is_reported_and_skipped(dataset, tmp_path, capsys):
    root = make_tree(tmp_path / "dataset")
    (root / "Left" / "broken.avi").write_bytes(b"not a video at all" * 20)
    cut = write_video(root / "Right" / "cut.mkv", moving_texture(30, H, W))
    cut.write_bytes(cut.read_bytes()[: cut.stat().st_size // 2])
    out = tmp_path / "out"
    status, stdout, err = run([root, "-o", out, *FAST], capsys)
    assert status == 1
    assert f"cannot read '{root / 'Left' / 'broken.avi'}' as a video" in err
    assert "is truncated or corrupt" in err and "; skipped" in err
    assert "2 videos failed: Left/broken, Right/cut" in err
    assert "4 of 6 videos extracted" in stdout
    for name, n_frames, _ in VIDEOS:  # the run went on
        assert sorted(os.listdir(out / name)) == flow_names(n_frames - 1)
    # Nothing left of the failed ones, not even a hidden partial folder.
    assert sorted(os.listdir(out / "Left")) == ["take1"]
    assert sorted(os.listdir(out / "Right")) == ["c", "d"]
    failed = {r["video"]: r for r in manifest(out)[1:] if r["status"] == "failed"}
    assert sorted(failed) == ["Left/broken", "Right/cut"]
    assert "truncated" in failed["Right/cut"]["error"]

    # --resume retries the failed videos only: they fail again, the others are kept.
    status, stdout, err = run([root, "-o", out, "--resume", *FAST], capsys)
    assert status == 1 and "4 of 6 videos already extracted" in err
    assert "0 of 2 videos extracted" in stdout


def test_numbering_bound_and_resizing_options(dataset, tmp_path, capsys):
    out = tmp_path / "out"
    status, _, err = run([dataset, "-o", out, "--start-index", "0", "--bound", "5",
                          "--new-size", "16x", *FAST], capsys)
    assert status == 0, err
    assert sorted(os.listdir(out / "Right" / "d")) == flow_names(3, start=0)
    with Image.open(out / "Right" / "d" / "flow_x_00000.jpg") as image:
        assert image.size == (16, 12)  # width 16, height round(24 / 32 * 16)
    flows = read_rawframes(out / "Right" / "d", bound=5)
    assert abs(flows[:, 0, 3:-3, 3:-3].mean() - 0.5) < 0.2  # half a pixel at half the size
    assert manifest(out)[0]["settings"]["new_size"] == [16, None]

    out = tmp_path / "short"
    status, _, err = run([dataset, "-o", out, "--new-short", "12", *FAST], capsys)
    assert status == 0, err
    with Image.open(out / "Left" / "take1" / "a" / "flow_y_00001.jpg") as image:
        assert image.size == (16, 12)


def test_new_size_follows_denseflow():
    # Both sides given: that size; one side: the other keeps the aspect ratio, rounded.
    assert _new_size(240, 320, None, (340, 256)) == (256, 340)
    assert _new_size(240, 320, None, (None, 100)) == (100, 133)
    assert _new_size(240, 320, None, (100, None)) == (75, 100)
    # The short side becomes new_short, portrait or landscape, never enlarged.
    assert _new_size(240, 320, 128, None) == (128, 171)
    assert _new_size(320, 240, 128, None) == (171, 128)
    assert _new_size(240, 320, 256, None) is None
    assert _new_size(240, 320, 240, None) is None
    assert _new_size(240, 320, None, None) is None


def test_reference_method(tmp_path, capsys):
    root = tmp_path / "dataset"
    (root / "Right").mkdir(parents=True)
    write_video(root / "Right" / "v.mp4", moving_texture(3, H, W, dx=1))
    status, _, err = run([root, "-o", tmp_path / "out", "--method", "reference", "-q"], capsys)
    assert status == 0, err
    assert "the NumPy reference TV-L1" in err
    flows = read_rawframes(tmp_path / "out" / "Right" / "v")
    assert flows.shape == (2, 2, H, W)
    assert abs(flows[:, 0, 6:-6, 6:-6].mean() - 1) < 0.15


def test_progress_line_for_the_whole_dataset(dataset, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("SKTVNET_PROGRESS_INTERVAL", "0")
    status, _, err = run([dataset, "-o", tmp_path / "out", *[a for a in FAST if a != "-q"]],
                         capsys)
    assert status == 0, err
    lines = [line for line in err.splitlines() if line.startswith("extract: ")]
    assert len(lines) == 4
    assert lines[0].startswith("extract: 1/4 videos (25%), ")
    assert "ETA" in lines[0] and "pairs=5, pairs/s=" in lines[0]
    assert lines[-1].startswith("extract: 4/4 videos (100%), ") and "pairs=17" in lines[-1]


def test_output_kept_unless_resume_with_the_same_options(dataset, tmp_path, capsys):
    out = tmp_path / "out"
    assert run([dataset, "-o", out, *FAST], capsys)[0] == 0
    before = {name: os.stat(out / name / "flow_x_00001.jpg").st_mtime_ns for name, _, _ in VIDEOS}
    status, _, err = run([dataset, "-o", out, *FAST], capsys)
    assert status == 1 and "holds an extraction already (manifest.jsonl): pass --resume" in err
    status, _, err = run([dataset, "-o", out, "--resume", "--bound", "10", *FAST], capsys)
    assert status == 1 and "was extracted with other options (bound" in err
    status, stdout, err = run([dataset, "-o", out, "--resume", *FAST], capsys)
    assert status == 0 and "4 of 4 videos already extracted" in err
    assert "0 of 0 videos extracted, 0 pairs" in stdout and "17 pairs kept" in stdout
    after = {name: os.stat(out / name / "flow_x_00001.jpg").st_mtime_ns for name, _, _ in VIDEOS}
    assert after == before  # nothing rewritten


def test_finished_video_missing_from_the_manifest_is_kept(dataset, tmp_path, capsys):
    """Killed between renaming a video into place and writing its line: the folder is complete
    (it is renamed only then), so --resume keeps it and writes its line."""
    out = tmp_path / "out"
    assert run([dataset, "-o", out, *FAST], capsys)[0] == 0
    lines = (out / "manifest.jsonl").read_text().splitlines(keepends=True)
    (out / "manifest.jsonl").write_text("".join(lines[:3]) + lines[3][:20])  # a line cut short
    status, _, err = run([dataset, "-o", out, "--resume", *FAST], capsys)
    assert status == 0 and "4 of 4 videos already extracted" in err
    records = {r["video"]: r for r in manifest_lines(out)[1:]}
    assert sorted(records) == [name for name, _, _ in VIDEOS]
    assert records["Right/d"] == {"video": "Right/d", "source": "Right/d.mp4", "status": "done",
                                  "frames": 4, "pairs": 3, "recovered": True}


def test_errors_before_any_video(tmp_path, capsys):
    status, _, err = run([tmp_path / "missing", "-o", tmp_path / "out", *FAST], capsys)
    assert status == 1 and "DATASET must be a folder" in err
    (tmp_path / "empty" / "Run").mkdir(parents=True)
    status, _, err = run([tmp_path / "empty", "-o", tmp_path / "out", *FAST], capsys)
    assert status == 1 and "holds no video file" in err
    assert not (tmp_path / "out").exists()
    root = tmp_path / "twins"
    (root / "Run").mkdir(parents=True)
    for name in ("v.avi", "v.mp4"):
        (root / "Run" / name).write_bytes(b"")
    status, _, err = run([root, "-o", tmp_path / "out", *FAST], capsys)
    assert status == 1 and "would both be written to 'Run/v'" in err
    with pytest.raises(SystemExit):
        cli.main(["extract", os.fspath(root), "-o", "x", "--new-size", "0x10"])


def test_parallel_jobs_write_the_same_files(dataset, tmp_path, capsys):
    assert run([dataset, "-o", tmp_path / "one", *FAST], capsys)[0] == 0
    status, _, err = run([dataset, "-o", tmp_path / "two", "--n-jobs", "2", *FAST], capsys)
    assert status == 0, err
    assert tree_files(tmp_path / "two") == tree_files(tmp_path / "one")


def test_dask_cluster_writes_the_same_files(dataset, tmp_path, capsys):
    distributed = pytest.importorskip("distributed", reason="dask.distributed is not installed")
    assert run([dataset, "-o", tmp_path / "local", *FAST], capsys)[0] == 0
    with distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=False,
                                  dashboard_address=None) as cluster:
        status, _, err = run([dataset, "-o", tmp_path / "dask", "--dask",
                              cluster.scheduler_address, *FAST], capsys)
    assert status == 0, err
    assert tree_files(tmp_path / "dask") == tree_files(tmp_path / "local")


@pytest.mark.skipif(not __import__("torch").cuda.is_available(),
                    reason="no CUDA device on this machine")
def test_cuda_device_matches_cpu(dataset, tmp_path, capsys):
    assert run([dataset, "-o", tmp_path / "cpu", "--device", "cpu", *FAST], capsys)[0] == 0
    assert run([dataset, "-o", tmp_path / "cuda", "--device", "cuda", *FAST], capsys)[0] == 0
    quantum = 40 / 255
    for name, _, _ in VIDEOS:
        cpu = read_rawframes(tmp_path / "cpu" / name)
        cuda = read_rawframes(tmp_path / "cuda" / name)
        # Equal flows up to float rounding: a level here and there where they round apart, which
        # JPEG may spread to a level or two around it.
        assert np.abs(cpu - cuda).mean() <= 0.1 * quantum
        assert np.abs(cpu - cuda).max() <= 3 * quantum


# ------------------------------------------------------------------------------ kill -9, resume
def test_killed_run_then_resume_gives_the_uninterrupted_files(tmp_path):
    """SIGKILL after the first video is done (no clean-up possible), then --resume: finished
    videos are kept as they were, no partial folder is left, and the files are those of a run
    that was never interrupted."""
    root = tmp_path / "dataset"
    for k in range(4):
        (root / "Run").mkdir(parents=True, exist_ok=True)
        write_video(root / "Run" / f"v{k}.mp4", moving_texture(10, 48, 64, dx=1, seed=k))
    # Slow enough per video (one pair per call, many iterations) to be caught mid-run.
    options = ["--weights", "none", "--n-scales", "1", "--n-warps", "1", "--n-iters", "150",
               "--batch-size", "1", "--no-compile", "-q"]
    env = dict(os.environ, SKTVNET_COMPILE="0", OMP_NUM_THREADS="1")

    def command(out):
        return [sys.executable, "-m", "sktvnet", "extract", str(root), "-o", str(out), *options]

    whole = subprocess.run(command(tmp_path / "whole"), env=env, capture_output=True, text=True,
                           timeout=300)
    assert whole.returncode == 0, whole.stderr

    out = tmp_path / "out"
    process = subprocess.Popen(command(out), env=env, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    try:
        # Kill once a video is finished and the next one is being written.
        while time.monotonic() < deadline and process.poll() is None:
            entries = os.listdir(out / "Run") if (out / "Run").is_dir() else []
            if any(n.startswith(".") for n in entries) and any(not n.startswith(".")
                                                               for n in entries):
                break
            time.sleep(0.002)
    finally:
        process.send_signal(signal.SIGKILL)
        _, err = process.communicate()
    assert process.returncode == -signal.SIGKILL, f"the run ended before it was killed: {err}"
    entries = os.listdir(out / "Run")
    finished = sorted(n for n in entries if not n.startswith("."))
    partial = [n for n in entries if n.startswith(".")]
    assert 1 <= len(finished) < 4
    assert partial and all(n.endswith(".part") for n in partial)
    for name in finished:  # a folder under its final name is always complete
        assert sorted(os.listdir(out / "Run" / name)) == flow_names(9)
    kept = {name: os.stat(out / "Run" / name / "flow_x_00009.jpg").st_mtime_ns
            for name in finished}

    resumed = subprocess.run(command(out) + ["--resume"], env=env, capture_output=True,
                             text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stderr
    assert f"{len(finished)} of 4 videos already extracted" in resumed.stderr
    assert sorted(os.listdir(out / "Run")) == ["v0", "v1", "v2", "v3"]  # no partial folder
    assert {name: os.stat(out / "Run" / name / "flow_x_00009.jpg").st_mtime_ns
            for name in finished} == kept  # not redone
    assert tree_files(out) == tree_files(tmp_path / "whole")
    records = [r for r in manifest(out)[1:] if r["status"] == "done"]
    assert sorted(r["video"] for r in records) == ["Run/v0", "Run/v1", "Run/v2", "Run/v3"]


@pytest.mark.parametrize("method", ["reference", "tvnet"])
def test_preset_opencv(tmp_path, capsys, method):
    root = tmp_path / "dataset"
    (root / "Right").mkdir(parents=True)
    write_video(root / "Right" / "v.mp4", moving_texture(3, H, W, dx=1))
    status, _, err = run([root, "-o", tmp_path / "out", "--method", method, "--preset", "opencv",
                          "--n-iters", "20", "--no-compile", "-q"], capsys)
    assert status == 0, err
    assert "preset=opencv" in err
    flows = read_rawframes(tmp_path / "out" / "Right" / "v")
    assert flows.shape == (2, 2, H, W)
    assert abs(flows[:, 0, 6:-6, 6:-6].mean() - 1) < 0.15


@pytest.mark.parametrize("options, message", [
    (["--n-iters", "20"], "--n-iters 20 contradicts the weights 'RECOMMENDED', made for "
                          "--n-iters 15; drop --n-iters to follow the weights, or add "
                          "--weights none"),
    (["--weights", "RECOMMENDED", "--preset", "opencv"],
     "--preset opencv contradicts the weights 'RECOMMENDED', made without --preset"),
    (["--method", "reference", "--device", "cpu"], "--device applies to --method tvnet"),
])
def test_structure_options_follow_the_weights_as_in_sktvnet_flow(dataset, tmp_path, capsys,
                                                                 options, message):
    """A structure option never switches the model to frozen TV-L1 (it once did, silently):
    against the weights it is an error in the command's words, before any video."""
    from sktvnet import pretrained

    options = [pretrained.RECOMMENDED if o == "RECOMMENDED" else o for o in options]
    status, _, err = run([dataset, "-o", tmp_path / "out", "--no-compile", "-q", *options],
                         capsys)
    assert status == 1 and message.replace("RECOMMENDED", pretrained.RECOMMENDED) in err
    assert "n_iters=" not in err and "weights=None" not in err and "None" not in err
    assert not (tmp_path / "out").exists()


def test_the_manifest_names_the_default_weights(tmp_path, capsys):
    """The recommended weights are recorded by name, not as null: a resumed run and a reader of
    the manifest know which model wrote the flows."""
    from sktvnet import pretrained

    root = tmp_path / "dataset"
    (root / "Right").mkdir(parents=True)
    write_video(root / "Right" / "v.mp4", moving_texture(2, H, W, dx=1))
    status, _, err = run([root, "-o", tmp_path / "out", "--no-compile", "-q"], capsys)
    assert status == 0, err
    assert f"weights {pretrained.RECOMMENDED} (recommended): TVNet-8-2-15" in err
    assert manifest(tmp_path / "out")[0]["settings"]["weights"] == pretrained.RECOMMENDED
