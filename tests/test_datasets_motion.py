"""Tests of sktvnet.datasets' video part: make_motion_videos and load_video_folder."""

import os

import numpy as np
import pytest
import torch
from _media import moving_texture, write_video
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from sktvnet.datasets import MOTION_CLASSES, load_video_folder, make_motion_videos
from sktvnet.io import read_video
from sktvnet.network import TVNet


# Tensors this small gain nothing from a thread pool (conftest.py).
pytestmark = pytest.mark.usefixtures("one_thread")


def _flows(X, n_iters=30):
    """TV-L1 flows (n_videos, T-1, 2, H, W) of grey videos, by frozen TVNet."""
    n, t, h, w = X.shape
    frames = torch.from_numpy(X)
    x0 = frames[:, :-1].reshape(-1, 1, h, w)
    x1 = frames[:, 1:].reshape(-1, 1, h, w)
    return TVNet(n_iters=n_iters, n_scales=2)(x0, x1).reshape(n, t - 1, 2, h, w).numpy()


def _motion_summary(flows, threshold=0.3):
    """Per video of a still background, from an affine fit of each flow where it moves: mean u,
    mean v, curl (dv/dx - du/dy) and divergence (du/dx + dv/dy).

    (Averages of curl and divergence over the whole frame would vanish: they are the circulation
    and the flux through the frame's border, where nothing moves.)
    """
    n, pairs, _, height, width = flows.shape
    rows, cols = np.mgrid[0:height, 0:width].astype(np.float64)
    summary = np.zeros((n, 4))
    for i in range(n):
        for flow in flows[i].astype(np.float64):
            moving = np.hypot(flow[0], flow[1]) > threshold
            design = np.stack([np.ones(moving.sum()), cols[moving], rows[moving]], axis=1)
            (_, ux, uy), (_, vx, vy) = (np.linalg.lstsq(design, c[moving], rcond=None)[0]
                                        for c in flow)
            summary[i] += [flow[0][moving].mean(), flow[1][moving].mean(), vx - uy, ux + vy]
        summary[i] /= pairs
    return summary


# ------------------------------------------------------------------------------ make_motion_videos
def test_shapes_range_and_balanced_labels():
    X, y = make_motion_videos(30, n_classes=4, n_frames=5, frame_shape=(20, 28), random_state=0)
    assert X.shape == (30, 5, 20, 28) and X.dtype == np.float32
    assert y.shape == (30,) and y.dtype == np.int64
    assert 0.0 <= X.min() and X.max() <= 1.0
    assert sorted(np.bincount(y).tolist()) == [7, 7, 8, 8]
    assert (X.std(axis=(2, 3)) > 0.02).all()  # every frame shows texture


def test_seeded_and_reproducible():
    a = make_motion_videos(6, random_state=3, frame_shape=(16, 16))
    b = make_motion_videos(6, random_state=3, frame_shape=(16, 16))
    c = make_motion_videos(6, random_state=4, frame_shape=(16, 16))
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])
    assert not np.array_equal(a[0], c[0])
    d = make_motion_videos(6, random_state=np.random.RandomState(3), frame_shape=(16, 16))
    np.testing.assert_array_equal(a[0], d[0])


def test_each_class_moves_as_its_name_says():
    """On a still background, the TV-L1 flow of each class has the expected mean direction,
    curl (clockwise is positive with rows growing downwards) or divergence."""
    X, y = make_motion_videos(24, n_classes=12, background_speed=0.0, speed=1.5, random_state=1)
    summary = _motion_summary(_flows(X))
    for (u, v, curl, div), label in zip(summary, y):
        name = MOTION_CLASSES[label]
        if name in ("clockwise", "anticlockwise"):
            assert abs(div) < 0.3 * abs(curl), (name, u, v, div)
            assert np.sign(curl) == (1 if name == "clockwise" else -1), (name, curl)
        elif name in ("zoom_in", "zoom_out"):
            assert abs(curl) < 0.3 * abs(div), (name, curl, div)
            assert np.sign(div) == (1 if name == "zoom_in" else -1), (name, div)
        else:
            expected = np.array([("right" in name) - ("left" in name),
                                 ("down" in name) - ("up" in name)], dtype=float)
            direction = np.array([u, v]) / np.hypot(u, v)
            assert direction @ expected / np.hypot(*expected) > 0.9, (name, u, v)


