"""What every subcommand of the ``sktvnet`` command shares."""

from __future__ import annotations

import os

PROG = "sktvnet"


def make_output_folder(path: str) -> bool:
    """Create the output folder ``path`` (and its parents) if needed; return whether it was new.

    A folder that cannot be created gets an error naming it, instead of the bare OS reason.
    """
    existed = os.path.isdir(path)
    try:
        os.makedirs(path, exist_ok=True)
    except OSError as exc:
        reason = exc.strerror or exc
        raise OSError(f"cannot create the output folder {path!r}: {reason}") from exc
    return not existed


# Frozen TVNet structure of the demo and of `sktvnet flow --weights none` (the command's default
# is the recommended bundled weights, with their own structure): IPOL's pyramid (capped per
# input so the coarsest level keeps ~16 px) with 3 warps of 30 iterations instead of 5 of up to
# 300. On the demo pairs its EPE is within 12% of the reference's (0.128 vs 0.114 px on the
# camera warp, 4.06 vs 3.78 px on the motorcycle) for 36% of the iterations of 5 warps x 50;
# one warp misses large motions (18.5 px on the motorcycle). See docs/user_guide.rst.
FLOW_STRUCTURE = {"n_scales": 6, "n_warps": 3, "n_iters": 30, "zoom_factor": 0.5, "texture": False,
                  "interpolation": "bilinear"}
