"""Parallel and distributed extraction: joblib processes and a dask.distributed LocalCluster give
the same flows as one process."""

import joblib
import numpy as np
import pytest
from scipy import ndimage
from sklearn.model_selection import GridSearchCV

from sktvnet import TVNetFlow


def _videos(n=4, shape=(24, 32), frames=3, seed=0):
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        image = ndimage.gaussian_filter(rng.random(shape), 1.5)
        shift = rng.uniform(-1.5, 1.5, 2)
        out.append(np.stack([ndimage.shift(image, k * shift, order=3, mode="nearest")
                             for k in range(frames)]))
    return np.stack(out).astype(np.float32)


def test_n_jobs_equals_sequential():
    X = _videos()
    est = TVNetFlow(weights=None, n_iters=10).fit(X)
    expected = est.transform(X)
    np.testing.assert_array_equal(est.set_params(n_jobs=2).transform(X), expected)
    assert est.set_params(n_jobs=2).score(X) == est.set_params(n_jobs=None).score(X)


def test_ragged_videos_in_parallel_keep_their_order():
    X = [_videos(1, (20, 24))[0], _videos(1, (16, 28), frames=4, seed=1)[0]]
    est = TVNetFlow(weights=None, n_iters=5).fit(X)
    sequential = est.transform(X)
    parallel = est.set_params(n_jobs=2).transform(X)
    assert [f.shape for f in parallel] == [(2, 2, 20, 24), (3, 2, 16, 28)]
    for a, b in zip(parallel, sequential):
        np.testing.assert_array_equal(a, b)


@pytest.fixture(scope="module")
def dask_client():
    distributed = pytest.importorskip("distributed", reason="dask.distributed is not installed")
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                       host="127.0.0.1", dashboard_address=None)
    client = distributed.Client(cluster)
    yield client
    client.close()
    cluster.close()


def test_dask_cluster_extraction_equals_single_process(dask_client):
    X = _videos()
    est = TVNetFlow(weights=None, n_iters=10).fit(X)
    expected = est.transform(X)
    with joblib.parallel_backend("dask"):
        distributed_flows = est.set_params(n_jobs=-1).transform(X)
    np.testing.assert_array_equal(distributed_flows, expected)


def test_dask_cluster_grid_search(dask_client):
    X = _videos(4, (20, 20), frames=2)
    grid = {"train": [None, "u0"], "n_iters": [2, 8]}
    local = GridSearchCV(TVNetFlow(weights=None, max_iter=2, batch_size=2,
                                   random_state=0), grid, cv=2).fit(X)
    with joblib.parallel_backend("dask"):
        remote = GridSearchCV(TVNetFlow(weights=None, max_iter=2, batch_size=2,
                                        random_state=0), grid, cv=2,
                              n_jobs=-1).fit(X)
    assert remote.best_params_ == local.best_params_
    np.testing.assert_allclose(remote.cv_results_["mean_test_score"],
                               local.cv_results_["mean_test_score"], rtol=1e-6)
