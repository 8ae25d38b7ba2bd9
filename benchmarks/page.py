"""How fast and how big the page is: a real `streamlit run app.py` driven by headless Chromium.

    python -m benchmarks.page [--quick] [--model PATH]

Prints one table with the same columns as `python -m benchmarks.speed` (figure, project,
baseline, ratio, target, pass/fail), every figure measured on one server started here:

- startup: from launching `streamlit run app.py` (the command `make run` runs, on a free port)
  to the browser showing the prediction container's "Draw a digit";
- memory: RSS of the server (the streamlit process and any children, VmRSS from /proc) with
  1 and then 10 browser sessions open (each a page in its own browser context that drew one
  digit; the 9 others opened after the drawings below), and the growth per extra session;
- browser: mouse-up on the canvas to the prediction container naming the drawing with its new
  stroke count, for every stroke of ~20 drawings (one stroke at a time, each waited for, as a
  person drawing at a normal pace); both ends are read in the page (the mouseup event's time,
  and the first animation frame at which the text is there, i.e. about when it is painted);
- server: per rerun caused by a canvas update, the time from the browser sending the rerun
  request (a BackMsg over the websocket) to it receiving the delta that carries the prediction
  text, both read from Chromium's devtools websocket frame timestamps: over localhost, the
  server's part (canvas value decoded, script run up to the prediction, the delta sent), not the
  browser's rendering. The whole rerun (to script_finished: every picture, expander, chart and
  the runs panel) and the prediction caption's own "preprocessing X ms, network Y ms" are in
  the notes.

--quick draws 2 digits and opens 2 sessions instead of 20 and 10 (about half a minute).
Needs Chromium: $DIGITDNN_CHROMIUM or /usr/bin/chromium.
"""
from __future__ import annotations

import argparse
import base64
import os
import re
import tempfile
import time
from pathlib import Path

import numpy as np

from benchmarks.report import Report, Row, format_table
from testkit.browser import CANVAS, PREDICTION, clear, draw, launched_chromium, pause_in, wait_for_text
from testkit.processes import cpu_seconds, process_tree_rss_mb
from testkit.server import running_server
from testkit.strokes import digit_strokes
from testkit.waiting import wait_until

EMPTY = "Draw a digit"
CAPTION = re.compile(r"preprocessing ([\d.]+) ms, network ([\d.]+) ms")
TARGETS = {"browser_ms": 500.0, "server_ms": 100.0, "startup_s": 5.0, "total_mb": 1536.0, "per_session_mb": 20.0,
           "cpu_per_digit_ms": 40.0, "first_vs_later": 1.5}

# Records the time of the latest mouseup anywhere in the page (the canvas is a v2 component: no iframe).
RECORD_MOUSEUP = """() => { if (!window.__digitdnnUp) { window.__digitdnnUp = {t: null};
  document.addEventListener('mouseup', () => { window.__digitdnnUp.t = performance.now(); }, {capture: true}); } }"""
# Resolves (polled on animation frames) with performance.now() once the element's text matches the regex.
TEXT_SHOWN_AT = """([selector, pattern]) => { const e = document.querySelector(selector);
  return e !== null && new RegExp(pattern).test(e.innerText) ? performance.now() : false; }"""


def percentile(values, q: float) -> float:
    return float(np.percentile(np.asarray(values, dtype=float), q))


