"""Plumbing shared by the torch-backed estimators: devices, seeding, pickling and safe files."""

from __future__ import annotations

import io
import json
import os
import zipfile
from pathlib import Path

import numpy as np
import torch

from .._devices import fallback_device
from .._version import __version__
from ..io import atomic_write

FORMAT = "sktvnet-model"
FORMAT_VERSION = 1


def worker_threads(n_jobs: int) -> int:
    """Torch threads per worker so that ``n_jobs`` workers share this machine's cores."""
    return max(1, (os.cpu_count() or 1) // max(1, n_jobs))


def torch_generator(random_state) -> torch.Generator:
    """A CPU torch generator seeded from ``random_state`` (None, int or RandomState)."""
    if random_state is None:
        seed = int(np.random.SeedSequence().generate_state(1)[0])
    elif isinstance(random_state, np.random.RandomState):
        seed = int(random_state.randint(0, 2**31 - 1))
    else:
        seed = int(random_state)
    return torch.Generator().manual_seed(seed)


class TorchStateMixin:
    """Pickling without torch objects in the state, and a safe file format.

    Subclasses keep their fitted network in ``model_`` and list the constructor arguments of that
    network in ``_network_config()``; every other fitted attribute is plain data.
    """

    _torch_attributes = ("model_",)

    # --------------------------------------------------------------- pickling (joblib)
    def __getstate__(self):
        state = self.__dict__.copy()
        model = state.pop("model_", None)
        if model is not None:
            state["_model_state"] = {k: v.detach().cpu() for k, v in model.state_dict().items()}
        state.pop("_device", None)
        state["_device_name"] = str(getattr(self, "_device", "cpu"))
        return state

    def __setstate__(self, state):
        state = dict(state)
        model_state = state.pop("_model_state", None)
        device_name = state.pop("_device_name", "cpu")
        self.__dict__.update(state)
        if model_state is not None:
            self._device = fallback_device(device_name)
            self.model_ = self._make_network().to(self._device)
            self.model_.load_state_dict(model_state)

    # --------------------------------------------------------------- safe files
    def save(self, path) -> None:
        """Write the estimator to ``path`` without pickle: parameters and fitted data as JSON,
        network weights as a tensor file that loads with ``torch.load(weights_only=True)``.

        The file is written to a temporary name and renamed, so a crash leaves no partial file.
        """
        path = Path(path)
        params = self._json_params()
        _check_json_params(self, params)
        fitted = {k: _to_json(v) for k, v in self.__dict__.items()
                  if k.endswith("_") and not k.startswith("_") and k not in self._torch_attributes}
        meta = {"format": FORMAT, "format_version": FORMAT_VERSION, "sktvnet": __version__,
                "class": type(self).__name__, "device": str(getattr(self, "_device", "cpu"))}
        weights = io.BytesIO()
        model = getattr(self, "model_", None)
        if model is not None:
            torch.save({k: v.detach().cpu() for k, v in model.state_dict().items()}, weights)
        # io's atomic writer: no partial file on a crash, and the umask's permissions (mkstemp
        # would make the model file private to its owner).
        with atomic_write(path) as handle, \
                zipfile.ZipFile(handle, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            archive.writestr("meta.json", json.dumps(meta))
            archive.writestr("params.json", json.dumps(params))
            archive.writestr("fitted.json", json.dumps(fitted))
            if model is not None:
                archive.writestr("weights.pt", weights.getvalue())

    def _json_params(self) -> dict:
        """The constructor's parameters as :meth:`save` writes them; an estimator holding
        another overrides it (and :meth:`_params_from_json`) to write that one's parameters."""
        # A path parameter (TVNetFlow's weights) is written as its string, which means the same.
        return {k: os.fspath(v) if isinstance(v, os.PathLike) else v
                for k, v in self.get_params(deep=False).items()}

    @classmethod
    def _params_from_json(cls, params: dict) -> dict:
        """The constructor's parameters from what :meth:`_json_params` wrote."""
        return params

    @classmethod
    def load(cls, path):
        """Read an estimator written by :meth:`save`; never unpickles code.

        Raises ``ValueError`` for a file that is not an sktvnet model of this class, or is
        truncated or corrupt.
        """
        path = Path(path)
        try:
            with zipfile.ZipFile(path) as archive:
                names = set(archive.namelist())
                meta = json.loads(archive.read("meta.json"))
                if meta.get("format") != FORMAT:
                    raise ValueError("meta.json does not describe an sktvnet model")
                params = json.loads(archive.read("params.json"))
                fitted = json.loads(archive.read("fitted.json"))
                weights = archive.read("weights.pt") if "weights.pt" in names else None
        except (zipfile.BadZipFile, KeyError, json.JSONDecodeError, UnicodeDecodeError, EOFError,
                ValueError) as exc:
            raise ValueError(f"{path} is not a readable sktvnet model file: {exc}") from exc
        if meta["class"] != cls.__name__:
            raise ValueError(f"{path} holds a {meta['class']}, not a {cls.__name__}")
        version = meta.get("format_version", 0)
        if not isinstance(version, int) or isinstance(version, bool):
            raise ValueError(f"{path} is not a readable sktvnet model file: its format_version "
                             f"must be a whole number, got {version!r}")
        if version > FORMAT_VERSION:
            writer = f" (it was written by sktvnet {meta['sktvnet']})" if "sktvnet" in meta else ""
            raise ValueError(f"{path} has format version {version}, newer than this sktvnet "
                             f"({__version__}) reads ({FORMAT_VERSION}){writer}: it needs a "
                             "newer sktvnet")
        estimator = cls(**cls._params_from_json(params))
        for key, value in fitted.items():
            setattr(estimator, key, _from_json(value))
        if weights is not None:
            try:
                state = torch.load(io.BytesIO(weights), map_location="cpu", weights_only=True)
            except Exception as exc:  # torch raises several types for corrupt archives
                raise ValueError(f"{path}: the network weights cannot be read: {exc}") from exc
            estimator._device = fallback_device(meta.get("device", "cpu"))
            estimator.model_ = estimator._make_network().to(estimator._device)
            estimator.model_.load_state_dict(state)
        return estimator


def _check_json_params(estimator, params: dict) -> None:
    """Raise before writing anything if a parameter is not plain data (e.g. a callable)."""
    bad = []
    for key, value in params.items():
        try:
            json.dumps(value)
        except (TypeError, ValueError):
            bad.append(f"{key}={value!r}")
    if bad:
        raise TypeError(
            f"{type(estimator).__name__}.save writes the parameters as JSON, and "
            f"{', '.join(bad)} cannot be written as JSON (a file never stores code); "
            "use joblib.dump (pickle) for an estimator with such parameters"
        )


def _to_json(value):
    if isinstance(value, np.ndarray):
        return {"__ndarray__": value.tolist(), "dtype": str(value.dtype)}
    if isinstance(value, (np.integer, np.floating)):
        return value.item()
    if isinstance(value, (list, tuple)):
        return [_to_json(v) for v in value]
    return value


def _from_json(value):
    if isinstance(value, dict) and "__ndarray__" in value:
        return np.asarray(value["__ndarray__"], dtype=value["dtype"])
    return value
