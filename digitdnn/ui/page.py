"""The page: layout only, every piece comes from digitdnn.ui.

`streamlit run app.py` (the source checkout's shim) and `digitdnn serve` (an installed package) both run it:
Streamlit runs this file as the script, or the shim calls main().
"""
import logging

import numpy as np
import streamlit as st

from digitdnn.ui import (
    challenge_board,
    class_drawings,
    correction,
    draw,
    how_the_drawing_becomes_28x28,
    hyperparameters,
    inside_the_network,
    layout,
    learning_curves,
    lesson_bar,
    mistakes,
    mnist_data,
    page_address,
    photo_or_file,
    prediction,
    reconnected,
    runs,
    runs_and_models,
    share_this_setup,
    state,
    train_and_stop,
    training_data,
    try_to_fool_it,
    watch_it_learn,
    what_the_network_sees,
)
from digitdnn.ui.reading import Reading, read_drawing


@st.fragment
def drawing_section() -> None:
    """The canvas (or a photo) and everything drawn from it: a stroke reruns only this part of the page."""
    canvas_column, prediction_column, input_column = layout.drawing_columns(page_address.canvas_size())
    with canvas_column:
        reading, picture = input_tabs(page_address.canvas_size())
    classifier, model_label = runs.scoring_model()
    watch_it_learn.follow_drawing(reading)
    with prediction_column:
        probabilities = prediction.show(reading, classifier, model_label)
        correction.show(reading, picture, probabilities, model_label, scored=classifier is not None)
    with input_column:
        what_the_network_sees.show(reading.steps)
    how_the_drawing_becomes_28x28.show(reading)
    inside_the_network.show(reading.steps, classifier)
    try_to_fool_it.show(reading.steps, classifier)


def input_tabs(canvas_size: int) -> tuple[Reading, np.ndarray | None]:
    """The tabs "Draw" (open when the page opens) and "Photo or file"; returns the open tab's reading and the
    picture to keep with a correction (the canvas, or the ink found in the photo). Both tabs' content stays on the
    page, so a drawing and an uploaded photo survive a switch between them."""
    draw_tab, photo_tab = st.tabs(["Draw", "Photo or file"], key="input_tab", on_change="rerun")
    with draw_tab:
        canvas, strokes = draw.show(size=canvas_size)
    with photo_tab:
        photo = photo_or_file.show()
    if photo_tab.open:
        return photo, photo.picture()
    return read_drawing(canvas, strokes, draw.BACKGROUND), canvas


def training_sidebar() -> None:
    """The sidebar: train and stop, progress, the hyperparameters, the training data, and the link that shares
    them."""
    with st.sidebar:
        st.header("Train the network", anchor=False)
        train_and_stop.show()
        config, error = hyperparameters.chosen_config()
        page_address.address_messages(config)
        hyperparameters.show(config, error, advanced=not page_address.presenter())
        training_data.show()
        share_this_setup.show(config)
    page_address.write_address(config)


def tabs_section() -> None:
    """The tabs under the drawing."""
    # Only the open tab's content is made (key "tab" holds its label), except Runs and models: its model
    # picker holds the session's active model, and a widget that is not drawn loses its value.
    labels = ["Learning curves", "Runs and models", "Mistakes", "MNIST data", "Class drawings"]
    curves_tab, models_tab, mistakes_tab, data_tab, class_tab = st.tabs(labels, key="tab", on_change="rerun")
    if curves_tab.open:
        with curves_tab:
            curves_column, watch_column = layout.wrapping_row("curves_tab", ["36rem", "14rem"])
            with curves_column:
                learning_curves.show()
            with watch_column:
                watch_it_learn.show()
    with models_tab:
        runs_and_models.show()
    if mistakes_tab.open:
        with mistakes_tab:
            mistakes.show()
    if data_tab.open:
        with data_tab:
            mnist_data.show()
    if class_tab.open:
        with class_tab:
            class_drawings.show()


def log_to_the_server_console() -> None:
    """digitdnn's log (warnings, and caught failures with their tracebacks) goes to the server's stderr, beside
    Streamlit's own; the page itself shows one plain sentence per failure."""
    logger = logging.getLogger("digitdnn")
    if not logger.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)


def main() -> None:
    """Lay out the whole page (one script run)."""
    log_to_the_server_console()
    st.set_page_config(page_title="digitdnn: draw a digit", page_icon="✏️", layout="wide")
    state.init_session()
    page_address.read_address()
    lesson_bar.apply_pending()  # a lesson step's setup, before any widget is drawn
    page_address.presenter_style()
    runs.collect_finished_job()
    training_sidebar()
    st.subheader("Draw a digit: the network names it as you draw", anchor=False)
    reconnected.show()
    challenge = challenge_board.seen_now()  # before the lesson bar, whose poll asks whether it changed
    lesson_bar.show()
    challenge_board.show(challenge)
    if state.session().default_model_error:
        st.warning(state.session().default_model_error)
    layout.drawing_styles(page_address.canvas_size())
    drawing_section()
    tabs_section()


if __name__ == "__main__":
    main()
