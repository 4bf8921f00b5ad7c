"""Tests of the pretrained weights: registry, safe files, the one loader, TVNetFlow's ``weights``
and its default model."""

import os

import joblib
import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.utils._param_validation import InvalidParameterError

from sktvnet import TVNetFlow, load_pretrained
from sktvnet.network import TVNet
from sktvnet.pretrained import (FROZEN_CONFIG, OPTION_KEYS, RECOMMENDED, WEIGHTS, WeightsMismatch,
                                load_tvnet, load_weights, save_weights)

STRUCTURE = dict(n_scales=2, n_warps=1, n_iters=5, zoom_factor=0.5)


def _pairs(n=3, shape=(24, 28), seed=0):
    rng = np.random.default_rng(seed)
    return rng.random((n, 2) + shape).astype(np.float32)


@pytest.fixture
def weights_file(tmp_path):
    """A TVNet-2-1-5 with non-zero steps, u0 and filters, saved; returns (path, network)."""
    net = TVNet(**STRUCTURE)
    generator = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for param in net.parameters():
            param.add_(0.1 * torch.randn(param.shape, generator=generator))
    path = tmp_path / "net.safetensors"
    save_weights(net, path, metadata={"note": "test"})
    return path, net


def test_registry_files_ship_small_and_describe_their_structure():
    assert RECOMMENDED in WEIGHTS
    for name, entry in WEIGHTS.items():
        assert entry.path.is_file(), f"{name}: {entry.path} is missing from the package"
        assert entry.path.stat().st_size < 1_000_000
        state, config = load_weights(entry.path)
        # The file records what it was trained for; options around it (OPTION_KEYS) are the
        # entry's to choose.
        trained_for = {k: v for k, v in entry.config.items() if k not in OPTION_KEYS}
        assert {k: config[k] for k in trained_for} == trained_for
        net = TVNet(**entry.config)
        net.load_state_dict(state)  # every tensor present, every shape right
        assert entry.structure == "TVNet-{n_scales}-{n_warps}-{n_iters}".format(**entry.config)
        assert entry.train and entry.recipe and entry.description
        # The file says how it was made, as the registry does (what it measures is the held-out
        # benchmark's, in sktvnet/weights/metrics.json: tests/test_results.py checks that).
        assert config["metadata"]["name"] == name
        assert entry.recipe.startswith(config["metadata"]["command"])


def test_the_loader_builds_every_entry_with_its_structure():
    for name, entry in WEIGHTS.items():
        loaded = load_tvnet(name)
        assert loaded.weights == name
        # The entry's keys as it gives them; keys a file predates take the defaults.
        assert {key: loaded.config[key] for key in entry.config} == entry.config
        assert all(getattr(loaded.network, key) == value for key, value in entry.config.items()
                   if key != "texture")
        assert name in loaded.description and entry.structure in loaded.description
    assert load_tvnet().weights == load_tvnet("DEFAULT").weights == RECOMMENDED


def test_the_loader_passes_every_key_of_an_entry_config_to_tvnet(monkeypatch):
    """A constructor option the lead adds to TVNet and to an entry reaches TVNet untouched."""
    import sktvnet.network

    seen = {}

    class Recording(TVNet):
        def __init__(self, *, new_option=None, **kwargs):
            seen["new_option"] = new_option
            super().__init__(**kwargs)

    monkeypatch.setattr(sktvnet.network, "TVNet", Recording)
    entry = WEIGHTS[RECOMMENDED]
    monkeypatch.setitem(WEIGHTS, RECOMMENDED, type(entry)(
        **{**entry.__dict__, "config": {**entry.config, "new_option": 7}}))
    assert load_tvnet().config["new_option"] == 7 and seen == {"new_option": 7}


def test_the_loader_without_weights_is_frozen_tvl1():
    loaded = load_tvnet(None, {"n_scales": 2, "n_iters": None})
    assert loaded.weights is None
    # Two levels given without a zoom factor: IPOL's 0.5 (frozen_zoom_factor).
    assert loaded.config == {**FROZEN_CONFIG, "n_scales": 2, "zoom_factor": 0.5}
    assert not loaded.network.log_lmbda.any()


