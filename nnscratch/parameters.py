"""Named parameters stored as views of one contiguous buffer.

One flat buffer lets an optimizer update every parameter with a handful of vectorised calls
(instead of a Python loop over layers) while layers still see their own ``(in, out)`` arrays.
"""
from __future__ import annotations

from collections.abc import Mapping

import numpy as np


class ParameterBuffer:
    """Parameters and their gradients, each a dict of named views into a flat array.

    Parameters
    ----------
    shapes : mapping of name -> shape, in storage order.
    dtype : float dtype of values and gradients.
    """

    def __init__(self, shapes: Mapping[str, tuple[int, ...]], dtype: np.dtype) -> None:
        self.dtype = np.dtype(dtype)
        self.slices: dict[str, slice] = {}
        self.shapes: dict[str, tuple[int, ...]] = dict(shapes)
        offset = 0
        for name, shape in self.shapes.items():
            size = int(np.prod(shape))
            self.slices[name] = slice(offset, offset + size)
            offset += size
        self.size = offset
        self.data = np.zeros(offset, dtype=self.dtype)
        self.grad = np.zeros(offset, dtype=self.dtype)
        self.values = self.views(self.data)
        self.grads = self.views(self.grad)

    def views(self, flat: np.ndarray) -> dict[str, np.ndarray]:
        """Named, shaped views into ``flat`` (a 1-D array laid out like this buffer)."""
        return {name: flat[s].reshape(self.shapes[name]) for name, s in self.slices.items()}

    def span(self, names: list[str]) -> slice:
        """The flat slice covering ``names``, which must be stored next to each other."""
        start, stop = self.slices[names[0]].start, self.slices[names[-1]].stop
        if sum(self.slices[n].stop - self.slices[n].start for n in names) != stop - start:
            raise ValueError(f"parameters {names} are not contiguous in the buffer")
        return slice(start, stop)
