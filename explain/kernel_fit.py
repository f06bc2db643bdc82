"""KernelSHAP's constrained weighted least squares, accumulated round by round, with its sampling error.

The fit is shap's (``KernelExplainer.solve`` with ``l1_reg=False``): the coalition values
``v(z) - E[f]`` regressed on the masks ``z`` with the kernel weights, under ``sum(phi) = f(x) - E[f]``,
the last varying column eliminated (``X = z[:-1] - z[-1]``, ``y = v - E[f] - z[-1] (f(x) - E[f])``).
The enumerated coalitions carry their fixed weights; the sampled ones share ``weight_left`` in
proportion to how often they were drawn. One normal matrix serves every output.

The error is the sandwich (linearisation) variance over the i.i.d. draws (a draw: a sampled
coalition and, for a paired size, its complement): ``phi_hat - phi ~= A^-1 s`` with ``s`` the
weighted score at the solution, so a draw's share of the error is ``A^-1 h_d``, ``h_d = scale (g_d -
(sum g / mass) mass_d)``: the draw's score ``g_d = sum x r`` over its coalitions, centred for the ratio
that normalises the sampled weights (``scale = weight_left / mass``, ``mass`` the coalitions drawn).
The eliminated column's share is minus the others' sum. Enumerated coalitions add no error.
"""

from __future__ import annotations

import numpy as np

from litelens.explain.arrays import Floats, Indices, Masks
from litelens.explain.coalitions import SizePlan


class KernelFit:
    """The fit of one explanation over ``d`` outputs: the enumerated coalitions at once, the sampled ones by round."""

    def __init__(self, plan: SizePlan, values: Floats, fx: Floats, base: Floats) -> None:
        """``values``: E_background[f] of ``plan.masks`` (n_enumerated, d); ``fx`` f(x), ``base`` E[f] (d,)."""
        self.plan = plan
        self.total = fx - base
        self.base = base
        X, y = self._design(plan.masks, values)
        WX = plan.weights[:, None] * X
        self._A_fixed, self._b_fixed = X.T @ WX, WX.T @ y
        m1, d = plan.m - 1, len(base)
        self._A_drawn, self._b_drawn = np.zeros((m1, m1)), np.zeros((m1, d))
        self._X, self._y = np.zeros((0, m1)), np.zeros((0, d))
        self._counts = np.zeros(0)
        self._draws: list[Indices] = []

    def _design(self, masks: Masks, values: Floats) -> tuple[Floats, Floats]:
        Z = masks.astype(np.float64)
        return Z[:, :-1] - Z[:, -1:], values - self.base - Z[:, -1:] * self.total

    @property
    def n_draws(self) -> int:
        return sum(len(d) for d in self._draws)

    def add(self, new_masks: Masks, new_values: Floats, draws: Indices) -> None:
        """A round: its newly evaluated coalitions and their values, and each draw's coalition indices."""
        X, y = self._design(new_masks, new_values)
        self._X, self._y = np.concatenate([self._X, X]), np.concatenate([self._y, y])
        counts = np.bincount(draws[draws >= 0], minlength=len(self._X)).astype(np.float64)
        used = np.flatnonzero(counts)
        CX = counts[used, None] * self._X[used]
        self._A_drawn += self._X[used].T @ CX
        self._b_drawn += CX.T @ self._y[used]
        self._counts = np.concatenate([self._counts, np.zeros(len(X))]) + counts
        self._draws.append(draws)

    def solve(self) -> tuple[Floats, Floats]:
        """(phi (m, d), influence (m, n_draws, d)): the values and each draw's share of their error."""
        mass = float(self._counts.sum())
        scale = self.plan.weight_left / mass if mass else 0.0
        A = self._A_fixed + scale * self._A_drawn
        b = self._b_fixed + scale * self._b_drawn
        try:
            A_inv = np.linalg.inv(A)
        except np.linalg.LinAlgError:  # too few coalitions for every column: the least-norm solution
            A_inv = np.linalg.pinv(A)
        w = A_inv @ b
        phi = np.vstack([w, self.total - w.sum(axis=0)])
        if self.plan.exact or not mass:
            return phi, np.zeros((self.plan.m, 0, len(self.base)))
        draws = np.concatenate(self._draws)
        draw_mass = (draws >= 0).sum(axis=1).astype(np.float64)
        influence = np.empty((self.plan.m, len(draws), len(self.base)))
        score = np.zeros((len(self._X) + 1, self._X.shape[1]))  # row -1: a draw with no complement
        for d in range(len(self.base)):  # one output at a time: memory of one (n, m) score, not d of them
            score[:-1] = self._X * (self._y[:, d] - self._X @ w[:, d])[:, None]
            g = score[draws[:, 0]] + score[draws[:, 1]]  # (n_draws, m - 1)
            h = scale * (g - np.outer(draw_mass, g.sum(axis=0) / mass))
            influence[:-1, :, d] = A_inv @ h.T
            influence[-1, :, d] = -influence[:-1, :, d].sum(axis=0)
        return phi, influence