def test_save_and_load_weights_round_trip(weights_file):
    path, net = weights_file
    state, config = load_weights(path)
    assert config["metadata"] == {"note": "test"}
    assert {k: config[k] for k in STRUCTURE} == STRUCTURE
    assert config["lmbda"] == 0.15 and config["eps"] == 1e-10
    for key, value in net.state_dict().items():
        torch.testing.assert_close(state[key], value, rtol=0, atol=0)


def test_estimator_starts_from_a_weights_file(weights_file):
    path, net = weights_file
    X = _pairs()
    est = TVNetFlow(weights=path).fit(X)  # no structure repeated: the file's
    assert est.weights_ == str(path) and est.structure_ == "TVNet-2-1-5"
    assert {k: est.config_[k] for k in STRUCTURE} == STRUCTURE
    for key, value in net.state_dict().items():
        torch.testing.assert_close(est.model_.state_dict()[key].cpu(), value, rtol=0, atol=0)
    expected = net(torch.from_numpy(X[:, :1]), torch.from_numpy(X[:, 1:])).numpy()
    np.testing.assert_allclose(est.transform(X)[:, 0], expected, rtol=0, atol=1e-5)
    # Trained steps are not TV-L1's: the weights change the flow.
    plain = TVNetFlow(**STRUCTURE, weights=None).fit(X).transform(X)
    assert np.abs(plain[:, 0] - expected).max() > 1e-3


def test_fit_trains_further_from_the_weights(weights_file):
    path, net = weights_file
    X = _pairs()
    est = TVNetFlow(weights=path, train="u0", max_iter=2, batch_size=2,
                    random_state=0).fit(X)
    state = {key: value.cpu() for key, value in est.model_.state_dict().items()}
    torch.testing.assert_close(state["log_lmbda"], net.log_lmbda.detach(), rtol=0, atol=0)
    assert not torch.equal(state["u0"], net.u0.detach())


@pytest.mark.parametrize("change, given, made_for", [
    (dict(n_scales=3), "n_scales=3", "n_scales=2"),
    (dict(n_iters=6), "n_iters=6", "n_iters=5"),
    (dict(lmbda=0.2), "lmbda=0.2", "lmbda=0.15"),
    (dict(texture=True), "texture=True", "texture=False"),
    (dict(interpolation="bicubic"), "interpolation='bicubic'", "interpolation='bilinear'"),
])
def test_a_structure_set_against_the_weights_raises_naming_both(weights_file, change, given,
                                                                made_for):
    path, _ = weights_file
    with pytest.raises(WeightsMismatch) as info:
        TVNetFlow(**{**STRUCTURE, **change}, weights=path).fit(_pairs(1))
    message = str(info.value)
    assert f"{given} contradicts the weights file {str(path)!r}, made for {made_for}" in message
    # The same values as the weights' are no contradiction.
    assert TVNetFlow(**STRUCTURE, weights=path).fit(_pairs(1)).structure_ == "TVNet-2-1-5"


def test_the_default_weights_contradicted_raise():
    with pytest.raises(ValueError, match=f"n_iters=20 contradicts the weights '{RECOMMENDED}', "
                                         "made for n_iters=15"):
        TVNetFlow(n_iters=20).fit(_pairs(1))


def test_match_brightness_follows_the_weights_unless_set_and_never_contradicts_them():
    # The recommended entry matches brightness; a value asked for replaces the entry's, since
    # the match runs before the network and the weights do not depend on it.
    assert WEIGHTS[RECOMMENDED].config["match_brightness"] is True
    for asked, ran in ((None, True), (False, False), (True, True)):
        flow = TVNetFlow(match_brightness=asked).fit(_pairs(1))
        assert flow.config_["match_brightness"] is ran is flow.model_.match_brightness
    assert TVNetFlow(weights=None).fit(_pairs(1)).config_["match_brightness"] is False


def test_non_finite_weights_are_refused_naming_the_tensor(weights_file, tmp_path):
    path, net = weights_file
    with torch.no_grad():
        net.log_lmbda[0] = float("nan")
    save_weights(net, tmp_path / "nan.safetensors")
    with pytest.raises(ValueError, match="tensor 'log_lmbda' holds NaN or infinite values"):
        TVNetFlow(weights=tmp_path / "nan.safetensors").fit(_pairs(1))


