"""Peak memory of ``sktvnet flow`` on long generated videos: bounded, and independent of length.

For each length in ``--frames``, a 320x240 H.264 video is generated (a smooth random colour
texture panned along a smooth path, up to ~4 px per frame) and ``python -m sktvnet flow`` runs on
it in a subprocess with the command's defaults (TVNet-6-3-30, batch 8, torch.compile unless
``SKTVNET_COMPILE=0``) and every output format. Two peaks are recorded: the command's own
resident memory (the kernel's high-water mark, from ``wait4``) and the resident memory of its
whole process tree (torch.compile's worker processes included), sampled every 20 ms from /proc.
The outputs are counted and checked afterwards. Linux only (/proc, wait4).

Usage::

    python benchmarks/bench_cli_memory.py [--frames 500 2000] [--size 240x320]
        [--format flo,npz,png,mp4] [--workdir DIR] [-- OPTIONS FOR sktvnet flow]

Prints a markdown table and writes ``benchmarks/results/cli_memory.md`` and ``.json``, stamped by
``_common.write_results``.
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
from scipy import ndimage

from _common import write_results

PAGE_KB = os.sysconf("SC_PAGE_SIZE") // 1024
LIMIT_MB = 1536
# Environment variables that change how the command runs, recorded with the results.
ENVIRONMENT = ("SKTVNET_COMPILE", "OMP_NUM_THREADS", "OMP_WAIT_POLICY")


def make_video(path: Path, n_frames: int, height: int, width: int, seed: int = 0) -> None:
    """Encode ``n_frames`` frames one at a time (the generator holds one frame, not the video)."""
    import av

    rng = np.random.default_rng(seed)
    margin = 48
    texture = np.stack([ndimage.gaussian_filter(rng.random((height + 2 * margin,
                                                            width + 2 * margin)), 3)
                        for _ in range(3)], axis=-1)
    texture = (texture - texture.min()) / (texture.max() - texture.min()) * 255
    texture = texture.astype(np.uint8)
    codec = "libx264" if "libx264" in av.codecs_available else "mpeg4"
    with av.open(str(path), "w", format="mp4") as container:
        stream = container.add_stream(codec, rate=25)
        stream.height, stream.width, stream.pix_fmt = height, width, "yuv420p"
        for t in range(n_frames):
            # A smooth closed path: the motion between frames varies between 0 and ~4 px.
            x = margin + round(margin * 0.9 * np.sin(2 * np.pi * t / 75))
            y = margin + round(margin * 0.9 * np.sin(2 * np.pi * t / 110))
            frame = av.VideoFrame.from_ndarray(texture[y:y + height, x:x + width].copy(),
                                               format="rgb24")
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)


def _children() -> dict[int, list[int]]:
    tree: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as handle:
                    fields = handle.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            tree.setdefault(int(fields[1]), []).append(int(entry))
    return tree


def _tree_rss_mb(root: int) -> float:
    tree, todo, total_pages = _children(), [root], 0
    while todo:
        pid = todo.pop()
        try:
            with open(f"/proc/{pid}/statm") as handle:
                total_pages += int(handle.read().split()[1])
        except OSError:
            continue
        todo.extend(tree.get(pid, []))
    return total_pages * PAGE_KB / 1024


def run_flow(video: Path, out_dir: Path, formats: str, extra: list[str]) -> dict:
    argv = [sys.executable, "-m", "sktvnet", "flow", str(video), "-o", str(out_dir),
            "--format", formats, "-q", *extra]
    start = time.perf_counter()
    process = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    peak_tree = 0.0
    done = threading.Event()

    def sample():
        nonlocal peak_tree
        while not done.is_set():
            peak_tree = max(peak_tree, _tree_rss_mb(process.pid))
            time.sleep(0.02)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    # The pipes are drained by threads (a chatty child never blocks on a full pipe) rather than
    # by communicate(), which would reap the child before wait4 can read its peak memory.
    stdout_chunks: list[str] = []
    stderr_chunks: list[str] = []
    pumps = [threading.Thread(target=lambda s=s, c=c: c.append(s.read()), daemon=True)
             for s, c in ((process.stdout, stdout_chunks), (process.stderr, stderr_chunks))]
    for pump in pumps:
        pump.start()
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - start
    process.returncode = os.waitstatus_to_exitcode(status)
    done.set()
    sampler.join()
    for pump in pumps:
        pump.join()
    if process.returncode != 0:
        raise RuntimeError(f"sktvnet flow failed ({process.returncode}): {''.join(stderr_chunks)}")
    return {"seconds": seconds, "peak_process_mb": usage.ru_maxrss / 1024,
            "peak_tree_mb": peak_tree, "stdout": "".join(stdout_chunks)}


def check_outputs(out_dir: Path, name: str, n_pairs: int, formats: list[str]) -> str:
    from sktvnet.io import probe_video, read_flo

    notes = []
    for fmt in ("flo", "png"):
        if fmt in formats:
            files = sorted(p for p in (out_dir / name).iterdir() if p.suffix == f".{fmt}")
            assert len(files) == n_pairs, (fmt, len(files), n_pairs)
            notes.append(f"{len(files)} {fmt}")
    if "flo" in formats:
        read_flo(out_dir / name / f"{n_pairs - 1:06d}.flo")
    if "npz" in formats:
        with np.load(out_dir / f"{name}.npz") as archive:
            shape = archive["flow"].shape  # reads the header, not the data
        assert shape[0] == n_pairs, shape
        notes.append(f"npz {shape}")
    if "mp4" in formats:
        frames = probe_video(out_dir / f"{name}.mp4").n_frames
        assert frames == n_pairs, frames
        notes.append(f"mp4 {frames} frames")
    return ", ".join(notes)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--frames", type=int, nargs="+", default=[500, 2000])
    parser.add_argument("--size", default="240x320", help="HEIGHTxWIDTH (default: %(default)s)")
    parser.add_argument("--format", default="flo,npz,png,mp4")
    parser.add_argument("--workdir", help="where videos and outputs go (default: a temporary "
                        "folder, removed at the end)")
    parser.add_argument("extra", nargs="*", help="options passed on to sktvnet flow (after --)")
    args = parser.parse_args(argv)
    height, width = (int(n) for n in args.size.lower().split("x"))
    formats = args.format.split(",")

    rows = []
    with tempfile.TemporaryDirectory(dir=args.workdir) as work:
        work = Path(work)
        for n_frames in args.frames:
            name = f"pan{n_frames}"
            video = work / f"{name}.mp4"
            make_video(video, n_frames, height, width)
            out_dir = work / f"out{n_frames}"
            result = run_flow(video, out_dir, args.format, args.extra)
            notes = check_outputs(out_dir, name, n_frames - 1, formats)
            row = {"frames": n_frames, "pairs": n_frames - 1, **result, "outputs": notes}
            rows.append(row)
            print(f"{n_frames} frames: {result['seconds']:.0f} s, process peak "
                  f"{result['peak_process_mb']:.0f} MB, tree peak {result['peak_tree_mb']:.0f} MB; "
                  f"{notes}", flush=True)
            for path in sorted(out_dir.rglob("*"), reverse=True):  # free the disk early
                path.unlink() if path.is_file() else path.rmdir()

    options = " ".join(args.extra) or "defaults"
    lines = [
        f"`sktvnet flow` on generated H.264 videos of {width}x{height} pixels (width x height), "
        f"formats {args.format}, options: {options}; {platform.machine()} {os.cpu_count()} CPUs; "
        + ", ".join(f"{name}={os.environ.get(name, 'unset')}" for name in ENVIRONMENT) + ".",
        "",
        "| frames | flows | time (s) | pairs/s | peak RSS, command (MB) | peak RSS, process tree "
        "(MB) | outputs checked |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['frames']} | {r['pairs']} | {r['seconds']:.0f} "
            f"| {r['pairs'] / r['seconds']:.1f} "
            f"| {r['peak_process_mb']:.0f} | {r['peak_tree_mb']:.0f} | {r['outputs']} |"
        )
    peaks = [r["peak_process_mb"] for r in rows]
    lines += ["", f"Limit: {LIMIT_MB} MB. Largest peak {max(peaks):.0f} MB; longest vs shortest "
              f"video: {peaks[-1] - peaks[0]:+.0f} MB."]
    table = "\n".join(lines)
    print()
    print(table)
    write_results("cli_memory", table, {"args": vars(args), "limit_mb": LIMIT_MB, "rows": rows,
                                        "environment": {name: os.environ.get(name)
                                                        for name in ENVIRONMENT}})


if __name__ == "__main__":
    main()