def test_motion_tells_the_classes_apart_and_appearance_does_not():
    """A linear model on the middle frames is at chance; on coarse maps of the flow (the mean
    flow of each 8x8 cell) it is nearly always right, whatever the background does."""
    X, y = make_motion_videos(96, n_classes=8, random_state=2)
    middle = torch.from_numpy(X[:, X.shape[1] // 2][:, None])
    appearance = torch.nn.functional.avg_pool2d(middle, 4).reshape(len(X), -1).numpy()
    flows = torch.from_numpy(_flows(X, n_iters=20).mean(axis=1))
    motion = torch.nn.functional.avg_pool2d(flows, 8).reshape(len(X), -1).numpy()
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=500))
    assert cross_val_score(model, appearance, y, cv=4).mean() < 0.3  # chance: 0.125
    assert cross_val_score(model, motion, y, cv=4).mean() > 0.9


def test_still_background_and_noise():
    still, _ = make_motion_videos(4, n_classes=2, background_speed=0.0, random_state=0)
    # Far from the disc (the corners: it sits near the middle) nothing moves.
    corner = still[:, :, :4, :4]
    assert np.abs(np.diff(corner, axis=1)).max() < 1e-6
    noisy, _ = make_motion_videos(4, n_classes=2, background_speed=0.0, noise=0.05,
                                  random_state=0)
    # The first video is drawn before any noise: the difference is the noise (clipped to [0, 1]).
    inside = (still[0] > 0.2) & (still[0] < 0.8)
    assert 0.045 < (noisy[0] - still[0])[inside].std() < 0.055


def test_speed_sets_the_displacement():
    X, y = make_motion_videos(8, n_classes=2, background_speed=0.0, speed=2.0, random_state=0)
    summary = _motion_summary(_flows(X))
    right = summary[y == 0]
    # The disc covers part of the frame, so the mean flow is a fraction of its 2 px per frame.
    assert (right[:, 0] > 0.3).all() and (right[:, 0] < 2.0).all()
    slow, y_slow = make_motion_videos(8, n_classes=2, background_speed=0.0, speed=0.5,
                                      random_state=0)
    assert (_motion_summary(_flows(slow))[y_slow == 0][:, 0] < right[:, 0]).all()


# Nuisances off, so that a test sees the one it turns on. The speeds are tiny, not zero (they must
# be positive): the discs all but stand still.
_STILL = dict(speed=1e-3, rotation_speed=1e-3, zoom_speed=1e-3, background_speed=0.0,
              camera_speed=0.0, camera_jitter=0.0, noise=0.0, flicker=0.0)


def test_easy_preset_gives_the_videos_of_earlier_versions():
    """Sums and pixels of make_motion_videos(40, random_state=0) before the presets existed."""
    X, y = make_motion_videos(40, random_state=0)
    assert float(X.astype(np.float64).sum()) == pytest.approx(247649.7928246003, rel=1e-9)
    assert (X[3, 2, 10, 20], X[39, 5, 47, 0], X[17, 0, 24, 24]) == pytest.approx(
        (0.23935926, 0.16693898, 0.6973192), abs=1e-7)
    explicit = make_motion_videos(40, difficulty="easy", speed=(1.0, 2.0), object_size=(0.56, 0.76),
                                  n_objects=1, background_speed=0.5, camera_speed=0.0,
                                  camera_jitter=0.0, noise=0.0, flicker=0.0, random_state=0)
    np.testing.assert_array_equal(X, explicit[0])
    np.testing.assert_array_equal(y, explicit[1])