@pytest.mark.parametrize("version, message", [
    ("2", "its format version is 2, newer than this sktvnet reads \\(1\\): it needs a newer"),
    ("two", "format_version must be a whole number, got 'two'"),
])
def test_weights_of_a_newer_or_unreadable_format_version(weights_file, tmp_path, version,
                                                         message):
    import json

    from safetensors.torch import save

    path, _ = weights_file
    state, config = load_weights(path)
    config.pop("metadata")
    header = {"format": "sktvnet-weights", "format_version": version,
              "config": json.dumps(config)}
    newer = tmp_path / "newer.safetensors"
    newer.write_bytes(save(state, metadata=header))
    with pytest.raises(ValueError, match=message):
        load_weights(newer)


def test_files_without_texture_load_as_tvl1_input(weights_file, tmp_path):
    """Files written before ``texture`` and ``interpolation`` were recorded were made on the
    frames themselves, with bilinear warps."""
    import json

    from safetensors.torch import save

    path, net = weights_file
    state, config = load_weights(path)
    old = {k: v for k, v in config.items() if k not in ("metadata", "texture", "interpolation")}
    header = {"format": "sktvnet-weights", "format_version": "1", "config": json.dumps(old)}
    older = tmp_path / "older.safetensors"
    older.write_bytes(save(state, metadata=header))
    assert load_weights(older)[1]["texture"] is False
    assert load_weights(older)[1]["interpolation"] == "bilinear"
    est = TVNetFlow(weights=older).fit(_pairs(1))
    assert est.model_.texture is False and est.model_.interpolation == "bilinear"
    with pytest.raises(ValueError, match="texture=False"):
        TVNetFlow(**STRUCTURE, texture=True, weights=older).fit(_pairs(1))
    with pytest.raises(ValueError, match="interpolation='bilinear'"):
        TVNetFlow(**STRUCTURE, interpolation="bicubic", weights=older).fit(_pairs(1))


def test_texture_and_interpolation_are_recorded_and_restored(tmp_path):
    net = TVNet(**STRUCTURE, texture=True, interpolation="bicubic")
    save_weights(net, tmp_path / "n.safetensors")
    config = load_weights(tmp_path / "n.safetensors")[1]
    assert config["texture"] is True and config["interpolation"] == "bicubic"
    est = TVNetFlow(weights=tmp_path / "n.safetensors").fit(_pairs(1))
    assert est.model_.texture is True and est.model_.interpolation == "bicubic"


@pytest.mark.parametrize("texture, described", [(0.6, "texture=0.6"),
                                                  ([0, 1], r"texture=\(0.0, 1.0\)")])
def test_a_texture_weight_is_recorded_and_refused_when_it_differs(tmp_path, texture, described):
    net = TVNet(**STRUCTURE, texture=texture)
    save_weights(net, tmp_path / "n.safetensors")
    recorded = load_weights(tmp_path / "n.safetensors")[1]["texture"]
    assert recorded == (tuple(map(float, texture)) if isinstance(texture, list) else texture)
    # A list and a tuple of the same shares are the same weights.
    same = tuple(texture) if isinstance(texture, list) else texture
    est = TVNetFlow(**STRUCTURE, texture=same, weights=tmp_path / "n.safetensors").fit(_pairs(1))
    np.testing.assert_allclose(est.transform(_pairs(2)),
                               TVNetFlow(**STRUCTURE, texture=texture, weights=None).fit(
                                   _pairs(1)).transform(
                                   _pairs(2)), atol=1e-6)
    with pytest.raises(ValueError, match=described):
        TVNetFlow(**STRUCTURE, texture=True, weights=tmp_path / "n.safetensors").fit(_pairs(1))
    with pytest.raises(InvalidParameterError, match="'texture' parameter"):
        TVNetFlow(**STRUCTURE, texture="yes").fit(_pairs(1))


def test_bad_weights_values(tmp_path):
    with pytest.raises(ValueError, match="neither .DEFAULT., a bundled name .* nor an existing file"):
        TVNetFlow(weights="no-such-weights").fit(_pairs(1))
    junk = tmp_path / "junk.safetensors"
    junk.write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00not a header at all")
    with pytest.raises(ValueError, match="not a readable sktvnet weights file"):
        TVNetFlow(weights=junk).fit(_pairs(1))
    with pytest.raises(TypeError, match="'weights' parameter"):
        TVNetFlow(weights=3).fit(_pairs(1))
    with pytest.raises(TypeError, match="TVNet or a fitted TVNetFlow"):
        save_weights(object(), tmp_path / "x.safetensors")


