"""How long will an explain request take, and is there time left? One time budget per request.

Caps bound each parameter alone; a wide bundle at every cap still ran into the timeout (500 columns,
20 rows: 28.7 s of 29). So the function prices a request before doing it and refuses one whose
estimate is over its budget, saying how many rows would fit.

- ``Rates.measure(batch_function, background)`` (cold start, tens of milliseconds at any width): what
  one unit of each kind of work costs *on this container*: a model row through the explainers' batch
  function (``Explanations.predict_output_columns``: encode + TFLite, batches of ``calibration_rows``,
  the fastest of a few), a multiply-add of the fits' linear algebra, an element of the samplers' array work,
  one step of an estimator's per-sample Python loop. Below one vCPU (``FULL_VCPU_MEMORY_MB``) a long run gets only
  the memory's share of it, so ``Budget.row_seconds`` scales the price by the invocation's memory.
- ``explanation_work(n_columns, nsamples, background_rows, num_samples, outputs)``: the work one
  explained row asks for, at the worst case the parameters allow (SHAP: ``min(nsamples, 2^M - 2)``
  coalitions, each evaluated on every background row, the fit's error shares per output; LIME:
  ``num_samples`` rows, one Gram matrix for every target). The coefficients describe the estimators'
  implementations; they are fitted to measured times and are the one place to update when an
  estimator changes (how close the estimate comes to the measured time: README, Benchmarks).
- ``Budget(seconds, rates)``: ``check(rows, work)`` raises 400 ``over_budget`` naming the budget,
  the estimate and how many rows fit; ``deadline(context, work)`` is the guard the explain loop
  asks between rows (``Deadline.reached``), from the invocation's remaining time.

The budget is ``LITELENS_EXPLAIN_BUDGET_SECONDS``, or (unset) ``DEFAULT_BUDGET_SHARE`` of the
invocation's time limit as the Lambda context gives it at the request's start; with no context
(a direct call of the handler in a script) ``FALLBACK_TIMEOUT_SECONDS`` stands in for the limit.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from litelens.build.bundle import BundleCard
from litelens.explain.service import ALL_CLASSES, ExplainOptions
from litelens.explain.shap_method import default_nsamples
from litelens.functions.common import constants
from litelens.functions.common.errors import E_DEADLINE_EXCEEDED, E_OVER_BUDGET, ClientError, PartialAnswer

# LIME and SHAP send thousands of rows per model call: price rows in batches of this many values (2048
# rows of 128 columns; at least 256 rows), large enough that a call's fixed cost vanishes, small
# enough that a 500-column model calibrates in ~15 ms.
CALIBRATION_VALUES = 2048 * 128
CALIBRATION_MIN_ROWS = 256
MODEL_REPEATS = 3
KERNEL_REPEATS = 5
# Lambda gives a function one vCPU at 1769 MB and a proportional share below. The calibration's calls
# are shorter than the scheduler's period, so they run at full speed even when the share is smaller;
# a request's long run does not: below this size the estimate grows by 1769 / memory.
FULL_VCPU_MEMORY_MB = 1769
# Half the time limit: the other half covers an estimate below the actual time (the rates vary from one
# init to the next on a shared host) and a slower container; the deadline guard answers whatever an
# estimate still misses.
DEFAULT_BUDGET_SHARE = 0.5
FALLBACK_TIMEOUT_SECONDS = 29.0  # template.yaml's explain Timeout (API Gateway's own limit)
# The deadline guard stops when the time left is under this many rows (the slowest so far, or the
# estimate) plus the time to encode and send the answer.
DEADLINE_ROWS = 1.5
DEADLINE_MARGIN_SECONDS = 1.0
RETRY_AFTER_SECONDS = 1

# --- what the estimators do per explained row, in units Rates prices --------------------------------
# Fitted (non-negative least squares on relative error) to 42 explanations timed in CPU time (the fastest
# of 2, BLAS at one thread as the function runs it, target_error 0 so the whole budget is spent) of 30-,
# 100- and 500-column bundles, binary and 3-class (one class and "all"), SHAP 2000-10 000 coalitions,
# LIME 1000-10 000 samples, each alone and both, with the rates measured at the function's init; then
# ``ESTIMATE_MARGIN`` on top. Per coalition the vectorised KernelSHAP (``explain/kernel_shap.py``)
# builds one synthetic row per background row (cells: coalitions x background rows x columns) and runs
# it through the model; the fit (``kernel_fit.py``) forms one normal matrix and, per output, each draw's
# score and its share of the error (A^-1 h: coalitions x columns^2), and inverts A once per round. LIME
# samples, scales and weighs every column of every sample, forms one Gram matrix for every target and
# solves it once. Update these with an estimator (re-fit: time explain_row as above).
SHAP_STEPS = 23_600.0  # the rounds' set-up, the answer's dicts
SHAP_ELEMENTS_PER_CELL = 1.6  # cells: coalitions x background rows x columns
SHAP_ELEMENTS_PER_OUTPUT_CELL = 11.9  # coalitions x columns x outputs: masks, design, scores
SHAP_MULTIPLY_ADDS_PER_OUTPUT_CELL = 0.37  # coalitions x columns^2 x outputs: the influence products
SHAP_SOLVES = 5.9  # columns^3: the inverses of the rounds
LIME_STEPS = 3_300.0
LIME_ELEMENTS_PER_SAMPLE_COLUMN = 8.6
LIME_ELEMENTS_PER_TARGET_CELL = 1.6  # samples x columns x targets: the targets' products and residuals
LIME_GRAM_SHARE = 0.13  # of samples x columns^2 + columns^3 / 3: the Gram matrix (symmetric, BLAS-fast) and its solve
# The fit alone leaves some estimates below the measured times, and the rates measured at init vary ~1.5x
# from one init to the next on a shared host: ESTIMATE_MARGIN is what puts the timed explanations on the safe
# side, in the fit's run and through the handler after another init (the ratios: README, Benchmarks).
# Rates.measure prices every unit with it.
ESTIMATE_MARGIN = 1.6


@dataclass(frozen=True)
class Work:
    """What explaining one row asks for: rows through the model, multiply-adds of the fits, elements of
    numpy array work, steps of Python loops."""

    model_rows: float = 0.0
    multiply_adds: float = 0.0
    elements: float = 0.0
    steps: float = 0.0

    def __add__(self, other: Work) -> Work:
        return Work(
            self.model_rows + other.model_rows,
            self.multiply_adds + other.multiply_adds,
            self.elements + other.elements,
            self.steps + other.steps,
        )


def shap_coalitions(n_columns: int, nsamples: int) -> int:
    """The most coalitions SHAP may evaluate for one row: ``nsamples``, or every proper coalition
    (``2^M - 2``) when there are fewer; none when at most one column varies."""
    if n_columns < 2 or nsamples <= 0:
        return 0
    return nsamples if n_columns >= 63 else min(nsamples, 2**n_columns - 2)


def explanation_work(
    n_columns: int, nsamples: int, background_rows: int, num_samples: int, outputs: int, shap_outputs: int | None = None
) -> Work:
    """The work of explaining one row over ``n_columns`` columns: SHAP with up to ``nsamples``
    coalitions against ``background_rows`` rows (0: no SHAP), LIME with ``num_samples`` samples (0: no
    LIME), for ``outputs`` explained targets; ``shap_outputs`` the output columns SHAP solves
    (default ``outputs``: KernelSHAP solves every model output it is given)."""
    m = n_columns
    shap_outputs = outputs if shap_outputs is None else shap_outputs
    work = Work()
    coalitions = shap_coalitions(m, nsamples)
    if coalitions:
        work += Work(
            model_rows=(coalitions + 1) * background_rows,
            multiply_adds=SHAP_MULTIPLY_ADDS_PER_OUTPUT_CELL * coalitions * m * m * shap_outputs + SHAP_SOLVES * m**3,
            elements=coalitions
            * m
            * (SHAP_ELEMENTS_PER_CELL * background_rows + SHAP_ELEMENTS_PER_OUTPUT_CELL * shap_outputs),
            steps=SHAP_STEPS,
        )
    if num_samples > 0:
        work += Work(
            model_rows=num_samples,
            multiply_adds=LIME_GRAM_SHARE * (num_samples * m * m + m**3 / 3),
            elements=num_samples * m * (LIME_ELEMENTS_PER_SAMPLE_COLUMN + LIME_ELEMENTS_PER_TARGET_CELL * outputs),
            steps=LIME_STEPS,
        )
    return work


def shap_sample_cap(options: ExplainOptions, n_columns: int) -> int:
    """The most coalitions a request's SHAP may sample per row: its ``nsamples`` (parse_parameters has
    bounded it by the cap), else the estimator's default; 0 without SHAP."""
    if "shap" not in options.explainers:
        return 0
    return default_nsamples(n_columns) if options.nsamples is None else int(options.nsamples)


