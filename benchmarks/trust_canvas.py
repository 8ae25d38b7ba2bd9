"""What a forged canvas picture costs the server: a client sends the canvas widget a PNG that says 9000 x 9000
pixels (0.3 MB, all transparent; 324 MB once decoded as RGBA), as issue 21 did, over the page's own websocket
protocol to a running page server; the rows are the seconds until the page answered and how far the server's
resident memory (VmRSS, sampled every 10 ms while it worked) rose above what it was before.

    python -m benchmarks.trust_canvas [--quick] [--model PATH]     (part of: python -m benchmarks.trust)

The page refuses the picture from its PNG header, so the answer takes milliseconds and the memory does not move;
before it did, the same picture took 23 s and 2.5 GB.
"""
from __future__ import annotations

import argparse
import asyncio
import base64
import functools
import struct
import tempfile
import threading
import zlib
from dataclasses import dataclass
from pathlib import Path

from benchmarks.report import Report, Row, format_table
from digitdnn.imaging.canvas_png import UNREADABLE
from testkit.processes import process_tree_rss_mb
from testkit.server import running_server
from testkit.streamlit_client import Run, component_value, new_session_run

FORGED_SIDE = 9000
TARGET_SECONDS = 2.0
TARGET_GROWTH_MB = 50.0


def png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


@functools.cache
def blank_png(width: int, height: int) -> bytes:
    """An all-transparent RGBA PNG of width x height, made without holding its pixels (9000 x 9000: 0.3 MB)."""
    row = bytes(1 + 4 * width)  # filter byte 0 and the row's pixels
    packer = zlib.compressobj(9)
    data = b"".join(packer.compress(row) for _ in range(height)) + packer.flush()
    header = struct.pack(">IIBBBBB", width, height, 8, 6, 0, 0, 0)  # 8 bits, RGBA, deflate, no filter, no interlace
    return (b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", header) + png_chunk(b"IDAT", data)
            + png_chunk(b"IEND", b""))


def canvas_value(png: bytes, strokes: int = 1, mime: str = "image/png") -> str:
    """The canvas component's value as a client sends it after `strokes` strokes, with `png` as its picture."""
    objects = [{"type": "path", "path": [["M", 10, 10], ["L", 20, 20]]}] * strokes
    data_url = f"data:{mime};base64,{base64.b64encode(png).decode('ascii')}"
    return component_value(drawing={"raw": {"version": "6.0.0", "objects": objects}, "data": data_url})


@dataclass(frozen=True)
class Answer:
    """How the page answered one forged value."""

    run: Run               # what it showed
    seconds: float         # until its run finished (or the timeout)
    growth_mb: float       # the server's peak VmRSS while it worked, above its VmRSS before


def send_canvas(url: str, pid: int, value: str, timeout: float = 60.0) -> Answer:
    """A new session of the page at `url` (served by process `pid`) sends the canvas this value (a JSON string,
    canvas_value); how the page answered, how long it took and how far the server's memory rose meanwhile."""
    before = process_tree_rss_mb(pid)[0]
    peak, done = [before], threading.Event()

    def sample() -> None:
        while not done.is_set():
            peak[0] = max(peak[0], process_tree_rss_mb(pid)[0])
            done.wait(0.01)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        run, seconds = asyncio.run(new_session_run(url, timeout, canvas=value))
    finally:
        done.set()
        sampler.join()
    return Answer(run, seconds, peak[0] - before)


def measure(quick: bool, model_path: str | None) -> Report:
    """The forged 9000 x 9000 canvas against a fresh page server: seconds to answer and RSS growth (quick: the same;
    one picture is quick)."""
    env = {"DIGITDNN_DEFAULT_MODEL": model_path} if model_path else {}
    forged = canvas_value(blank_png(FORGED_SIDE, FORGED_SIDE))
    with tempfile.TemporaryDirectory() as folder, running_server(Path(folder), timeout=120, **env) as server:
        send_canvas(server.url, server.process.pid, component_value())  # warm up: a first session, no picture
        answer = send_canvas(server.url, server.process.pid, forged, timeout=120)
    refused = UNREADABLE in answer.run.texts and answer.run.finished and not answer.run.exceptions
    failure = "" if refused else "the page did not refuse the picture with its sentence"
    side = f"{FORGED_SIDE} x {FORGED_SIDE}"
    rows = [Row.measure(f"forged {side} canvas PNG: seconds to answer", "s", answer.seconds, TARGET_SECONDS,
                        failure=failure),
            Row.measure(f"forged {side} canvas PNG: server RSS growth", "MB", answer.growth_mb, TARGET_GROWTH_MB,
                        failure=failure)]
    decoded_mb = FORGED_SIDE ** 2 * 4 / 1e6
    notes = [f"one {len(forged) / 1e6:.2f} MB canvas value (an all-transparent RGBA PNG, {decoded_mb:.0f} MB decoded)"
             f" sent over the page's websocket by a new session; peak VmRSS sampled every 10 ms",
             "refused from its PNG header before decoding: " + ("yes" if refused else "NO")]
    return Report(rows, notes)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.trust_canvas", description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="the same single picture (it is quick)")
    parser.add_argument("--model", default=None, help="the server's default model (default: digitdnn/assets/)")
    args = parser.parse_args(argv)
    report = measure(quick=args.quick, model_path=args.model)
    print(format_table(report))
    return 0 if all(row.passed for row in report.rows) else 1


if __name__ == "__main__":
    raise SystemExit(main())