def test_the_default_is_the_recommended_weights_resolved_in_fit():
    X = _pairs(2, shape=(40, 48))
    default = TVNetFlow()
    assert default.get_params()["weights"] == "DEFAULT" and default.n_iters is None
    np.testing.assert_array_equal(default.fit_transform(X), load_pretrained().transform(X))
    assert default.weights == "DEFAULT" and default.n_iters is None  # get_params unchanged
    assert default.weights_ == RECOMMENDED
    assert default.structure_ == WEIGHTS[RECOMMENDED].structure
    config = WEIGHTS[RECOMMENDED].config
    assert {key: default.config_[key] for key in config} == config
    np.testing.assert_array_equal(default.transform(X), load_pretrained().transform(X))


def test_default_follows_recommended_when_fit_runs(monkeypatch):
    import sktvnet.pretrained

    monkeypatch.setattr(sktvnet.pretrained, "RECOMMENDED", "tvnet-8-2-15")
    assert TVNetFlow().fit(_pairs(1)).weights_ == "tvnet-8-2-15"


def test_without_weights_frozen_tvl1_and_tvnet50_is_one_argument_away():
    X = _pairs(1)
    frozen = TVNetFlow(weights=None).fit(X)
    assert frozen.weights_ is None and frozen.structure_ == "TVNet-10-1-50"
    net = frozen.model_
    assert (net.n_scales, net.n_warps, net.n_iters, net.zoom_factor) == (10, 1, 50, 0.7)
    assert not net.log_lmbda.any()
    tvnet50 = TVNetFlow(weights=None, n_scales=1).fit(X)
    assert tvnet50.structure_ == "TVNet-1-1-50"
    assert (tvnet50.model_.n_scales, tvnet50.model_.n_warps, tvnet50.model_.n_iters) == (1, 1, 50)


def test_load_pretrained_is_fitted_and_equals_the_default():
    X = _pairs(2, shape=(40, 48))
    est = load_pretrained(batch_size=4)
    assert est.weights == RECOMMENDED and est.batch_size == 4
    explicit = TVNetFlow(**WEIGHTS[RECOMMENDED].config).fit(X)  # the same values: no conflict
    np.testing.assert_array_equal(est.transform(X), explicit.transform(X))
    with pytest.raises(ValueError, match="no bundled weights are named 'nope'"):
        load_pretrained("nope")
    with pytest.raises(TypeError, match="sets n_scales from the weights"):
        load_pretrained(n_scales=2)


def test_pretrained_does_not_import_the_estimators():
    import subprocess
    import sys

    code = "import sys, sktvnet.pretrained; print('sktvnet.estimators' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            check=True)
    assert result.stdout.strip() == "False"


def test_clone_keeps_weights(weights_file):
    path, _ = weights_file
    est = TVNetFlow(weights=path)
    assert clone(est).weights == path
    assert clone(TVNetFlow()).weights == "DEFAULT"


def test_save_load_and_joblib_keep_the_weights(weights_file, tmp_path):
    path, _ = weights_file
    X = _pairs()
    est = TVNetFlow(weights=path).fit(X)
    expected = est.transform(X)
    est.save(tmp_path / "model.sktvnet")
    joblib.dump(est, tmp_path / "model.joblib")
    path.unlink()  # the model files hold the state: the weights file is no longer needed
    for loaded in (TVNetFlow.load(tmp_path / "model.sktvnet"),
                   joblib.load(tmp_path / "model.joblib")):
        assert os.fspath(loaded.weights) == str(path) and loaded.weights_ == str(path)
        assert loaded.structure_ == "TVNet-2-1-5" and loaded.config_ == est.config_
        np.testing.assert_array_equal(loaded.transform(X), expected)


