"""Turn a source into raw records: file bytes into a JSON tree, a hub id into rows.

Nothing here judges the records; that is ``check`` and ``flatten``. What is judged here
is the container: the archive, the encoding, the JSON syntax, and whether the hub answers.
"""

from __future__ import annotations

import gzip
import io
import json
import logging
import re
import zipfile
from pathlib import Path
from typing import Any

from .errors import DataError

# Named after the package, not this module, so that log filters set up for the single
# qa_models.data module before it became a package still match.
logger = logging.getLogger(__package__)

# A hub id is owner/name; a path that merely does not exist (a typo in data/train.json)
# must not be sent to the hub, hence the extension check.
_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")
# owner/name:split names the split in the id itself, for a spec that needs two splits of
# one dataset (hfl/cmrc2018:test as validation, hfl/cmrc2018:validation as test).
_HUB_ID_WITH_SPLIT = re.compile(r"^(?P<id>[A-Za-z0-9][\w.-]*/[\w.-]+):(?P<split>\w+)$")
_FILE_SUFFIXES = (".json", ".gz", ".zip", ".jsonl")


def _looks_like_hub_id(source: str) -> bool:
    return bool(_HUB_ID.match(source)) and not source.lower().endswith(_FILE_SUFFIXES)


def _decode_file(raw: bytes, path: Path, label: str) -> str:
    """The JSON text of a plain, gzip or zip file, decoded from UTF-8."""
    suffix = path.suffix.lower()
    if suffix == ".gz":
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError) as exc:
            raise DataError.one(label, None, None, "bad_archive", f"not a valid gzip file ({exc})") from exc
    elif suffix == ".zip":
        raw = _read_zip_member(raw, label)
    try:
        # utf-8-sig: a byte-order mark is harmless and some Windows editors add one.
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        detail = f"byte 0x{raw[exc.start]:02x} at offset {exc.start} (line {line}) is not valid UTF-8"
        raise DataError.one(label, f"line {line}, byte {exc.start}", None, "not_utf8", detail) from exc


def _read_zip_member(raw: bytes, label: str) -> bytes:
    """The bytes of the first ``.json`` member (by name) of a zip archive."""
    try:
        with zipfile.ZipFile(io.BytesIO(raw)) as archive:
            # __MACOSX/ holds Finder metadata that also ends in .json; never data.
            names = sorted(
                n
                for n in archive.namelist()
                if n.lower().endswith(".json") and not n.endswith("/") and not n.startswith("__MACOSX/")
            )
            if not names:
                listing = ", ".join(archive.namelist()) or "nothing"
                raise DataError.one(
                    label, None, None, "zip_without_json",
                    f"the zip holds no .json file (it holds {listing})",
                )
            if len(names) > 1:
                logger.warning(
                    "%s holds %d JSON files; reading %s, ignoring %s", label, len(names), names[0], names[1:]
                )
            return archive.read(names[0])
    except zipfile.BadZipFile as exc:
        raise DataError.one(label, None, None, "bad_archive", f"not a valid zip file ({exc})") from exc


def _parse_json(text: str, label: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise DataError.one(
            label, f"line {exc.lineno} column {exc.colno}", None, "bad_json", f"invalid JSON: {exc.msg}"
        ) from exc


def _hub_rows(dataset_id: str, split: str) -> Any:
    """The rows of one split of a hub dataset, or ``DataError`` (``hub_unavailable``)."""
    # datasets takes seconds to import; only a hub load pays for it.
    import datasets

    try:
        return datasets.load_dataset(dataset_id, split=split)
    except Exception as exc:  # offline, unknown id, bad split: all mean "use local files"
        raise DataError.one(
            dataset_id,
            None,
            None,
            "hub_unavailable",
            f"could not load hub dataset {dataset_id!r} (split {split!r}): {type(exc).__name__}: {exc}",
        ) from exc