def test_hard_preset_shapes_and_determinism():
    X, y = make_motion_videos(24, difficulty="hard", n_frames=7, frame_shape=(40, 56), random_state=5)
    assert X.shape == (24, 7, 40, 56) and X.dtype == np.float32 and y.dtype == np.int64
    assert 0.0 <= X.min() and X.max() <= 1.0
    assert np.bincount(y).tolist() == [3] * 8
    again = make_motion_videos(24, difficulty="hard", n_frames=7, frame_shape=(40, 56), random_state=5)
    np.testing.assert_array_equal(X, again[0])
    other, _ = make_motion_videos(24, difficulty="hard", n_frames=7, frame_shape=(40, 56),
                                  random_state=6)
    assert not np.array_equal(X, other)
    easy, _ = make_motion_videos(24, n_frames=7, frame_shape=(40, 56), random_state=5)
    assert not np.array_equal(X, easy)


def test_hard_single_frames_are_at_chance_and_motion_is_not():
    """Every frame position, alone, tells a linear model nothing (chance 0.125; 320 videos,
    4-fold: the standard error of an accuracy is ~0.02); coarse maps of the TV-L1 flow tell it
    nearly everything (0.99 when written)."""
    X, y = make_motion_videos(320, difficulty="hard", random_state=0)
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=500))
    for t in range(X.shape[1]):
        frames = torch.nn.functional.avg_pool2d(torch.from_numpy(X[:, t][:, None]), 4)
        assert cross_val_score(model, frames.reshape(len(X), -1).numpy(), y, cv=4).mean() < 0.2
    motion = torch.nn.functional.avg_pool2d(torch.from_numpy(_flows(X, n_iters=20).mean(axis=1)), 8)
    assert cross_val_score(model, motion.reshape(len(X), -1).numpy(), y, cv=4).mean() > 0.8


def test_flicker_scales_each_frame():
    steady, _ = make_motion_videos(2, n_frames=20, difficulty="hard", **_STILL, random_state=0)
    flickering, _ = make_motion_videos(2, n_frames=20, difficulty="hard",
                                       **dict(_STILL, flicker=0.05), random_state=0)
    # The first video is drawn before any flicker: the same scene, each frame times its own
    # gain, so that the ratio is one number per frame.
    steady, flickering = steady[0], flickering[0]
    lit = (steady > 0.05) & (flickering < 0.99)
    ratio = np.where(lit, flickering / np.where(lit, steady, 1.0), np.nan)
    gains = np.nanmedian(ratio.reshape(20, -1), axis=1)
    assert np.nanmax(np.abs(ratio - gains[:, None, None])) < 1e-4
    assert 0.025 < (gains - 1.0).std() < 0.1
    assert flickering.mean(axis=(1, 2)).std() > 5 * steady.mean(axis=(1, 2)).std()


def _shift(a, b):
    """The displacement (dy, dx) of the picture from frame ``a`` to frame ``b``."""
    from skimage.registration import phase_cross_correlation

    return -phase_cross_correlation(a, b, upsample_factor=20)[0]


def test_camera_pan_moves_the_whole_picture():
    n_frames = 6
    X, _ = make_motion_videos(8, difficulty="hard", **dict(_STILL, camera_speed=2.0),
                              random_state=0)
    shifts = np.array([np.hypot(*_shift(video[0], video[-1])) for video in X])
    # A speed up to 2 px per frame, over 5 frames.
    assert shifts.max() < 2.0 * (n_frames - 1) + 0.5 and shifts.max() > 5.0
    from scipy import ndimage

    # Background and discs alike (the disc fills the middle 24x24 pixels): the first frame
    # moved by the pan is nearly the last one.
    residuals = [np.abs(ndimage.shift(video[0], _shift(video[0], video[-1]), order=1)
                        - video[-1])[12:-12, 12:-12].mean()
                 / np.abs(video[0] - video[-1])[12:-12, 12:-12].mean() for video in X]
    assert np.median(residuals) < 0.3
    still, _ = make_motion_videos(8, difficulty="hard", **_STILL, random_state=0)
    assert np.abs(still[:, -1] - still[:, 0]).mean() < 2e-3


