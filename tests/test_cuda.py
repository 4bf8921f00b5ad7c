"""The GPU path against the CPU path: the same numbers, and models that move between the two.

Elsewhere the estimators run on ``device="auto"``, so on a CUDA machine the whole suite already
runs there; these tests compare the two devices directly. Without CUDA they skip.
"""

import pickle
from unittest import mock

import numpy as np
import pytest
import torch

from sktvnet import TVNet, TVNetActionClassifier, TVNetFlow, load_pretrained
from sktvnet.datasets import make_flow_pairs, make_motion_videos

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(),
                                reason="no CUDA device on this machine")

SMALL = dict(n_scales=2, n_warps=2, n_iters=5, max_iter=4, batch_size=2, random_state=0)


@pytest.fixture(scope="module")
def pairs():
    return make_flow_pairs(4, frame_shape=(48, 64), max_displacement=2.0, random_state=0)


def test_frozen_tvnet_gives_the_same_flow_on_both_devices(pairs):
    X, _ = pairs
    x0, x1 = (torch.from_numpy(X[:, i:i + 1]).double() for i in range(2))
    net = TVNet(n_scales=3, n_warps=2, n_iters=10, compiled=False).double()
    with torch.no_grad():
        on_cpu = net(x0, x1)
        on_gpu = net.to("cuda")(x0.cuda(), x1.cuda()).cpu()
    np.testing.assert_allclose(on_gpu.numpy(), on_cpu.numpy(), atol=1e-8)


def test_training_on_cuda_reaches_every_step_parameter_and_loads_on_the_cpu(pairs):
    X, y = pairs
    est = TVNetFlow(weights=None, train="all", loss="epe", device="cuda", validation_fraction=None,
                    **SMALL).fit(X, y)
    assert est._device.type == "cuda"
    assert all(p.device.type == "cuda" for p in est.model_.parameters())
    start = dict(est._make_network().named_parameters())
    for name in ("log_lmbda", "log_theta", "tau_logit"):
        trained = getattr(est.model_, name).detach().cpu()
        assert not torch.equal(trained, start[name].detach()), f"{name} did not move on CUDA"
    on_gpu = est.transform(X)
    blob = pickle.dumps(est)
    with mock.patch("torch.cuda.is_available", return_value=False):
        with pytest.warns(UserWarning, match="loaded on the CPU"):
            loaded = pickle.loads(blob)
    assert loaded._device.type == "cpu"
    np.testing.assert_allclose(loaded.transform(X), on_gpu, atol=1e-3)


def test_cuda_and_cpu_training_agree_on_the_first_steps(pairs):
    """Same seed, same data: the devices differ only by float32 rounding in their kernels."""
    X, y = pairs
    params = dict(train="steps", loss="epe", validation_fraction=None, **{**SMALL, "max_iter": 2})
    on_cpu = TVNetFlow(weights=None, device="cpu", **params).fit(X, y)
    on_gpu = TVNetFlow(weights=None, device="cuda", **params).fit(X, y)
    np.testing.assert_allclose(on_gpu.loss_curve_, on_cpu.loss_curve_, rtol=1e-3)


def test_pretrained_weights_give_the_same_flow_on_both_devices(pairs):
    X, _ = pairs
    np.testing.assert_allclose(load_pretrained(device="cuda").transform(X),
                               load_pretrained(device="cpu").transform(X), atol=1e-3)


def test_action_classifier_trained_on_cuda_predicts_the_same_on_the_cpu():
    X, y = make_motion_videos(8, n_classes=2, frame_shape=(24, 24), random_state=0)
    flow = TVNetFlow(weights=None, n_scales=2, n_iters=5, train="all")
    clf = TVNetActionClassifier(flow=flow, head="resnet", head_width=8, max_iter=2, batch_size=4,
                                device="cuda", random_state=0).fit(X, y)
    assert next(clf.model_.parameters()).device.type == "cuda"
    proba = clf.predict_proba(X)
    with mock.patch("torch.cuda.is_available", return_value=False):
        with pytest.warns(UserWarning, match="loaded on the CPU"):
            loaded = pickle.loads(pickle.dumps(clf))
    np.testing.assert_allclose(loaded.predict_proba(X), proba, atol=1e-4)


def test_learned_presmoothing_and_its_gradient_agree_on_both_devices():
    """The learnable blur (a loop of tap pairs whose window follows sigma) on CUDA: the same
    flow as on the CPU, and the same gradient reaching the pre-smoothing and the step sizes."""
    X, _ = make_flow_pairs(2, frame_shape=(40, 48), max_displacement=3.0, random_state=1)
    results = {}
    for device in ("cpu", "cuda"):
        net = TVNet(n_scales=2, n_warps=1, n_iters=5, train_filters=True, train_steps=True,
                    compiled=False).double().to(device)
        with torch.no_grad():
            net.log_presmoothing.fill_(0.6)  # sigma 0.8 e^0.6 = 1.46 px
        x0, x1 = (torch.from_numpy(X[:, i:i + 1]).double().to(device) for i in range(2))
        flow = net(x0, x1)
        flow.square().sum().backward()
        results[device] = (flow.detach().cpu(), net.log_presmoothing.grad.cpu(),
                           net.log_lmbda.grad.cpu())
    for on_cpu, on_gpu in zip(results["cpu"], results["cuda"]):
        torch.testing.assert_close(on_gpu, on_cpu, rtol=1e-7, atol=1e-9)
    assert float(results["cuda"][1].abs()) > 0, "no gradient reached the pre-smoothing"
