"""`digitdnn drawings count|tabs|export|import|delete` and `digitdnn finetune`: the class's drawings, and a model
fine-tuned on them, in a SQLite file (--db, --drawings) or in the class's PostgreSQL database (--database-url,
else $DIGITDNN_DATABASE_URL)."""
from __future__ import annotations

import argparse
import atexit
import logging
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from digitdnn.cli.console import StopOnInterrupt, UsageError, positive_int, print_epoch, say
from digitdnn.data.mnist import load_mnist
from digitdnn.evaluation import evaluate

if TYPE_CHECKING:
    from digitdnn.storage.class_store import Drawings

URL_HELP = ("the class's PostgreSQL database, postgresql://... (default $DIGITDNN_DATABASE_URL when no file is "
            "given)")


def add_drawings_commands(commands) -> None:
    """The `drawings` subcommand with its actions, and `finetune`."""
    from digitdnn.storage.drawings import default_drawings_path

    db_help = (f"the drawings database file (default {default_drawings_path()}: $DIGITDNN_DRAWINGS_DB or "
               f"./class-data)")
    drawings = commands.add_parser("drawings", help="the class's stored drawings: count, tabs, export, import, "
                                                    "delete",
                                   description="The drawings students labelled on the page, in one SQLite file or "
                                               "in the class's PostgreSQL database.")
    actions = drawings.add_subparsers(title="actions", dest="action", required=True, metavar="ACTION")
    count = actions.add_parser("count", help="how many drawings, per digit")
    tabs = actions.add_parser("tabs", help="how many drawings each browser tab stored, and how many of them the "
                                           "server's default model names otherwise, most suspicious first")
    export = actions.add_parser("export", help="write every drawing and its metadata to an .npz")
    export.add_argument("out", type=Path, metavar="OUT.npz")
    load = actions.add_parser("import", help="add the drawings of an .npz (as export writes it)")
    load.add_argument("npz", type=Path, metavar="IN.npz")
    delete = actions.add_parser("delete", help="delete drawings by id, one browser tab's, or all of them",
                                description="Delete the given drawings, those of one browser tab (--tab, as "
                                            "`tabs` names it), or with --all --yes every one.")
    delete.add_argument("ids", nargs="*", type=int, metavar="ID")
    delete.add_argument("--tab", metavar="SESSION", help="delete every drawing of this browser tab")
    delete.add_argument("--all", action="store_true", help="delete every drawing (needs --yes)")
    delete.add_argument("--yes", action="store_true", help="confirm --all")
    for action, run in ((count, run_drawings_count), (tabs, run_drawings_tabs), (export, run_drawings_export),
                        (load, run_drawings_import), (delete, run_drawings_delete)):
        action.add_argument("--db", type=Path, help=db_help)
        action.add_argument("--database-url", metavar="URL", help=URL_HELP)
        action.set_defaults(run=run, path_flag="--db")

    from digitdnn.training.finetune import MAX_MNIST_FALL

    finetune = commands.add_parser("finetune", help="continue a model on the class's drawings mixed with MNIST",
                                   description="Fine-tune a saved model (default: the bundled one) on the drawings "
                                               "of a database, mixed with MNIST so that MNIST accuracy holds.")
    finetune.add_argument("--drawings", type=Path, metavar="DB", help="the drawings database file")
    finetune.add_argument("--database-url", metavar="URL", help=URL_HELP)
    finetune.add_argument("--model", type=Path, help="the model to start from (default: the bundled default model)")
    finetune.add_argument("--epochs", type=positive_int, help="epochs (default: the recipe's)")
    finetune.add_argument("--out", type=Path, required=True, help="where to save the fine-tuned model")
    finetune.add_argument("--force", action="store_true",
                          help=f"save it even if it names fewer of the drawings held back from it (a share of the "
                               f"browser tabs) than the model it started from, or its MNIST test accuracy fell by "
                               f"more than {MAX_MNIST_FALL * 100:g} points (mislabelled drawings do that)")
    finetune.set_defaults(run=run_finetune, path_flag="--drawings")


