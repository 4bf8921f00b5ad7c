"""Pictures of optical flows: the Middlebury colour wheel (NumPy only).

Files are :mod:`sktvnet.io`'s business; this module only turns flows into RGB arrays, as
torchvision keeps ``flow_to_image`` in its utilities rather than in its IO package.
"""

from __future__ import annotations

import numbers

import numpy as np

from ._validation import check_flow, known_flow

__all__ = ["flow_to_color"]

# Number of hues between the primary and secondary colours (Baker et al. 2011), chosen to give
# perceptually similar steps: red-yellow, yellow-green, green-cyan, cyan-blue, blue-magenta,
# magenta-red.
_WHEEL_SEGMENTS = (15, 6, 4, 11, 13, 6)
# Flow beyond ``max_flow`` is drawn with this fraction of the rim's colour.
_OUT_OF_RANGE_DIMMING = 0.75


def _color_wheel() -> np.ndarray:
    """The Middlebury colour wheel: ``(55, 3)`` float64 RGB in [0, 255], starting at red.

    Each segment ramps one channel linearly (floored to integers, as in the original code) between
    two of red, yellow, green, cyan, blue and magenta.
    """
    # (channel that ramps, direction, channel held at 255) for each segment
    ramps = ((1, +1, 0), (0, -1, 1), (2, +1, 1), (1, -1, 2), (0, +1, 2), (2, -1, 0))
    rows = []
    for n, (channel, direction, held) in zip(_WHEEL_SEGMENTS, ramps):
        block = np.zeros((n, 3))
        ramp = np.floor(255.0 * np.arange(n) / n)
        block[:, channel] = ramp if direction > 0 else 255.0 - ramp
        block[:, held] = 255.0
        rows.append(block)
    return np.concatenate(rows)


def _colorize(u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """RGB in [0, 1] for flow ``(u, v)`` already divided by the maximum magnitude: ``(..., 3)``.

    The hue comes from the direction (``+u``, pointing right, is red; ``-u`` cyan), the saturation
    from the magnitude: 0 is white, 1 the wheel's rim colour, beyond 1 the rim colour dimmed.
    """
    wheel = _color_wheel() / 255.0
    n_colors = wheel.shape[0]
    radius = np.hypot(u, v)
    angle = np.arctan2(-v, -u) / np.pi  # in [-1, 1]; -1 (and 1) for +u
    position = (angle + 1.0) / 2.0 * (n_colors - 1)
    k0 = np.floor(position).astype(np.intp)
    k1 = (k0 + 1) % n_colors
    frac = (position - k0)[..., None]
    color = (1.0 - frac) * wheel[k0] + frac * wheel[k1]
    radius = radius[..., None]
    inside = radius <= 1.0
    return np.where(inside, 1.0 - radius * (1.0 - color), color * _OUT_OF_RANGE_DIMMING)


def _legend(side: int) -> np.ndarray:
    """A ``(side, side, 3)`` uint8 picture of the wheel: a disc whose rim is ``max_flow``.

    Pixel offsets from the centre are the flow, so the legend reads like the image: a pixel of
    the flow picture has the colour of the legend pixel in the direction it moves. The corners
    outside the disc are mid grey, with a one-pixel dark frame to set it off from the flow.
    """
    centre = (side - 1) / 2.0
    radius = side / 2.0 - 1.5
    offsets = np.arange(side) - centre
    v, u = np.meshgrid(offsets / radius, offsets / radius, indexing="ij")
    rgb = _colorize(u, v)
    rgb[np.hypot(u, v) > 1.0] = 0.5
    out = np.round(rgb * 255.0).astype(np.uint8)
    out[[0, -1], :] = 64
    out[:, [0, -1]] = 64
    return out


# The legend's side is about a fifth of the shorter image side, within these bounds (pixels).
_LEGEND_MIN, _LEGEND_MAX, _LEGEND_MARGIN = 24, 128, 4


def flow_to_color(
    flow: np.ndarray, *, max_flow: float | None = None, legend: bool = False
) -> np.ndarray:
    """Colour-code a flow with the Middlebury colour wheel.

    The hue gives the direction and the saturation the magnitude: zero flow is white, a flow of
    magnitude ``max_flow`` is fully saturated (``+u``, pointing right, is red, ``-u`` cyan, ``+v``,
    pointing down, orange-yellow and ``-v`` blue-violet), and a flow longer than ``max_flow`` is
    drawn with the rim's colour at 75% brightness. Unknown pixels (a component not finite or above
    ``1e9`` in magnitude, as in ``.flo`` files) are black.

    Parameters
    ----------
    flow : array-like of shape (2, H, W)
        Horizontal (u) then vertical (v) displacement in pixels.
    max_flow : float, optional
        Magnitude drawn fully saturated. Defaults to the largest magnitude over the known pixels;
        give the same value to compare several flows (an estimate and its ground truth).
    legend : bool, default=False
        If ``True``, paste the colour wheel in the bottom-right corner: a disc, about a fifth of
        the shorter side (24 to 128 px), whose rim is ``max_flow``, each pixel coloured as a flow
        pointing from the centre to it. Images too small to hold it (a side under 32 px) get none.

    Returns
    -------
    rgb : ndarray of shape (H, W, 3), uint8

    Raises
    ------
    ValueError
        If ``flow`` does not have shape ``(2, H, W)`` or ``max_flow`` is not positive and finite.
    TypeError
        If ``flow`` does not hold real numbers.

    References
    ----------
    .. [1] S. Baker, D. Scharstein, J. P. Lewis, S. Roth, M. J. Black, R. Szeliski, "A database and
       evaluation methodology for optical flow", IJCV 92 (2011) 1-31.
       :doi:`10.1007/s11263-010-0390-2`

    Examples
    --------
    >>> import numpy as np
    >>> from sktvnet.visualization import flow_to_color
    >>> flow = np.zeros((2, 1, 3))
    >>> flow[0, 0, 1] = 2.0   # pointing right
    >>> flow[0, 0, 2] = -2.0  # pointing left
    >>> flow_to_color(flow)[0]  # white, red, cyan
    array([[255, 255, 255],
           [255,   0,   0],
           [  0, 209, 255]], dtype=uint8)
    """
    flow = check_flow(flow).astype(np.float64)
    known = known_flow(flow)
    u = np.where(known, flow[0], 0.0)
    v = np.where(known, flow[1], 0.0)
    if max_flow is None:
        max_flow = float(np.hypot(u, v).max())
    else:
        if isinstance(max_flow, bool) or not isinstance(max_flow, numbers.Real):
            raise TypeError(
                f"max_flow must be a real number or None, got {type(max_flow).__name__}"
            )
        max_flow = float(max_flow)
        if not (np.isfinite(max_flow) and max_flow > 0):
            raise ValueError(f"max_flow must be positive and finite, got {max_flow}")
    # An all-zero flow gives max_flow 0: keep it white instead of dividing by zero.
    scale = 1.0 / max_flow if max_flow > 0 else 0.0
    rgb = _colorize(u * scale, v * scale)
    rgb[~known] = 0.0
    out = np.round(rgb * 255.0).astype(np.uint8)
    height, width = known.shape
    if legend:
        side = min(_LEGEND_MAX, max(_LEGEND_MIN, min(height, width) // 5))
        if side + 2 * _LEGEND_MARGIN <= min(height, width):
            end_y = height - _LEGEND_MARGIN
            end_x = width - _LEGEND_MARGIN
            out[end_y - side:end_y, end_x - side:end_x] = _legend(side)
    return out

