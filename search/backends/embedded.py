"""Embedded search on tantivy, stored in a local directory."""

from __future__ import annotations

from pathlib import Path

import tantivy


class EmbeddedEngine:
    name = "embedded"

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)

    def ping(self) -> None:
        self.path.mkdir(parents=True, exist_ok=True)
        probe = self.path / ".healthcheck"
        probe.write_bytes(b"ok")
        probe.unlink()
        tantivy.SchemaBuilder()  # the native library loads