def test_camera_jitter_shakes_each_frame():
    X, _ = make_motion_videos(4, difficulty="hard", **dict(_STILL, camera_jitter=1.0),
                              random_state=0)
    steps = np.array([_shift(video[t], video[t + 1]) for video in X for t in range(5)])
    # The offset of each frame is N(0, 1) per axis: a step between two frames has std sqrt(2).
    assert 0.9 < steps.std() < 2.0
    assert np.abs(steps).max() > 1.0


def test_object_size_and_n_objects_set_the_moving_area():
    def moving_area(**kwargs):
        X, _ = make_motion_videos(16, n_classes=4, difficulty="hard",
                                  **dict(_STILL, speed=1.0, **kwargs), random_state=0)
        return (np.abs(X[:, -1] - X[:, 0]) > 0.02).mean()

    small, large = moving_area(object_size=0.25), moving_area(object_size=0.6)
    assert 3.0 < large / small
    assert moving_area(object_size=0.25, n_objects=3) > 2.0 * small


@pytest.mark.parametrize("classes, name", [((4, 5), "rotation_speed"), ((6, 7), "zoom_speed")])
def test_rotation_and_zoom_speeds_set_how_much_the_discs_change(classes, name):
    def change(value):
        X, y = make_motion_videos(16, difficulty="hard", **dict(_STILL, **{name: value}),
                                  random_state=0)
        return np.abs(np.diff(X[np.isin(y, classes)], axis=1)).mean()

    slow, fast = (0.01, 0.02) if name == "zoom_speed" else (2.0, 4.0)
    assert 1.5 < change(fast) / change(slow) < 2.5
    assert change(1e-3) < 0.2 * change(slow)


# ------------------------------------------------------------------------------ ways of drawing
def _still(n=8, **kwargs):
    """Hard videos with nothing moving but the objects (and those barely), no noise."""
    return make_motion_videos(n, difficulty="hard", **{**_STILL, **kwargs}, random_state=0)


def _distances_from_centroid(mask):
    rows, cols = np.nonzero(mask)
    return np.hypot(rows - rows.mean(), cols - cols.mean())


def test_object_shape_square_turns_its_corners_beyond_the_disc():
    """A turning disc changes nothing outside its rim (radius 12 px); a turning square of the
    same size sweeps its corners out to 12 sqrt(2) px."""
    reach = {}
    for shape in ("disc", "square"):
        X, y = _still(16, rotation_speed=10.0, object_shape=shape)
        turning = X[np.isin(y, (4, 5))]
        reach[shape] = np.median([_distances_from_centroid(
            np.abs(video[-1] - video[0]) > 0.02).max() for video in turning])
    assert reach["disc"] < 13.5 < 15.5 < reach["square"] < 18.0


def test_object_edge_hard_changes_only_the_rim():
    """The same draws with a soft and a hard edge differ only on a ring about the rim (radius
    12 px), where the soft edge blends the object with the background."""
    soft, _ = _still(4, object_edge="soft")
    hard, _ = _still(4, object_edge="hard")
    for a, b in zip(soft[:, 0], hard[:, 0]):
        ring = np.abs(a - b) > 1e-6
        assert 20 < ring.sum() < 200  # a circumference of 75 px, some pixels unchanged
        assert np.all(np.abs(_distances_from_centroid(ring) - 12.0) < 1.5)


def _found_in(patch, images):
    """Whether ``patch`` is an exact crop (to float32 rounding) of one of ``images``."""
    for image in images:
        for row, col in zip(*np.nonzero(np.abs(image - patch[0, 0]) < 1e-6)):
            crop = image[row:row + patch.shape[0], col:col + patch.shape[1]]
            if crop.shape == patch.shape and np.allclose(crop, patch, atol=1e-6, rtol=0):
                return True
    return False