def _open_store(args: argparse.Namespace, existing: bool = True) -> tuple[Drawings, str]:
    """The drawings the command names, and where they are in words: the database at --database-url, else the file
    at --db (--drawings for finetune), else the one at $DIGITDNN_DATABASE_URL, else the default file. A file must
    exist when `existing` (an error, not a new, empty database)."""
    from digitdnn.server import settings
    from digitdnn.storage.drawings import DrawingStore, default_drawings_path

    path = args.drawings if args.path_flag == "--drawings" else args.db
    if path is not None and args.database_url:
        raise UsageError(f"give {args.path_flag} or --database-url, not both")
    url = args.database_url or (settings.database_url() if path is None else None)
    if url:
        return _open_database(url)
    if path is None and args.path_flag == "--drawings":
        raise UsageError("give the drawings with --drawings DB, or --database-url URL")
    path = path or default_drawings_path()
    if existing and not path.is_file():
        raise UsageError(f"no drawings database at {path} (give its path with {args.path_flag})")
    store = DrawingStore(path)
    if store.notice:
        say(store.notice)
    return store, str(path)


def _open_database(url: str) -> tuple[Drawings, str]:
    """The drawings of the class store at `url` (nothing connects before the first use), and where it is in words
    (without the password)."""
    import psycopg

    from digitdnn.storage.open_store import open_class_store

    logging.getLogger("psycopg").setLevel(logging.ERROR)  # its pool's retries: the command says in one line
    if not url.startswith(("postgresql://", "postgres://")):
        raise UsageError("--database-url must be a postgresql://... URL")
    try:
        class_store = open_class_store(url)
    except psycopg.Error as exc:
        raise UsageError(f"the database URL cannot be used: {exc}") from None
    atexit.register(class_store.close)  # its pool's threads end with the command, not at some garbage collection
    return class_store.drawings, class_store.where


def run_drawings_count(args: argparse.Namespace) -> int:
    """Print how many drawings are stored, and how many of each digit."""
    store, where = _open_store(args)
    counts = store.counts()
    print(f"{_drawings(int(counts.sum()))} in {where}")
    print("  ".join(f"{digit}: {int(n)}" for digit, n in enumerate(counts)))
    return 0


def run_drawings_tabs(args: argparse.Namespace) -> int:
    """Print one line per browser tab: its id, its drawings, how many the default model names otherwise, when."""
    store, where = _open_store(args)
    tabs = store.tabs()
    print(f"{len(tabs)} browser tab{'' if len(tabs) == 1 else 's'} stored drawings in {where}")
    for tab in tabs:
        print(f"{tab.session or '(none)'}  {_drawings(tab.drawings)}, {tab.disagreeing} labelled otherwise than "
              f"the model said, the last at {tab.last}")
    return 0


def run_drawings_export(args: argparse.Namespace) -> int:
    """Write every drawing to an .npz."""
    n = _open_store(args)[0].export(args.out)
    print(f"exported {_drawings(n)} to {args.out}")
    return 0


def run_drawings_import(args: argparse.Namespace) -> int:
    """Add the drawings of an .npz (a database file is created if missing)."""
    store, where = _open_store(args, existing=False)
    n = store.import_npz(args.npz)
    print(f"imported {_drawings(n)} into {where} (now {store.count()})")
    return 0


def run_drawings_delete(args: argparse.Namespace) -> int:
    """Delete drawings by id, one browser tab's with --tab, or every drawing with --all --yes."""
    if [args.all, bool(args.ids), args.tab is not None].count(True) != 1:
        raise UsageError("give the ids of the drawings to delete, or --all (not both), or --tab SESSION alone")
    if args.all and not args.yes:
        raise UsageError("deleting every drawing needs --yes as well")
    store, where = _open_store(args)
    n = store.delete_all() if args.all else store.delete_tab(args.tab) if args.tab is not None \
        else store.delete(args.ids)
    print(f"deleted {_drawings(n)} from {where} ({store.count()} left)")
    return 0