class RerunTimer:
    """Server time per rerun from devtools websocket frames: rerun_script sent -> script_finished received.

    Frames are kept in order and paired afterwards (devtools events reach Python late, whenever Playwright
    is called); a rerun a button triggered (Clear) is left out, as is any rerun of an empty canvas."""

    def __init__(self, page):
        from streamlit.proto.BackMsg_pb2 import BackMsg
        from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

        self._back, self._forward = BackMsg, ForwardMsg
        self.frames: list[tuple[str, float, bool]] = []   # (kind, devtools timestamp s, a canvas update)
        self.session = page.context.new_cdp_session(page)
        self.session.on("Network.webSocketFrameSent", self._on_sent)
        self.session.on("Network.webSocketFrameReceived", self._on_received)
        self.session.send("Network.enable")

    @staticmethod
    def _payload(event) -> bytes | None:
        response = event["response"]
        return base64.b64decode(response["payloadData"]) if response.get("opcode") == 2 else None

    def _on_sent(self, event):
        payload = self._payload(event)
        if payload is None:
            return
        message = self._back()
        try:
            message.ParseFromString(payload)
        except Exception:  # noqa: BLE001 - not a BackMsg
            return
        if message.WhichOneof("type") != "rerun_script":
            return
        states = message.rerun_script.widget_states.widgets
        triggered = any(w.WhichOneof("value") in ("trigger_value", "string_trigger_value", "json_trigger_value")
                        and getattr(w, w.WhichOneof("value")) for w in states)
        drawn = any('"path"' in (w.json_value if w.WhichOneof("value") == "json_value" else
                                 w.string_value if w.WhichOneof("value") == "string_value" else "")
                    for w in states)
        self.frames.append(("rerun", event["timestamp"], drawn and not triggered))

    def _on_received(self, event):
        payload = self._payload(event)
        if payload is None:
            return
        message = self._forward()
        try:
            message.ParseFromString(payload)
        except Exception:  # noqa: BLE001 - not a ForwardMsg
            return
        if message.WhichOneof("type") == "script_finished":
            self.frames.append(("finished", event["timestamp"], False))
        elif b"Prediction: " in payload:
            self.frames.append(("prediction", event["timestamp"], False))

    def wait_finished(self, page, timeout: float = 30) -> None:
        """Wait until the latest rerun has sent script_finished (the page is idle again)."""
        wait_until(lambda: self.frames and self.frames[-1][0] == "finished", timeout, interval=0.01,
                   pause=pause_in(page), message="script_finished")

    def seconds(self, until: str) -> list[float]:
        """Per canvas-update rerun: its request to its first `until` frame ("prediction": the delta carrying
        the prediction text; "finished": script_finished). A rerun cut short by a newer one is left out."""
        out, pending = [], None
        for kind, stamp, canvas in self.frames:
            if kind == "rerun":
                pending = (stamp, canvas)
            elif kind == until and pending is not None:
                if pending[1]:
                    out.append(stamp - pending[0])
                pending = None
            elif kind == "finished":
                pending = None
        return out


