"""A finished stage folder for tests: a valid manifest with the fields a test cares about."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from warmray.manifest import KeyParts, Manifest, write_manifest


def finish_stage(folder: Path, **fields: Any) -> Path:
    """Mark `folder` a finished stage: its manifest holds `fields` over neutral defaults."""
    folder.mkdir(parents=True, exist_ok=True)
    defaults: dict[str, Any] = {
        "stage": folder.name,
        "key": "key",
        "key_parts": KeyParts(config="config", inputs={}),
        "output_id": f"{folder.name}-1",
        "config_sections": {},
        "started": "2026-12-07T00:00:00",
        "seconds": 1.0,
    }
    write_manifest(folder, Manifest(**(defaults | fields)))
    return folder
