"""An earlier release of the product, run from its own sources (git history), for upgrade
tests: what it wrote is what a user's workspace holds when they upgrade."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
EXE = str(Path(sys.executable).with_name("supportops"))


def release_sources(commit: str, root: Path) -> Path:
    """The release's ``src`` (skips when the git history is not at hand)."""
    if shutil.which("git") is None or not (REPO / ".git").exists():
        pytest.skip("git history is unavailable: the release cannot be checked out")
    archive = subprocess.run(["git", "-C", str(REPO), "archive", commit, "src"],
                             capture_output=True, timeout=120)
    if archive.returncode != 0:
        pytest.skip(f"commit {commit} is not in this checkout's history")
    root.mkdir(parents=True)
    subprocess.run(["tar", "-x", "-C", str(root)], input=archive.stdout, check=True)
    return root / "src"


def release_cli(src: Path, ws: Path, url: str | None, *args: str) -> str:
    """Run the release's CLI on workspace ``ws`` (database ``url`` when given)."""
    env = {**os.environ, "PYTHONPATH": str(src), "SUPPORTOPS_WORKSPACE": str(ws)}
    for name in ("SUPPORTOPS_TENANT", "SUPPORTOPS_DATABASE_URL"):
        env.pop(name, None)
    if url:
        env["SUPPORTOPS_DATABASE_URL"] = url
    done = subprocess.run([EXE, *args], capture_output=True, text=True, env=env, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout
