"""A Streamlit page spoken to over its own websocket protocol, without a browser.

The browser and the server exchange protobufs over `/_stcore/stream`: the browser sends BackMsg
(`rerun_script` with every widget's state, and the fragment to rerun), the server answers with
ForwardMsg (`new_session`, one `delta` per element, `script_finished`, `auto_rerun` for fragments
that poll). `PageSession` does the browser's part for one session: it connects, asks for runs,
reads each run's elements (texts, widget ids by key, the fragment each belongs to) and polls like
the browser when the server asks it to (`auto_rerun`).
"""
from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass, field

import websockets
from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg
from streamlit.proto.WidgetStates_pb2 import WidgetState, WidgetStates


class StringValue(str):
    """A widget value sent as the plain string a selectbox or a text input carries (its label, or any text), not
    as JSON: Streamlit hands a selectbox a string that is not among its options back as that raw string."""


def component_value(**state) -> str:
    """A custom component's value as its client sends it (a component v2's state: a JSON object of its state keys,
    e.g. the canvas's `drawing`); pass it to `PageSession.states` under the component's key."""
    return json.dumps(state)


TEXT_FIELDS = {"heading": "body", "markdown": "body", "alert": "body", "progress": "text", "text": "body"}


def widget_key(widget_id: str) -> str | None:
    """The key a widget was given in Python, from its id ("$$ID-<hash>-<key>"); None without one."""
    parts = widget_id.split("-", 2)
    return parts[2] if widget_id.startswith("$$ID-") and len(parts) == 3 and parts[2] != "None" else None


@dataclass
class Run:
    """What one script run sent: element texts in order, widgets by key (id, fragment), exceptions."""

    texts: list[str] = field(default_factory=list)
    widgets: dict[str, tuple[str, str]] = field(default_factory=dict)
    exceptions: list[str] = field(default_factory=list)
    finished: bool = False
    fragment_id: str = ""   # the fragment this run was asked for ("" for the whole page)
    received: dict[str, float] = field(default_factory=dict)   # first time (perf_counter) a text was seen

    def first_text(self, prefix: str) -> str | None:
        return next((t for t in self.texts if t.startswith(prefix)), None)


