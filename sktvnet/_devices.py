"""Torch devices as sktvnet's users name them, shared by the estimators and the command."""

from __future__ import annotations

import warnings


def resolve_device(device):
    """``"auto"`` (or None) -> CUDA when available, else the CPU; any other torch device string
    as it is, an explicit CUDA device only where CUDA exists (``ValueError`` otherwise)."""
    import torch

    if device is None or device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    resolved = torch.device(device)
    if resolved.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device={device!r} was asked for but CUDA is not available here; "
                         "use device='auto' or 'cpu'")
    return resolved


def fallback_device(saved: str):
    """Device for a model being loaded: the saved one if it exists here, else the CPU (warned)."""
    import torch

    device = torch.device(saved)
    if device.type == "cuda" and not torch.cuda.is_available():
        warnings.warn(
            f"this model was fitted on {saved!r} but CUDA is not available: it is loaded on the CPU",
            UserWarning,
            stacklevel=3,
        )
        return torch.device("cpu")
    return device
