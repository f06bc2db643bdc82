"""`litelens build`: train on a CSV (or a demo dataset), export TFLite, write a model bundle.

Every input problem is reported on stderr, one line each (all problems of a CSV at once), with exit
code 2 (``ExitCode.USAGE``), before training starts; what the build decided about the data (an
excluded column, a dropped index, an encoding fallback) is printed as notes, then the schema table. A
quantized model that falls too far below Keras is refused (exit 2) and nothing is written; a failed
TFLite export exits 1 (``ExitCode.FAILED``).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from litelens.build.bundle import BundleCard, BundleError, Quantization, Task, check_output_dir
from litelens.build.columns import Overrides
from litelens.build.command import CommandError, ExitCode
from litelens.build.data import DEMOS, BuildInputError, Dataset, choose_positive, load_demo, read_csv
from litelens.build.export import ExportError
from litelens.build.pipeline import BuildConfig, BuildResult, build_bundle, stage
from litelens.build.problems import BuildProblems
from litelens.build.schema_report import schema_table


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.epilog = (
        "examples:\n  litelens build --data train.csv --target label --out bundles/credit\n"
        "  litelens build --demo breast_cancer --out bundles/demo --quantize int8 --force"
    )
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    source = parser.add_argument_group("data")
    source.add_argument("--data", metavar="CSV", help="CSV with a header row; every column but the target is a feature")
    source.add_argument("--target", metavar="COLUMN", help="the target column of --data")
    source.add_argument("--demo", metavar="NAME", help=f"a built-in dataset instead of --data: {', '.join(DEMOS)}")
    source.add_argument("--rows", type=int, default=20000, help="rows of --demo synthetic (default 20000)")
    source.add_argument("--task", help=f"{' | '.join(Task)} (default: inferred from the target and printed)")
    add_data_arguments(parser)
    out = parser.add_argument_group("output")
    out.add_argument("--out", required=True, metavar="DIR", help="bundle folder to write (e.g. bundles/NAME)")
    out.add_argument("--name", help="bundle name in the card (default: the folder's name)")
    out.add_argument("--force", action="store_true", help="replace an existing bundle at --out")
    train = parser.add_argument_group("training (defaults: BuildConfig; --demo synthetic has tuned ones)")
    train.add_argument("--epochs", type=int, help="maximum epochs (early stopping usually ends sooner)")
    train.add_argument("--batch-size", type=int, help="rows per step (default: 64, larger from 131072 training rows)")
    train.add_argument("--hidden", metavar="SIZES", help="hidden layer widths, comma separated (default 128,64)")
    train.add_argument(
        "--seed", type=int, help="seed for the split, weights, shuffling (and --demo synthetic's rows) (default 0)"
    )
    train.add_argument("--validation-split", type=float, help="share of rows held out (default 0.2)")
    train.add_argument("--learning-rate", type=float, help="Adam's initial learning rate (default 1e-3)")
    train.add_argument("--patience", type=int, help="epochs without validation improvement before stopping")
    train.add_argument("--l2", type=float, help="weight decay on the hidden layers (default 1e-4)")
    train.add_argument(
        "--l1-first", type=float, help="L1 penalty on the first layer: prunes irrelevant features (default 0)"
    )
    add_classification_arguments(parser)
    export = parser.add_argument_group("export")
    export.add_argument("--quantize", help=f"{' | '.join(Quantization)} (default none = float32)")
    export.add_argument(
        "--max-metric-drop", type=float, help="refuse if TFLite's metric is this much below Keras (default 0.01)"
    )
    export.add_argument("--background-k", type=int, help="k-means rows in the SHAP background (default 10)")


def add_classification_arguments(parser: argparse.ArgumentParser) -> None:
    """Imbalanced classes: the loss's class weights and the binary decision threshold."""
    group = parser.add_argument_group("classification")
    group.add_argument(
        "--class-weight",
        choices=["balanced"],
        help="weigh each class n / (classes x its rows) in the loss, so a rare class counts (default: equal)",
    )
    group.add_argument(
        "--threshold",
        type=threshold_value,
        help="binary: the served label is the positive class when P >= this; a number in (0, 1) or auto "
        "(the validation threshold with the best F1) (default 0.5)",
    )


def threshold_value(text: str) -> float | str:
    if text.strip().lower() == "auto":
        return "auto"
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number in (0, 1) or auto, got {text!r}") from None
    if not 0 < value < 1:
        raise argparse.ArgumentTypeError(f"expected a number in (0, 1) or auto, got {text!r}")
    return value


