"""The array types in the explain library's signatures.

Column-space rows, model outputs, attributions and their statistics are float64 (``Floats``),
coalition masks bool (``Masks``), column and coalition indices intp (``Indices``). A batch function
(``BatchFunction``) maps rows (n, F) to outputs (n, D), the explainers' column-space rows or the model's
own inputs: it gets float64 rows, or float32 ones where the model takes float32 anyway (``ShapMethod``'s
``row_dtype``, ``Schema.encode``), and may answer in either precision (the explainers read float64).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeAlias

import numpy as np
from numpy.typing import NDArray

Floats: TypeAlias = NDArray[np.float64]
Masks: TypeAlias = NDArray[np.bool_]
Indices: TypeAlias = NDArray[np.intp]
Rows: TypeAlias = NDArray[np.floating[Any]]  # what a batch function gets: float64, or float32 (above)
BatchFunction: TypeAlias = Callable[[Rows], NDArray[np.floating[Any]]]
