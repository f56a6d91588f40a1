"""Where the workstation keeps its data, and which database it talks to."""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs

APP_NAME = "reviewer"


def data_dir() -> Path:
    """`REVIEWER_DATA_DIR` if set, else the platform's user data directory."""
    override = os.environ.get("REVIEWER_DATA_DIR")
    path = Path(override) if override else Path(platformdirs.user_data_dir(APP_NAME, False))
    path.mkdir(parents=True, exist_ok=True)
    return path


def database_url(cli_value: str | None = None) -> str:
    """`--db`, then `REVIEWER_DB`, then the embedded SQLite file in the data directory."""
    if cli_value:
        return cli_value
    env = os.environ.get("REVIEWER_DB")
    if env:
        return env
    return f"sqlite:///{data_dir() / 'reviewer.db'}"


def media_dir() -> Path:
    return data_dir() / "media"
