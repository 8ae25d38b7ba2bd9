"""What uploaded models cost the server: a 0.2 MB `.keras` file of the largest network digitdnn allows (784, four
hidden layers of 4,096 units, 10) with zero weights, deflated, which unpacks to 214 MB of weights, as issue 21
sent it; then legitimate models uploaded from several sessions until the server's budget of uploaded weights
($DIGITDNN_UPLOADED_WEIGHTS_MB, set small here) refuses one. Each file goes to a running page server as a browser
sends it (an HTTP upload with the page's XSRF token, then the uploader's widget value over the page's websocket);
the rows are how far the server's resident memory (VmRSS, sampled every 10 ms) rose above what it was before.

    python -m benchmarks.trust_upload [--quick] [--model PATH]     (part of: python -m benchmarks.trust)

The page refuses the bomb from the sizes its zip directory and its layers declare, before unpacking anything;
before it did, the bomb cost hundreds of MB, and each session could keep five of them.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
import threading
import urllib.request
import uuid
import zipfile
from pathlib import Path

import h5py
import numpy as np
from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.Common_pb2 import FileURLs, UploadedFileInfo
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg
from streamlit.proto.WidgetStates_pb2 import WidgetState, WidgetStates

from benchmarks.report import Report, Row, format_table
from digitdnn.config import MAX_LAYERS, MAX_UNITS
from digitdnn.model import N_CLASSES, N_PIXELS
from digitdnn.storage.models import default_model_path
from digitdnn.storage.weight_budget import FULL
from testkit.processes import process_tree_rss_mb
from testkit.server import running_server
from testkit.streamlit_client import PageSession

TARGET_BOMB_GROWTH_MB = 50.0
BUDGET_MB = 16                 # the server's budget of uploaded weights in this benchmark
HELD_MARGIN_MB = 60.0          # besides the budget: the upload's own bytes, the h5 read, allocator slack
UPLOAD_KEY = "upload"


# ------------------------------------------------------------------------------------------------- the bomb


def network_config(units: list[int]) -> dict:
    """The config.json of a Keras Sequential model: a 28x28 input, flattened, Dense layers of `units` (relu), then
    10 softmax outputs."""
    def layer(kind: str, config: dict) -> dict:
        return {"module": "keras.layers", "class_name": kind, "config": config, "registered_name": None}

    dense = [layer("Dense", {"name": f"dense{f'_{i}' if i else ''}", "units": n, "use_bias": True,
                             "activation": "relu" if i < len(units) else "softmax"})
             for i, n in enumerate([*units, N_CLASSES])]
    layers = [layer("InputLayer", {"name": "image", "batch_shape": [None, 28, 28], "dtype": "float32"}),
              layer("Flatten", {"name": "flatten"}), *dense]
    return {"module": "keras", "class_name": "Sequential", "config": {"name": "bomb", "layers": layers},
            "registered_name": None}


def zero_weights_keras(path: Path, units: list[int]) -> Path:
    """A .keras file at `path` of the network `network_config(units)`, every weight zero, deflated: the file is
    about 1/1000 of the weights it unpacks to. Written a block at a time: making it holds a few MB."""
    h5_path = path.with_suffix(".h5")
    with h5py.File(h5_path, "w") as weights:
        for index, (fan_in, n) in enumerate(zip([N_PIXELS, *units], [*units, N_CLASSES], strict=True)):
            group = weights.create_group(f"layers/dense{f'_{index}' if index else ''}/vars")
            kernel = group.create_dataset("0", (fan_in, n), "<f4")
            for start in range(0, fan_in, 256):
                kernel[start:start + 256] = 0
            group.create_dataset("1", data=np.zeros(n, "<f4"))
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("config.json", json.dumps(network_config(units)))
        archive.write(h5_path, "model.weights.h5")
    h5_path.unlink()
    return path


def bomb_keras(path: Path) -> Path:
    """The largest network digitdnn allows, zero weights, deflated: ~0.2 MB that unpacks to ~214 MB."""
    return zero_weights_keras(path, [MAX_UNITS] * MAX_LAYERS)


# ------------------------------------------------------------------------------------------ uploading a file


class UploadingSession(PageSession):
    """A PageSession that can upload a file to a file_uploader as the browser does: it asks the server for the
    file's upload URL over the websocket, PUTs the file there with the page's XSRF token, then sends the
    uploader's widget value naming it."""

    def __init__(self, url: str, connect_timeout: float = 60.0):
        super().__init__(url, connect_timeout)
        self._file_urls: dict[str, FileURLs] = {}  # by request id

    def _handle(self, message: ForwardMsg) -> None:
        if message.WhichOneof("type") == "file_urls_response":
            response = message.file_urls_response
            self._file_urls[response.response_id] = response.file_urls[0]
        super()._handle(message)

    async def upload(self, key: str, name: str, data: bytes, timeout: float) -> float:
        """Upload `data` as the file `name` to the uploader keyed `key`, then rerun with it; when the rerun was
        sent (wait for its end with wait_for)."""
        request_id = uuid.uuid4().hex
        message = BackMsg()
        message.file_urls_request.request_id = request_id
        message.file_urls_request.file_names.append(name)
        assert self._socket is not None, "connect first"
        await self._socket.send(message.SerializeToString())
        if not await self.wait_for(lambda run: request_id in self._file_urls, timeout):
            raise TimeoutError(f"no upload URL for {name} within {timeout} s")
        urls = self._file_urls.pop(request_id)
        await asyncio.to_thread(put_file, self.url + urls.upload_url, name, data, timeout)
        info = UploadedFileInfo(file_id=urls.file_id, name=name, size=len(data), file_urls=urls)
        state = WidgetState(id=self.widgets[key][0])
        state.file_uploader_state_value.uploaded_file_info.append(info)
        return await self.rerun(WidgetStates(widgets=[state]))


