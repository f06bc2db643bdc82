"""How `litelens invoke` shows an answer in a terminal: prediction and explanation tables (the raw
values sent, and each row's warnings: what the model did not see in training). The pictures
(``--plot``) are ``panels`` (what to draw) and ``plot`` (matplotlib)."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from typing import Any

from litelens.infra.client.panels import row_values


def _fmt(value: Any, digits: int = 4) -> str:
    if isinstance(value, bool) or value is None:
        return "" if value is None else str(value)
    if isinstance(value, int | float):
        if math.isfinite(value) and value != 0 and (abs(value) >= 1e5 or abs(value) < 1e-3):
            return f"{value:.{digits - 1}e}"
        return f"{value:.{digits}f}".rstrip("0").rstrip(".") if isinstance(value, float) else str(value)
    return str(value)


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    cells = [[str(h) for h in headers]] + [[_fmt(v) for v in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    numeric = [all(_is_number(row[i]) or row[i] == "" for row in rows) and bool(rows) for i in range(len(headers))]
    lines = []
    for n, row in enumerate(cells):
        parts = [c.rjust(w) if numeric[i] else c.ljust(w) for i, (c, w) in enumerate(zip(row, widths, strict=True))]
        lines.append("  ".join(parts).rstrip())
        if n == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _prediction_summary(prediction: Any) -> str:
    if not isinstance(prediction, Mapping):
        return _fmt(prediction)
    parts = []
    if "label" in prediction:
        parts.append(f"label={prediction['label']}")
    if "probability" in prediction:
        parts.append(f"p={_fmt(prediction['probability'])}")
    if isinstance(prediction.get("probabilities"), Mapping):
        parts.append(" ".join(f"p({k})={_fmt(v)}" for k, v in prediction["probabilities"].items()))
    if "value" in prediction:
        parts.append(f"value={_fmt(prediction['value'])}")
    return " ".join(parts) or json.dumps(prediction)


def _warnings(prediction: Any) -> list[Mapping[str, Any]]:
    found = prediction.get("warnings") if isinstance(prediction, Mapping) else None
    return [w for w in found if isinstance(w, Mapping)] if isinstance(found, list) else []


def _warning_summary(prediction: Any) -> str:
    """``column code`` of each warning of a prediction, ``; ``-separated."""
    return "; ".join(f"{w.get('column', '?')} {w.get('code', '?')}" for w in _warnings(prediction))


def format_predictions(response: Mapping[str, Any]) -> str:
    predictions = response.get("predictions") or []
    rows = []
    for i, p in enumerate(predictions):
        p = p if isinstance(p, Mapping) else {"value": p}
        probs = p.get("probabilities")
        score = p.get("probability", p.get("value"))
        if score is None and isinstance(probs, Mapping) and p.get("label") in probs:
            score = probs[p["label"]]
        rows.append([i, p.get("label", ""), score, _warning_summary(p)])
    header = (
        "probability" if predictions and isinstance(predictions[0], Mapping) and "label" in predictions[0] else "value"
    )
    headers = ["#", "label", header]
    if not any(row[-1] for row in rows):
        rows = [row[:-1] for row in rows]
    else:
        headers.append("warnings")
    model = response.get("model") or {}
    title = f"model {model.get('name', '?')} version {model.get('version', '?')}: {len(predictions)} predictions"
    return title + "\n" + table(headers, rows)


def shap_values(explanation: Mapping[str, Any]) -> dict[str, float]:
    """{feature: phi} of one explanation (the first class when several are returned)."""
    values = (explanation.get("shap") or {}).get("values") or {}
    if values and all(isinstance(v, Mapping) for v in values.values()):
        values = next(iter(values.values()))
    return {str(k): float(v) for k, v in values.items() if _is_number(v)}


def _lime_weights(explanation: Mapping[str, Any]) -> dict[str, tuple[float, str]]:
    """{feature: (weight, condition)} of LIME's local model."""
    weights = (explanation.get("lime") or {}).get("weights") or []
    return {
        str(w["feature"]): (float(w["weight"]), str(w.get("condition", "")))
        for w in weights
        if isinstance(w, Mapping) and "feature" in w
    }


def _quality_line(explanation: Mapping[str, Any]) -> str:
    """Every scalar quality field the explain function reports, whatever it names them."""
    parts = []
    for method in ("shap", "lime"):
        for key, value in (explanation.get(method) or {}).items():
            if key not in ("values", "weights") and _is_number(value):
                parts.append(f"{method}.{key}={_fmt(value)}")
    for key, value in explanation.items():
        if key in ("shap", "lime"):
            continue
        if _is_number(value):
            parts.append(f"{key}={_fmt(value)}")
        elif isinstance(value, Mapping):
            parts += [f"{key}.{k}={_fmt(v)}" for k, v in value.items() if _is_number(v)]
    return "  ".join(parts)


def format_explanations(
    response: Mapping[str, Any], instances: Sequence[Any], columns: Sequence[str] | None = None
) -> str:
    """One table per explained row, by |SHAP|; ``columns`` (the bundle's column order) names the
    values of rows sent as lists."""
    predictions = response.get("predictions") or []
    out = []
    for i, explanation in enumerate(response.get("explanations") or []):
        prediction = predictions[i] if i < len(predictions) else None
        out.append(f"instance {i}: {_prediction_summary(prediction)}")
        if explanation is None:
            out.append("  (not explained: filtered out by explain_if)\n")
            continue
        phi = shap_values(explanation)
        lime = _lime_weights(explanation)
        features = list(phi) + [f for f in lime if f not in phi]
        values = row_values(instances[i] if i < len(instances) else None, columns)
        order = sorted(features, key=lambda f: -abs(phi.get(f, 0.0)))
        shown = {f: ("null" if v is None else v) for f, v in values.items()}  # a missing value was sent as null
        rows = [[f, shown.get(f, ""), phi.get(f, ""), *lime.get(f, ("", ""))] for f in order]
        shap = explanation.get("shap") or {}
        if _is_number(shap.get("rest")):  # top-k: the other columns' values, summed
            rows.append([f"(other {shap.get('rest_columns', '?')} columns)", "", shap["rest"], "", ""])
        quality = _quality_line(explanation)
        if explanation.get("class") is not None:
            out.append(f"  explaining class {explanation['class']}")
        out += [f"  warning: {w.get('message', w.get('code', '?'))}" for w in _warnings(prediction)]
        if quality:
            out.append(f"  {quality}")
        out.append(table(["column", "value", "SHAP", "LIME weight", "LIME condition"], rows) + "\n")
    return "\n".join(out).rstrip() + "\n"