def add_data_arguments(parser: argparse.ArgumentParser) -> None:
    """How --data is read and its columns typed, and which class is positive."""
    data = parser.add_argument_group("reading --data (default: sniffed from the file and printed)")
    data.add_argument("--delimiter", help="field delimiter: , ; | or tab (default: sniffed)")
    data.add_argument("--decimal", help="decimal mark: . or , (default: sniffed; a decimal comma goes with ;)")
    data.add_argument("--encoding", help="text encoding (default: UTF-8, else cp1252/Latin-1 with a note)")
    data.add_argument("--categorical", metavar="COLUMNS", help="comma-separated columns to read as categories")
    data.add_argument("--numeric", metavar="COLUMNS", help="comma-separated columns to read as numbers")
    data.add_argument("--drop", metavar="COLUMNS", help="comma-separated columns to leave out")
    data.add_argument(
        "--positive-class",
        metavar="LABEL",
        help="binary: the class whose probability the model outputs (default: the label that sorts second, "
        "numbers by value, text alphabetically)",
    )


def overrides_from_args(args: argparse.Namespace) -> Overrides:
    def names(option: str) -> tuple[str, ...]:
        value = getattr(args, option, None)
        return tuple(n.strip() for n in value.split(",") if n.strip()) if value else ()

    return Overrides(names("categorical"), names("numeric"), names("drop"))


def positive_note(dataset: Dataset) -> str:
    positive = dataset.classes[1] if dataset.classes else "?"
    return (
        f"positive class: {positive!r} (the model outputs P({positive}); default: the label that sorts second; "
        "--positive-class to choose)"
    )


_OPTION_FIELDS = {
    "epochs": "epochs",
    "batch_size": "batch_size",
    "seed": "seed",
    "validation_split": "validation_split",
    "learning_rate": "learning_rate",
    "patience": "patience",
    "l2": "l2",
    "l1_first": "l1_first",
    "quantize": "quantize",
    "max_metric_drop": "max_metric_drop",
    "background_k": "background_k",
    "class_weight": "class_weight",
    "threshold": "threshold",
}


def config_from_args(args: argparse.Namespace) -> BuildConfig:
    """BuildConfig defaults (or the synthetic demo's tuned ones), overridden by every option given."""
    if args.demo == "synthetic":
        from litelens.build.synthetic import recommended_config

        config = recommended_config()
    else:
        config = BuildConfig()
    for option, name in _OPTION_FIELDS.items():
        value = getattr(args, option, None)
        if value is not None:
            setattr(config, name, value)
    if args.hidden is not None:
        try:
            config.hidden = tuple(int(part) for part in args.hidden.split(","))
        except ValueError:
            raise BuildInputError(f"--hidden {args.hidden!r}: expected comma-separated integers like 128,64") from None
    config.validate()
    return config


def load_dataset(args: argparse.Namespace) -> Dataset:
    if args.task is not None and args.task not in tuple(Task):
        raise BuildInputError(f"unknown task {args.task!r} (choose from {', '.join(Task)})")
    if args.demo is not None:
        if args.data is not None:
            raise BuildInputError("give either --data or --demo, not both")
        if args.demo not in DEMOS:
            raise BuildInputError(f"unknown demo {args.demo!r} (choose from {', '.join(DEMOS)})")
        if args.rows < 1:
            raise BuildInputError(f"--rows must be a positive number of rows, got {args.rows}")
        dataset = load_demo(args.demo, n_rows=args.rows, seed=args.seed or 0)
        if args.task is not None and args.task != dataset.task:
            raise BuildInputError(f"--demo {args.demo} is a {dataset.task} dataset, not {args.task}")
        positive = getattr(args, "positive_class", None)
        dataset.y, dataset.classes = choose_positive(dataset.y, dataset.classes, dataset.task, positive, dataset.target)
        return dataset
    if args.data is None:
        raise BuildInputError("give --data CSV with --target COLUMN, or --demo " + "|".join(DEMOS))
    if args.target is None:
        raise BuildInputError("--data needs --target COLUMN (the column to predict)")
    return read_csv(
        args.data,
        args.target,
        args.task,
        delimiter=getattr(args, "delimiter", None),
        decimal=getattr(args, "decimal", None),
        encoding=getattr(args, "encoding", None),
        overrides=overrides_from_args(args),
        positive_class=getattr(args, "positive_class", None),
    )


def describe(dataset: Dataset) -> str:
    rows, cols = dataset.X.shape
    if dataset.task_inferred:
        how = "inferred from the target; pass --task to override"
    else:
        how = "the demo's task" if dataset.source in DEMOS else "from --task"
    classes = f", classes {', '.join(dataset.classes)}" if dataset.classes else ""
    text = (
        f"data: {dataset.source}: {rows} rows, {cols} {'columns' if dataset.schema else 'features'}, "
        f"target {dataset.target!r}\n"
        f"task: {dataset.task} ({how}){classes}"
    )
    if dataset.task == Task.BINARY:
        text += "\n" + positive_note(dataset)
    notes = "".join(f"note: {note}\n" for note in dataset.notes)
    table = "\n" + schema_table(dataset.schema, dataset.X) if dataset.schema is not None else ""
    return notes + text + table