def put_file(upload_url: str, name: str, data: bytes, timeout: float) -> None:
    """PUT `data` to a Streamlit upload URL as a browser does: multipart form, with the XSRF cookie the server's
    health check hands out and the same token in the X-Xsrftoken header."""
    base = upload_url.split("/_stcore/", 1)[0]
    with urllib.request.urlopen(base + "/_stcore/health", timeout=timeout) as response:
        cookies = response.headers.get_all("Set-Cookie") or []
    tokens = [c.split(";", 1)[0].split("=", 1)[1] for c in cookies if c.startswith("_streamlit_xsrf=")]
    if not tokens:
        raise RuntimeError("the server handed out no XSRF cookie")
    token = tokens[0]
    boundary = uuid.uuid4().hex
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{name}\"\r\n"
            f"Content-Type: application/octet-stream\r\n\r\n").encode() + data + f"\r\n--{boundary}--\r\n".encode()
    request = urllib.request.Request(upload_url, body, method="PUT", headers={
        "Content-Type": f"multipart/form-data; boundary={boundary}", "X-Xsrftoken": token,
        "Cookie": f"_streamlit_xsrf={token}"})
    with urllib.request.urlopen(request, timeout=timeout) as response:
        if response.status != 204:
            raise RuntimeError(f"the upload of {name} was answered {response.status}")


class PeakRss:
    """The peak VmRSS of process `pid` while the with-block runs, sampled every 10 ms, above what it was before."""

    def __init__(self, pid: int):
        self.pid, self.growth_mb = pid, 0.0

    def __enter__(self) -> PeakRss:
        self._before = self._peak = process_tree_rss_mb(self.pid)[0]
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def _sample(self) -> None:
        while not self._done.is_set():
            self._peak = max(self._peak, process_tree_rss_mb(self.pid)[0])
            self._done.wait(0.01)

    def __exit__(self, *exc) -> None:
        self._done.set()
        self._thread.join()
        self.growth_mb = self._peak - self._before


