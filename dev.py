#!/usr/bin/env python3
"""Bootstrap and run knooppunt on a fresh machine that has only Python 3.11, pip and apt.

    python3 dev.py demo     # install, then run the full pipeline on the embedded demo municipality
    python3 dev.py test     # install (incl. Debian's chromium and postgresql for the tests), lint, test
    python3 dev.py dagster  # install, then `dagster dev` on the demo (asset graph in the browser)

Installs into ./.venv with the pinned lock file (requirements.lock). Idempotent: a second call
only re-installs when pyproject.toml or requirements.lock changed.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / "bin"
STAMP = VENV / ".installed"
CHROMIUM = Path("/usr/bin/chromium")


def sh(*cmd: str | Path, env: dict | None = None) -> None:
    print("+", " ".join(str(c) for c in cmd), flush=True)
    subprocess.run([str(c) for c in cmd], check=True, cwd=ROOT, env=env)


def install() -> None:
    if sys.version_info[:2] != (3, 11):
        sys.exit(f"knooppunt needs Python 3.11 (this is {sys.version.split()[0]})")
    wanted = hashlib.sha256(
        (ROOT / "pyproject.toml").read_bytes() + (ROOT / "requirements.lock").read_bytes()
    ).hexdigest()
    if STAMP.exists() and STAMP.read_text() == wanted:
        return
    if not (BIN / "python").exists():
        sh(sys.executable, "-m", "venv", VENV)
    sh(BIN / "python", "-m", "pip", "install", "-q", "--upgrade", "pip")
    sh(BIN / "pip", "install", "-q", "-c", "requirements.lock", "-e", ".[dev]")
    STAMP.write_text(wanted)


def install_chromium() -> None:
    """Debian's chromium for the real-browser tests (no browser download is possible)."""
    if CHROMIUM.exists():
        return
    sudo = [] if os.geteuid() == 0 else ["sudo"]
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    sh(*sudo, "apt-get", "update", "-qq", env=env)
    sh(*sudo, "apt-get", "install", "-y", "-qq", "chromium", env=env)


def install_postgresql() -> None:
    """Debian's PostgreSQL server for the Dagster-instance tests (they start their own, as `postgres`)."""
    if list(Path("/usr/lib/postgresql").glob("*/bin/initdb")):
        return
    sudo = [] if os.geteuid() == 0 else ["sudo"]
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    sh(*sudo, "apt-get", "update", "-qq", env=env)
    sh(*sudo, "apt-get", "install", "-y", "-qq", "postgresql", env=env)


def main(argv: list[str]) -> None:
    task = argv[1] if len(argv) > 1 else ""
    if task == "demo":
        install()
        sh(BIN / "knooppunt", "run", *argv[2:])
    elif task == "test":
        install()
        install_chromium()
        install_postgresql()
        sh(BIN / "ruff", "check", ".")
        sh(BIN / "ruff", "format", "--check", ".")
        sh(BIN / "pytest", *argv[2:])
    elif task == "dagster":
        install()
        if not (ROOT / "demo-data" / "manifest.json").exists():
            sh(BIN / "knooppunt", "generate", "--out", "demo-data")
        os.environ.setdefault("DAGSTER_HOME", str(ROOT / ".dagster"))
        Path(os.environ["DAGSTER_HOME"]).mkdir(exist_ok=True)
        instance = Path(os.environ["DAGSTER_HOME"]) / "dagster.yaml"
        if not instance.exists():  # the run queue: one run per warehouse at a time
            instance.write_bytes((ROOT / "dagster.yaml").read_bytes())
        sh(BIN / "dagster", "dev", "-w", "workspace.yaml")
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main(sys.argv)
