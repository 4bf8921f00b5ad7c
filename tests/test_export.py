"""Tests of sktvnet.export, TVNetFlow.export and ``sktvnet export``: the exported graphs compute
what transform() computes, on real image pairs, for frozen and trained networks.

Exporting traces every unrolled iteration and takes tens of seconds on a small CPU, so the
networks are small (TVNet-2-1-3 at 48x64: two pyramid levels, so the resampling is exported)
and every exported file is made once per module.
"""

import warnings

import numpy as np
import pytest
import torch
from skimage import data

import sktvnet
import sktvnet.export
from sktvnet import TVNetFlow, export_tvnet, make_synthetic_pair
from sktvnet.cli import main
from sktvnet.export import ONNX_OPSET, count_onnx_nodes

onnx = pytest.importorskip("onnx", reason="the export extra (onnx) is not installed")
ort = pytest.importorskip("onnxruntime", reason="the export extra (onnxruntime) is not installed")

SHAPE = (48, 64)
STRUCTURE = dict(n_scales=2, n_warps=1, n_iters=3, device="cpu")
# Mean absolute difference allowed between an exported graph and transform(), in pixels.
MEAN_TOL = 1e-4

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def grey_videos():
    """Two real grey pairs: the camera image warped by a known field, and the reverse pair."""
    image0, image1, _ = make_synthetic_pair("camera", SHAPE, dtype=np.float32)
    return np.stack([np.stack([image0, image1]), np.stack([image1, image0])])


@pytest.fixture(scope="module")
def rgb_videos():
    """Two real colour pairs: crops of the astronaut image moved by one and by two pixels."""
    image = data.astronaut()
    rows = slice(100, 100 + SHAPE[0])
    crops = [image[rows, 200 + dx:200 + dx + SHAPE[1]] for dx in (0, 1, 2)]
    return np.stack([np.stack(crops[:2]), np.stack(crops[::2])])


@pytest.fixture(scope="module")
def frozen(grey_videos):
    return TVNetFlow(weights=None, **STRUCTURE).fit(grey_videos)


@pytest.fixture(scope="module")
def bicubic(grey_videos):
    return TVNetFlow(weights=None, **STRUCTURE, interpolation="bicubic").fit(grey_videos)


@pytest.fixture(scope="module")
def trained(grey_videos):
    """u0, filters and step sizes trained for a few steps (no validation, which could rightly
    keep the untrained state), then the step sizes and the pre-smoothing moved further by hand
    (a traced graph must take the learned sigma's window as a constant)."""
    estimator = TVNetFlow(weights=None, **STRUCTURE, train="all", max_iter=3, crop_size=None, random_state=0,
                          validation_fraction=None)
    estimator.fit(grey_videos)
    generator = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for name in ("tau_logit", "log_lmbda", "log_theta"):
            parameter = getattr(estimator.model_, name)
            parameter.add_(0.3 * torch.randn(parameter.shape, generator=generator))
        estimator.model_.log_presmoothing.fill_(0.4)
    return estimator


def _onnx_flows(path, videos):
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    frames = videos.astype(np.float32)
    (flow,) = session.run(["flow"], {"image0": frames[:, 0, None], "image1": frames[:, 1, None]})
    return flow


def test_trained_fixture_moved_away_from_tvl1(trained):
    # Otherwise the "trained" tests would only repeat the frozen ones.
    model = trained.model_
    assert float(model.u0.detach().abs().max()) > 1e-4
    assert not torch.equal(model.forward_weight, torch.tensor([-1.0, 1.0]).expand_as(
        model.forward_weight))
    steps = model.step_sizes()
    assert float((steps["theta"].detach() / model.theta).log().abs().min()) > 1e-3
    assert steps["tau"].unique().numel() == steps["tau"].numel()
    assert float(model.presmoothing_sigma().detach()) > 1.1


@pytest.mark.parametrize("which, optimize", [("frozen", True), ("trained", True),
                                             ("bicubic", True), ("trained", False)])
