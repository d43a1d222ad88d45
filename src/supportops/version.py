"""The package version, in a module of its own so that rooms need not import the package root;
and the version of the code itself, which a trained model records so that it can be rebuilt."""

from __future__ import annotations

import hashlib
import subprocess
from pathlib import Path
from typing import Any

__version__ = "0.1.0"

_PACKAGE = Path(__file__).resolve().parent


def _git(*args: str) -> str | None:
    """``git args`` run on this package's own folder; None outside a checkout (an installed
    wheel) or without git."""
    try:
        done = subprocess.run(["git", *args], capture_output=True, text=True, timeout=10,
                              cwd=_PACKAGE, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout if done.returncode == 0 else None


def code_state() -> dict[str, Any]:
    """``{"version", "commit", "dirty", "changes"}`` of the code that runs now.

    Why the dirty flag: a commit names the code only when nothing in the package differs
    from it. Uncommitted edits (and new files) under the package folder make it ``dirty``,
    and ``changes`` is a short digest of them (the diff and the new files' bytes), so two
    runs on the same edits can be told from two runs on different ones. Outside a git
    checkout: the package version, not dirty (an installed package is what it says)."""
    commit = (_git("rev-parse", "--short=12", "HEAD") or "").strip()
    if not commit:
        return {"version": __version__, "commit": None, "dirty": False, "changes": None}
    status = _git("status", "--porcelain", "--untracked-files=all", "--", ".") or ""
    dirty = bool(status.strip())
    return {"version": __version__, "commit": commit, "dirty": dirty,
            "changes": _changes_digest() if dirty else None}


def _changes_digest() -> str:
    """Digest of the package's uncommitted diff and of its untracked files' names and bytes."""
    h = hashlib.sha256((_git("diff", "HEAD", "--", ".") or "").encode())
    untracked = (_git("ls-files", "--others", "--exclude-standard", "--", ".") or "")
    for name in sorted(untracked.splitlines()):
        path = _PACKAGE / name  # ls-files names paths from the folder it runs in
        h.update(name.encode() + b"\0")
        if path.is_file():
            h.update(path.read_bytes())
    return h.hexdigest()[:12]


def code_version() -> str:
    """``0.1.0+<commit>``, with ``.dirty-<changes>`` when the package has uncommitted edits;
    the package version alone outside a git checkout."""
    state = code_state()
    if state["commit"] is None:
        return str(state["version"])
    suffix = f".dirty-{state['changes']}" if state["dirty"] else ""
    return f"{state['version']}+{state['commit']}{suffix}"
