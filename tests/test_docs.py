"""Docs checked by tests: every setting documented, the public API as promised, and every
command of the README's console blocks run, in order, on a fresh workspace.

A README command is a line starting with ``$ `` in a ```` ```console ```` block. Each
``supportops`` command must use only flags its ``--help`` lists and must exit 0 when run on the
small files of :mod:`tests.docs_fixtures`, generated under the names the README gives (its
data set files included), with ``--encoder none`` added where the command takes it and the
placeholders of :data:`PATHS` and :data:`CAPTURED` filled in. Commands that serve or call
``make`` are named in :data:`HELP_ONLY` and only checked against their ``--help``.
"""

from __future__ import annotations

import functools
import os
import re
import shlex
import subprocess
import sys
import tempfile
import time
import traceback
from pathlib import Path
from typing import Any

import orjson
import pytest
import typer
from typer.testing import CliRunner

import supportops
from supportops.cli.main import app
from supportops.settings import SETTINGS
from tests.docs_fixtures import write_all

README = (Path(__file__).resolve().parents[1] / "README.md").read_text()
BIN = Path(sys.executable).parent  # where the venv's programs are (mlflow)
ENCODERS = Path(tempfile.gettempdir()) / "supportops-test-encoders"  # shared with tests/assist

#: Commands not run, by how they start, and why; their flags are still checked.
HELP_ONLY = {
    "make demo": "calls make; serves the console until Ctrl-C",
    "make test": "calls make; runs the whole suite",
    "mlflow ui": "serves MLflow's UI until Ctrl-C",
    "supportops serve": "serves the API until Ctrl-C",
}
#: Placeholders of the README and what stands in for them: a path, or a field of the JSON
#: that the first command starting with the given words printed.
PATHS = {"/elsewhere/": "elsewhere/"}  # an anchor kept outside the workspace
CAPTURED = {"SNAPSHOT_ID": ("supportops datasets create", "id"),
            "ANSWER_ID": ("supportops assist answer", "answer_id")}
SHELL = ("echo ",)  # plain shell lines the README shows, run as written
INSTALLED = ".venv/bin/"  # commands written so run the installed program, the rest in process


def test_every_setting_is_documented() -> None:
    missing = [s.env for s in SETTINGS if f"`{s.env}`" not in README]
    assert not missing


def test_exported_members() -> None:
    assert set(supportops.__all__) >= {"Workspace", "Tenant", "SupportopsError", "NotFound",
                                       "PermissionDenied", "ValidationFailed", "IngestError"}
    for name in supportops.__all__:
        assert getattr(supportops, name).__module__.startswith("supportops")


def readme_commands(text: str = README) -> list[str]:
    """The ``$ `` lines of the console blocks, in order."""
    blocks = re.findall(r"^```console\n(.*?)^```", text, flags=re.S | re.M)
    return [line[2:] for block in blocks for line in block.splitlines() if line.startswith("$ ")]


def _plain(line: str) -> str:
    """The command without the folder of the installed program."""
    return line.removeprefix(INSTALLED)


def _words(line: str) -> list[str]:
    return shlex.split(_plain(line), comments=True)


def _flags(words: list[str]) -> set[str]:
    return {w.split("=", 1)[0] for w in words if w.startswith("-") and len(w) > 1}


def _supportops_path(words: list[str]) -> list[str]:
    """The subcommand words of a ``supportops`` command line (``['privacy', 'erase']``)."""
    command: Any = typer.main.get_command(app)
    path: list[str] = []
    for word in words[1:]:
        children = getattr(command, "commands", None)
        if not children:
            break
        assert word in children, f"{' '.join(words)!r}: no command {' '.join([*path, word])!r}"
        command, path = children[word], [*path, word]
    assert not getattr(command, "commands", None), f"{' '.join(words)!r} names a group"
    return path


def _help(words: list[str]) -> str:
    """The options part of the command's ``--help``."""
    if words[0] == "supportops":
        return _supportops_help(tuple(_supportops_path(words)))
    if words[0] in ("make", "echo"):
        return ""  # make's targets and echo take no flags here
    subcommand = [w for w in words[1:] if not w.startswith("-")][:1]
    return _program_help(words[0], tuple(subcommand))


@functools.cache
def _supportops_help(path: tuple[str, ...]) -> str:
    result = CliRunner().invoke(app, [*path, "--help"], terminal_width=200)
    assert result.exit_code == 0, result.output
    return result.output.split("─ Options", 1)[-1]


