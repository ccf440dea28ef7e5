"""The result of the last ``verify`` of a set, recorded beside it (``verify-result.json``).

It lies outside the signed part (the manifest does not name it, so verify and restore never
read it): ``list`` shows it as information, nothing decides on it.
"""
from __future__ import annotations

import json
import os
import time
from typing import Any, Dict, Optional, Tuple

from ...atomic import write_json_atomic
from ...setbox import OutsideTheSet, read_in_set

VERIFY_RESULT = "verify-result.json"
MAX_VERIFY_RESULT_BYTES = 64 << 10


def read_verify_record(set_dir: str) -> Tuple[Optional[Dict[str, Any]], str]:
    """The last ``verify`` of the set as recorded beside it (information only: it is not signed),
    and why a record that is there cannot be read ("" when it reads, or when there is none): a
    FIFO, link or junk planted at the name is named, not shown as "never verified"."""
    path = os.path.join(set_dir, VERIFY_RESULT)
    try:
        os.lstat(path)
    except FileNotFoundError:
        return None, ""
    except OSError as error:
        return None, f"{path}: {error.strerror}"
    try:
        data = json.loads(read_in_set(set_dir, VERIFY_RESULT, MAX_VERIFY_RESULT_BYTES).decode("utf-8"))
    except OutsideTheSet as error:
        return None, str(error)
    except OSError as error:
        return None, f"{path}: {error.strerror}"
    except ValueError:
        return None, f"{path}: not JSON"
    if not isinstance(data, dict) or not isinstance(data.get("ok"), bool):
        return None, f"{path}: not a verify record cnxbackup wrote"
    return {"ok": data["ok"], "at": str(data.get("at", "")), "deep": bool(data.get("deep")),
            "bad": int(data["bad"]) if isinstance(data.get("bad"), int) else None}, ""


def read_verify_result(set_dir: str) -> Optional[Dict[str, Any]]:
    """The last ``verify`` of the set as recorded beside it, or None (none, or unreadable)."""
    return read_verify_record(set_dir)[0]


def record_verify_result(set_dir: str, ok: bool, deep: bool, bad: int) -> Optional[str]:
    """Write the result beside the signed part; a read-only set is not an error (the reason is returned)."""
    try:
        write_json_atomic(os.path.join(set_dir, VERIFY_RESULT),
                          {"ok": ok, "deep": deep, "bad": bad, "at": time.strftime("%Y-%m-%dT%H:%M:%S%z")})
    except OSError as error:
        return f"the verify result was not recorded beside the set ({error})"
    return None
