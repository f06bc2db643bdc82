"""What a picture of one explained row shows, as plain data (no matplotlib): the question "which bars,
in which order, from where to where, with which labels and notes", answered once for every drawing.

``picture(response, index, instances=..., columns=..., top_k=..., class_name=...)`` reads one row of an
explain answer (today's fields and the optional ones: ``rest``, ``rest_columns``, ``std_errors``,
``rest_std_error``, ``relative_error``, ``exact``, LIME's ``rest``/``local_error``/``sampling``, per-target
``warnings``) and returns a ``Picture``: a title, one ``Panel`` per explained class (``"class": "all"``
gives every class), each with a SHAP ``Waterfall`` and the LIME ``Bars``, their quality lines and warnings.

The waterfall runs from the base value to f(x): one bar per shown column, largest |value| first, and
the columns not shown folded into one ``rest`` bar, so ``base + sum(bars) == output``. An answer that
already folded (``rest`` present) is drawn as it is; one that lists every column is folded here to
``top_k`` (default ``DEFAULT_TOP_K``). Labels carry the raw value the request sent (``income = 52000``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeGuard

from litelens.infra.client.api import PlotError

DEFAULT_TOP_K = 10  # bars a reader takes in at a glance; the other columns fold into one "rest" bar
PLOT_FORMATS = (".png", ".svg")  # what a figure is written as, by the file's extension


@dataclass(frozen=True)
class Bar:
    """One horizontal bar: from ``start`` to ``start + value`` (waterfall) or from 0 (LIME)."""

    label: str
    value: float
    start: float = 0.0
    std_error: float | None = None
    column: str | None = None  # None: the folded rest
    folded: int = 0  # how many columns a rest bar folds (0: unknown or not a rest bar)

    @property
    def end(self) -> float:
        return self.start + self.value

    @property
    def is_rest(self) -> bool:
        return self.column is None


@dataclass(frozen=True)
class Waterfall:
    """SHAP from ``base`` to ``output``: ``bars`` largest |value| first, the rest (if any) last."""

    base: float
    output: float
    output_space: str
    bars: list[Bar]

    @property
    def end(self) -> float:
        """Where the cumulative sum of the bars ends: base + every value + rest (f(x) up to the gap)."""
        return self.base + sum(b.value for b in self.bars)


@dataclass(frozen=True)
class LimeBars:
    """LIME's local linear model: a bar per weight (labelled by its condition), largest first."""

    bars: list[Bar]
    intercept: float | None
    score: float | None = None  # R² of the local fit
    local_error: float | None = None  # |local prediction - model prediction|


@dataclass(frozen=True)
class Panel:
    """One explained class (or the regression target): its waterfall, LIME bars, quality and warnings."""

    target: str | None
    waterfall: Waterfall | None
    lime: LimeBars | None
    quality: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Picture:
    title: str
    panels: list[Panel]
    notes: list[str]  # the row's input warnings (what the model did not see in training)


def number(value: Any, digits: int = 4) -> str:
    """A number as a person reads it: 4 significant digits, scientific only when very large or small."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return "null" if value is None else str(value)
    if not math.isfinite(value):
        return str(value)
    if isinstance(value, int) or (float(value).is_integer() and abs(value) < 1e15):
        return str(int(value))
    if value != 0 and (abs(value) >= 1e6 or abs(value) < 1e-3):
        return f"{value:.{digits - 1}e}"
    decimals = max(0, digits - 1 - math.floor(math.log10(abs(value)))) if value else 1
    text = f"{value:.{decimals}f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def signed(value: float) -> str:
    return ("+" if value > 0 else "") + number(value)


def _is_number(value: Any) -> TypeGuard[int | float]:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def row_values(instance: Any, columns: Sequence[str] | None) -> dict[str, Any]:
    """{column: raw value sent} of one request row: an object as it is, a list by ``columns`` (the
    bundle's column order, ``GET /metadata``'s ``features``); {} when the order is not known."""
    if isinstance(instance, Mapping):
        return dict(instance)
    if columns and isinstance(instance, Sequence) and not isinstance(instance, str) and len(instance) == len(columns):
        return dict(zip(columns, instance, strict=True))
    return {}


def _label(column: str, values: Mapping[str, Any]) -> str:
    return f"{column} = {number(values[column])}" if column in values else column


def _targets(explanation: Mapping[str, Any], class_name: str | None) -> list[tuple[str | None, Mapping[str, Any]]]:
    """(class, fields) of every explained target, in the answer's order; ``class_name`` keeps one."""
    found: list[tuple[str | None, Mapping[str, Any]]]
    if isinstance(explanation.get("classes"), Mapping):
        found = [(str(k), v) for k, v in explanation["classes"].items() if isinstance(v, Mapping)]
    else:
        explained = explanation.get("class")
        found = [(None if explained is None else str(explained), explanation)]
    if class_name is not None and class_name != "all":
        kept = [t for t in found if t[0] == class_name]
        if not kept:
            named = ", ".join(str(t[0]) for t in found)
            raise PlotError(f"class {class_name!r} was not explained (the answer explains: {named})")
        return kept
    return found


