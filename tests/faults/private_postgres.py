"""A throw-away Postgres cluster on a free port, for tests that must stop or restart the server.

The shared server (127.0.0.1:5432) serves every other test, so it is never restarted; this cluster is
made with the installed server's own `initdb` and `pg_ctl` in a temporary folder (trust auth, user
`postgres`, no fsync: nothing here needs to survive a crash of the machine) and removed afterwards.
Run as root, the server programs run as the `postgres` OS user, which owns the folder.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

SERVER_USER = "postgres"


def find_bindir() -> Path | None:
    """The bin folder of the newest installed Postgres server that has initdb and pg_ctl, or None."""
    candidates = sorted(Path("/usr/lib/postgresql").glob("*/bin"), key=lambda p: _version(p.parent.name))
    configured = shutil.which("pg_config")
    if configured:
        found = subprocess.run([configured, "--bindir"], capture_output=True, text=True)
        if found.returncode == 0:
            candidates.append(Path(found.stdout.strip()))
    for bindir in reversed(candidates):
        if (bindir / "initdb").is_file() and (bindir / "pg_ctl").is_file():
            return bindir
    return None


def _version(name: str) -> tuple[int, ...]:
    """`15` -> (15,), `9.6` -> (9, 6): server versions in numeric order."""
    return tuple(int(part) for part in name.split(".") if part.isdigit())


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class PrivateCluster:
    """One running throw-away cluster."""

    bindir: Path
    datadir: Path
    port: int

    @property
    def logfile(self) -> Path:
        """The server's log (start, stop, restart, crash recovery)."""
        return self.datadir.parent / "server.log"

    def env(self) -> dict[str, str]:
        """libpq variables that point a client at this cluster."""
        return {"PGHOST": "127.0.0.1", "PGPORT": str(self.port), "PGUSER": "postgres", "PGPASSWORD": ""}

    def pg_ctl(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
        """Run `pg_ctl -D <datadir> <args>` as the server's user; it must succeed."""
        options = f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.datadir.parent} -c fsync=off"
        command = [str(self.bindir / "pg_ctl"), "-D", str(self.datadir), "-l", str(self.logfile), "-o", options]
        done = _as_server_user([*command, *args], timeout)
        assert done.returncode == 0, f"pg_ctl {' '.join(args)} failed:\n{done.stdout}{done.stderr}\n{self.log()}"
        return done

    def log(self) -> str:
        """The last lines of the server log (for assertion messages)."""
        with contextlib.suppress(OSError):
            return "\n".join(self.logfile.read_text(errors="replace").splitlines()[-30:])
        return ""


def _as_server_user(command: list[str], timeout: float) -> subprocess.CompletedProcess:
    """Run a server program; as root, as the `postgres` OS user (the server refuses to run as root)."""
    if os.geteuid() == 0:
        command = ["runuser", "-u", SERVER_USER, "--", *command]
    return subprocess.run(command, capture_output=True, text=True, timeout=timeout, cwd="/")


@contextlib.contextmanager
def private_cluster(bindir: Path) -> Iterator[PrivateCluster]:
    """initdb + start a cluster on a free port; stop it and remove its folder afterwards."""
    root = Path(tempfile.mkdtemp(prefix="elt-faults-pg-"))
    try:
        if os.geteuid() == 0:
            server = pwd.getpwnam(SERVER_USER)
            os.chown(root, server.pw_uid, server.pw_gid)
        datadir = root / "data"
        created = _as_server_user(
            [str(bindir / "initdb"), "-D", str(datadir), "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync"],
            timeout=120,
        )
        assert created.returncode == 0, f"initdb failed:\n{created.stdout}{created.stderr}"
        cluster = PrivateCluster(bindir, datadir, free_port())
        cluster.pg_ctl("-w", "-t", "60", "start")
        try:
            yield cluster
        finally:
            _as_server_user([str(bindir / "pg_ctl"), "-D", str(datadir), "-m", "immediate", "-w", "stop"], timeout=60)
    finally:
        shutil.rmtree(root, ignore_errors=True)
