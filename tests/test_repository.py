"""The repository itself: nothing machine-local is tracked."""

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.skipif(not (ROOT / ".git").exists() or not shutil.which("git"), reason="not a git checkout")
def test_the_virtualenv_is_never_tracked():
    # A tracked .venv (say, the symlink a worktree uses to share one) makes every
    # checkout of that commit delete the real virtualenv.
    tracked = subprocess.run(["git", "ls-files", "--", ".venv", "instance"], cwd=ROOT,
                             capture_output=True, text=True, check=True).stdout.split()
    assert tracked == []