def test_median_filter_is_recorded_and_files_without_it_load_unfiltered(weights_file, tmp_path):
    """Files written before ``median_filter`` existed were made without the filter (0)."""
    import json

    from safetensors.torch import save

    net = TVNet(**STRUCTURE, median_filter=3)
    save_weights(net, tmp_path / "m.safetensors")
    assert load_weights(tmp_path / "m.safetensors")[1]["median_filter"] == 3
    est = TVNetFlow(weights=tmp_path / "m.safetensors").fit(_pairs(1))
    assert est.model_.median_filter == 3
    with pytest.raises(ValueError, match="median_filter=3"):
        TVNetFlow(median_filter=5, weights=tmp_path / "m.safetensors").fit(_pairs(1))
    path, _ = weights_file
    state, config = load_weights(path)
    old = {k: v for k, v in config.items() if k not in ("metadata", "median_filter")}
    header = {"format": "sktvnet-weights", "format_version": "1", "config": json.dumps(old)}
    older = tmp_path / "older.safetensors"
    older.write_bytes(save(state, metadata=header))
    assert load_weights(older)[1]["median_filter"] == 0
    assert TVNetFlow(weights=older).fit(_pairs(1)).model_.median_filter == 0


def test_opencv_config_is_opencv_structure_without_weights():
    from sktvnet.pretrained import OPENCV_CONFIG

    loaded = load_tvnet(None, OPENCV_CONFIG)
    net = loaded.network
    assert (net.n_scales, net.n_warps, net.zoom_factor, net.median_filter) == (5, 5, 0.8, 5)
    assert "median_filter=5" in loaded.description
    est = TVNetFlow(weights=None, **OPENCV_CONFIG, device="cpu").fit(_pairs(1))
    assert est.model_.median_filter == 5


def test_without_weights_the_opencv_preset_starts_from_opencv_config():
    from sktvnet.pretrained import OPENCV_CONFIG

    loaded = load_tvnet(None, {"preset": "opencv", "n_iters": 7})
    assert loaded.config == {**OPENCV_CONFIG, "n_iters": 7}
    assert load_tvnet(None, {"n_iters": 7}).config["preset"] is None
    est = TVNetFlow(weights=None, preset="opencv", n_iters=2, device="cpu").fit(_pairs(1))
    assert (est.model_.preset, est.model_.n_scales, est.model_.zoom_factor) == ("opencv", 5, 0.8)
    with pytest.raises(InvalidParameterError, match="preset"):
        TVNetFlow(preset="ipol").fit(_pairs(1))


def test_a_frozen_structure_without_zoom_gets_a_pyramid_as_deep_as_the_default():
    """TVNet-4-3-10 given without a zoom factor runs at 0.5, not at the ten-level default's 0.7
    (whose four levels would not reach motions of the default's reach); a zoom given is kept."""
    from sktvnet.pretrained import FROZEN_CONFIG, load_tvnet

    shallow = load_tvnet(None, {"n_scales": 4, "n_warps": 3, "n_iters": 10}).config
    assert shallow["zoom_factor"] == 0.5
    assert load_tvnet(None, {}).config["zoom_factor"] == FROZEN_CONFIG["zoom_factor"] == 0.7
    assert load_tvnet(None, {"n_scales": 10}).config["zoom_factor"] == 0.7
    assert load_tvnet(None, {"n_scales": 4, "zoom_factor": 0.8}).config["zoom_factor"] == 0.8
    depth = lambda config: config["zoom_factor"] ** (config["n_scales"] - 1)
    for n_scales in (6, 8, 12):
        config = load_tvnet(None, {"n_scales": n_scales}).config
        assert abs(depth(config) - depth(FROZEN_CONFIG)) < 0.01


def test_tol_is_recorded_and_files_without_it_run_every_iteration(weights_file, tmp_path):
    import json

    from safetensors.torch import save

    save_weights(TVNet(**STRUCTURE, tol=0.02), tmp_path / "t.safetensors")
    assert load_weights(tmp_path / "t.safetensors")[1]["tol"] == 0.02
    assert TVNetFlow(weights=tmp_path / "t.safetensors").fit(_pairs(1)).model_.tol == 0.02
    path, _ = weights_file
    state, config = load_weights(path)
    old = {k: v for k, v in config.items() if k not in ("metadata", "tol")}
    header = {"format": "sktvnet-weights", "format_version": "1", "config": json.dumps(old)}
    older = tmp_path / "older.safetensors"
    older.write_bytes(save(state, metadata=header))
    assert load_weights(older)[1]["tol"] == 0.0
