"""docker/Dockerfile and the scripts the containers run, checked without a Docker engine: the base image
and the non-root user, every file it copies exists, the project is installed from pyproject.toml, and
every command an image or a service runs is a console script of the project's dependencies or a file
of the repository. The scripts themselves are run here: airflow-init against a throw-away Airflow home,
the Postgres init script against the local server, the image's `dbt parse` without a database."""

from __future__ import annotations

import json
import os
import re
import secrets
import shlex
import stat
import subprocess
import sys
import tomllib
from importlib.metadata import entry_points
from pathlib import Path

import psycopg2
import pytest

from tests.docker.conftest import DOCKER, DOCKERFILE, ROOT

BIN = Path(sys.executable).parent
IMAGE_ROOT = "/opt/elt"  # WORKDIR: the repository's files land here


def instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) of the Dockerfile, continuation lines joined, comments dropped."""
    text = re.sub(r"\\\n\s*", " ", DOCKERFILE.read_text(encoding="utf-8"))
    lines = [line.strip() for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    return [(line.split(None, 1)[0].upper(), line.split(None, 1)[1]) for line in lines]


def console_scripts() -> set[str]:
    """Every console script the project's installed dependencies (and the project) provide."""
    return {ep.name for ep in entry_points(group="console_scripts")}


def image_path(path: str) -> Path:
    """The repository file an absolute path inside the image comes from."""
    assert path.startswith(f"{IMAGE_ROOT}/"), path
    return ROOT / path.removeprefix(f"{IMAGE_ROOT}/")


def test_slim_python_base_and_a_non_root_user() -> None:
    steps = instructions()
    assert steps[0] == ("FROM", "python:3.11-slim")
    users = [args for kind, args in steps if kind == "USER"]
    assert users == ["elt"]
    assert any(kind == "RUN" and "useradd --system --uid 10001" in args for kind, args in steps)
    assert [args for kind, args in steps if kind == "WORKDIR"] == [IMAGE_ROOT]
    last_run = max(i for i, (kind, _) in enumerate(steps) if kind == "RUN")
    assert steps.index(("USER", "elt")) > last_run  # nothing runs as root after the switch


def test_every_copied_file_exists_and_is_not_ignored() -> None:
    ignored = {line for line in (ROOT / ".dockerignore").read_text().splitlines() if line and not line.startswith("#")}
    copies = [shlex.split(args) for kind, args in instructions() if kind == "COPY"]
    assert copies
    for *sources, _destination in copies:
        for source in sources:
            assert (ROOT / source).exists(), source
            assert not any(source == rule or source.startswith(f"{rule}/") for rule in ignored), source
    copied = {source for *sources, _ in copies for source in sources}
    assert {"pyproject.toml", "ingestion", "orchestration", "api", "dbt_project", "docker/airflow-init.sh"} <= copied


def test_the_project_is_installed_from_pyproject() -> None:
    runs = [args for kind, args in instructions() if kind == "RUN"]
    extract = next(args for args in runs if "tomllib" in args)
    code = shlex.split(extract)[2]  # python -c "<code>" > /tmp/requirements.txt ...
    listed = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert listed.stdout.split("\n")[:-1] == project["dependencies"]  # exactly the declared dependencies
    assert "pip install -r /tmp/requirements.txt" in extract
    assert any("pip install --no-deps -e ." in args for args in runs)
    assert any("dbt parse --target postgres" in args for args in runs)


def test_every_command_the_image_and_the_services_run_is_real(compose: dict) -> None:
    scripts = console_scripts()
    project_scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    assert "elt" in project_scripts and "elt" in scripts
    (cmd,) = [json.loads(args) for kind, args in instructions() if kind == "CMD"]
    assert cmd == ["elt", "--help"]
    commands = [cmd]
    for kind, args in instructions():  # the programs the build itself runs: the first word of each command
        if kind == "RUN":
            words = list(shlex.shlex(args, posix=True, punctuation_chars=True))
            starts = [0] + [i + 1 for i, word in enumerate(words) if word in {"&&", "||", ";", "|"}]
            commands += [[words[i]] for i in starts if i < len(words)]
    for service in compose["services"].values():
        if "build" in service:  # services of the project's image (postgres, prometheus: official images)
            commands.append(service["command"])
            if service.get("healthcheck", {}).get("test", [""])[0] == "CMD":
                commands.append(service["healthcheck"]["test"][1:])
    shell_builtins = {"cd", "test", "mkdir", "chown", "chmod", "rm", "groupadd", "useradd", "python", "pip"}
    for command in commands:
        program = command[0]
        if program.startswith("/"):
            script = image_path(program)
            assert script.is_file() and script.stat().st_mode & stat.S_IXUSR, program
            assert script.read_text().startswith("#!/usr/bin/env bash\n"), program
        elif program not in shell_builtins:
            assert program in scripts, f"{program}: not a console script of the installed project"
    assert {c[0] for c in commands} >= {"elt", "airflow", "dbt", "/opt/elt/docker/airflow-init.sh"}
    cli = subprocess.run([str(BIN / "elt"), "serve", "--help"], capture_output=True, text=True, check=True)
    assert "--workers" in cli.stdout and "--host" in cli.stdout  # the API service's flags exist