def test_texture_scale_native_cuts_the_images_at_their_own_resolution():
    """With nothing but the objects moving, a corner of the background is an exact crop of an
    image: at its own resolution with "native", of the resized image with "zoomed"."""
    from sktvnet.datasets._motion import _TEXTURE_ZOOM, _native_images, _texture_images

    zoomed = _texture_images(_TEXTURE_ZOOM * 48)
    for scale, found, not_found in (("native", _native_images(), zoomed),
                                    ("zoomed", zoomed, _native_images())):
        X, _ = _still(3, texture_scale=scale)
        for video in X:
            corner = video[0, :8, :8].astype(np.float64)
            assert _found_in(corner, found) and not _found_in(corner, not_found)


def test_interpolation_bicubic_keeps_more_detail_between_pixels():
    """Textures moved by half pixels: the still background is the same, and the moving object
    keeps more of its fine detail (a larger Laplacian) resampled bicubic than bilinear."""
    detail = {}
    for interpolation in ("bilinear", "bicubic"):
        X, y = _still(8, n_classes=2, speed=1.0, interpolation=interpolation)
        detail[interpolation] = X
    bilinear, bicubic = detail["bilinear"], detail["bicubic"]
    np.testing.assert_allclose(bilinear[:, :, :6, :6], bicubic[:, :, :6, :6], atol=1e-6)
    # Inside the disc, in the first frame (moved by 2.5 px): the second differences along the
    # motion, which bilinear resampling at half pixels averages away.
    energy = {name: np.abs(np.diff(X[:, 0, 18:30, 18:30].astype(np.float64), n=2, axis=-1)
                           ).mean() for name, X in (("bilinear", bilinear), ("bicubic", bicubic))}
    assert energy["bilinear"] < 0.8 * energy["bicubic"]


def test_n_objects_range_draws_a_number_per_video():
    def moving_area(**kwargs):
        X, _ = _still(24, n_classes=4, speed=1.0, object_size=0.25, **kwargs)
        return (np.abs(X[:, -1] - X[:, 0]) > 0.02).mean(axis=(1, 2))

    one, three, drawn = moving_area(n_objects=1), moving_area(n_objects=3), moving_area(
        n_objects=(1, 3))
    assert one.mean() < drawn.mean() < three.mean()
    assert drawn.std() > 1.5 * one.std()


@pytest.mark.parametrize("scene, object_follows", [("background", False), ("camera", True)])
def test_scene_motion_moves_the_background_alone_or_the_camera(scene, object_follows):
    """"background": the background drifts and the (nearly still) object stays; "camera": the
    camera pans and the object moves with the picture."""
    X, _ = _still(8, background_speed=2.0, camera_speed=2.0, scene_motion=scene)
    change = np.abs(X[:, -1] - X[:, 0])
    # A corner is background, which moves in both (and not at all with both speeds 0).
    assert np.median(change[:, :4, :4].mean(axis=(1, 2))) > 0.005
    assert np.abs(np.diff(_still(8)[0][:, :, :4, :4], axis=1)).max() == 0
    inside = np.median(change[:, 20:28, 20:28].mean(axis=(1, 2)))  # always inside the disc
    assert inside > 0.05 if object_follows else inside < 0.005


