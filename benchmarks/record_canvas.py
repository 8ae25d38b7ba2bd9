"""Record what the browser sends when a person draws: the canvas's value, stroke by stroke, for the load generator.

    python -m benchmarks.record_canvas [--out tests/data/canvas_session.json.gz]

Starts `streamlit run app.py`, draws the digits 0 to 9 in headless Chromium with the mouse (the browser
tests' writing styles, testkit/strokes.py), one stroke at a time, and presses Clear after each digit.
Chromium's devtools give every websocket frame the page sends; for each stroke (and for the Clear)
the `rerun_script` BackMsg's widget states are kept as the browser sent them: the canvas's value
(its fabric.js strokes and the PNG it rendered) and every other widget's state. Rerun when the canvas
component or the page's widgets change what they send.
"""
from __future__ import annotations

import argparse
import base64
import gzip
import json
import tempfile
import time
from pathlib import Path

import streamlit
from streamlit.proto.BackMsg_pb2 import BackMsg

from testkit import ROOT
from testkit.browser import PREDICTION, clear, draw, launched_chromium, open_page, pause_in, wait_for_text
from testkit.server import served
from testkit.strokes import digit_strokes
from testkit.waiting import wait_until

RECORDING = ROOT / "tests" / "data" / "canvas_session.json.gz"


class SentFrames:
    """The rerun requests a page sends, from Chromium's devtools (Network.webSocketFrameSent)."""

    def __init__(self, page):
        self.reruns: list[BackMsg] = []
        self.session = page.context.new_cdp_session(page)
        self.session.on("Network.webSocketFrameSent", self._on_sent)
        self.session.send("Network.enable")

    def _on_sent(self, event) -> None:
        response = event["response"]
        if response.get("opcode") != 2:
            return
        message = BackMsg()
        message.ParseFromString(base64.b64decode(response["payloadData"]))
        if message.WhichOneof("type") == "rerun_script":
            self.reruns.append(message)

    def next_canvas_rerun(self, page, strokes: int, timeout: float = 30) -> BackMsg:
        """The first rerun request sent since the last call whose canvas value holds `strokes` strokes."""
        def canvas_rerun() -> BackMsg | None:
            while self.reruns:
                message = self.reruns.pop(0)
                if canvas_strokes(message) == strokes:
                    return message
            return None

        return wait_until(canvas_rerun, timeout, interval=0.02, pause=pause_in(page),
                          message=f"a canvas value with {strokes} strokes to be sent")


def canvas_strokes(message: BackMsg) -> int | None:
    """How many strokes the canvas value in a rerun request holds; None without a canvas value."""
    for widget in message.rerun_script.widget_states.widgets:
        if widget.id.endswith("-canvas") and widget.WhichOneof("value") == "json_value":
            return len(json.loads(widget.json_value)["drawing"]["raw"]["objects"])
    return None


def encode(message: BackMsg) -> str:
    return base64.b64encode(message.rerun_script.widget_states.SerializeToString()).decode()


def record(out: Path) -> dict:
    """Draw 0 to 9 in a real page and write the recording (see the module docstring) to `out`."""
    from benchmarks.page import stroke_pattern

    digits = []
    with tempfile.TemporaryDirectory(prefix="digitdnn-record-") as tmp, launched_chromium() as browser, \
            served(Path(tmp)) as url:
        page = open_page(browser, url)
        frames = SentFrames(page)
        for digit in range(10):
            strokes = []
            for count, line in enumerate(digit_strokes(digit), start=1):
                draw(page, [line])
                wait_for_text(page, PREDICTION, stroke_pattern(count))
                strokes.append(encode(frames.next_canvas_rerun(page, count)))
            predicted = wait_for_text(page, PREDICTION, r"Prediction: \d")
            digits.append({"digit": digit, "page_said": predicted.split("Prediction: ")[1][0], "strokes": strokes})
            clear(page)
            cleared = encode(frames.next_canvas_rerun(page, 0))
    recording = {"made_by": "python -m benchmarks.record_canvas", "streamlit": streamlit.__version__,
                 "recorded": time.strftime("%Y-%m-%d"), "digits": digits, "clear": cleared}
    out.parent.mkdir(parents=True, exist_ok=True)
    with gzip.open(out, "wt", encoding="utf-8") as file:
        json.dump(recording, file)
    return recording


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=RECORDING, help=f"where to write it (default {RECORDING})")
    args = parser.parse_args(argv)
    recording = record(args.out)
    strokes = sum(len(d["strokes"]) for d in recording["digits"])
    print(f"recorded {len(recording['digits'])} digits, {strokes} strokes and a Clear: {args.out} "
          f"({args.out.stat().st_size / 1024:.0f} KiB)")


if __name__ == "__main__":
    main()
