"""The one way the harness writes a file that others read: atomically.

A reader (a report rebuilt while a run is writing, a crash mid-write) never sees half a
file: the bytes go to a temporary file in the same folder, are flushed to disk, and replace
the target with ``os.replace``, which is atomic only within one filesystem, hence the folder.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any


def _current_umask() -> int:
    # os.umask can only be read by setting it; done once at import, before any threads write.
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


_FILE_MODE = 0o666 & ~_current_umask()


def atomic_write_bytes(path: Path | str, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file and ``os.replace`` (parents created)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        # mkstemp makes the file private (0600); reports are shared, so use the normal mode.
        os.chmod(tmp, _FILE_MODE)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


def atomic_write_text(path: Path | str, text: str) -> None:
    """``atomic_write_bytes`` of UTF-8 text."""
    atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_json(path: Path | str, value: Any, *, indent: int | None = 2, sort_keys: bool = False) -> None:
    """``atomic_write_text`` of ``json.dumps(value)`` plus a final newline; NaN is refused,
    because it is not JSON and other readers would choke on it."""
    text = json.dumps(value, indent=indent, sort_keys=sort_keys, ensure_ascii=False, allow_nan=False)
    atomic_write_text(path, text + "\n")


def write_table_files(directory: Path | str, stem: str, frame: Any, shown: Any, heading: str, notes: list[str],
                      text_columns: tuple[str, ...]) -> None:
    """``<stem>.csv`` (every column of ``frame``) and ``<stem>.md`` (``heading``, one paragraph per
    note, then ``shown`` as a Markdown table with the columns outside ``text_columns`` right-aligned):
    the two files each benchmark suite writes beside a run's report."""
    from .formatting import markdown_frame

    directory = Path(directory)
    atomic_write_text(directory / f"{stem}.csv", frame.to_csv(index=False))
    table = markdown_frame(shown, right_aligned=[c for c in shown.columns if c not in text_columns], number_format=".4g")
    parts = [f"# {heading}", *notes, table]
    atomic_write_text(directory / f"{stem}.md", "\n\n".join(parts) + "\n")
