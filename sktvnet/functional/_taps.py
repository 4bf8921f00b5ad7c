"""TV-L1's difference taps (Eq. 3-5 of Fan et al. 2018) and how a layer reads them."""

from __future__ import annotations

from torch import Tensor


# Taps of TV-L1's difference filters, in correlation order (Eq. 3-5 of Fan et al. 2018):
# wc applies to (x[j-1], x[j], x[j+1]), wf to (x[j], x[j+1]), wb to (p[j-1], p[j]).
CENTERED_TAPS = (-0.5, 0.0, 0.5)
FORWARD_TAPS = (-1.0, 1.0)
DIVERGENCE_TAPS = (-1.0, 1.0)

Pair = tuple[Tensor, Tensor]


def _split_taps(weight: Tensor, ref: Tensor) -> tuple[tuple[Tensor, ...], tuple[Tensor, ...]]:
    """x taps and y taps as 0-d tensors on ``ref``'s device and dtype (one cheap unbind)."""
    weight = weight.to(device=ref.device, dtype=ref.dtype)
    if weight.ndim == 1:
        weight = weight.expand(2, weight.shape[0])
    taps = weight.reshape(-1).unbind()
    half = len(taps) // 2
    return taps[:half], taps[half:]
