"""`digitdnn worker`: train the runs that the pages put on the training queue (digitdnn/workers/), until Ctrl-C or
SIGTERM; its log (stderr) has a line for each run and how it ended."""
from __future__ import annotations

import argparse
import logging
import os
import socket

from digitdnn.cli.console import UsageError, positive_int
from digitdnn.server import settings


def add_worker_command(commands) -> None:
    """The `worker` subcommand."""
    worker = commands.add_parser(
        "worker", help="train the runs of the pages' training queue (Redis), one at a time",
        description="Take runs from the training queue at --queue-url (the pages' DIGITDNN_QUEUE_URL) and train "
                    "them one at a time, each in a process of its own that ends with the run. Waits for the queue "
                    "when it cannot be reached. Ctrl-C or SIGTERM stops the current run (keeping its weights for "
                    "its page) and then the worker; a second one stops at once.")
    worker.add_argument("--queue-url", help=f"the training queue, redis://[:password@]host:port/0, rediss://... or "
                                            f"unix://path (default ${settings.QUEUE_URL_ENV})")
    worker.add_argument("--name", default=socket.gethostname(),
                        help="the worker's name in the logs (default: this machine's name)")
    worker.add_argument("--threads", type=positive_int, default=1,
                        help="CPU threads per run (default 1: several workers share a machine's cores)")
    worker.add_argument("--database-url",
                        help=f"the class's PostgreSQL database, for runs on the class's drawings (default "
                             f"${settings.DATABASE_URL_ENV}; without one, this machine's drawings file)")
    worker.set_defaults(run=run_worker_command)


def run_worker_command(args: argparse.Namespace) -> int:
    """Serve the queue until stopped; 0 after a clean stop."""
    # The flags are checked as the settings they stand for, and the runs read them from there.
    if args.queue_url:
        os.environ[settings.QUEUE_URL_ENV] = args.queue_url
    if args.database_url:
        os.environ[settings.DATABASE_URL_ENV] = args.database_url
    url = settings.queue_url()
    if url is None:
        raise UsageError(f"give the training queue's URL: --queue-url or ${settings.QUEUE_URL_ENV}")
    database_url = settings.database_url()
    _log_to_stderr()
    from digitdnn.workers.worker import serve_worker

    serve_worker(url, args.name, args.threads, database_url)
    return 0


def _log_to_stderr() -> None:
    """The workers' lines (a run started, how it ended) with their time, on stderr."""
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    log = logging.getLogger("digitdnn")
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    log.propagate = False
