"""Settings as data: one table of name, type, default, environment variable and help.

Every setting is documented by this table (a test checks the README lists each one).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Setting:
    name: str
    env: str
    default: str | None
    help: str


SETTINGS: tuple[Setting, ...] = (
    Setting("workspace", "SUPPORTOPS_WORKSPACE", "./supportops-workspace",
            "Folder holding the SQLite database, artifacts and config."),
    Setting("database_url", "SUPPORTOPS_DATABASE_URL", None,
            "SQLAlchemy URL of a PostgreSQL server (postgresql+psycopg://...): an admin's for "
            "'supportops init', which records the application's URL in the workspace; "
            "default: SQLite inside the workspace."),
    Setting("database_app_role", "SUPPORTOPS_DATABASE_APP_ROLE", "supportops_app",
            "PostgreSQL role the application logs in as (created by 'supportops init' given "
            "an admin URL): never superuser, so row-level security binds it."),
    Setting("tenant", "SUPPORTOPS_TENANT", None,
            "Default tenant for tenant-scoped CLI commands."),
    Setting("mlflow_tracking_uri", "SUPPORTOPS_MLFLOW_TRACKING_URI", None,
            "MLflow tracking and registry store for every tenant; default: one store per "
            "tenant, mlflow/<tenant>.db inside the workspace (on PostgreSQL the schema "
            "mlflow_<tenant> of the workspace's database)."),
    Setting("encoder_cache", "SUPPORTOPS_ENCODER_CACHE", None,
            "Folder for the sentence encoder's derived files (int8 ONNX export); default: "
            "artifacts/encoders inside the workspace."),
    Setting("llm_base_url", "SUPPORTOPS_LLM_BASE_URL", None,
            "Base URL of an OpenAI-compatible chat-completions endpoint (e.g. "
            "http://127.0.0.1:11434/v1) for drafted answers; default: extractive answers."),
    Setting("llm_model", "SUPPORTOPS_LLM_MODEL", None,
            "Model name sent to SUPPORTOPS_LLM_BASE_URL."),
    Setting("llm_api_key", "SUPPORTOPS_LLM_API_KEY", None,
            "Bearer key for SUPPORTOPS_LLM_BASE_URL, if it needs one."),
    Setting("master_key", "SUPPORTOPS_MASTER_KEY", None,
            "Base64 key that wraps tenant keys; default: the workspace key file (mode 0600)."),
    Setting("webhook_retry_seconds", "SUPPORTOPS_WEBHOOK_RETRY_SECONDS", "2",
            "First wait before a failed webhook delivery is tried again; each later wait "
            "doubles (capped at one hour)."),
    Setting("webhook_max_attempts", "SUPPORTOPS_WEBHOOK_MAX_ATTEMPTS", "6",
            "Attempts per webhook delivery before it is recorded as failed."),
)

_BY_NAME = {s.name: s for s in SETTINGS}


def get(name: str) -> str | None:
    """Value of a setting: its environment variable, else its default."""
    setting = _BY_NAME[name]
    return os.environ.get(setting.env) or setting.default


def workspace_path(explicit: str | Path | None = None) -> Path:
    return Path(explicit or get("workspace") or "./supportops-workspace")
