"""`litelens inspect BUNDLE`: print a bundle's card readably and verify every file's sha256.

Exit codes (``ExitCode``): 0 intact, 1 a file is missing or does not match its sha256, 2 not a readable bundle.
"""

from __future__ import annotations

import argparse
import json
import textwrap
from typing import Any

from litelens.build.bundle import CARD_FILE, Bundle, BundleCard, BundleError, Task
from litelens.build.command import CommandError, ExitCode


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("bundle", metavar="BUNDLE", help="bundle folder (the one holding bundle.json)")
    parser.add_argument(
        "--json", action="store_true", help="print {card, path, problems} as JSON instead of the readable card"
    )


def _fmt(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def render_card(card: BundleCard) -> str:
    """The card as aligned sections: identity, schema, metrics (Keras vs TFLite), training, libraries."""
    output = f" (output = P({card.classes[1]}))" if card.task == Task.BINARY and card.classes else ""
    lines = [
        f"{card.name}  version {card.version}  ({card.format})",
        f"  created          {card.created_at}",
        f"  task             {card.task}" + output,
        f"  target           {card.target}" + (f"  classes: {', '.join(card.classes)}" if card.classes else ""),
        f"  input            {card.input_dtype} {card.input_shape}",
        f"  quantization     {card.quantization}",
    ]
    features = textwrap.wrap(", ".join(card.features), width=96)
    lines.append(f"  features ({card.n_features})")
    lines += [f"    {line}" for line in features]
    metrics = card.metrics
    keras, tflite = metrics.get("keras"), metrics.get("tflite")
    if isinstance(keras, dict) and isinstance(tflite, dict):
        lines.append(f"  metrics on the {metrics.get('split', 'validation')} split      keras      tflite")
        lines += [f"    {k:<31}{_fmt(v):>10}  {_fmt(tflite.get(k, '-')):>10}" for k, v in keras.items()]
        for key in ("max_abs_delta", "tflite_bytes"):
            if key in metrics:
                lines.append(f"    {key:<31}{_fmt(metrics[key]):>10}")
    else:
        lines.append("  metrics          " + json.dumps(metrics, sort_keys=True))
    training = card.training
    shown = ("hidden", "epochs_run", "epochs", "best_epoch", "batch_size", "learning_rate", "final_lr", "seed")
    lines.append("  training         " + ", ".join(f"{k}={_fmt(training[k])}" for k in shown if k in training))
    if "train_rows" in training:
        lines.append(
            f"                   {training['train_rows']} train rows, {training.get('validation_rows')} validation"
        )
    lines.append("  libraries        " + ", ".join(f"{k} {v}" for k, v in sorted(card.libraries.items())))
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    try:
        bundle = Bundle.load(args.bundle, verify=False)
    except BundleError as exc:
        raise CommandError(f"error: {exc}") from exc
    card = bundle.card
    problems = bundle.verify()
    if args.json:
        print(json.dumps({"card": card.to_json(), "path": str(bundle.path), "problems": problems}, indent=2))
        return ExitCode.FAILED if problems else ExitCode.OK
    print(render_card(card))
    by_file = {p.split(" ", 1)[0]: p for p in problems if p.split(" ", 1)[0] in card.files}
    print("  files (sha256)")
    for name, digest in card.files.items():
        status = "MISMATCH: " + by_file[name] if name in by_file else "ok"
        size = (bundle.path / name).stat().st_size if (bundle.path / name).is_file() else 0
        print(f"    {name:<29}{size:>10,} B  {digest[:16]}  {status}")
    unlisted = sorted(p.name for p in bundle.path.iterdir() if p.name not in card.files and p.name != CARD_FILE)
    if unlisted:
        print(f"  not in the card (ignored by the functions): {', '.join(unlisted)}")
    if problems:
        for problem in problems:
            if problem not in by_file.values():
                print(f"  MISMATCH: {problem}")
        message = f"{len(problems)} problem(s): the bundle does not match bundle.json"
        raise CommandError(message, exit_code=ExitCode.FAILED)
    print("  verified: every file matches its sha256")
    return ExitCode.OK