async def upload_in_sessions(url: str, pid: int, files: list[tuple[str, bytes]],
                             timeout: float = 120.0) -> tuple[list[list[str]], float]:
    """Each file uploaded from its own session of the page at `url` (served by process `pid`), all of them open
    until the end: the texts each upload's run showed, and how far the server's VmRSS rose while they were
    uploaded (from after every session's first run)."""
    sessions, answers = [], []
    try:
        for _ in files:
            session = UploadingSession(url, connect_timeout=timeout)
            sessions.append(session)
            await session.connect()
            if not await session.wait_for(lambda run: run.finished, timeout):
                raise TimeoutError(f"the page's first run did not finish within {timeout} s")
        with PeakRss(pid) as rss:
            for session, (name, data) in zip(sessions, files, strict=True):
                await session.upload(UPLOAD_KEY, name, data, timeout)
                if not await session.wait_for(lambda run: run.finished, timeout):
                    raise TimeoutError(f"the upload of {name} did not finish within {timeout} s")
                answers.append(list(session.run.texts))
    finally:
        for session in sessions:
            await session.close()
    return answers, rss.growth_mb


# ----------------------------------------------------------------------------------------------- the rows


def measure(quick: bool = False, model_path: str | None = None) -> Report:
    """The bomb's upload, and legitimate uploads from several sessions until the budget refuses one (quick: the
    same, it takes seconds)."""
    model = Path(model_path) if model_path else default_model_path()
    with tempfile.TemporaryDirectory(prefix="digitdnn-trust-upload-") as folder:
        bomb = bomb_keras(Path(folder) / "bomb.keras").read_bytes()
        legitimate = model.read_bytes()
        with running_server(Path(folder), DIGITDNN_DEFAULT_MODEL=str(model),
                            DIGITDNN_UPLOADED_WEIGHTS_MB=str(BUDGET_MB)) as server:
            pid = server.process.pid
            (bomb_texts,), bomb_growth = asyncio.run(upload_in_sessions(server.url, pid, [("bomb.keras", bomb)]))
            uploads = 6  # of the 3.4 MB default model: the 16 MB budget holds four
            answers, held_growth = asyncio.run(upload_in_sessions(
                server.url, pid, [(f"model-{i}.keras", legitimate) for i in range(uploads)]))
    bomb_refused = any("unpack to more than" in text or "weights would take" in text for text in bomb_texts)
    loaded = sum(any("it is now the active model" in text for text in texts) for texts in answers)
    refused = sum(any(FULL.split(";")[0] in text for text in texts) for texts in answers)  # texts are Markdown
    notes = [f"the bomb: {len(bomb) / 2**20:.2f} MB uploaded; the page said: "
             f"{next((t for t in bomb_texts if 'Upload refused' in t), 'no refusal')!r}",
             f"{uploads} sessions each uploaded a {len(legitimate) / 2**20:.1f} MB model under a budget of "
             f"{BUDGET_MB} MB: {loaded} loaded, {refused} refused as over the budget"]
    return Report([
        Row.measure("the 0.2 MB bomb upload: server RSS growth", "MB", bomb_growth, TARGET_BOMB_GROWTH_MB,
                    failure="" if bomb_refused else "the bomb was not refused"),
        Row.measure(f"uploads until the {BUDGET_MB} MB budget refuses: server RSS growth", "MB",
                    held_growth, BUDGET_MB + HELD_MARGIN_MB,
                    failure="" if loaded and refused else "the budget never refused an upload"),
    ], notes)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.trust_upload", description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer legitimate uploads (a smoke run)")
    parser.add_argument("--model", default=None, help="the server's default model, also the one uploaded")
    args = parser.parse_args(argv)
    report = measure(quick=args.quick, model_path=args.model)
    print(format_table(report))
    return 0 if all(row.passed for row in report.rows) else 1


if __name__ == "__main__":
    raise SystemExit(main())
