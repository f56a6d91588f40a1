"""Content-addressed store of uploaded media blobs, kept in the data directory.

Blobs are addressed by SHA-256 of their original bytes, so the same upload ingested
twice is stored once. Only the original (encoded) bytes are ever written; decoded
pixels live in memory only.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from reviewer.errors import MediaMissing


class MediaStore:
    def __init__(self, root: Path) -> None:
        self.root = root
        root.mkdir(parents=True, exist_ok=True)

    def _path(self, sha256: str) -> Path:
        if len(sha256) != 64 or any(c not in "0123456789abcdef" for c in sha256):
            raise ValueError(f"not a SHA-256 hex digest: {sha256!r}")
        return self.root / sha256[:2] / sha256

    def put(self, data: bytes) -> str:
        """Store `data`; returns its SHA-256. Idempotent."""
        sha = hashlib.sha256(data).hexdigest()
        path = self._path(sha)
        if path.exists():
            return sha
        path.parent.mkdir(parents=True, exist_ok=True)
        part = path.with_suffix(".part")
        with open(part, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(part, path)  # readers never see half a blob
        return sha

    def get(self, sha256: str) -> bytes:
        try:
            return self._path(sha256).read_bytes()
        except FileNotFoundError as exc:
            raise MediaMissing(f"media {sha256[:12]}… is missing from the media store") from exc

    def has(self, sha256: str) -> bool:
        return self._path(sha256).exists()
