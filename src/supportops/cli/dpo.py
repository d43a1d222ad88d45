"""What a data-protection officer also asks for: ``privacy export`` and ``keys rotate``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from supportops.cli.common import AsOpt, JsonOpt, TenantOpt, WorkspaceOpt, open_tenant, open_workspace
from supportops.cli.output import show
from supportops.cli.privacy import privacy_app

keys_app = typer.Typer(help="Key management: rotation.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.add_typer(keys_app, name="keys")


@privacy_app.command("export")
def privacy_export(
    subject: Annotated[str, typer.Argument(help="Customer id as it appeared in the input.")],
    tenant: TenantOpt,
    out: Annotated[Path, typer.Option("--out", "-o", help="JSON file to write (mode 0600).")],
    workspace: WorkspaceOpt = None, acting_as: AsOpt = None, as_json: JsonOpt = False,
) -> None:
    """Export everything held about a subject, originals revealed (agent, privacy_officer;
    audited).

    Example: supportops privacy export CUST-42 --tenant acme --as dpo --out cust-42.json
    """
    summary = open_tenant(workspace, tenant, acting_as).privacy.export(subject, out)
    show(summary, as_json, lambda s: f"Exported {s['events']} events and {s['tickets']} tickets "
         f"of {s['subject']} to {s['out']}.")


@keys_app.command("rotate")
def keys_rotate(
    master: Annotated[bool, typer.Option("--master", help="Rotate the master key.")] = False,
    tenant: Annotated[str | None, typer.Option(
        "--tenant", "-t", help="Rotate this tenant's key.")] = None,
    workspace: WorkspaceOpt = None, acting_as: AsOpt = None, as_json: JsonOpt = False,
) -> None:
    """Re-wrap every tenant key under a new master key (--master), or every subject key of
    one tenant under a fresh tenant key (--tenant T); content is not re-encrypted (audited).

    Example: supportops keys rotate --master; supportops keys rotate --tenant acme
    """
    if master == (tenant is not None):
        raise typer.BadParameter("say what to rotate: --master or --tenant T (one of them)",
                                 param_hint="--master / --tenant")
    if tenant is not None:
        done = open_tenant(workspace, tenant, acting_as).privacy.rotate_key()
        show(done, as_json, lambda r: f"Tenant key of {tenant} rotated: "
             f"{r['subject_keys_rewrapped']} subject key(s) re-wrapped.")
        return
    result = open_workspace(workspace).rotate_master_key()
    show(result, as_json, lambda r: f"Master key rotated: {r['rewrapped']} tenant key(s) "
         f"re-wrapped ({r['key_source']}).")