def test_onnx_equals_transform(which, optimize, request, tmp_path, grey_videos):
    estimator = request.getfixturevalue(which)
    path = estimator.export(tmp_path / "tvnet.onnx", frame_shape=SHAPE, optimize=optimize)
    assert path == tmp_path / "tvnet.onnx"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["tvnet.onnx"]  # self-contained

    model = onnx.load(path)
    onnx.checker.check_model(model)
    assert [o.version for o in model.opset_import if o.domain == ""] == [ONNX_OPSET]
    assert ONNX_OPSET >= 18
    assert [i.name for i in model.graph.input] == ["image0", "image1"]
    assert [o.name for o in model.graph.output] == ["flow"]
    dims = model.graph.output[0].type.tensor_type.shape.dim
    assert [d.dim_param or d.dim_value for d in dims] == ["batch", 2, *SHAPE]
    meta = {p.key: p.value for p in model.metadata_props}
    assert meta["frame_shape"] == "48 64" and meta["channels"] == "1"

    expected = estimator.transform(grey_videos)[:, 0]
    flow = _onnx_flows(path, grey_videos)
    assert flow.shape == (2, 2, *SHAPE)
    assert np.abs(flow - expected).mean() < MEAN_TOL
    # The batch is dynamic: one pair alone gives its own flow.
    assert np.abs(_onnx_flows(path, grey_videos[1:]) - expected[1:]).mean() < MEAN_TOL
    # The flow is not trivially small: the comparison means something.
    assert np.abs(expected).mean() > 0.1

    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    # onnxruntime's own error (the graph cannot add a message): it names the input and the sizes.
    wrong = np.zeros((1, 1, SHAPE[0] + 2, SHAPE[1]), np.float32)
    right = np.zeros((1, 1, *SHAPE), np.float32)
    with pytest.raises(Exception, match=r"input: image0 .*\n index: 2 Got: 50 Expected: 48"):
        session.run(["flow"], {"image0": wrong, "image1": right})


def test_pt2_rgb_fixed_batch_reloads_and_equals_transform(trained, tmp_path, rgb_videos):
    model = trained.model_
    before = {k: v.clone() for k, v in model.state_dict().items()}
    flags = (model.compiled, model.training, [p.requires_grad for p in model.parameters()])
    path = trained.export(tmp_path / "tvnet.pt2", frame_shape=SHAPE, channels=3, batch_size=2)
    # The export works on a copy: the estimator keeps its flags, gradients and weights.
    assert (model.compiled, model.training, [p.requires_grad for p in model.parameters()]) == flags
    assert all(torch.equal(v, before[k]) for k, v in model.state_dict().items())

    program = torch.export.load(path).module()
    frames = torch.from_numpy(rgb_videos.astype(np.float32)).permute(0, 1, 4, 2, 3)
    with torch.no_grad():
        flow = program(frames[:, 0], frames[:, 1]).numpy()
    expected = trained.transform(rgb_videos)[:, 0]
    assert flow.shape == (2, 2, *SHAPE)
    assert np.abs(flow - expected).mean() < MEAN_TOL
    # The content moves left by 1 and 2 px (I0(x) = I1(x - 1)): u < 0 although 3 iterations
    # recover only part of it, so the comparison is not one of near-zero flows.
    assert np.median(flow[0, 0]) < -0.1 and np.median(flow[1, 0]) < np.median(flow[0, 0])

    with pytest.raises((AssertionError, RuntimeError), match=r"image0.*\[2\] == 48"):
        program(frames[:, 0, :, :46], frames[:, 1, :, :46])
    with pytest.raises((AssertionError, RuntimeError), match=r"image0.*\[0\] == 2"):
        program(frames[:1, 0], frames[:1, 1])


def test_cli_exports_a_saved_model(trained, tmp_path, grey_videos, capsys):
    model_path = tmp_path / "model.zip"
    trained.save(model_path)
    out = tmp_path / "tvnet.pt2"
    status = main(["export", "--weights", str(model_path), "-o", str(out),
                   "--frame-shape", "48x64"])
    assert status == 0
    printed = capsys.readouterr().out
    assert f"TVNet-2-1-3 to {out} (torch.export), frames (B, 1, 48, 64) -> flow (B, 2, 48, 64)" \
        in printed
    program = torch.export.load(out).module()
    frames = torch.from_numpy(grey_videos)
    with torch.no_grad():
        flow = program(frames[:, 0, None], frames[:, 1, None]).numpy()
    assert np.abs(flow - trained.transform(grey_videos)[:, 0]).mean() < MEAN_TOL


