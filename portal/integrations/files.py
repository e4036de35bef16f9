"""Atomic file writes for the data-plane export."""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path

MANIFEST = "MANIFEST.sha256"


def write_tree(root: Path, files: dict[str, str], modes: dict[str, int] | None = None) -> list[str]:
    """Write files that changed (temp file + rename), remove stale ones, rewrite the manifest.

    `modes`: a file's permissions (default 0644); a private file (0600) is never readable by others, not even
    for a moment: its temporary file is made 0600 and renamed into place. An unchanged file with the wrong
    mode gets its mode back. Returns the names written or removed."""
    root.mkdir(parents=True, exist_ok=True)
    changed = []
    for name, content in files.items():
        target = root / name
        data = content.encode()
        mode = (modes or {}).get(name, 0o644)
        if target.exists() and target.read_bytes() == data:
            if target.stat().st_mode & 0o777 != mode:
                os.chmod(target, mode)
                changed.append(name)
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".tmp-")  # made 0600
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, target)
        changed.append(name)
    manifest_path = root / MANIFEST
    previous = set()
    if manifest_path.exists():
        previous = {line.split("  ", 1)[1] for line in manifest_path.read_text().splitlines() if "  " in line}
    for stale in sorted(previous - set(files)):
        (root / stale).unlink(missing_ok=True)
        changed.append(stale)
    manifest = "".join(f"{hashlib.sha256(files[n].encode()).hexdigest()}  {n}\n" for n in sorted(files))
    if changed or not manifest_path.exists():
        fd, tmp = tempfile.mkstemp(dir=root, prefix=".tmp-")
        with os.fdopen(fd, "w") as fh:
            fh.write(manifest)
        os.chmod(tmp, 0o644)
        os.replace(tmp, manifest_path)
    return changed