@functools.cache
def _program_help(program: str, subcommand: tuple[str, ...]) -> str:
    done = subprocess.run([str(BIN / program), *subcommand, "--help"], capture_output=True,
                          text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    return done.stdout.split("\nOptions:", 1)[-1]


def _unlisted_flags(line: str) -> set[str]:
    words = _words(line)
    listed = set(re.findall(r"(?<![\w-])(--?[A-Za-z][\w-]*)", _help(words)))
    return _flags(words) - listed


def _prepared(line: str, values: dict[str, str]) -> list[str]:
    """The command's words with stand-ins in, and no sentence encoder to load."""
    for placeholder, value in {**PATHS, **values}.items():
        line = line.replace(placeholder, value)
    words = _words(line)
    if "--encoder" in _help(words) and "--encoder" not in words:
        words.append("--encoder=none")
    return words


def _capture(line: str, stdout: str, values: dict[str, str]) -> None:
    for placeholder, (start, field) in CAPTURED.items():
        if _plain(line).startswith(start) and placeholder not in values:
            values[placeholder] = str(orjson.loads(stdout.splitlines()[0])[field])


def _run(line: str, values: dict[str, str]) -> None:
    """One command: a shell line through bash, ``.venv/bin/supportops`` as the installed
    program, ``supportops`` in this process (the Typer app the program runs, without paying
    its start-up and imports for each of some fifty commands)."""
    if line.startswith((INSTALLED, *SHELL)):
        command = line if line.startswith(SHELL) else shlex.join(
            [str(BIN / "supportops"), *_prepared(line, values)[1:]])
        done = subprocess.run(["bash", "-c", command], capture_output=True, text=True,
                              timeout=120, check=False)
        assert done.returncode == 0, f"$ {line}\nexit {done.returncode}\n{done.stderr}"
        _capture(line, done.stdout, values)
        return
    result = CliRunner().invoke(app, _prepared(line, values)[1:], terminal_width=200)
    trace = "".join(traceback.format_exception(result.exception)) if result.exception else ""
    assert result.exit_code == 0, (f"$ {line}\nexit {result.exit_code}: {result.exception!r}\n"
                                   f"{result.output}{trace}")
    _capture(line, result.stdout, values)


def _runs(line: str) -> bool:
    """Whether the test runs ``line`` (else it is one of :data:`HELP_ONLY`)."""
    if any(_plain(line).startswith(start) for start in HELP_ONLY):
        return False
    assert _plain(line).startswith(("supportops ", *SHELL)), f"not supportops: {line!r}"
    return True


def test_readme_commands_use_only_flags_their_help_lists() -> None:
    lines = readme_commands()
    wrong = {line: flags for line in lines if (flags := _unlisted_flags(line))}
    assert not wrong
    # the tables of this test name only what the README still says
    assert all(any(_plain(line).startswith(start) for line in lines) for start in HELP_ONLY)
    assert all(any(key in line for line in lines) for key in [*PATHS, *CAPTURED])


def test_readme_commands_run_on_a_fresh_workspace(tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """Every command, in README order (each section builds on the ones before it), in a
    folder holding the files they name; the workspace is the default ./supportops-workspace."""
    write_all(tmp_path)
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.chdir(tmp_path)
    for name in [n for n in os.environ if n.startswith("SUPPORTOPS_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("SUPPORTOPS_ENCODER_CACHE", str(ENCODERS))
    values: dict[str, str] = {}
    timings = []
    for line in filter(_runs, readme_commands()):
        started = time.monotonic(), time.process_time()
        _run(line, values)
        timings.append((time.monotonic() - started[0], time.process_time() - started[1], line))
    assert len(timings) >= 40 and set(values) == set(CAPTURED)
    print(f"{len(timings)} commands: {sum(t[0] for t in timings):.1f} s, "
          f"{sum(t[1] for t in timings):.1f} CPU-s; slowest:\n" + "\n".join(
              f"{wall:6.1f} s {cpu:6.1f} CPU-s  {line[:70]}"
              for wall, cpu, line in sorted(timings)[-12:]))


def test_the_readme_reader_sees_what_a_reader_sees() -> None:
    """Lines outside console blocks, output lines and comments are not commands."""
    text = ("```console\n$ .venv/bin/supportops init  # here\n{\"ok\": 1}\n```\n"
            "```\n$ supportops hidden\n```\n```python\n$ not this\n```\n")
    assert readme_commands(text) == [".venv/bin/supportops init  # here"]
    assert _words(".venv/bin/supportops init  # here") == ["supportops", "init"]
    assert _unlisted_flags("supportops tickets list --tenant a --status x --nope 1") == {"--nope"}
    assert _unlisted_flags("supportops privacy retention set --message-body-days 1") == {
        "--message-body-days"}
    with pytest.raises(AssertionError, match="no command 'tickets lost'"):
        _supportops_path(["supportops", "tickets", "lost"])
