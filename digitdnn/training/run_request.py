"""A run as a page asks a training worker for it: who asks, what to train (TrainConfig) on what (RunData), as JSON.

`from_json` reads it back on the worker checked like anything from the wire (a value in Redis may be forged):
exactly the known keys, each of its type and within its limits, the config through TrainConfig's own checks;
anything else is a ValueError with a plain sentence. Never pickled.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from digitdnn.config import TrainConfig
from digitdnn.training.history import MAX_SECONDS, checked_float, checked_keys, checked_text, parsed_json
from digitdnn.training.run_data import RunData

VERSION = 1                      # of the JSON layout ("v")
MAX_REQUEST_BYTES = 256 * 1024   # a request with MAX_HELD_TABS held tabs of the longest names fits
MAX_NAME_CHARS = 120             # "Run 3 (+ pen digits) (+1234 class drawings)"
MAX_SESSION_CHARS = 64           # a Streamlit session id is 36
RUN_ID = re.compile(r"[0-9a-f]{32}")  # uuid4().hex
_KEYS = ["v", "run", "name", "session", "config", "data", "warm_start", "max_seconds"]


@dataclass(frozen=True)
class RunRequest:
    """One run asked for: its id (32 hex digits, uuid4().hex), its name on the page, the page session asking, what
    it trains, whether it starts from given weights (stored beside the request), and how long it may train."""

    run: str
    name: str
    session: str
    config: TrainConfig
    data: RunData
    warm_start: bool
    max_seconds: float

    def to_json(self) -> str:
        """The request as JSON; ValueError if it is more than from_json reads (MAX_REQUEST_BYTES)."""
        text = json.dumps({"v": VERSION, "run": self.run, "name": self.name, "session": self.session,
                           "config": self.config.to_dict(), "data": self.data.to_dict(),
                           "warm_start": self.warm_start, "max_seconds": self.max_seconds}, allow_nan=False)
        if len(text) > MAX_REQUEST_BYTES:
            raise ValueError("the run's request is too large to send to a training worker")
        return text

    @classmethod
    def from_json(cls, text: str | bytes) -> RunRequest:
        """The request `text` holds, checked; ValueError with a plain sentence if anything about it is wrong."""
        d = parsed_json(text, MAX_REQUEST_BYTES, "a run's request")
        checked_keys(d, _KEYS, "a run's request")
        if type(d["v"]) is not int or d["v"] != VERSION:
            raise ValueError(f"a run's request must be of version {VERSION}")
        run = d["run"]
        if not isinstance(run, str) or not RUN_ID.fullmatch(run):
            raise ValueError("a run's id must be 32 hexadecimal digits")
        if not isinstance(d["warm_start"], bool):
            raise ValueError("warm_start must be true or false")
        max_seconds = checked_float(d["max_seconds"], "max_seconds", 0.0, MAX_SECONDS)
        if max_seconds <= 0:
            raise ValueError("max_seconds must be a positive number")
        return cls(run, checked_text(d["name"], "a run's name", MAX_NAME_CHARS),
                   checked_text(d["session"], "a run's session", MAX_SESSION_CHARS), _config(d["config"]),
                   RunData.from_dict(d["data"]), d["warm_start"], max_seconds)


def _config(d: Any) -> TrainConfig:
    """TrainConfig.from_dict(d), its own checks; any failure as a ValueError."""
    if not isinstance(d, dict):
        raise ValueError("a run's config must be a JSON object")
    try:
        return TrainConfig.from_dict(d)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"a run's config is not valid: {exc}") from None
