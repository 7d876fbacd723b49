"""Named random streams: one independent generator per (seed, names).

Every consumer of randomness (a model's paths, the provincial relation, an elasticity draw) asks
for its own stream by name, so adding a model or a lever never changes anyone else's numbers, and
two scenarios share the draws of the levers they have in common.
"""

from __future__ import annotations

import zlib

import numpy as np


def rng_for(seed: int, *names: str) -> np.random.Generator:
    return np.random.default_rng([seed] + [zlib.crc32(n.encode()) for n in names])