class PageSession:
    """One browser session's side of the protocol: connect, rerun (all or a fragment), read what comes back."""

    def __init__(self, url: str, connect_timeout: float = 60.0):
        self.url = url.rstrip("/")
        self.connect_timeout = connect_timeout
        self.widgets: dict[str, tuple[str, str]] = {}   # every widget seen so far: key -> (id, fragment id)
        self.run = Run()
        self._socket = None
        self._reader: asyncio.Task | None = None
        self._pollers: dict[str, asyncio.Task] = {}     # fragment id -> the task rerunning it every interval
        self._values: dict[str, WidgetState] = {}       # widget id -> the value last sent (triggers excluded)
        self._changed = asyncio.Event()
        self.closed_reason: str | None = None

    async def connect(self) -> None:
        """Open the websocket and ask for the first run, as a page load does."""
        host = self.url.split("://", 1)[1]
        self._socket = await asyncio.wait_for(websockets.connect(
            f"ws://{host}/_stcore/stream", subprotocols=["streamlit"], origin=self.url, max_size=None,
            compression=None, open_timeout=self.connect_timeout), self.connect_timeout)
        self._reader = asyncio.create_task(self._read())
        await self.rerun()

    async def close(self) -> None:
        for task in self._pollers.values():
            task.cancel()
        if self._socket is not None:
            await self._socket.close()
        if self._reader is not None:
            self._reader.cancel()

    async def rerun(self, widget_states: WidgetStates | None = None, fragment_id: str = "",
                    auto: bool = False) -> float:
        """Ask for a run with these widget states (of the whole page, or of one fragment); returns when it was sent.
        Like a browser, every request also carries the values sent before for the other widgets (the server takes a
        request's states as the whole page's), but never a button press again."""
        for widget in (widget_states or WidgetStates()).widgets:
            if widget.WhichOneof("value") == "trigger_value":
                self._values.pop(widget.id, None)
            else:
                self._values[widget.id] = widget
        message = BackMsg()
        state = message.rerun_script
        sent_states = WidgetStates()
        sent_states.widgets.extend(self._values.values())
        for widget in (widget_states or WidgetStates()).widgets:
            if widget.WhichOneof("value") == "trigger_value":
                sent_states.widgets.append(widget)
        state.widget_states.CopyFrom(sent_states)
        state.fragment_id = fragment_id
        state.is_auto_rerun = auto
        state.context_info.timezone = "UTC"
        state.context_info.locale = "en-US"
        state.context_info.url = self.url + "/"
        if not auto:
            self.run = Run(fragment_id=fragment_id)
        sent = time.perf_counter()
        await self._socket.send(message.SerializeToString())
        return sent

    def states(self, **values) -> WidgetStates:
        """WidgetStates with these widgets (by key): True for a button press, a StringValue for a string, another
        str for a JSON value."""
        states = WidgetStates()
        for key, value in values.items():
            widget = states.widgets.add()
            widget.CopyFrom(self.widget_state(key, value))
        return states

    def widget_state(self, key: str, value) -> WidgetState:
        widget = WidgetState(id=self.widgets[key][0])
        if value is True:
            widget.trigger_value = True
        elif isinstance(value, StringValue):
            widget.string_value = value
        else:
            widget.json_value = value
        return widget

    async def wait_for(self, predicate, timeout: float) -> bool:
        """Wait until predicate(self.run) holds (checked as messages arrive); False on timeout or a closed socket."""
        deadline = time.perf_counter() + timeout
        while not predicate(self.run):
            if self.closed_reason is not None:
                return False
            left = deadline - time.perf_counter()
            if left <= 0:
                return False
            self._changed.clear()
            try:
                await asyncio.wait_for(self._changed.wait(), left)
            except TimeoutError:
                return predicate(self.run)
        return True

    async def _read(self) -> None:
        try:
            async for payload in self._socket:
                message = ForwardMsg()
                message.ParseFromString(payload)
                self._handle(message)
                self._changed.set()
        except websockets.ConnectionClosed as exc:
            self.closed_reason = f"connection closed: {exc}"
        finally:
            self.closed_reason = self.closed_reason or "connection closed"
            self._changed.set()

    def _handle(self, message: ForwardMsg) -> None:
        kind = message.WhichOneof("type")
        if kind == "delta" and message.delta.WhichOneof("type") == "new_element":
            self._element(message.delta.new_element, message.delta.fragment_id)
        elif kind == "script_finished":
            # the end of the run asked for, not of another fragment's automatic rerun meanwhile: a whole-page run
            # (no fragments) ends any request, and the server may run several requested fragments in one run
            fragments = _fragments(message)
            if not fragments or self.run.fragment_id in fragments:
                self.run.finished = True
        elif kind == "auto_rerun":
            self._poll(message.auto_rerun.fragment_id, message.auto_rerun.interval)
        elif kind == "stop_auto_rerun" or (kind == "new_session" and not _fragments(message)):
            # a whole-page run starts its fragments' automatic reruns again; a fragment's own run does not
            for task in self._pollers.values():
                task.cancel()
            self._pollers.clear()

    def _element(self, element, fragment_id: str) -> None:
        kind = element.WhichOneof("type")
        body = getattr(element, kind)
        text_field = TEXT_FIELDS.get(kind)
        if text_field:
            text = getattr(body, text_field)
            self.run.texts.append(text)
            self.run.received.setdefault(text, time.perf_counter())
        elif kind == "exception":
            self.run.exceptions.append(f"{body.type}: {body.message}")
        widget_id = getattr(body, "id", "") if kind != "imgs" else ""
        key = widget_key(widget_id) if isinstance(widget_id, str) else None
        if key:
            self.widgets[key] = self.run.widgets[key] = (widget_id, fragment_id)

    def _poll(self, fragment_id: str, interval: float) -> None:
        """Rerun `fragment_id` every `interval` seconds, as the browser does for `st.fragment(run_every=...)`."""
        async def poll():
            while True:
                await asyncio.sleep(interval)
                await self.rerun(fragment_id=fragment_id, auto=True)

        old = self._pollers.pop(fragment_id, None)
        if old is not None:
            old.cancel()
        self._pollers[fragment_id] = asyncio.create_task(poll())


def _fragments(message: ForwardMsg) -> list[str]:
    """The fragments of the run a new_session or script_finished belongs to (none: a whole-page run)."""
    return list(message.metadata.run.fragment_ids)


async def new_session_run(url: str, timeout: float = 60.0, **values) -> tuple[Run, float]:
    """Open a session, let its first run finish, then rerun it with these widget values (see PageSession.states);
    that run (finished, or as far as it got within `timeout`) and the seconds it took."""
    session = PageSession(url, connect_timeout=timeout)
    await session.connect()
    try:
        if not await session.wait_for(lambda run: run.finished, timeout):
            raise TimeoutError(f"the page's first run did not finish within {timeout} s")
        sent = await session.rerun(session.states(**values))
        await session.wait_for(lambda run: run.finished, timeout)
        return session.run, time.perf_counter() - sent
    finally:
        await session.close()
