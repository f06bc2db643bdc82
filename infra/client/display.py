"""How `litelens invoke` shows an answer in a terminal: prediction and explanation tables (the raw
values sent, and each row's warnings: what the model did not see in training), and a SHAP bar chart
of one instance (``--plot``; matplotlib is imported only then)."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from litelens.infra.client.rows import InputError


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


def _instance_values(instance: Any, features: Sequence[str]) -> dict[str, Any]:
    if isinstance(instance, Mapping):
        return dict(instance)
    if isinstance(instance, Sequence) and not isinstance(instance, str) and len(instance) == len(features):
        return dict(zip(features, instance, strict=True))
    return {}


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


def format_explanations(response: Mapping[str, Any], instances: Sequence[Any]) -> str:
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
        values = _instance_values(instances[i] if i < len(instances) else None, features)
        order = sorted(features, key=lambda f: -abs(phi.get(f, 0.0)))
        shown = {f: ("null" if v is None else v) for f, v in values.items()}  # a missing value was sent as null
        rows = [[f, shown.get(f, ""), phi.get(f, ""), *lime.get(f, ("", ""))] for f in order]
        quality = _quality_line(explanation)
        if explanation.get("class") is not None:
            out.append(f"  explaining class {explanation['class']}")
        out += [f"  warning: {w.get('message', w.get('code', '?'))}" for w in _warnings(prediction)]
        if quality:
            out.append(f"  {quality}")
        out.append(table(["column", "value", "SHAP", "LIME weight", "LIME condition"], rows) + "\n")
    return "\n".join(out).rstrip() + "\n"


def plot_shap(
    response: Mapping[str, Any], index: int, path: str | Path, instances: Sequence[Any] | None = None
) -> Path:
    """A horizontal bar chart of instance ``index``'s SHAP values, largest |phi| on top, each bar
    labelled with the feature's value when ``instances`` (the request's rows) are given."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    explanations = response.get("explanations") or []
    if not 0 <= index < len(explanations) or explanations[index] is None:
        raise InputError(f"no explanation for instance {index} to plot ({len(explanations)} returned)")
    phi = shap_values(explanations[index])
    if not phi:
        raise InputError(f"instance {index} has no SHAP values to plot (was shap among the explainers?)")
    items = sorted(phi.items(), key=lambda kv: abs(kv[1]))[-20:]
    given = _instance_values(instances[index], list(phi)) if instances and index < len(instances) else {}
    names = [f"{k} = {_fmt(given[k])}" if k in given else k for k, _ in items]
    values = [v for _, v in items]
    fig, ax = plt.subplots(figsize=(7.5, 0.35 * len(items) + 1.6))
    ax.barh(names, values, color=["#d62728" if v > 0 else "#1f77b4" for v in values])
    ax.axvline(0, color="black", linewidth=0.8)
    base = (explanations[index].get("shap") or {}).get("base_value")
    predictions = response.get("predictions") or []
    summary = _prediction_summary(predictions[index]) if index < len(predictions) else ""
    explained = explanations[index].get("class")
    title = f"SHAP values, instance {index}: {summary}" + (f" (base {_fmt(base)})" if _is_number(base) else "")
    ax.set_title(title + (f"\nexplaining class {explained}" if explained is not None else ""))
    ax.set_xlabel("contribution to the model output")
    fig.tight_layout()
    out = Path(path)
    fig.savefig(out, dpi=120)
    plt.close(fig)
    return out