def open_session(browser, url: str):
    """A page in a browser context of its own (a Streamlit session), showing the empty prediction container."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    page.set_default_timeout(60_000)
    page.goto(url)
    wait_for_text(page, PREDICTION, EMPTY, timeout=60_000)
    page.locator(CANVAS).wait_for()
    return page


def stroke_pattern(count: int) -> str:
    return rf"Prediction: \d[\s\S]*· {count} strokes? ·"


def draw_digit(page, digit: int, shift: tuple[float, float] = (0, 0), timer=None) -> list[float]:
    """Draw a digit one stroke at a time; per stroke, ms from its mouse-up to the prediction with its stroke count."""
    page.evaluate(RECORD_MOUSEUP)
    latencies = []
    strokes = digit_strokes(digit, left=60 + shift[0], top=50 + shift[1])
    for count, line in enumerate(strokes, start=1):
        draw(page, [line])
        shown = page.wait_for_function(TEXT_SHOWN_AT, arg=[PREDICTION, stroke_pattern(count)],
                                       timeout=30_000).json_value()
        latencies.append(shown - page.evaluate("() => window.__digitdnnUp.t"))
        if timer is not None:
            timer.wait_finished(page)
    return latencies


def run(quick: bool = False, model_path: str | None = None) -> Report:
    drawings, sessions = (2, 2) if quick else (20, 10)
    notes: list[str] = []
    model = {"DIGITDNN_DEFAULT_MODEL": str(model_path)} if model_path else {}
    with tempfile.TemporaryDirectory(prefix="digitdnn-page-bench-") as tmp, launched_chromium() as browser:
        started = time.perf_counter()
        with running_server(Path(tmp), **model) as server:
            url, process = server.url, server.process
            healthy = time.perf_counter() - started
            first = open_session(browser, url)
            startup = time.perf_counter() - started
            idle_mb = process_tree_rss_mb(process.pid)[1]

            first_latencies = draw_digit(first, 3)
            first_prediction = time.perf_counter() - started
            time.sleep(1)
            one_mb = process_tree_rss_mb(process.pid)[1]

            # Latency and CPU: drawings on the first page, one stroke at a time, Clear between drawings; the only
            # session yet, so that the CPU figure counts its digits alone (not other sessions' opening or closing).
            clear(first)
            timer = RerunTimer(first)
            time.sleep(1)
            cpu_before = cpu_seconds(process.pid)[0]
            latencies: list[float] = []
            captions: list[tuple[float, float]] = []
            rng = np.random.default_rng(0)
            for i in range(drawings):
                latencies += draw_digit(first, i % 10, tuple(rng.uniform(-20, 20, 2)), timer)
                caption = CAPTION.search(first.locator(PREDICTION).inner_text())
                if caption:
                    captions.append((float(caption.group(1)), float(caption.group(2))))
                clear(first)
            cpu_per_digit = (cpu_seconds(process.pid)[0] - cpu_before) / drawings
            end_mb = process_tree_rss_mb(process.pid)[1]

            # Memory: `sessions` sessions that drew a digit (the first and sessions - 1 more).
            pages = [first]
            for i in range(1, sessions):
                page = open_session(browser, url)
                draw_digit(page, i % 10)
                pages.append(page)
            time.sleep(1)
            many_mb = process_tree_rss_mb(process.pid)[1]
            per_session_mb = (many_mb - one_mb) / (sessions - 1)

    server_ms = [s * 1000 for s in timer.seconds("prediction")]
    rerun_ms = [s * 1000 for s in timer.seconds("finished")]

    if not server_ms:
        raise RuntimeError("no rerun was seen on the websocket")
    pre = [p for p, _ in captions]
    net = [n for _, n in captions]
    notes += [
        f"server: streamlit run app.py on 127.0.0.1 (the command `make run` runs), model "
        f"{model_path or 'default (digitdnn/assets/)'}, {os.cpu_count()} cores shared with the browser and this script",
        f"startup: server healthy after {healthy:.2f} s, 'Draw a digit' shown after {startup:.2f} s, first "
        f"drawing (a 3) named after {first_prediction:.2f} s",
        f"browser: {len(latencies)} mouse-ups over {drawings} drawings (each stroke waited for before the next); "
        f"mouseup event to the first animation frame showing the new prediction: median {np.median(latencies):.0f} ms, "
        f"p95 {percentile(latencies, 95):.0f} ms, max {max(latencies):.0f} ms",
        f"server: {len(server_ms)} reruns from canvas updates (devtools websocket timestamps, so localhost "
        f"transfer included and the browser's rendering not): rerun request sent to the delta with the "
        f"prediction text received: median {np.median(server_ms):.1f} ms, p95 {percentile(server_ms, 95):.1f} ms, "
        f"max {max(server_ms):.1f} ms; to script_finished (the whole rerun: pictures, expanders, charts, "
        f"runs panel): median {np.median(rerun_ms):.1f} ms, p95 {percentile(rerun_ms, 95):.1f} ms",
        f"prediction caption, last stroke of each drawing: preprocessing median {np.median(pre):.1f} ms "
        f"(max {max(pre):.1f}), network median {np.median(net):.1f} ms (max {max(net):.1f})" if captions
        else "prediction caption: no timing found in it",
        f"server CPU: {cpu_per_digit * 1000:.1f} ms per digit named over the {drawings} drawings (user + system "
        f"time of the server process, every stroke and Clear included, the browser's CDP recording running); first "
        f"drawing after startup: its {len(first_latencies)} strokes median {np.median(first_latencies):.0f} ms, the "
        f"later drawings' median {np.median(latencies):.0f} ms; load average {os.getloadavg()[0]:.1f}",
        f"memory: RSS {idle_mb:.0f} MB before any session, {one_mb:.0f} MB with 1 session, {many_mb:.0f} MB with "
        f"{sessions}, {end_mb:.0f} MB after the latency drawings (1 session left open); per extra session = "
        f"(RSS with {sessions} - RSS with 1) / {sessions - 1}",
    ]
    rows = [
        Row.measure("page: mouse-up to prediction shown, p50", "ms", float(np.median(latencies)),
                    TARGETS["browser_ms"]),
        Row.measure("page: mouse-up to prediction shown, p95", "ms", percentile(latencies, 95), TARGETS["browser_ms"]),
        Row.measure("server: canvas update to prediction sent, p50", "ms", float(np.median(server_ms)),
                    TARGETS["server_ms"]),
        Row.measure("server: canvas update to prediction sent, p95", "ms", percentile(server_ms, 95),
                    TARGETS["server_ms"]),
        Row.measure("server CPU per digit named (Clear between)", "ms", cpu_per_digit * 1000,
                    TARGETS["cpu_per_digit_ms"]),
        Row.measure("startup: launch to 'Draw a digit' shown", "s", startup, TARGETS["startup_s"]),
        Row.measure("first drawing after startup vs later ones, p50", "ms", float(np.median(first_latencies)),
                    TARGETS["first_vs_later"], float(np.median(latencies))),
        Row.measure(f"server RSS with {sessions} sessions", "MB", many_mb, TARGETS["total_mb"]),
        Row.measure("server RSS per extra session", "MB", max(per_session_mb, 0.0), TARGETS["per_session_mb"]),
    ]
    return Report(rows, notes)


def main(argv=None) -> Report:
    """Run the benchmark, print its table and return it."""
    parser = argparse.ArgumentParser(description="The page's latency, startup and memory in headless Chromium.")
    parser.add_argument("--quick", action="store_true", help="2 drawings and 2 sessions instead of 20 and 10")
    parser.add_argument("--model", default=None, help="the page's default model (default: digitdnn/assets/)")
    args = parser.parse_args(argv)
    report = run(quick=args.quick, model_path=args.model)
    print(format_table(report))
    return report


if __name__ == "__main__":
    main()