def waterfall(shap: Mapping[str, Any], values: Mapping[str, Any], top_k: int | None) -> Waterfall | None:
    """The SHAP waterfall of one target's ``shap`` fields; None when there are no values to draw."""
    phi = {str(k): float(v) for k, v in (shap.get("values") or {}).items() if _is_number(v)}
    base = shap.get("base_value")
    if not phi or not _is_number(base):
        return None
    errors = {str(k): float(v) for k, v in (shap.get("std_errors") or {}).items() if _is_number(v)}
    order = sorted(phi, key=lambda c: -abs(phi[c]))
    rest = float(shap["rest"]) if _is_number(shap.get("rest")) else None
    folded = int(shap.get("rest_columns") or 0) if _is_number(shap.get("rest_columns")) else 0
    rest_error = float(shap["rest_std_error"]) if _is_number(shap.get("rest_std_error")) else None
    if rest is None:  # an answer with every column: fold what is past top-k here
        k = min(len(order), top_k or DEFAULT_TOP_K)
        left = order[k:]
        order = order[:k]
        if left:
            rest, folded = sum(phi[c] for c in left), len(left)
            if all(c in errors for c in left):  # independent estimates: the variances add
                rest_error = math.sqrt(sum(errors[c] ** 2 for c in left))
    shown = [Bar(_label(c, values), phi[c], std_error=errors.get(c), column=c) for c in order]
    if rest is not None:
        name = f"{folded} other columns" if folded else "other columns"
        shown.append(Bar(name, rest, std_error=rest_error, folded=folded))
    # cumulative from the base, bottom (rest, then the smallest) to top (the largest): ends at f(x)
    start = float(base)
    placed: list[Bar] = []
    for bar in reversed(shown):
        placed.append(Bar(bar.label, bar.value, start, bar.std_error, bar.column, bar.folded))
        start += bar.value
    output = float(shap["output"]) if _is_number(shap.get("output")) else start
    return Waterfall(float(base), output, str(shap.get("output_space", "")), placed[::-1])


def lime_bars(lime: Mapping[str, Any]) -> LimeBars | None:
    weights = [w for w in lime.get("weights") or [] if isinstance(w, Mapping) and _is_number(w.get("weight"))]
    if not weights:
        return None
    weights.sort(key=lambda w: -abs(float(w["weight"])))
    bars = [Bar(str(w.get("condition") or w.get("feature")), float(w["weight"]), column=str(w.get("feature")))
            for w in weights]  # fmt: skip
    if _is_number(lime.get("rest")):
        bars.append(Bar("other columns", float(lime["rest"])))
    intercept = float(lime["intercept"]) if _is_number(lime.get("intercept")) else None
    score = float(lime["score"]) if _is_number(lime.get("score")) else None
    return LimeBars(bars, intercept, score, local_error(lime))


def local_error(lime: Mapping[str, Any]) -> float | None:
    """The answer's ``local_error``, else |local_prediction - model_prediction| (what it stands for)."""
    if _is_number(lime.get("local_error")):
        return float(lime["local_error"])
    local, model = lime.get("local_prediction"), lime.get("model_prediction")
    return abs(float(local) - float(model)) if _is_number(local) and _is_number(model) else None


