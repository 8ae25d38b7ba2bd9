"""Watch it learn: the current drawing's ten probabilities after each epoch of the run in progress.

st.session_state["watch"] is a WatchRecord: the run it belongs to, the drawing it follows and
{epoch: probabilities}. A new run starts a new record; so does a new drawing while the run trains
(the earlier epochs' weights are gone, so the lines start at the current epoch).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import streamlit as st

from digitdnn.ui import state, training
from digitdnn.ui.charts import probabilities_by_epoch
from digitdnn.ui.images import enlarge
from digitdnn.ui.prediction import Reading


@dataclass
class WatchRecord:
    """One run's probabilities for one drawing, by epoch."""

    run: str
    drawing: np.ndarray | None = None                  # the 28x28 input followed
    probabilities: dict[int, np.ndarray] = field(default_factory=dict)
    finished: bool = False                             # the run has ended and its last epoch is noted

    def note(self, drawing: np.ndarray, epoch: int, classifier) -> None:
        """The drawing's probabilities under `classifier` (the weights after `epoch`)."""
        if self.drawing is None or not np.array_equal(self.drawing, drawing):
            self.drawing, self.probabilities = drawing, {}
        if epoch not in self.probabilities:
            self.probabilities[epoch] = classifier.predict_proba(drawing)[0]


def record(reading: Reading) -> None:
    """Note the drawing's probabilities under the latest epoch of this session's run (the drawing fragment
    calls this on every rerun; the page reruns when an epoch ends)."""
    job = training.current_job()
    watched = st.session_state.get("watch")
    if job is not None:
        if watched is None or watched.run != job.name:
            watched = st.session_state.watch = WatchRecord(job.name)
        progress = job.progress()  # one snapshot: the epoch and its weights belong together
        if reading.steps is not None and progress.classifier is not None and progress.epoch and not progress.done:
            watched.note(reading.steps.centred, progress.epoch, progress.classifier)
    elif watched is not None and not watched.finished:
        # The run ended since the last rerun: its last epoch comes from the model it left.
        watched.finished = True
        run = next((m for m in state.models() if m.source == "trained" and m.name.startswith(f"{watched.run}:")),
                   None)
        if run is not None and run.epochs and reading.steps is not None:
            watched.note(reading.steps.centred, len(run.epochs), run.classifier)


def watch_panel() -> None:
    """The chart of the watched drawing's probabilities by epoch, or how to get one."""
    watched = st.session_state.get("watch")
    if watched is None or not watched.probabilities:
        st.markdown("**Watch it learn**")
        st.caption("Draw a digit, then press Train: after each epoch its ten probabilities appear here, "
                   "one line per digit, so you see the network change its mind as it learns."
                   if not training.is_training() else
                   "After each epoch the drawing's ten probabilities appear here (draw a digit if you have not).")
        return
    epoch = max(watched.probabilities)
    last = watched.probabilities[epoch]
    st.altair_chart(probabilities_by_epoch(watched.probabilities))
    picture, text = st.columns([1, 2])
    picture.image(enlarge(watched.drawing, size=84, grid=False), caption="the drawing")
    text.caption(f"{watched.run} after epoch {epoch}: **{int(last.argmax())}** ({last.max():.0%}). Each line is "
                 "one digit's probability for this drawing under the weights after that epoch; drawing anew "
                 "while it trains starts the lines again. The page redraws every half second, so an epoch "
                 "shorter than that may be skipped.")
