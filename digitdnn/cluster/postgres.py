"""A PostgreSQL server of our own, in a folder: initialised when the folder is empty, started and stopped with
Debian's `initdb`/`pg_ctl`, listening on a loopback port only, with a password kept beside the data.

PostgreSQL refuses to run as root: started by root, every command runs as the unprivileged user `postgres`
(Debian's package creates it), through `runuser`, and the data folder is handed to that user. `digitdnn cluster`
and the tests start their database with it.
"""
from __future__ import annotations

import glob
import os
import pwd
import secrets
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

PG_BIN_GLOB = "/usr/lib/postgresql/*/bin"
SERVICE_USER = "postgres"
DATABASE = "digitdnn"
SUPERUSER = "digitdnn"
INSTALL_HINT = "install PostgreSQL (Debian: apt-get install postgresql)"


class PostgresUnavailable(RuntimeError):
    """PostgreSQL cannot be started here: a plain sentence that says what to do."""


def postgres_bin() -> Path:
    """The folder of the newest installed PostgreSQL's server programs (initdb, pg_ctl)."""
    found = [Path(p) for p in glob.glob(PG_BIN_GLOB) if (Path(p) / "pg_ctl").is_file()]
    on_path = shutil.which("pg_ctl")
    if on_path:
        found.append(Path(on_path).parent)
    if not found:
        raise PostgresUnavailable(f"PostgreSQL's server programs (initdb, pg_ctl) were not found: {INSTALL_HINT}.")
    return max(found, key=lambda p: _major_version(p))


def _major_version(folder: Path) -> int:
    name = folder.parent.name
    return int(name) if name.isdigit() else 0


@dataclass
class PostgresServer:
    """The server whose data is in `folder` (created and initialised when missing or empty), on 127.0.0.1:`port`."""

    folder: Path
    port: int

    @property
    def data(self) -> Path:
        return self.folder / "data"

    @property
    def url(self) -> str:
        """The connection URL of the class's database (password included: keep it like a key)."""
        password = quote((self.folder / "password").read_text().strip(), safe="")
        return f"postgresql://{SUPERUSER}:{password}@127.0.0.1:{self.port}/{DATABASE}"

    def start(self, timeout: float = 60.0) -> str:
        """Initialise (first time), start and wait until it accepts connections; returns `url`."""
        self.folder.mkdir(parents=True, exist_ok=True)
        if not (self.data / "PG_VERSION").is_file():
            self._initialise()
        self._run("pg_ctl", "start", "-w", "-t", str(int(timeout)), "-D", str(self.data), "-l",
                  str(self.folder / "postgres.log"), "-o",
                  f"-c listen_addresses=127.0.0.1 -c port={self.port} -c unix_socket_directories=''")
        return self.create_database()

    def stop(self, mode: str = "fast") -> None:
        """Stop it (`fast`: open connections are closed; `immediate`: as if the machine lost power)."""
        if (self.data / "postmaster.pid").exists():
            self._run("pg_ctl", "stop", "-w", "-m", mode, "-D", str(self.data), check=False)

    def running(self) -> bool:
        return self._run("pg_ctl", "status", "-D", str(self.data), check=False).returncode == 0

    def _initialise(self) -> None:
        password_file = self.folder / "password"
        password_file.write_text(secrets.token_urlsafe(24) + "\n")
        password_file.chmod(0o600)
        self.data.mkdir(mode=0o700, exist_ok=True)
        self._hand_over(self.folder)
        self._run("initdb", "-D", str(self.data), "-U", SUPERUSER, "--pwfile", str(password_file),
                  "--auth", "scram-sha-256", "-E", "UTF8", "--locale", "C.UTF-8")

    def create_database(self, name: str = DATABASE) -> str:
        """Create the database `name` (letters, digits and _) unless it exists; returns its URL."""
        if not name.replace("_", "").isalnum() or not name.isascii():
            raise ValueError(f"a database name is letters, digits and _, got {name!r}")
        exists = self.psql("postgres", f"SELECT 1 FROM pg_database WHERE datname = '{name}'")
        if exists.strip() != "1":
            self.psql("postgres", f"CREATE DATABASE {name}")
        return self.url.rsplit("/", 1)[0] + "/" + name

    def psql(self, database: str, sql: str) -> str:
        env = {"PGPASSWORD": (self.folder / "password").read_text().strip()}
        return self._run("psql", "-h", "127.0.0.1", "-p", str(self.port), "-U", SUPERUSER, "-d", database,
                         "-tAc", sql, env=env).stdout

    def _hand_over(self, folder: Path) -> None:
        """As root, give `folder` to the service user, and check that it can reach it at all."""
        if os.geteuid() != 0:
            return
        try:
            user = pwd.getpwnam(SERVICE_USER)
        except KeyError:
            raise PostgresUnavailable(f"the user {SERVICE_USER!r} does not exist: {INSTALL_HINT}.") from None
        for path in [folder, *folder.rglob("*")]:
            os.chown(path, user.pw_uid, user.pw_gid)
        reachable = subprocess.run(["runuser", "-u", SERVICE_USER, "--", "test", "-w", str(folder)]).returncode == 0
        if not reachable:
            raise PostgresUnavailable(
                f"PostgreSQL runs as the user {SERVICE_USER!r}, which cannot reach {folder}: choose a folder every "
                "user may pass through (e.g. under /srv or /var/lib, not under /root).")

    def _run(self, program: str, *args: str, check: bool = True, env: dict | None = None
             ) -> subprocess.CompletedProcess:
        command = [str(postgres_bin() / program), *args]
        if os.geteuid() == 0:
            command = ["runuser", "-u", SERVICE_USER, "--", *command]
        done = subprocess.run(command, capture_output=True, text=True, cwd="/",
                              env={**os.environ, **(env or {})})
        if check and done.returncode != 0:
            raise PostgresUnavailable(f"{program} failed: {(done.stderr or done.stdout).strip()[-800:]}")
        return done
