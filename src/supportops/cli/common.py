"""Options shared by every command, output helpers, and the one-line error policy."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any

import orjson
import typer

from supportops.errors import SupportopsError
from supportops.events.ingest import unexpected
from supportops.workspace import Tenant, Workspace

WorkspaceOpt = Annotated[
    Path | None,
    typer.Option("--workspace", "-w", envvar="SUPPORTOPS_WORKSPACE",
                 help="Workspace folder [default: ./supportops-workspace]."),
]
TenantOpt = Annotated[
    str, typer.Option("--tenant", "-t", envvar="SUPPORTOPS_TENANT",
                      help="Tenant id (create it first with 'supportops tenants create').")
]
AsOpt = Annotated[
    str | None,
    typer.Option("--as", help="Act as this named principal of the tenant (default: the owner)."),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON.")]
ModelArg = Annotated[str, typer.Argument(help="Model name.")]


def open_workspace(workspace: Path | None) -> Workspace:
    """The existing workspace with the optional rooms wired in (``supportops init`` makes it)."""
    return Workspace.open(workspace)


def open_tenant(workspace: Path | None, tenant: str, principal: str | None = None) -> Tenant:
    """A handle on an existing tenant: nothing is created on the way (a missing workspace or
    tenant is one line saying how to create it), so a typo never makes a new tenant."""
    return open_workspace(workspace).tenant(tenant, principal=principal)


@contextlib.contextmanager
def one_line_errors(what: str) -> Iterator[None]:
    """Turn an error nobody foresaw into one line (exit 2 through the CLI's error policy):
    its kind and first line only, never a traceback, an SQL statement or a payload."""
    try:
        yield
    except (SupportopsError, typer.Exit, typer.Abort, KeyboardInterrupt):
        raise
    except Exception as err:
        raise SupportopsError(f"{what} stopped: {unexpected(err)}. What was committed before "
                              "is kept; run it again to go on (records already stored are "
                              "counted as duplicates).") from None


def to_json(data: Any) -> bytes:
    return orjson.dumps(data, default=str, option=orjson.OPT_NON_STR_KEYS)


def emit_json(data: Any) -> None:
    sys.stdout.buffer.write(to_json(data) + b"\n")
    sys.stdout.flush()


def emit_jsonl(data: Any) -> None:
    """One line of a JSON Lines stream (flushed by the caller, for speed)."""
    sys.stdout.buffer.write(to_json(data) + b"\n")
