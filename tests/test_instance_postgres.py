"""A real instance: PostgreSQL storage (dagster.postgres.yaml), the run queue and a real daemon.

Marked ``postgres``: a PostgreSQL server from Debian's packages (``apt-get install postgresql``,
done by ``python3 dev.py test``) is started here as the ``postgres`` user, on a free loopback
port in a temporary folder, and stopped at the end. A real ``dagster-daemon`` works off the run
queue. Two runs of ``knooppunt_job`` on one tiny municipality are queued at once: both go
through the daemon into PostgreSQL, and the tag limit holds them to one at a time.

Run alone with ``pytest -m postgres``; skipped without PostgreSQL, except in CI (``CI`` set),
where a missing server fails.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
import yaml

from pipelines.warehouse import current_release
from sources.synthetic import generate

pytestmark = pytest.mark.postgres

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
ADDRESSES, SEED = 150, 3  # the smallest municipality that has every source and a flag
TIMEOUT = 900  # seconds for both runs on a shared 2-core machine


def _postgres_bin() -> Path:
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda p: int(p.parts[-3]))
    if not found:
        message = "PostgreSQL server not found: apt-get install -y postgresql (python3 dev.py test does)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return found[-1].parent


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def postgres():
    """A PostgreSQL server of its own, run by a non-root user; its connection settings."""
    bin_dir = _postgres_bin()
    base = Path(tempfile.mkdtemp(prefix="knooppunt-pg-"))
    as_user: list[str] = []
    if os.geteuid() == 0:  # PostgreSQL refuses to run as root
        shutil.chown(base, "postgres", "postgres")
        as_user = ["runuser", "-u", "postgres", "--"]
    password = "knooppunt-test"  # noqa: S105 (a throwaway server on 127.0.0.1)
    (base / "pw").write_text(password + "\n")
    if as_user:
        shutil.chown(base / "pw", "postgres", "postgres")
    port = _free_port()
    data = base / "data"
    run = subprocess.run
    run(
        [*as_user, bin_dir / "initdb", "-D", data, "-U", "dagster", f"--pwfile={base / 'pw'}"]
        + ["--auth=scram-sha-256", "--no-locale", "-E", "UTF8", "--no-sync"],
        check=True,
        capture_output=True,
    )
    options = f"-c listen_addresses=127.0.0.1 -p {port} -c unix_socket_directories={base} -c fsync=off"
    pg_ctl = [*as_user, bin_dir / "pg_ctl", "-D", data]
    run([*pg_ctl, "-o", options, "-l", base / "log", "-w", "start"], check=True, capture_output=True)
    try:
        import psycopg2

        con = psycopg2.connect(
            host="127.0.0.1", port=port, user="dagster", password=password, dbname="postgres"
        )
        con.autocommit = True
        con.cursor().execute("CREATE DATABASE dagster")
        con.close()
        yield {
            "DAGSTER_PG_HOST": "127.0.0.1",
            "DAGSTER_PG_PORT": str(port),
            "DAGSTER_PG_DB": "dagster",
            "DAGSTER_PG_USERNAME": "dagster",
            "DAGSTER_PG_PASSWORD": password,
        }
    finally:
        run([*pg_ctl, "-m", "fast", "-w", "stop"], check=False, capture_output=True)
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture(scope="module")
def queued_runs(postgres, tmp_path_factory):
    """Two runs of knooppunt_job queued at once and worked off by a real dagster-daemon.

    Returns the finished run records and the (first, second) statuses seen while polling.
    """
    import dagster as dg

    base = tmp_path_factory.mktemp("instance")
    home = base / "dagster_home"
    home.mkdir()
    shutil.copyfile(REPO / "dagster.postgres.yaml", home / "dagster.yaml")
    generate(base / "data", ADDRESSES, SEED)
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("KNOOPPUNT_", "DAGSTER_"))},
        **postgres,
        "DAGSTER_HOME": str(home),
        "KNOOPPUNT_DATA": str(base / "data"),
        "KNOOPPUNT_WAREHOUSE": str(base / "warehouse"),
    }
    workspace = ["-w", str(REPO / "workspace.yaml")]
    with open(home / "daemon.log", "w") as log:
        daemon = subprocess.Popen(
            [BIN / "dagster-daemon", "run", *workspace], env=env, cwd=REPO, stdout=log, stderr=log
        )
    try:
        for _ in range(2):
            launch = subprocess.run(
                [BIN / "dagster", "job", "launch", "-j", "knooppunt_job", *workspace],
                env=env,
                cwd=REPO,
                capture_output=True,
                text=True,
            )
            assert launch.returncode == 0, launch.stderr[-3000:]
        with pytest.MonkeyPatch.context() as mp:
            for key, value in postgres.items():
                mp.setenv(key, value)
            with dg.DagsterInstance.from_config(str(home)) as instance:
                records = instance.get_run_records()
                assert len(records) == 2
                ids = [r.dagster_run.run_id for r in sorted(records, key=lambda r: r.create_timestamp)]
                seen = []
                deadline = time.monotonic() + TIMEOUT
                while time.monotonic() < deadline:
                    statuses = tuple(instance.get_run_by_id(i).status for i in ids)
                    if not seen or seen[-1] != statuses:
                        seen.append(statuses)
                    if all(s.value in ("SUCCESS", "FAILURE", "CANCELED") for s in statuses):
                        break
                    assert daemon.poll() is None, (home / "daemon.log").read_text()[-3000:]
                    time.sleep(0.5)
                finished = [instance.get_run_record_by_id(i) for i in ids]
                storage = type(instance.run_storage).__name__
        yield {"runs": finished, "seen": seen, "storage": storage, "base": base, "home": home}
    finally:
        _stop(daemon)


def _stop(daemon: subprocess.Popen) -> None:
    """Stop the daemon and everything it started: its code server outlives it otherwise."""
    import psutil

    spawned = psutil.Process(daemon.pid).children(recursive=True)
    daemon.send_signal(signal.SIGINT)
    with contextlib.suppress(subprocess.TimeoutExpired):
        daemon.wait(timeout=30)
    if daemon.poll() is None:
        daemon.kill()
        daemon.wait()
    for process in spawned:
        with contextlib.suppress(psutil.NoSuchProcess):
            process.terminate()
    _, alive = psutil.wait_procs(spawned, timeout=10)
    for process in alive:
        with contextlib.suppress(psutil.NoSuchProcess):
            process.kill()


def test_the_daemon_runs_the_queued_job_with_postgresql_storage(queued_runs, postgres):
    import psycopg2

    assert queued_runs["storage"] == "PostgresRunStorage"
    runs = queued_runs["runs"]
    assert [r.dagster_run.status.value for r in runs] == ["SUCCESS", "SUCCESS"], queued_runs["seen"]
    con = psycopg2.connect(
        host="127.0.0.1",
        port=int(postgres["DAGSTER_PG_PORT"]),
        user="dagster",
        password=postgres["DAGSTER_PG_PASSWORD"],
        dbname="dagster",
    )
    try:
        cur = con.cursor()
        cur.execute("SELECT run_id, status FROM runs ORDER BY create_timestamp")
        assert cur.fetchall() == [(r.dagster_run.run_id, "SUCCESS") for r in runs]
    finally:
        con.close()
    from pipelines.warehouse import Warehouse

    assert current_release(Warehouse(queued_runs["base"] / "warehouse")).exists()


def test_the_tag_limit_holds_two_queued_runs_to_one_at_a_time(queued_runs):
    first, second = queued_runs["runs"]
    assert first.end_time <= second.start_time, "the two runs overlapped"
    seen = [(a.value, b.value) for a, b in queued_runs["seen"]]
    assert ("STARTED", "QUEUED") in seen, seen  # the daemon held the second back while the first ran
    assert not any(a == b == "STARTED" for a, b in seen), seen


def test_the_postgres_instance_is_the_shipped_one_plus_storage():
    shipped = yaml.safe_load((REPO / "dagster.yaml").read_text())
    postgres = yaml.safe_load((REPO / "dagster.postgres.yaml").read_text())
    assert set(postgres.pop("storage")) == {"postgres"}
    assert postgres == shipped