@pytest.mark.parametrize("weights", [None, "RECOMMENDED", "file"])
def test_cli_exports_what_sktvnet_flow_runs(tmp_path, monkeypatch, capsys, weights):
    """Nothing (the recommended weights), a bundled name or a weights file: the same loader as
    `sktvnet flow`'s."""
    from sktvnet import load_pretrained
    from sktvnet.pretrained import RECOMMENDED, WEIGHTS

    exported = []

    def fake_export(model, path, **kwargs):
        exported.append((model, kwargs))
        return path

    # The (slow, tested above) export is stubbed: what is tested is that the flag hands over the
    # bundled network.
    monkeypatch.setattr(sktvnet.export, "export_tvnet", fake_export)
    out = tmp_path / "tvnet.pt2"
    option = {None: [], "RECOMMENDED": ["--weights", RECOMMENDED],
              "file": ["--weights", str(WEIGHTS[RECOMMENDED].path)]}[weights]
    status = main(["export", *option, "-o", str(out),
                   "--frame-shape", "48x64", "--batch-size", "1"])
    assert status == 0, capsys.readouterr().err
    [(model, kwargs)] = exported
    assert kwargs == dict(frame_shape=(48, 64), channels=1, batch_size=1, optimize=True,
                          verbose=1)
    expected = load_pretrained(RECOMMENDED).model_.state_dict()
    if weights != "file":  # the entry's options come with its name
        assert model.match_brightness == WEIGHTS[RECOMMENDED].config["match_brightness"]
    assert all(torch.equal(value, expected[key]) for key, value in model.state_dict().items())
    captured = capsys.readouterr()
    assert "TVNet-8-2-15 to" in captured.out and "frames (1, 1, 48, 64)" in captured.out
    assert "TVNet-8-2-15" in captured.err  # which model, as `sktvnet flow` says it
    # --no-optimize skips the ONNX optimizer, the slow part for large structures.
    status = main(["export", *option, "-o", str(tmp_path / "tvnet.onnx"),
                   "--frame-shape", "48x64", "--no-optimize"])
    assert status == 0, capsys.readouterr().err
    assert exported[-1][1] == dict(frame_shape=(48, 64), channels=1, batch_size=None,
                                   optimize=False, verbose=1)


def test_cli_pretrained_unknown_name(tmp_path, capsys):
    status = main(["export", "--weights", "no-such-weights", "-o", str(tmp_path / "a.onnx"),
                   "--frame-shape", "48x64"])
    assert status == 1
    assert "no-such-weights" in capsys.readouterr().err


