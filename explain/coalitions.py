"""Which coalitions KernelSHAP evaluates: shap.KernelExplainer's size scheme, enumerated or drawn a round at a time.

For M varying columns the Shapley kernel weight of a coalition size s is ``(M - 1) / (s (M - s))``;
sizes s and M - s are *paired* (s <= ``n_paired``). ``plan_sizes`` follows shap 0.54
(``KernelExplainer.explain``): whole sizes are enumerated, smallest first, while ``budget x the
size's share of the remaining weight`` covers every coalition of the size (a paired size with its
complements); when ``2^M - 2 <= budget`` that is every coalition (``exact``). The other sizes are
sampled by ``CoalitionDraws``: a size by its share of the weight left (halved for a paired size,
whose draw brings two coalitions), a uniform coalition of that size, and for a paired size its
complement. A coalition drawn again is not evaluated again: it counts once more (shap adds 1 to its
weight), and the budget bounds *distinct* coalitions, as shap's ``nsamples`` does.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from itertools import combinations

import numpy as np
from numpy.typing import NDArray

from litelens.explain.arrays import Floats, Indices, Masks


@dataclass(frozen=True)
class SizePlan:
    """shap's split of the coalition sizes for ``m`` varying columns and a budget of distinct coalitions."""

    m: int
    masks: Masks  # (n_enumerated, m) bool: every coalition of the enumerated sizes
    weights: Floats  # (n_enumerated,) their kernel weights
    sizes: Indices  # the sizes still to sample (the small side: a paired draw brings its complement)
    probabilities: Floats  # of drawing each of ``sizes``
    n_paired: int  # sizes 1..n_paired are paired with m - s
    weight_left: float  # the kernel weight the sampled coalitions share
    exact: bool  # every coalition is enumerated


def size_masks(m: int, size: int) -> Masks:
    """Every coalition of ``size`` of ``m`` columns, (comb(m, size), m) bool."""
    count = math.comb(m, size)
    index = np.fromiter(combinations(range(m), size), dtype=np.dtype((np.intp, size)), count=count)
    masks = np.zeros((count, m), dtype=bool)
    masks[np.arange(count)[:, None], index.reshape(count, size)] = True
    return masks


def plan_sizes(m: int, budget: int) -> SizePlan:
    """Which sizes to enumerate for a budget of ``budget`` distinct coalitions, and how to sample the rest."""
    n_sizes, n_paired = math.ceil((m - 1) / 2), (m - 1) // 2
    weight = np.array([(m - 1.0) / (s * (m - s)) for s in range(1, n_sizes + 1)])
    weight[:n_paired] *= 2
    weight /= weight.sum()
    exact = 2**m - 2 <= budget
    left, remaining = float(min(budget, 2**m - 2)), weight.copy()
    masks, weights, full = [], [], 0
    for size in range(1, n_sizes + 1):
        paired = size <= n_paired
        count = math.comb(m, size) * (2 if paired else 1)
        if not (exact or left * remaining[size - 1] / count >= 1.0 - 1e-8):
            break
        full, left = size, left - count
        if remaining[size - 1] < 1.0:
            remaining /= 1.0 - remaining[size - 1]
        small = size_masks(m, size)
        masks += [small, ~small] if paired else [small]
        weights.append(np.full(count, weight[size - 1] / count))
    draw_weight = weight.copy()
    draw_weight[:n_paired] /= 2  # a paired draw brings two coalitions
    draw_weight = draw_weight[full:]
    return SizePlan(
        m=m,
        masks=np.concatenate(masks) if masks else np.zeros((0, m), dtype=bool),
        weights=np.concatenate(weights) if weights else np.zeros(0),
        sizes=np.arange(full + 1, n_sizes + 1),
        probabilities=draw_weight / draw_weight.sum() if len(draw_weight) else draw_weight,
        n_paired=n_paired,
        weight_left=float(weight[full:].sum()),
        exact=exact or full == n_sizes,
    )


@dataclass(frozen=True)
class Round:
    """One round of draws: the coalitions not evaluated before, and each draw's coalitions as indices into
    every distinct sampled coalition so far (``(n_draws, 2)``; -1 where an unpaired draw has no complement)."""

    new_masks: Masks
    draws: Indices