def test_airflow_init_migrates_and_sets_the_admin_password(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}",
        "AIRFLOW_HOME": str(tmp_path / "airflow"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": "admin:admin",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(tmp_path / "auth" / "passwords.json"),
        "AIRFLOW__API_AUTH__JWT_SECRET": secrets.token_urlsafe(32),
        "AIRFLOW_ADMIN_USER": "admin",
        "AIRFLOW_ADMIN_PASSWORD": 'pa"ss word',
    }
    done = subprocess.run(["bash", str(DOCKER / "airflow-init.sh")], env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    assert "user admin can log in" in done.stdout
    passwords = tmp_path / "auth" / "passwords.json"
    assert json.loads(passwords.read_text()) == {"admin": 'pa"ss word'}
    assert stat.S_IMODE(passwords.stat().st_mode) == 0o600
    login = (  # what the api-server does: start its auth manager, then POST /auth/token
        "from fastapi import HTTPException\n"
        "from airflow.api_fastapi.app import init_auth_manager\n"
        "init_auth_manager()\n"
        "from airflow.api_fastapi.auth.managers.simple.datamodels.login import LoginBody\n"
        "from airflow.api_fastapi.auth.managers.simple.services.login import SimpleAuthManagerLogin as L\n"
        "assert L.create_token(LoginBody(username='admin', password='pa\"ss word'))\n"
        "try:\n    L.create_token(LoginBody(username='admin', password='wrong'))\n"
        "except HTTPException as exc:\n    print('refused', exc.status_code)\n"
    )
    checked = subprocess.run([sys.executable, "-c", login], env=env, capture_output=True, text=True)
    assert checked.returncode == 0 and checked.stdout.splitlines()[-1] == "refused 401", checked.stderr[-2000:]
    assert json.loads(passwords.read_text()) == {"admin": 'pa"ss word'}  # the api-server kept it

    env.pop("AIRFLOW_ADMIN_PASSWORD")  # a missing secret stops it with a clear message
    done = subprocess.run(["bash", str(DOCKER / "airflow-init.sh")], env=env, capture_output=True, text=True)
    assert done.returncode != 0 and "set AIRFLOW_ADMIN_PASSWORD in docker/.env" in done.stderr


def test_postgres_init_script_makes_airflows_own_database(postgres_available: bool) -> None:
    if not postgres_available:
        pytest.skip("no Postgres server (CI requires one)")
    suffix = secrets.token_hex(4)
    names = {"AIRFLOW_DB": f"airflow_meta_{suffix}", "AIRFLOW_DB_USER": f"airflow_{suffix}"}
    env = {
        **os.environ,
        **names,
        "AIRFLOW_DB_PASSWORD": "it's a secret",
        "POSTGRES_USER": os.environ.get("PGUSER", "postgres"),
        "POSTGRES_DB": "postgres",
        "PGHOST": os.environ.get("PGHOST", "127.0.0.1"),
    }
    admin = psycopg2.connect(
        host=env["PGHOST"], port=int(os.environ.get("PGPORT", "5432")), user=env["POSTGRES_USER"], dbname="postgres"
    )
    admin.autocommit = True
    try:
        done = subprocess.run(["bash", str(DOCKER / "postgres" / "init-airflow-db.sh")], env=env, capture_output=True)
        assert done.returncode == 0, done.stderr.decode()[-2000:]
        with admin.cursor() as cur:
            cur.execute(
                "select pg_get_userbyid(datdba), rolcanlogin from pg_database join pg_roles on rolname = %s"
                " where datname = %s",
                (names["AIRFLOW_DB_USER"], names["AIRFLOW_DB"]),
            )
            assert cur.fetchall() == [(names["AIRFLOW_DB_USER"], True)]
    finally:
        with admin.cursor() as cur:
            cur.execute(f'drop database if exists "{names["AIRFLOW_DB"]}"')
            cur.execute(f'drop role if exists "{names["AIRFLOW_DB_USER"]}"')
        admin.close()


def test_the_images_dbt_parse_needs_no_database(tmp_path: Path) -> None:
    env = {**os.environ, "PGHOST": "postgres.invalid", "DO_NOT_TRACK": "1"}  # as at image build: no server
    done = subprocess.run(
        [str(BIN / "dbt"), "parse", "--target", "postgres", "--quiet", "--target-path", str(tmp_path / "target")],
        cwd=ROOT / "dbt_project",
        env=env,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    manifest = json.loads((tmp_path / "target" / "manifest.json").read_text())
    assert manifest["metadata"]["adapter_type"] == "postgres"
    assert sum(1 for node in manifest["nodes"].values() if node["resource_type"] == "model") == 36