def test_mixed_preset_draws_every_way_per_video(monkeypatch):
    """Each video of the "mixed" preset draws each way of drawing independently of its class:
    every choice appears, in about its share, in every class."""
    from sktvnet.datasets import _motion

    ways = []
    original = _motion._motion_video

    def recording(rng, kind, speed, n_frames, shape, nuisances, images):
        ways.append((kind, {name: nuisances[name] for name in (*_motion._DRAWING, "n_objects")}))
        return original(rng, kind, speed, n_frames, shape, nuisances, images)

    monkeypatch.setattr(_motion, "_motion_video", recording)
    X, y = make_motion_videos(96, n_classes=2, difficulty="mixed", frame_shape=(24, 24),
                              random_state=0)
    assert X.shape == (96, 6, 24, 24) and np.isfinite(X).all()
    expected = {"object_shape": ("disc", "square"), "object_edge": ("soft", "hard"),
                "texture_scale": ("zoomed", "native"), "interpolation": ("bilinear", "bicubic"),
                "scene_motion": ("camera", "background"), "n_objects": (1, 2, 3)}
    for name, choices in expected.items():
        for kind in ("right", "left"):
            drawn = [way[name] for k, way in ways if k == kind]
            shares = [drawn.count(choice) / len(drawn) for choice in choices]
            assert min(shares) > 0.5 / len(choices), (name, kind, shares)
    # A preset's single choices draw nothing: "hard" keeps its videos.
    ways.clear()
    make_motion_videos(4, difficulty="hard", random_state=0)
    assert {way["object_shape"] for _, way in ways} == {"disc"}


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        (dict(n_classes=13), ValueError, "n_classes must be at most 12"),
        (dict(n_classes=1), ValueError, "n_classes must be >= 2, got 1"),
        (dict(n_videos=0), ValueError, "n_videos must be >= 1, got 0"),
        (dict(n_frames=1), ValueError, "n_frames must be >= 2, got 1"),
        (dict(frame_shape=(12, 48)), ValueError, r"frame_shape must be at least \(16, 16\)"),
        (dict(frame_shape=48), TypeError, "frame_shape must be a pair of integers"),
        (dict(speed=(2.0, 1.0)), ValueError, "low <= high"),
        (dict(speed="fast"), TypeError, "speed must be a positive number or a"),
        (dict(speed=0), ValueError, "speed must be > 0.0"),
        (dict(background_speed=-1), ValueError, "background_speed must be >= 0.0"),
        (dict(noise=-0.1), ValueError, "noise must be >= 0.0"),
        (dict(difficulty="medium"), ValueError,
         "difficulty must be one of 'easy', 'hard', 'mixed'"),
        (dict(rotation_speed=(5.0, 3.0)), ValueError, "rotation_speed must be .low, high."),
        (dict(zoom_speed=[0.1]), TypeError, "zoom_speed must be a positive number or a"),
        (dict(object_size=2.5), ValueError, "object_size must be <= 2.0"),
        (dict(object_size=0.0), ValueError, "object_size must be > 0.0"),
        (dict(n_objects=0), ValueError, "n_objects must be >= 1, got 0"),
        (dict(camera_speed=-0.5), ValueError, "camera_speed must be >= 0.0"),
        (dict(camera_jitter="a"), TypeError, "camera_jitter must be a real number"),
        (dict(flicker=-0.01), ValueError, "flicker must be >= 0.0"),
        (dict(object_shape="triangle"), ValueError,
         "object_shape must be one of 'disc', 'square' or a sequence of them"),
        (dict(object_edge=()), ValueError, "object_edge must be one of 'soft', 'hard'"),
        (dict(texture_scale=1), ValueError, "texture_scale must be one of"),
        (dict(interpolation=("bilinear", "nearest")), ValueError, "interpolation must be one of"),
        (dict(scene_motion="both "), ValueError, "scene_motion must be one of"),
        (dict(n_objects=(3, 1)), ValueError, "n_objects must be .low, high. with low <= high"),
        (dict(n_objects=(0, 1)), ValueError, r"n_objects\[0\] must be >= 1"),
    ],
)
def test_make_motion_videos_errors(kwargs, error, match):
    with pytest.raises(error, match=match):
        make_motion_videos(**{"n_videos": 4, **kwargs})