def _pairs(fields: Mapping[str, Any], names: Sequence[tuple[str, str]]) -> str:
    return ", ".join(f"{label} {number(fields[key])}" for key, label in names if _is_number(fields.get(key)))


def quality_lines(fields: Mapping[str, Any]) -> list[str]:
    """The accuracy fields of one target, one line per method, in words."""
    lines = []
    shap = fields.get("shap") or {}
    if shap:
        text = _pairs(shap, [("relative_error", "relative error"), ("additivity_gap", "additivity gap"),
                             ("nsamples", "samples")])  # fmt: skip
        if shap.get("exact") is True:
            text = "exact (every coalition), " + text
        lines.append("SHAP: " + text)
    lime = dict(fields.get("lime") or {})
    if lime:
        lime["local_error"] = local_error(lime)
        text = _pairs(lime, [("score", "fit score R²"), ("local_error", "local error"), ("num_samples", "samples")])
        if isinstance(lime.get("sampling"), str):
            text += f", {lime['sampling']} sampling"
        lines.append("LIME: " + text)
    agreement = fields.get("agreement") or {}
    if agreement:
        parts = []
        if _is_number(agreement.get("overlap")) and _is_number(agreement.get("k")):
            k = number(agreement["k"])
            parts.append(f"top-{k} overlap {number(agreement['overlap'])} of {k}")
        rank = _pairs(agreement, [("spearman", "Spearman"), ("kendall", "Kendall"), ("columns", "over columns")])
        lines.append("agreement: " + ", ".join(p for p in [*parts, rank] if p))
    return lines


def _warning_texts(found: Any) -> list[str]:
    if not isinstance(found, list):
        return []
    return [str(w.get("message") or w.get("code")) for w in found if isinstance(w, Mapping)]


def title(prediction: Any, index: int) -> str:
    """``instance 0: predicted bad (p = 0.83)``, or the value of a regression."""
    if not isinstance(prediction, Mapping):
        return f"instance {index}"
    label, p = prediction.get("label"), prediction.get("probability")
    probabilities = prediction.get("probabilities")
    if p is None and isinstance(probabilities, Mapping) and label in probabilities:
        p = probabilities[label]
    if label is not None:
        return f"instance {index}: predicted {label}" + (f" (p = {number(p)})" if _is_number(p) else "")
    if _is_number(prediction.get("value")):
        return f"instance {index}: predicted value {number(prediction['value'])}"
    return f"instance {index}"


def picture(
    response: Mapping[str, Any],
    index: int = 0,
    *,
    instances: Sequence[Any] | None = None,
    columns: Sequence[str] | None = None,
    top_k: int | None = None,
    class_name: str | None = None,
) -> Picture:
    """What to draw for row ``index`` of an explain ``response`` (see the module docstring)."""
    explanations = response.get("explanations") or []
    if not 0 <= index < len(explanations) or not isinstance(explanations[index], Mapping):
        raise PlotError(f"no explanation for instance {index} to plot ({len(explanations)} returned)")
    if top_k is not None and top_k < 1:
        raise PlotError("the number of bars to show must be at least 1")
    predictions = response.get("predictions") or []
    prediction = predictions[index] if index < len(predictions) else None
    values = row_values(instances[index], columns) if instances and index < len(instances) else {}
    panels = []
    for target, fields in _targets(explanations[index], class_name):
        shap = fields["shap"] if isinstance(fields.get("shap"), Mapping) else {}
        lime = fields["lime"] if isinstance(fields.get("lime"), Mapping) else {}
        drawn = Panel(target, waterfall(shap, values, top_k), lime_bars(lime), quality_lines(fields),
                      _warning_texts(fields.get("warnings")))  # fmt: skip
        panels.append(drawn)
    if not any(p.waterfall or p.lime for p in panels):
        raise PlotError(f"instance {index} has no SHAP values or LIME weights to plot")
    model = response.get("model") or {}
    heading = title(prediction, index)
    if model.get("name"):
        heading += f"  ·  model {model['name']} {model.get('version', '')}".rstrip()
    notes = _warning_texts(prediction.get("warnings") if isinstance(prediction, Mapping) else None)
    return Picture(heading, panels, notes)