class CoalitionDraws:
    """The sampled coalitions of one explanation, drawn a round at a time from ``plan`` with ``rng``."""

    def __init__(self, plan: SizePlan, rng: np.random.Generator) -> None:
        self.plan = plan
        self.rng = rng
        self._words = np.zeros((0, (plan.m + 63) // 64), dtype=np.uint64)  # every distinct coalition, packed

    def __len__(self) -> int:
        return len(self._words)

    def draws_per_coalition(self) -> float:
        """Draws per evaluated coalition at most (1/2 when the first sampled size is paired)."""
        return 0.5 if len(self.plan.sizes) and self.plan.sizes[0] <= self.plan.n_paired else 1.0

    def draw(self, n_draws: int, left: int) -> Round:
        """``n_draws`` draws, fewer when more than ``left`` new distinct coalitions would be needed."""
        m = self.plan.m
        if n_draws <= 0 or left <= 0 or len(self.plan.sizes) == 0:
            return Round(np.zeros((0, m), dtype=bool), np.zeros((0, 2), dtype=np.intp))
        sizes = self.rng.choice(self.plan.sizes, size=n_draws, p=self.plan.probabilities)
        keys = self.rng.random((n_draws, m))
        threshold = np.take_along_axis(np.sort(keys, axis=1), (sizes - 1)[:, None], axis=1)
        first = keys <= threshold  # a uniform coalition of each drawn size
        paired = sizes <= self.plan.n_paired
        masks = np.concatenate([first, ~first[paired]])
        owner = np.concatenate([np.arange(n_draws), np.flatnonzero(paired)])  # the draw of each mask
        slot = np.concatenate([np.zeros(n_draws, dtype=np.intp), np.ones(int(paired.sum()), dtype=np.intp)])
        words = _pack(masks)
        n_old = len(self._words)
        first_at, group = _groups(np.concatenate([self._words, words]))
        group = group[n_old:]
        start = first_at[group]  # < n_old: an old coalition, its index; else its first place in this round
        fresh = np.flatnonzero(first_at >= n_old)
        fresh = fresh[np.argsort(owner[first_at[fresh] - n_old], kind="stable")]  # in the order drawn
        if len(fresh) > left:  # the budget ends in this round: keep the draws before the one over it
            n_draws = int(owner[first_at[fresh[left]] - n_old])
            fresh = fresh[owner[first_at[fresh] - n_old] < n_draws]
        index = np.full(len(first_at), -1, dtype=np.intp)
        index[fresh] = n_old + np.arange(len(fresh))
        mapped = np.where(start < n_old, start, index[group])
        kept = owner < n_draws
        draws = np.full((n_draws, 2), -1, dtype=np.intp)
        draws[owner[kept], slot[kept]] = mapped[kept]
        new_masks = masks[first_at[fresh] - n_old]
        self._words = np.concatenate([self._words, words[first_at[fresh] - n_old]])
        return Round(new_masks, draws)


def _groups(words: NDArray[np.uint64]) -> tuple[Indices, Indices]:
    """(first index of each distinct row, each row's group) of packed masks: one 64-bit key per row (the word
    itself up to 64 columns, else a multiply-xor hash of the words, checked against the words)."""
    key = words[:, 0].copy()
    for j in range(1, words.shape[1]):
        key = (key * np.uint64(0x9E3779B97F4A7C15)) ^ words[:, j]
    _, first_at, group = np.unique(key, return_index=True, return_inverse=True)
    group = group.reshape(-1)
    if words.shape[1] > 1 and not (words == words[first_at[group]]).all():  # a hash collision: compare rows
        _, first_at, group = np.unique(words, axis=0, return_index=True, return_inverse=True)
        group = group.reshape(-1)
    return first_at, group


def _pack(masks: Masks) -> NDArray[np.uint64]:
    """Masks (n, m) bool as (n, ceil(m / 64)) uint64 words: equal rows, equal words."""
    packed = np.packbits(masks, axis=1)
    pad = (-packed.shape[1]) % 8
    if pad:
        packed = np.concatenate([packed, np.zeros((len(packed), pad), dtype=np.uint8)], axis=1)
    return np.ascontiguousarray(packed).view(np.uint64)
