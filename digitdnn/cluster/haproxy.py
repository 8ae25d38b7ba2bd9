"""HAProxy in front of the page replicas: its configuration and its command line.

Each browser is kept on one replica by a cookie, DIGITDNN_REPLICA, whose value names the replica (passed on to the
replica, so that a page sent to another one can tell: ui/replica.py): Streamlit keeps
a session in the process that holds its websocket, and the session's media files and uploads are plain HTTP
requests that must reach the same process. A browser without the cookie (a new one, or one whose replica is down)
goes to the next replica in turn; health checks on /_stcore/health take a dead replica out until it answers again.
Websockets stay open for an hour of silence (`timeout tunnel`); request bodies have no size cap here (Streamlit's
own 64 MB upload limit holds); how many connections at once follows from the open-files limit (`ulimit -n`),
which HAProxy reads itself.
"""
from __future__ import annotations

import os
import pwd
from collections.abc import Sequence
from pathlib import Path

from digitdnn.cluster.children import find_program

INSTALL_HINT = "install HAProxy (Debian: apt-get install haproxy)"
COOKIE = "DIGITDNN_REPLICA"
HEALTH_PATH = "/_stcore/health"
SERVICE_USER = "haproxy"  # Debian's package creates it; a proxy started by root runs as this user once it listens


def haproxy_config(replicas: Sequence[tuple[str, int]], port: int, address: str) -> str:
    """haproxy.cfg for the replicas (name, loopback port), the proxy listening on `address`:`port`."""
    servers = "\n".join(f"    server {name} 127.0.0.1:{replica_port} cookie {name} check"
                        for name, replica_port in replicas)
    return f"""# Written by `digitdnn cluster` at each start: edits are lost.
global
    log stdout format raw local0{_run_as_service_user()}

defaults
    mode http
    log global
    option httplog
    option dontlog-normal
    timeout connect 5s
    timeout client 60s
    timeout server 60s
    timeout http-request 30s
    timeout http-keep-alive 10s
    timeout queue 30s
    timeout tunnel 1h

frontend page
    bind {_bind_address(address)}:{port}
    default_backend replicas

backend replicas
    balance roundrobin
    cookie {COOKIE} insert nocache httponly attr "SameSite=Lax"
    option redispatch
    retries 3
    option httpchk GET {HEALTH_PATH}
    http-check expect status 200
    default-server inter 2s fall 2 rise 1
{servers}
"""


def haproxy_command(config: Path) -> list[str]:
    """`haproxy -f CONFIG -db`: in the foreground, its log on stdout; ClusterUnavailable when it is not installed."""
    return [find_program("haproxy", INSTALL_HINT), "-f", str(config), "-db"]


def _bind_address(address: str) -> str:
    return f"[{address}]" if ":" in address else address


def _run_as_service_user() -> str:
    """Started by root: drop to the `haproxy` user once the port is bound (when that user exists)."""
    if os.geteuid() != 0:
        return ""
    try:
        pwd.getpwnam(SERVICE_USER)
    except KeyError:
        return ""
    return f"\n    user {SERVICE_USER}\n    group {SERVICE_USER}"
