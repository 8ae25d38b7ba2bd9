"""Watch it learn (beside the learning curves): the current drawing's ten probabilities after each epoch of the run
in progress.

The running job scores the drawing it is told to watch after every epoch (TrainingJob.watch), so no epoch is
missed however short; the session keeps the latest record (Session.watched), which stays on show after the run
ends. A new run starts a new record; so does a new drawing while the run trains (the earlier epochs' weights are
gone, so the lines start at the current epoch).
"""
from __future__ import annotations

import streamlit as st

from digitdnn.ui import runs, scoring, state
from digitdnn.ui.charts import probabilities_by_epoch
from digitdnn.ui.images import enlarge
from digitdnn.ui.reading import Reading


def follow_drawing(reading: Reading) -> None:
    """Have this session's running job score the drawing after each epoch (the drawing fragment calls this on every
    rerun), and keep only the probabilities of a run that has ended."""
    session = state.session()
    watched = session.watched
    if watched is not None and watched.job is not None and watched.job.progress().done:
        session.watched = watched.ended()
    job = runs.current_job()
    if job is None:
        return
    drawing = None if reading.steps is None else reading.steps.centred
    job.watch(drawing)
    session.watched = state.WatchRecord(job, drawing, job.name)


def show() -> None:
    """The chart of the watched drawing's probabilities by epoch, or how to get one."""
    watched = state.session().watched
    recorded = {} if watched is None or watched.drawing is None else watched.probabilities
    probabilities = {epoch: scores for epoch, scores in recorded.items() if scoring.usable(scores)}
    if len(probabilities) < len(recorded):  # some epoch's weights overflow on this drawing: those epochs are left out
        st.warning(scoring.NO_USABLE_ANSWER)
    if watched is None or watched.drawing is None or not probabilities:
        st.markdown("**Watch it learn**")
        st.caption("Draw a digit, then press Train: after each epoch its ten probabilities appear here, "
                   "one line per digit, so you see the network change its mind as it learns."
                   if not runs.is_training() else
                   "After each epoch the drawing's ten probabilities appear here (draw a digit if you have not).")
        return
    epoch = max(probabilities)
    last = probabilities[epoch]
    st.altair_chart(probabilities_by_epoch(probabilities))
    picture, text = st.columns([1, 2])
    picture.image(enlarge(watched.drawing, size=84, grid=False), caption="the drawing")
    unsure = scoring.not_sure(last)
    text.caption(f"{watched.run} after epoch {epoch}: **{int(last.argmax())}** ({last.max():.0%}). "
                 + (f"{unsure} " if unsure else "")
                 + "Each line is one digit's probability for this drawing under the weights after that epoch; "
                 "drawing anew while it trains starts the lines again.")