def _size(n: int) -> str:
    return f"{n / 1024:.1f} KiB" if n < 1 << 20 else f"{n / (1 << 20):.2f} MiB"


def summary_table(result: BuildResult, config: BuildConfig) -> str:
    """The end-of-build table: rows, epochs, final LR, Keras vs TFLite metrics, the confusion matrix, sizes."""
    card = result.card
    metrics = card.metrics
    q = config.quantize if config.quantize != Quantization.NONE else "float32"
    lines = [
        ("rows", f"{result.train_rows} train + {result.validation_rows} validation"),
        ("epochs run", f"{result.epochs_run} of {config.epochs} (best weights: epoch {card.training['best_epoch']})"),
        ("final learning rate", f"{result.final_lr:.2e} ({len(result.lr_changes)} reduction(s))"),
    ]
    if "class_weights" in card.training:
        weights = card.training["class_weights"]
        lines.append(("class weights", ", ".join(f"{c} {w:.3g}" for c, w in weights.items())))
    if "base_rate" in metrics and card.classes:
        rate = metrics["base_rate"]
        lines.append(
            (f"base rate {card.classes[1]}", f"{rate['train']:.2%} train, {rate['validation']:.2%} validation")
        )
    if "threshold" in metrics:
        named: dict[float | str | None, str] = {None: "default", "auto": "auto: best validation F1"}
        how = named.get(config.threshold, "given")
        lines.append(("decision threshold", f"{metrics['threshold']:.4g} ({how})"))
    width = max(22, *(len(f"validation {key}") + 1 for key in result.keras_metrics))
    table = [f"  {'':<{width}}{'keras':>10}  {'tflite ' + q:>16}"]
    for key, value in result.keras_metrics.items():
        table.append(f"  {'validation ' + key:<{width}}{value:>10.4f}  {result.tflite_metrics[key]:>16.4f}")
    tail = [
        ("max |Δ prediction|", f"{result.max_abs_delta:.2e}"),
        ("model.tflite", _size(result.model_bytes)),
        ("bundle", f"{_size(result.bundle_bytes)} in {result.path} (version {card.version})"),
        ("time", f"{result.seconds:.1f} s"),
    ]
    head = [f"  {k:<22}{v}" for k, v in lines]
    return "\n".join(["summary", *head, *table, *confusion_lines(card), *(f"  {k:<22}{v}" for k, v in tail)])


def confusion_lines(card: BundleCard) -> list[str]:
    """The served model's validation confusion matrix: one row per actual class, one column per predicted."""
    matrix = card.metrics.get("confusion_matrix")
    if not matrix or not card.classes:
        return []
    classes = [str(c) for c in matrix["classes"]]
    cell = max(8, *(len(c) + 1 for c in classes), *(len(str(n)) + 1 for row in matrix["counts"] for n in row))
    corner = "actual \\ predicted"
    label = max(len(corner), *(len(c) for c in classes)) + 2
    lines = ["  confusion (tflite, validation)", f"    {corner:<{label}}" + "".join(f"{c:>{cell}}" for c in classes)]
    for name, row in zip(classes, matrix["counts"], strict=True):
        lines.append(f"    {name:<{label}}" + "".join(f"{n:>{cell}}" for n in row))
    return lines


def run(args: argparse.Namespace) -> int:
    try:
        config = config_from_args(args)
        with stage("read", lambda line: print(line, flush=True)):  # reading, typing the columns, the target
            dataset = load_dataset(args)
        out = Path(args.out)
        check_output_dir(out, args.force)
        print(describe(dataset), flush=True)
        result = build_bundle(
            dataset.X,
            dataset.y,
            dataset.features,
            dataset.target,
            dataset.task,
            out,
            config,
            name=args.name,
            classes=dataset.classes,
            force=args.force,
            source=dataset.source,
            log=lambda line: print(line, flush=True),
            schema=dataset.schema,
            in_place=True,  # the rows read are the build's alone: split them without a copy
        )
    except BuildProblems as exc:
        for note in exc.notes:
            print(f"note: {note}", flush=True)
        raise CommandError(*(f"error: {problem}" for problem in exc.problems)) from exc
    except (BuildInputError, BundleError) as exc:
        raise CommandError(f"error: {exc}") from exc
    except ExportError as exc:
        raise CommandError(str(exc), exit_code=ExitCode.FAILED) from exc
    print(summary_table(result, config))
    return ExitCode.OK
