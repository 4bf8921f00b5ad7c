"""Tests of sktvnet.io's video part: decoding videos, image folders and image lists, whole or in chunks."""

import os

import numpy as np
import pytest
from _media import moving_texture, write_video
from PIL import Image

from sktvnet import io
from sktvnet.io._image import _resized

av = pytest.importorskip("av")


@pytest.fixture(scope="module")
def frames():
    return moving_texture(8, 32, 48)


@pytest.fixture(scope="module")
def lossless(frames, tmp_path_factory):
    """An 8-frame 32x48 ffv1 video: decoding must give the frames back exactly."""
    return write_video(tmp_path_factory.mktemp("video") / "clip.mkv", frames)


def _hidden(folder):
    return [name for name in os.listdir(folder) if name.startswith(".")]


# --------------------------------------------------------------------------------- read_video


def test_read_video_of_a_lossless_file_is_exact(lossless, frames):
    video = io.read_video(lossless)
    assert video.dtype == np.uint8 and video.shape == (8, 32, 48, 3)
    np.testing.assert_array_equal(video, frames)


@pytest.mark.parametrize("extension", [".mp4", ".avi", ".webm"])
def test_read_video_of_lossy_formats(tmp_path, frames, extension):
    codec = {".mp4": None, ".avi": "mpeg4", ".webm": "libvpx-vp9"}[extension]
    if codec and codec not in av.codecs_available:
        pytest.skip(f"this FFmpeg build has no {codec} encoder")
    path = write_video(tmp_path / f"clip{extension}", frames)
    video = io.read_video(str(path))
    assert video.dtype == np.uint8 and video.shape == frames.shape
    # Lossy coding with 4:2:0 chroma: the luma (what the flow sees) stays close.
    luma = np.array([0.299, 0.587, 0.114])
    assert np.abs(video @ luma - frames @ luma).mean() < 4


def test_read_video_resizes(lossless):
    assert io.read_video(lossless, frame_shape=(16, 24)).shape == (8, 16, 24, 3)
    assert io.read_video(lossless, frame_shape=(16, None)).shape == (8, 16, 24, 3)  # aspect kept
    assert io.read_video(lossless, frame_shape=(None, 96)).shape == (8, 64, 96, 3)
    # A constant frame stays constant whatever the filter.
    flat = _resized(np.full((32, 48, 3), 77, np.uint8), (10, 15))
    assert flat.shape == (10, 15, 3) and (flat == 77).all()


@pytest.mark.parametrize("frame_shape, error, message", [
    ((0, 10), ValueError, "frame_shape height must be a positive integer or None, got 0"),
    ((None, None), ValueError, "gives no size"),
    ((10, 2.5), ValueError, "frame_shape width must be a positive integer"),
    (10, TypeError, "frame_shape must be None or a (height, width) pair, got 10"),
    ("10x10", TypeError, "frame_shape must be None or a (height, width) pair"),
])
def test_read_video_rejects_bad_frame_shape(lossless, frame_shape, error, message):
    with pytest.raises(error) as info:
        io.read_video(lossless, frame_shape=frame_shape)
    assert message in str(info.value)


def test_read_video_missing_path(tmp_path):
    missing = tmp_path / "nothing.mp4"
    with pytest.raises(FileNotFoundError, match="no such video file or image folder"):
        io.read_video(missing)
    with pytest.raises(FileNotFoundError):
        io.iter_video(missing)  # raised at the call, not at the first chunk


def test_read_video_rejects_a_non_path():
    with pytest.raises(TypeError, match="path must be a str or os.PathLike, got int"):
        io.read_video(3)


def test_read_video_of_a_file_that_is_not_a_video(tmp_path):
    path = tmp_path / "notes.mp4"
    path.write_bytes(b"this is not a video " * 50)
    with pytest.raises(ValueError) as info:
        io.read_video(path)
    assert str(path) in str(info.value) and "cannot read" in str(info.value)


@pytest.mark.parametrize("extension, codec", [(".mp4", None), (".mkv", "ffv1"), (".avi", "mpeg4")])
def test_read_video_of_a_truncated_file(tmp_path, extension, codec):
    """mp4 keeps its index at the end (the file does not open), mkv and avi keep a duration or a
    frame count in their header that the decoded frames fall short of."""
    path = write_video(tmp_path / f"long{extension}", moving_texture(30, 32, 48), codec=codec)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) * 6 // 10])
    with pytest.raises(ValueError) as info:
        io.read_video(path)
    message = str(info.value)
    assert str(path) in message
    assert "truncated" in message or "cannot read" in message


