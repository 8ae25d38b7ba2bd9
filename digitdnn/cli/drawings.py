"""`digitdnn drawings count|export|import|delete` and `digitdnn finetune`: the class's drawings, and a model
fine-tuned on them."""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from digitdnn.cli.console import StopOnInterrupt, UsageError, positive_int, print_epoch, say
from digitdnn.data.mnist import load_mnist
from digitdnn.evaluation import evaluate


def add_drawings_commands(commands) -> None:
    """The `drawings` subcommand with its actions, and `finetune`."""
    from digitdnn.storage.drawings import default_drawings_path

    db_help = f"the drawings database (default {default_drawings_path()}: $DIGITDNN_DRAWINGS_DB or ./class-data)"
    drawings = commands.add_parser("drawings", help="the class's stored drawings: count, export, import, delete",
                                   description="The drawings students labelled on the page, in one SQLite file.")
    actions = drawings.add_subparsers(title="actions", dest="action", required=True, metavar="ACTION")
    count = actions.add_parser("count", help="how many drawings, per digit")
    export = actions.add_parser("export", help="write every drawing and its metadata to an .npz")
    export.add_argument("out", type=Path, metavar="OUT.npz")
    load = actions.add_parser("import", help="add the drawings of an .npz (as export writes it)")
    load.add_argument("npz", type=Path, metavar="IN.npz")
    delete = actions.add_parser("delete", help="delete drawings by id, or all of them",
                                description="Delete the given drawings, or with --all --yes every one.")
    delete.add_argument("ids", nargs="*", type=int, metavar="ID")
    delete.add_argument("--all", action="store_true", help="delete every drawing (needs --yes)")
    delete.add_argument("--yes", action="store_true", help="confirm --all")
    for action, run in ((count, run_drawings_count), (export, run_drawings_export), (load, run_drawings_import),
                        (delete, run_drawings_delete)):
        action.add_argument("--db", type=Path, default=default_drawings_path(), help=db_help)
        action.set_defaults(run=run)

    finetune = commands.add_parser("finetune", help="continue a model on the class's drawings mixed with MNIST",
                                   description="Fine-tune a saved model (default: the bundled one) on the drawings "
                                               "of a database, mixed with MNIST so that MNIST accuracy holds.")
    finetune.add_argument("--drawings", type=Path, required=True, metavar="DB", help="the drawings database")
    finetune.add_argument("--model", type=Path, help="the model to start from (default: the bundled default model)")
    finetune.add_argument("--epochs", type=positive_int, help="epochs (default: the recipe's)")
    finetune.add_argument("--out", type=Path, required=True, help="where to save the fine-tuned model")
    finetune.set_defaults(run=run_finetune)


def _existing_store(path: Path, flag: str = "--db"):
    """The DrawingStore at `path`; an error (not a new, empty database) if there is none."""
    from digitdnn.storage.drawings import DrawingStore

    if not path.is_file():
        raise UsageError(f"no drawings database at {path} (give its path with {flag})")
    store = DrawingStore(path)
    if store.notice:
        say(store.notice)
    return store


def run_drawings_count(args: argparse.Namespace) -> int:
    """Print how many drawings are stored, and how many of each digit."""
    counts = _existing_store(args.db).counts()
    print(f"{int(counts.sum())} drawings in {args.db}")
    print("  ".join(f"{digit}: {int(n)}" for digit, n in enumerate(counts)))
    return 0


def run_drawings_export(args: argparse.Namespace) -> int:
    """Write every drawing to an .npz."""
    n = _existing_store(args.db).export(args.out)
    print(f"exported {n} drawings to {args.out}")
    return 0


def run_drawings_import(args: argparse.Namespace) -> int:
    """Add the drawings of an .npz (the database is created if missing)."""
    from digitdnn.storage.drawings import DrawingStore

    store = DrawingStore(args.db)
    n = store.import_npz(args.npz)
    print(f"imported {n} drawings into {args.db} (now {store.count()})")
    return 0


def run_drawings_delete(args: argparse.Namespace) -> int:
    """Delete drawings by id, or every drawing with --all --yes."""
    if args.all == bool(args.ids):
        raise UsageError("give the ids of the drawings to delete, or --all (not both)")
    if args.all and not args.yes:
        raise UsageError("deleting every drawing needs --yes as well")
    store = _existing_store(args.db)
    n = store.delete_all() if args.all else store.delete(args.ids)
    print(f"deleted {n} drawings from {args.db} ({store.count()} left)")
    return 0


def run_finetune(args: argparse.Namespace) -> int:
    """Fine-tune a model on a drawings database, print each epoch, save it with its model card."""
    from digitdnn.storage.model_card import ModelCard
    from digitdnn.storage.models import load_classifier, save_classifier
    from digitdnn.training.finetune import fine_tune

    x, y = _existing_store(args.drawings, "--drawings").arrays()
    if len(y) == 0:
        raise UsageError(f"there are no drawings in {args.drawings}")
    base = load_classifier(args.model)
    data = load_mnist()
    print(f"fine-tuning {args.model or 'the default model'} on {len(y)} drawings mixed with MNIST", flush=True)
    with StopOnInterrupt() as stop:
        result = fine_tune(base, x, y, epochs=args.epochs, data=data, on_epoch_end=lambda r, _: print_epoch(r),
                           should_stop=stop)
    history = result.history
    if history.status == "diverged":
        raise ValueError(f"fine-tuning {history.message}; nothing saved")
    before, after = (evaluate(clf, x, y).accuracy for clf in (base, result.classifier))
    # A calibrated model stays calibrated (the temperature is folded into its output layer).
    temperature = result.classifier.metadata.get("temperature") or None
    card = ModelCard.of_run(history, command=args.command_line,
                            data_source=f"MNIST ({data.source}) and the drawings of {args.drawings}",
                            temperature=temperature, fine_tuned={
                                "base_model": str(args.model) if args.model else "default",
                                "base_test_accuracy": history.initial_test_accuracy,
                                "drawings": len(y),
                                "drawings_per_digit": np.bincount(y, minlength=10).tolist(),
                                "drawings_accuracy_before": before,
                                "drawings_accuracy_after": after,
                            })
    saved = save_classifier(result.classifier, args.out, metadata=card)
    print(f"MNIST test accuracy {history.initial_test_accuracy:.4f} -> {history.test_accuracy:.4f}")
    print(f"accuracy on the drawings (trained on) {before:.4f} -> {after:.4f}")
    print(f"status: {history.status}" + (f" ({history.message})" if history.message else ""))
    print(f"saved {saved}")
    return 0
