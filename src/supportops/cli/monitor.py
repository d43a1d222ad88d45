"""CLI of monitoring and the feedback loop: triage feedback, monitor report / status / run."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console

from supportops.cli.common import AsOpt, JsonOpt, WorkspaceOpt, emit_json, open_tenant
from supportops.cli.ml import MlTenantOpt

triage_app = typer.Typer(help="Triage: agents' feedback on predictions.", no_args_is_help=True)
console = Console()


@triage_app.command("feedback")
def triage_feedback(
    ticket_id: Annotated[str, typer.Argument(help="The stored ticket the prediction was for.")],
    final: Annotated[str, typer.Option("--final", help="The label the agent decided.")],
    name: Annotated[str, typer.Option("--name", "-n", help="Model name.")] = "triage",
    predicted: Annotated[str | None, typer.Option(help="The label the model predicted.")] = None,
    version: Annotated[str | None, typer.Option(
        help="The model version that predicted it [default: the champion].")] = None,
    action: Annotated[str, typer.Option(help="accept or correct.")] = "accept",
    tenant: MlTenantOpt = "default",
    workspace: WorkspaceOpt = None, acting_as: AsOpt = None, as_json: JsonOpt = False,
) -> None:
    """Accept or correct a triage prediction; the final label enters the next snapshot.

    Example: supportops triage feedback T-42 --name intents --predicted refund --final
    card_lost --action correct --tenant acme --json
    """
    result = open_tenant(workspace, tenant, acting_as).triage_feedback(
        ticket_id, name=name, final=final, predicted=predicted, version=version, action=action)
    if as_json:
        emit_json(result)
    else:
        console.print(f"Ticket {ticket_id}: {action} -> {result['final']} "
                      f"({name} version {result['version']}).")


def register(app: typer.Typer) -> None:
    """Add this room's commands to the main app."""
    app.add_typer(triage_app, name="triage")