def test_truncation_is_raised_after_the_good_chunks(tmp_path):
    path = write_video(tmp_path / "long.mkv", moving_texture(30, 32, 48))
    data = path.read_bytes()
    path.write_bytes(data[: len(data) * 6 // 10])
    chunks = []
    with pytest.raises(ValueError, match="is truncated or corrupt"):
        for chunk in io.iter_video(path, chunk_size=4):
            chunks.append(chunk)
    assert 2 <= len(chunks) < 8  # frames before the cut were delivered


def test_probe_reports_frames_and_rate(tmp_path, frames):
    path = write_video(tmp_path / "clip.mp4", frames, rate=10)
    info = io.probe_video(path)
    assert info.n_frames == 8 and info.fps == 10
    info = io.probe_video(write_video(tmp_path / "clip.webm", frames) if "libvpx-vp9" in
                     av.codecs_available else path)
    assert info.n_frames == 8  # webm declares no count: estimated from its duration


# --------------------------------------------------------------------------------- iter_video


def test_iter_video_chunks_partition_the_video(lossless, frames):
    chunks = list(io.iter_video(lossless, chunk_size=3))
    assert [len(c) for c in chunks] == [3, 3, 2]
    np.testing.assert_array_equal(np.concatenate(chunks), frames)


def test_iter_video_with_overlap_one_gives_every_pair_once(lossless, frames):
    pairs = []
    for chunk in io.iter_video(lossless, chunk_size=3, overlap=1):
        pairs += [(chunk[k], chunk[k + 1]) for k in range(len(chunk) - 1)]
    assert len(pairs) == len(frames) - 1
    for t, (a, b) in enumerate(pairs):
        np.testing.assert_array_equal(a, frames[t])
        np.testing.assert_array_equal(b, frames[t + 1])


@pytest.mark.parametrize("chunk_size, overlap, lengths", [
    (4, 1, [4, 4, 2]),   # frames 0-3, 3-6, 6-7
    (8, 1, [8]),         # the chunk ends with the video: no chunk of the repeated frame alone
    (20, 0, [8]),
    (1, 0, [1] * 8),
    (5, 4, [5, 5, 5, 5]),
])
def test_iter_video_chunk_lengths(lossless, chunk_size, overlap, lengths):
    chunks = list(io.iter_video(lossless, chunk_size=chunk_size, overlap=overlap))
    assert [len(c) for c in chunks] == lengths


@pytest.mark.parametrize("kwargs, message", [
    ({"chunk_size": 0}, "chunk_size must be a positive integer, got 0"),
    ({"chunk_size": 2.0}, "chunk_size must be a positive integer, got 2.0"),
    ({"chunk_size": 3, "overlap": 3}, "overlap must be an integer in [0, chunk_size - 1] = [0, 2]"),
    ({"overlap": -1}, "got -1"),
])
def test_iter_video_rejects_bad_chunking(lossless, kwargs, message):
    with pytest.raises(ValueError) as info:
        io.iter_video(lossless, **kwargs)
    assert message in str(info.value)


def test_closing_the_iterator_early_is_clean(lossless):
    chunks = io.iter_video(lossless, chunk_size=2)
    first = next(chunks)
    chunks.close()
    assert first.shape == (2, 32, 48, 3)


# ------------------------------------------------------------------------------ image folders


def _save_frames(folder, frames, names):
    folder.mkdir(exist_ok=True)
    for rgb, name in zip(frames, names):
        Image.fromarray(rgb).save(folder / name)


def test_image_folder_in_natural_order(tmp_path, frames):
    names = [f"frame{t}.png" for t in range(8)]  # frame10 would sort before frame2 as text
    folder = tmp_path / "seq"
    _save_frames(folder, frames, names)
    (folder / "notes.txt").write_text("ignored")
    (folder / ".hidden.png").write_bytes(b"ignored too")
    np.testing.assert_array_equal(io.read_video(folder), frames)
    assert io.probe_video(folder).n_frames == 8
    assert [len(c) for c in io.iter_video(folder, chunk_size=5, overlap=1)] == [5, 4]


def test_list_of_image_files_is_a_sequence_in_the_order_given(tmp_path, frames):
    names = [f"{t}.png" for t in range(4)]
    _save_frames(tmp_path, frames[:4], names)
    paths = [tmp_path / name for name in reversed(names)]  # the list's order, not the names'
    np.testing.assert_array_equal(io.read_video(paths), frames[:4][::-1])
    assert io.probe_video(paths) == io.VideoInfo(4, None)
    chunks = list(io.iter_video(paths[:2], chunk_size=3, overlap=1))
    assert len(chunks) == 1 and chunks[0].shape == (2, 32, 48, 3)
    with pytest.raises(ValueError, match=r"needs at least one file, got \[\]"):
        io.read_video([])
    with pytest.raises(TypeError, match="every image of the list must be a str or os.PathLike"):
        io.probe_video([tmp_path / "0.png", 3])


def test_image_folder_converts_grey_rgba_and_jpeg(tmp_path):
    folder = tmp_path / "mixed"
    folder.mkdir()
    Image.fromarray(np.full((6, 5), 10, np.uint8)).save(folder / "0.png")  # grey
    Image.fromarray(np.full((6, 5, 4), 20, np.uint8)).save(folder / "1.png")  # RGBA
    Image.fromarray(np.full((6, 5, 3), 30, np.uint8)).save(folder / "2.JPG", quality=100)
    video = io.read_video(folder)
    assert video.shape == (3, 6, 5, 3)
    assert video[:, 0, 0, 0].tolist() == [10, 20, 30]


def test_image_folder_with_different_sizes(tmp_path):
    folder = tmp_path / "sizes"
    folder.mkdir()
    Image.fromarray(np.zeros((6, 5, 3), np.uint8)).save(folder / "0.png")
    Image.fromarray(np.zeros((6, 7, 3), np.uint8)).save(folder / "1.png")
    with pytest.raises(ValueError) as info:
        io.read_video(folder)
    assert "must have the same size" in str(info.value)
    assert "0.png' is 6x5" in str(info.value) and "1.png' is 6x7" in str(info.value)


def test_empty_image_folder(tmp_path):
    (tmp_path / "readme.txt").write_text("no frames here")
    with pytest.raises(ValueError, match="holds no PNG or JPEG image"):
        io.read_video(tmp_path)


def test_corrupt_image_in_a_folder(tmp_path, frames):
    folder = tmp_path / "broken"
    _save_frames(folder, frames[:2], ["0.png", "1.png"])
    data = (folder / "1.png").read_bytes()
    (folder / "1.png").write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError) as info:
        io.read_video(folder)
    assert "1.png" in str(info.value) and "cannot read" in str(info.value)