# ------------------------------------------------------------------------------ load_video_folder
@pytest.fixture(scope="module")
def video_folder(tmp_path_factory):
    """UCF101-style folder: two classes of real mp4 files, a frame folder, and clutter."""
    # Writing the mp4 files needs the video extra (PyAV).
    pytest.importorskip("av", reason="the video extra (av) is not installed")
    root = tmp_path_factory.mktemp("ucf")
    for label, dx in (("PushUps", 1), ("WalkingWithDog", -1)):
        (root / label).mkdir()
        for k in range(2):
            write_video(root / label / f"v_{label}_g0{k}.mp4",
                        moving_texture(6, 24, 32, dx=dx, seed=k))
    frames = root / "WalkingWithDog" / "v_WalkingWithDog_g09"
    frames.mkdir()
    for t, frame in enumerate(moving_texture(6, 24, 32, dx=-1, seed=9)):
        from PIL import Image

        Image.fromarray(frame).save(frames / f"{t:04d}.png")
    (root / "WalkingWithDog" / "notes.txt").write_text("not a video")
    (root / "PushUps" / ".hidden.mp4").write_bytes(b"")
    (root / ".cache").mkdir()
    (root / "empty_folder_class").mkdir()
    (root / "classInd.txt").write_text("1 PushUps\n2 WalkingWithDog\n")
    return root


def test_load_video_folder_lists_videos_by_class(video_folder):
    paths, labels = load_video_folder(video_folder)
    names = [os.path.relpath(p, video_folder) for p in paths]
    assert names == [
        os.path.join("PushUps", "v_PushUps_g00.mp4"),
        os.path.join("PushUps", "v_PushUps_g01.mp4"),
        os.path.join("WalkingWithDog", "v_WalkingWithDog_g00.mp4"),
        os.path.join("WalkingWithDog", "v_WalkingWithDog_g01.mp4"),
        os.path.join("WalkingWithDog", "v_WalkingWithDog_g09"),
    ]
    assert labels.tolist() == ["PushUps"] * 2 + ["WalkingWithDog"] * 3
    assert all(isinstance(p, str) for p in paths)


def test_listed_paths_decode_to_the_videos_written(video_folder):
    paths, _ = load_video_folder(video_folder)
    for path in paths:
        video = read_video(path)
        assert video.shape == (6, 24, 32, 3) and video.dtype == np.uint8
    expected = moving_texture(6, 24, 32, dx=-1, seed=9)
    np.testing.assert_array_equal(read_video(paths[-1]), expected)  # PNG frames are lossless
    luma = np.array([0.299, 0.587, 0.114])
    decoded = read_video(paths[0]) @ luma
    assert np.abs(decoded - moving_texture(6, 24, 32, dx=1, seed=0) @ luma).mean() < 4


def test_load_video_folder_options(video_folder):
    paths, labels = load_video_folder(video_folder, classes=["WalkingWithDog"])
    assert set(labels) == {"WalkingWithDog"} and len(paths) == 3
    paths, labels = load_video_folder(video_folder, extensions=(".MP4",))
    assert len(paths) == 5  # extensions compare case-insensitively; frame folders still count
    paths, _ = load_video_folder(video_folder, extensions=(".avi",))
    assert [os.path.basename(p) for p in paths] == ["v_WalkingWithDog_g09"]


def test_load_video_folder_errors(video_folder, tmp_path):
    with pytest.raises(FileNotFoundError, match="no such dataset folder"):
        load_video_folder(tmp_path / "missing")
    with pytest.raises(NotADirectoryError, match="is a file"):
        load_video_folder(video_folder / "classInd.txt")
    with pytest.raises(ValueError, match=r"no folder for the classes \['Swimming'\]"):
        load_video_folder(video_folder, classes=["PushUps", "Swimming"])
    with pytest.raises(TypeError, match="list of class names"):
        load_video_folder(video_folder, classes="PushUps")
    (tmp_path / "Run").mkdir()
    (tmp_path / "Run" / "readme.txt").write_text("")
    with pytest.raises(ValueError, match="holds no video"):
        load_video_folder(tmp_path)