@pytest.mark.parametrize("argv, message", [
    (["--weights", "m.zip", "-o", "tvnet.tflite"], "the export format follows the file suffix"),
    (["--weights", "missing.zip", "-o", "tvnet.onnx"], "missing.zip"),
])
def test_cli_errors(tmp_path, capsys, argv, message):
    argv = [str(tmp_path / a) if a.endswith((".zip", ".onnx", ".tflite")) else a for a in argv]
    assert main(["export", *argv, "--frame-shape", "48x64"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("sktvnet export: error: ") and message in err


def test_cli_unfitted_model(tmp_path, capsys):
    path = tmp_path / "model.zip"
    TVNetFlow().save(path)
    assert main(["export", "--weights", str(path), "-o", str(tmp_path / "a.onnx"),
                 "--frame-shape", "8x8"]) == 1
    assert "never fitted" in capsys.readouterr().err


@pytest.mark.parametrize("argv, message", [
    (["--frame-shape", "3x64"], "a frame side must be >= 4 pixels, got '3x64'"),
    (["--frame-shape", "48x"], "expected HEIGHTxWIDTH with positive sizes (e.g. 240x320), got"),
    (["--frame-shape", "48", "64"], "expected HEIGHTxWIDTH"),
    (["--frame-shape", "48x64", "--batch-size", "0"], "the batch size must be >= 1, got 0"),
    (["--frame-shape", "48x64", "--channels", "2"], "invalid choice: 2"),
    (["m.zip", "--frame-shape", "48x64"], "unrecognized arguments: m.zip"),
    (["--pretrained", "x", "--frame-shape", "48x64"], "unrecognized arguments: --pretrained"),
])
def test_cli_usage_errors(capsys, argv, message):
    with pytest.raises(SystemExit) as exit_info:
        main(["export", *argv, "-o", "a.onnx"])
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err


@pytest.mark.parametrize("kwargs, error, message", [
    (dict(path="tvnet.tflite"), ValueError,
     "the export format follows the file suffix, one of .onnx (ONNX), .pt2 (torch.export); "
     "got 'tvnet.tflite'"),
    (dict(frame_shape=(48,)), TypeError, "frame_shape must be a pair of integers (H, W), got (48,)"),
    (dict(frame_shape=(3, 64)), ValueError, "frame_shape must be at least (4, 4), got (3, 64)"),
    (dict(frame_shape=(48, 64.5)), TypeError, "frame_shape must be a pair of integers (H, W)"),
    (dict(channels=2), ValueError, "channels must be 1 (grey) or 3 (RGB), got 2"),
    (dict(batch_size=0), ValueError, "batch_size must be >= 1, got 0"),
    (dict(optimize="yes"), TypeError, "optimize must be True or False, got 'yes'"),
])
def test_export_argument_errors(frozen, kwargs, error, message):
    args = {"path": "tvnet.onnx", "frame_shape": SHAPE, "channels": 1, **kwargs}
    path = args.pop("path")
    with pytest.raises(error) as info:
        export_tvnet(frozen.model_, path, **args)
    assert message in str(info.value)


def test_export_needs_a_tvnet(frozen):
    with pytest.raises(TypeError, match="model must be an sktvnet.TVNet, got TVNetFlow; for a "
                                        "fitted TVNetFlow call its export method"):
        export_tvnet(frozen, "tvnet.onnx", frame_shape=SHAPE)


def test_estimator_export_needs_a_fitted_estimator():
    from sklearn.exceptions import NotFittedError

    with pytest.raises(NotFittedError):
        TVNetFlow().export("tvnet.onnx", frame_shape=SHAPE)


@pytest.mark.parametrize("match_brightness", [False, True])
def test_graph_does_not_grow_with_iterations(match_brightness, tmp_path, grey_videos, capfd):
    """Warps and iterations are loops: 3 and 30 iterations a warp give graphs of the same size,
    and each computes transform()'s flow (two warps a level: the loop of the warps runs);
    with match_brightness the aligner is in the graph, on a pair whose brightness changes."""
    videos = grey_videos.copy()
    videos[:, 1] = videos[:, 1] * 1.1 + 0.03  # a change match_brightness removes
    counts = []
    for n_iters in (3, 30):
        estimator = TVNetFlow(weights=None, n_scales=2, n_warps=2, n_iters=n_iters,
                              match_brightness=match_brightness, device="cpu").fit(videos)
        path = tmp_path / f"tvnet-{n_iters}.onnx"
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            estimator.export(path, frame_shape=SHAPE)
        assert [str(w.message) for w in caught] == []  # the exporters' noise is dealt with
        model = onnx.load(path)
        counts.append(count_onnx_nodes(model.graph))
        assert counts[-1] > len(model.graph.node)  # the loops' bodies are counted
        assert any(node.op_type == "Scan" for node in model.graph.node)
        capfd.readouterr()
        expected = estimator.transform(videos)[:, 0]
        flow = _onnx_flows(path, videos)
        assert np.abs(flow - expected).mean() < MEAN_TOL
        assert np.abs(expected).mean() > 0.1
        # onnxruntime opens the optimized graph without a word.
        assert capfd.readouterr().err == ""
    assert counts[0] == counts[1]
    if match_brightness:  # the match changed the flow, so the graph holds it
        plain = TVNetFlow(weights=None, n_scales=2, n_warps=2, n_iters=30,
                          device="cpu").fit(videos).transform(videos)[:, 0]
        assert np.abs(plain - expected).mean() > 10 * MEAN_TOL


def test_export_reports_its_stages(frozen, tmp_path, capsys):
    export_tvnet(frozen.model_, tmp_path / "tvnet.onnx", frame_shape=SHAPE, verbose=1)
    err = capsys.readouterr().err
    assert "export" in err and "3/3 stages" in err and "done=optimize" in err
    export_tvnet(frozen.model_, tmp_path / "quiet.onnx", frame_shape=SHAPE)
    assert capsys.readouterr().err == ""
