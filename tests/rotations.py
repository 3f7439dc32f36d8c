"""Test helper: a random proper rotation, for the tests that mount a sensor any way round."""

from __future__ import annotations

import numpy as np


def random_rotation(rng: np.random.Generator) -> np.ndarray:
    """Return a rotation matrix drawn uniformly over all orientations.

    A unit quaternion from four normal draws is uniform on the sphere of rotations.

    Parameters
    ----------
    rng : numpy.random.Generator
        Source of the four normal draws.

    Returns
    -------
    numpy.ndarray
        Shape ``(3, 3)``, orthonormal, determinant +1.
    """
    q = rng.normal(size=4)
    q /= np.linalg.norm(q)
    w, x, y, z = q
    return np.array(
        [
            [1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)],
            [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)],
            [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)],
        ]
    )