def _drawings(n: int) -> str:
    return f"{n} drawing{'' if n == 1 else 's'}"


def run_finetune(args: argparse.Namespace) -> int:
    """Fine-tune a model on a drawings database, holding back a share of its browser tabs to measure it (see
    training.holdout), print each epoch and the figures, save it with its model card unless it is worse than the
    model it started from (--force saves it anyway)."""
    from digitdnn.storage.model_card import ModelCard
    from digitdnn.storage.models import load_classifier, save_classifier
    from digitdnn.training.finetune import USED_ANYWAY, fine_tune
    from digitdnn.training.holdout import fine_tuned_record, kept_sentence, measure, split_by_tab, why_held_back

    store, where = _open_store(args)
    x, y, tabs = store.arrays_with_tabs()
    if len(y) == 0:
        raise UsageError(f"there are no drawings in {where}")
    split = split_by_tab(tabs)
    x_trained, y_trained = x[~split.held], y[~split.held]
    base = load_classifier(args.model)
    data = load_mnist()
    print(f"fine-tuning {args.model or 'the default model'} on {len(y_trained)} drawings mixed with MNIST and pen "
          f"digits; {split.describe()}", flush=True)
    with StopOnInterrupt() as stop:
        result = fine_tune(base, x_trained, y_trained, epochs=args.epochs, data=data,
                           on_epoch_end=lambda r, _: print_epoch(r), should_stop=stop)
    history = result.history
    if history.status == "diverged":
        raise ValueError(f"fine-tuning {history.message}; nothing saved")
    unseen = None if split.nothing_held_back else measure(base, result.classifier, x[split.held], y[split.held],
                                                          split.held_tabs)
    before, after = (evaluate(clf, x_trained, y_trained).accuracy for clf in (base, result.classifier))
    if unseen:
        print(f"accuracy {unseen.where()} {unseen.before:.4f} -> {unseen.after:.4f}")
    print(f"MNIST test accuracy {history.initial_test_accuracy:.4f} -> {history.test_accuracy:.4f}")
    print(f"accuracy on the drawings (trained on) {before:.4f} -> {after:.4f}", flush=True)
    fell = why_held_back(unseen, history.initial_test_accuracy, history.test_accuracy)
    if fell and not args.force:
        raise ValueError(f"{fell[:1].upper()}{fell[1:]}: nothing saved (check the drawings for wrong labels, or give "
                         "--force to save it anyway)")
    if not fell:
        print(kept_sentence(unseen, split.nothing_held_back, history.initial_test_accuracy, history.test_accuracy,
                            new="the fine-tuned one"))
    # A calibrated model stays calibrated (the temperature is folded into its output layer).
    temperature = result.classifier.metadata.get("temperature") or None
    # the card names where the drawings were (data_source), never the database's password
    command = args.command_line.replace(args.database_url, "URL") if args.database_url else args.command_line
    card = ModelCard.of_run(history, command=command,
                            data_source=f"MNIST ({data.source}), pen digits of the pen set's training writers "
                                        f"(finetune.fine_tune_data) and the drawings of {where}",
                            temperature=temperature, fine_tuned={
                                "base_model": str(args.model) if args.model else "default",
                                "base_test_accuracy": history.initial_test_accuracy,
                                **fine_tuned_record(len(y_trained), split, unseen),
                                "drawings_per_digit": np.bincount(y_trained, minlength=10).tolist(),
                                "drawings_accuracy_before": before,
                                "drawings_accuracy_after": after,
                            }, extra={USED_ANYWAY: fell} if fell else {})
    saved = save_classifier(result.classifier, args.out, metadata=card)
    print(f"status: {history.status}" + (f" ({history.message})" if history.message else ""))
    if fell:
        print(f"saved anyway (--force): {fell}")
    print(f"saved {saved}")
    return 0