def request_work(options: ExplainOptions, card: BundleCard, background_rows: int) -> Work:
    """The work of one explained row of a request with ``options`` on the model of ``card``."""
    n_columns = len(card.schema.names)
    targets = len(card.classes) if card.classes and options.target_class == ALL_CLASSES else 1
    return explanation_work(
        n_columns,
        shap_sample_cap(options, n_columns),
        background_rows,
        options.num_samples if "lime" in options.explainers else 0,
        targets,
        shap_outputs=card.n_outputs,  # the model's outputs (binary: SHAP explains P(classes[1]))
    )


def calibration_rows(n_columns: int) -> int:
    """How many rows one timed model call sends."""
    return max(CALIBRATION_MIN_ROWS, min(2048, CALIBRATION_VALUES // max(n_columns, 1)))


def _fastest_seconds(fn: Callable[[], Any], repeats: int = KERNEL_REPEATS) -> float:
    """The fastest of ``repeats`` calls: a neighbour's burst only ever slows a call down, and a Lambda's
    vCPU has no neighbour (on a shared host the estimate is then low, and the deadline guard stands)."""
    best = math.inf
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


@dataclass(frozen=True)
class Rates:
    """Seconds per unit of each kind of ``Work`` on this container."""

    model_row: float
    multiply_add: float
    element: float
    step: float

    @classmethod
    def measure(cls, batch_function: Callable[[np.ndarray], Any], background: np.ndarray) -> Rates:
        """Time the explainers' batch function ``batch_function`` on ``calibration_rows`` rows tiled from the
        ``background`` (column space, real rows the model was trained on) and three small kernels; each
        rate carries ``ESTIMATE_MARGIN``."""
        background = np.asarray(background, dtype=np.float64)
        n_rows = calibration_rows(background.shape[1])
        rows = np.resize(background, (n_rows, background.shape[1]))
        batch_function(rows)  # the first call allocates the interpreter's tensors for this batch size
        model_row = _fastest_seconds(lambda: batch_function(rows), MODEL_REPEATS) / n_rows
        a = np.random.default_rng(0).random((192, 192))
        multiply_add = _fastest_seconds(lambda: a @ a) / 192**3
        cells = np.random.default_rng(1).random((1024, 64))
        element = _fastest_seconds(lambda: np.where(cells < 0.5, cells, -cells) * 2.0 + cells) / (4 * cells.size)
        buffer = np.zeros((64, 16))
        row = np.ones(16)

        def loop() -> None:
            total = 0.0
            for i in range(1000):
                buffer[i % 64] = row
                total += i * 0.5

        step = _fastest_seconds(loop) / 1000
        return cls(*(ESTIMATE_MARGIN * rate for rate in (model_row, multiply_add, element, step)))

    def seconds(self, work: Work) -> float:
        return (
            work.model_rows * self.model_row
            + work.multiply_adds * self.multiply_add
            + work.elements * self.element
            + work.steps * self.step
        )

    def as_log(self) -> dict[str, float]:
        """Nanoseconds per unit, for the init log line."""
        return {name: round(value * 1e9, 3) for name, value in vars(self).items()}


class Deadline:
    """The invocation's deadline, asked between rows: ``reached()`` once the time left is under
    ``DEADLINE_ROWS`` rows (the slowest row so far, or the estimate) plus ``DEADLINE_MARGIN_SECONDS``."""

    def __init__(self, remaining_ms: Callable[[], int], row_seconds: float) -> None:
        self._remaining_ms = remaining_ms
        self._row_seconds = row_seconds
        self._last = time.perf_counter()

    def reached(self) -> bool:
        now = time.perf_counter()
        self._row_seconds = max(self._row_seconds, now - self._last)  # the first call times nothing yet
        self._last = now
        left = self._remaining_ms() / 1000.0
        return left < DEADLINE_ROWS * self._row_seconds + DEADLINE_MARGIN_SECONDS


def _remaining_ms(context: Any) -> Callable[[], int] | None:
    fn = getattr(context, "get_remaining_time_in_millis", None)
    return fn if callable(fn) else None


@dataclass(frozen=True)
class Budget:
    """The time one explain request may take: ``seconds`` (0: ``DEFAULT_BUDGET_SHARE`` of the
    invocation's limit), priced with ``rates``."""

    seconds: float
    rates: Rates

    def for_invocation(self, context: Any) -> float:
        """This invocation's budget in seconds."""
        if self.seconds > 0:
            return self.seconds
        remaining = _remaining_ms(context)
        limit = remaining() / 1000.0 if remaining is not None else FALLBACK_TIMEOUT_SECONDS
        return DEFAULT_BUDGET_SHARE * limit

    def row_seconds(self, work: Work, context: Any) -> float:
        """The estimated seconds of one row of ``work`` in this invocation (its memory size sets its CPU share)."""
        memory_mb = getattr(context, "memory_limit_in_mb", None)
        slower = (
            FULL_VCPU_MEMORY_MB / memory_mb
            if isinstance(memory_mb, int) and 0 < memory_mb < FULL_VCPU_MEMORY_MB
            else 1.0
        )
        return self.rates.seconds(work) * slower

    def check(self, rows: int, work: Work, context: Any) -> float:
        """The estimated seconds of explaining ``rows`` rows of ``work`` each; 400 ``over_budget`` when
        over this invocation's budget, naming the budget, the estimate and how many rows fit."""
        budget = self.for_invocation(context)
        per_row = self.row_seconds(work, context)
        estimate = rows * per_row
        if estimate <= budget:
            return estimate
        fit = int(budget // per_row) if per_row > 0 else rows
        advice = (
            f"send at most {fit} row(s) to explain per request"
            if fit > 0
            else "not even one row fits: lower parameters.nsamples or parameters.num_samples, or explain fewer classes"
        )
        raise ClientError(
            400,
            E_OVER_BUDGET,
            f"explaining {rows} row(s) with these parameters is estimated at {estimate:.1f} s "
            f"({per_row:.2f} s a row), over the function's time budget of {budget:.1f} s "
            f"({constants.EXPLAIN_BUDGET_SECONDS}): {advice}",
            details={
                "budget_seconds": round(budget, 3),
                "estimated_seconds": round(estimate, 3),
                "rows_that_fit": fit,
            },
        )

    def deadline(self, context: Any, work: Work) -> Deadline | None:
        """The guard the explain loop asks between rows; None without a context that tells the time left."""
        remaining = _remaining_ms(context)
        return None if remaining is None else Deadline(remaining, self.row_seconds(work, context))


def deadline_exceeded(done: int, requested: int, body: dict[str, Any]) -> PartialAnswer:
    """503 ``deadline_exceeded`` with ``Retry-After``: the invocation ran short of time after ``done`` of
    ``requested`` explanations; ``body`` (the predictions and the explanations so far, null for the
    rest) is answered with the error."""
    return PartialAnswer(
        503,
        E_DEADLINE_EXCEEDED,
        f"the function's time ran short after {done} of {requested} explanation(s): the rows not yet "
        "explained are null; send them again in a smaller request",
        headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
        details={"explained": done, "requested": requested},
        body=body,
    )
