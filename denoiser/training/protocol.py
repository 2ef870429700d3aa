"""The child's JSON lines, checked before they touch a job's state.

`denoiser.worker` writes one JSON object a line, each with an "event". `read_event` turns a
line into (kind, fields) or raises `ProtocolError` saying what is wrong with it, so the
supervisor can stop a child it cannot understand instead of guessing (or wedging on an
exception halfway through applying it).
"""

from __future__ import annotations

import json
from typing import Any

NUMBER = "number"
INT = "int"
TEXT = "text"
OPTIONAL_TEXT = "text or null"
FLAG = "true or false"
ROWS = "a list of objects"
GREYS = "784 grey levels"

EVENTS: dict[str, dict[str, str]] = {  # event → its fields and their kinds; every field is required
    "started": {"pid": INT},
    "loading": {},
    "progress": {
        "epoch": INT,
        "epochs": INT,
        "step": INT,
        "steps": INT,
        "loss": NUMBER,
        "elapsed": NUMBER,
        "images_seen": INT,
        "history": ROWS,
    },
    "snapshot": {"epoch": NUMBER, "image": GREYS},
    "scoring": {},
    "saving": {"name": TEXT},
    "done": {
        "name": OPTIONAL_TEXT,
        "scores": ROWS,
        "verdict": TEXT,
        "better": FLAG,
        "seconds": NUMBER,
        "images_per_s": NUMBER,
    },
    "failed": {"message": TEXT},
}
FINAL = ("done", "failed")  # the events after which the child only exits


class ProtocolError(ValueError):
    """A line from the child that this server cannot apply; the message says what is wrong."""


def read_event(line: str) -> tuple[str, dict[str, Any]]:
    """One line of the child's output → (event, fields), or ProtocolError."""
    try:
        message = json.loads(line)
    except ValueError:
        raise ProtocolError(f"not JSON: {line[:80]!r}") from None
    if not isinstance(message, dict):
        raise ProtocolError(f"not a JSON object: {line[:80]!r}")
    fields = dict(message)
    kind = fields.pop("event", None)
    if kind not in EVENTS:
        raise ProtocolError(f"unknown event {kind!r}")
    expected = EVENTS[kind]
    if unknown := sorted(set(fields) - set(expected)):
        raise ProtocolError(f"{kind}: unexpected field {unknown[0]!r}")
    for name, wanted in expected.items():
        if name not in fields:
            raise ProtocolError(f"{kind}: field {name!r} is missing")
        if not of_kind(fields[name], wanted):
            raise ProtocolError(f"{kind}: field {name!r} should be {wanted}, got {fields[name]!r:.40}")
    return kind, fields


def of_kind(value: Any, wanted: str) -> bool:
    """True when `value` is what the protocol's `wanted` names."""
    if wanted == INT:
        return isinstance(value, int) and not isinstance(value, bool)
    if wanted == NUMBER:
        return isinstance(value, int | float) and not isinstance(value, bool)
    if wanted == TEXT:
        return isinstance(value, str)
    if wanted == OPTIONAL_TEXT:
        return value is None or isinstance(value, str)
    if wanted == FLAG:
        return isinstance(value, bool)
    if wanted == ROWS:
        return isinstance(value, list) and all(isinstance(row, dict) for row in value)
    if wanted == GREYS:
        return (
            isinstance(value, list)
            and len(value) == 784
            and all(isinstance(v, int) and not isinstance(v, bool) and 0 <= v <= 255 for v in value)
        )
    raise AssertionError(f"no such kind {wanted!r}")
