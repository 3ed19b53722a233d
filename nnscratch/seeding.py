"""One seed, split into independent random generators for each stochastic part of training."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Generators:
    """Independent generators, so changing e.g. dropout does not shift the initial weights."""

    init: np.random.Generator
    dropout: np.random.Generator
    shuffle: np.random.Generator
    split: np.random.Generator


def make_generators(seed: int) -> Generators:
    """Split ``seed`` into the generators for weight init, dropout, shuffling and the validation split."""
    init, dropout, shuffle, split = np.random.SeedSequence(seed).spawn(4)
    return Generators(
        init=np.random.default_rng(init),
        dropout=np.random.default_rng(dropout),
        shuffle=np.random.default_rng(shuffle),
        split=np.random.default_rng(split),
    )
