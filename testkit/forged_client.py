"""A browser tab that sends whatever widget values a test chooses, for tests of what the server accepts.

A page's own websocket messages (testkit.streamlit_client) with forged values: a selectbox value that is not among
its options, a press of any button, a tab by its label (`tab="Class drawings"` opens it). Synchronous, for pytest:
each call sends one rerun and returns the texts of the run it caused once that run has finished.

    with forged_page(url) as page:
        texts = page.press("open", saved_model="/etc/passwd")
"""
from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator

from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

from testkit.streamlit_client import PageSession, StringValue, widget_key


class TabsPageSession(PageSession):
    """A PageSession that also knows keyed st.tabs, which are blocks rather than elements, as widgets."""

    def _handle(self, message: ForwardMsg) -> None:
        super()._handle(message)
        if message.WhichOneof("type") == "delta" and message.delta.WhichOneof("type") == "add_block":
            tabs_id = message.delta.add_block.tab_container.id
            key = widget_key(tabs_id) if tabs_id else None
            if key:
                self.widgets[key] = self.run.widgets[key] = (tabs_id, message.delta.fragment_id)


class ForgedPage:
    """One page session over the websocket protocol; widgets named by their keys, values sent as given."""

    def __init__(self, runner: asyncio.Runner, session: PageSession, timeout: float):
        self._runner, self.session, self.timeout = runner, session, timeout

    def texts(self) -> list[str]:
        """The texts (headings, markdown, alerts, captions, ...) of the last run, in order."""
        return list(self.session.run.texts)

    def send(self, **values: str | bool) -> list[str]:
        """Rerun with these widget values by key (True presses a button, a str is sent as the widget's raw string,
        whether or not it is one of its options); the texts of that run once it finished."""
        states = self.session.states(**{key: value if value is True else StringValue(value)
                                        for key, value in values.items()})
        self._runner.run(self.session.rerun(states))
        self._wait_finished()
        return self.texts()

    def press(self, button: str, **values: str) -> list[str]:
        """Press the button keyed `button` with these other widget values (see send)."""
        return self.send(**values, **{button: True})

    def _wait_finished(self) -> None:
        if not self._runner.run(self.session.wait_for(lambda run: run.finished, self.timeout)):
            raise TimeoutError(f"the page did not finish a run within {self.timeout} s "
                               f"({self.session.closed_reason or 'still open'})")


@contextlib.contextmanager
def forged_page(url: str, timeout: float = 60.0) -> Iterator[ForgedPage]:
    """A ForgedPage connected to the page server at `url`, its first run finished; closed when the block ends."""
    with asyncio.Runner() as runner:
        session = TabsPageSession(url, connect_timeout=timeout)
        runner.run(session.connect())
        page = ForgedPage(runner, session, timeout)
        try:
            page._wait_finished()
            yield page
        finally:
            runner.run(session.close())
