"""`make run` gives mail links the address it serves on (PORTAL_URL follows HOST and PORT)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def run_make(tmp_path, *args, env=None):
    """`make run` with stand-ins for flask and honcho that print the PORTAL_URL they get."""
    venv = tmp_path / "venv"
    (venv / "bin").mkdir(parents=True)
    for name in ("python", "flask", "honcho"):
        script = venv / "bin" / name
        script.write_text('#!/bin/sh\necho "PORTAL_URL=$PORTAL_URL"\n')
        script.chmod(0o755)
    (venv / ".installed").touch()  # newer than requirements.txt: nothing to install
    environment = {k: v for k, v in os.environ.items() if k not in ("PORTAL_URL", "MAIL_SERVER")}
    environment.update(env or {})
    result = subprocess.run(["make", "--no-print-directory", "-C", str(ROOT), "run",
                             f"VENV={venv}", *args],
                            env=environment, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    return {line for line in result.stdout.splitlines() if line.startswith("PORTAL_URL=")}


pytestmark = pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")


def test_portal_url_follows_host_and_port(tmp_path):
    assert run_make(tmp_path, "PORT=8123", "HOST=0.0.0.0") == {"PORTAL_URL=http://0.0.0.0:8123"}


def test_portal_url_defaults_to_the_served_address(tmp_path):
    assert run_make(tmp_path) == {"PORTAL_URL=http://127.0.0.1:8000"}


def test_a_portal_url_already_set_is_kept(tmp_path):
    assert run_make(tmp_path, "PORT=8123", env={"PORTAL_URL": "https://portale.studio.it"}) == {
        "PORTAL_URL=https://portale.studio.it"}
