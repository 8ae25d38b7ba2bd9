"""`digitdnn cluster`: the page for a big class on this machine: PostgreSQL, page replicas and HAProxy, and with
--workers training workers and their Redis (digitdnn/cluster/supervisor.py), until Ctrl-C or SIGTERM."""
from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path

from digitdnn.cli.console import positive_int, say
from digitdnn.server.serve import DEFAULT_ADDRESS, DEFAULT_PORT

DEFAULT_REPLICAS = 2
DEFAULT_STATE_DIR = Path("cluster-state")


def add_cluster_command(commands, port: Callable[[str], int]) -> None:
    """The `cluster` subcommand; `port` is the argparse type of a port number."""
    cluster = commands.add_parser(
        "cluster", help="serve the page from several replicas behind HAProxy, the class's state in PostgreSQL",
        description="Start PostgreSQL (initialised into --state-dir the first time), --replicas page servers on "
                    "loopback ports and HAProxy in front of them on --address:--port, each browser kept on one "
                    "replica by a cookie; with --workers M, also Redis on a loopback port and M training workers "
                    "that train every run instead of the replicas. Writes STATE_DIR/cluster.env (the database's "
                    "URL, and the queue's) and restarts a part that dies; Ctrl-C or SIGTERM stops everything. "
                    "Needs Debian's postgresql and haproxy (and redis-server for --workers).")
    cluster.add_argument("--replicas", type=positive_int, default=DEFAULT_REPLICAS,
                         help=f"how many page servers (default {DEFAULT_REPLICAS})")
    cluster.add_argument("--workers", type=workers_count, default=0,
                         help="training workers on this machine, each training one run at a time, with Redis "
                              "holding the queue (default 0: each replica trains its own runs). Redis listens on "
                              "this machine only: a `digitdnn worker` on another machine reaches it through an SSH "
                              "tunnel, with the DIGITDNN_QUEUE_URL of cluster.env")
    cluster.add_argument("--port", type=port, default=DEFAULT_PORT,
                         help=f"the port the proxy listens on (default {DEFAULT_PORT})")
    cluster.add_argument("--address", default=DEFAULT_ADDRESS,
                         help=f"the address the proxy listens on (default {DEFAULT_ADDRESS}: this machine only); "
                              "0.0.0.0 serves a class: every address of this machine")
    cluster.add_argument("--state-dir", type=Path, default=DEFAULT_STATE_DIR,
                         help=f"the cluster's folder: database, logs, cookie secret, cluster.env (default "
                              f"./{DEFAULT_STATE_DIR}; PostgreSQL's user must be able to reach it)")
    cluster.set_defaults(run=run_cluster_command)


def workers_count(text: str) -> int:
    """argparse type: 0 or more workers."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, got {value}")
    return value


def run_cluster_command(args: argparse.Namespace) -> int:
    """Run the cluster until stopped; 0 after a clean stop."""
    from digitdnn.cluster.supervisor import run_cluster

    parts = f"{args.replicas} replica{'s' if args.replicas > 1 else ''}"
    if args.workers:
        parts += f", {args.workers} training worker{'s' if args.workers > 1 else ''}"
    run_cluster(args.state_dir, args.replicas, args.port, args.address, report=say, workers=args.workers,
                announce=lambda url: print(f"the page is at {url} ({parts}); Ctrl-C stops the cluster", flush=True))
    return 0
