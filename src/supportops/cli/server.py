"""``supportops serve`` (the REST API and console on uvicorn) and ``supportops admin-key``."""

from __future__ import annotations

from typing import Annotated

import typer

from supportops.cli.common import JsonOpt, WorkspaceOpt, open_workspace
from supportops.cli.output import console, show


def serve_command(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="TCP port.")] = 8000,
    workspace: WorkspaceOpt = None,
    access_log: Annotated[bool, typer.Option(
        "--access-log/--no-access-log",
        help="Log one line per request (off by default: at hundreds of requests per second "
             "the log line costs more than a triage answer's HTTP handling).")] = False,
) -> None:
    """Serve the REST API (/v1, /openapi.json) and the web console; Ctrl-C stops it.

    Example: supportops serve --host 127.0.0.1 --port 8000 --workspace ./supportops-workspace
    """
    import uvicorn

    from supportops.api import create_app

    ws = open_workspace(workspace)
    console.print(f"Serving {ws.path} on http://{host}:{port} (API under /v1, docs at /docs).")
    uvicorn.run(create_app(ws), host=host, port=port,
                log_level="info" if access_log else "warning", access_log=access_log)


def admin_key_command(workspace: WorkspaceOpt = None, as_json: JsonOpt = False) -> None:
    """Create a workspace-admin key (shown once): it may create and list tenants through the
    API (/v1/tenants) and nothing inside a tenant.

    Example: supportops admin-key --workspace ./supportops-workspace --json
    """
    key = open_workspace(workspace).create_admin_key()
    show({"admin_key": key}, as_json, lambda r: f"Workspace-admin key (shown once): {key}")


def register(app: typer.Typer) -> None:
    app.command("serve")(serve_command)
    app.command("admin-key")(admin_key_command)
