"""The page: layout only, every piece comes from digitdnn.ui.

`streamlit run app.py` (the source checkout's shim) and `digitdnn serve` (an installed package) both run it:
Streamlit runs this file as the script, or the shim calls main().
"""
import logging

import streamlit as st

from digitdnn.ui import (
    class_data,
    class_drawings,
    correction,
    inputs,
    inside_the_network,
    layout,
    mistakes,
    mnist_data,
    page_address,
    pen_data,
    prediction,
    runs,
    runs_and_models,
    sidebar,
    state,
    try_to_fool_it,
    watch_it_learn,
)


@st.fragment
def drawing_section() -> None:
    """The canvas (or a photo) and everything drawn from it: a stroke reruns only this part of the page."""
    canvas_column, prediction_column, input_column = layout.drawing_columns(page_address.canvas_size())
    with canvas_column:
        reading, image = inputs.input_area(page_address.canvas_size())
    classifier, model_label = runs.scoring_model()
    watch_it_learn.follow_drawing(reading)
    with prediction_column:
        probabilities = prediction.prediction_panel(reading, classifier, model_label)
        correction.correction_panel(reading, image, probabilities, model_label)
    with input_column:
        prediction.network_input(reading.steps)
    prediction.preprocessing_steps(reading)
    inside_the_network.network_inside(reading.steps, classifier)
    try_to_fool_it.fool_panel(reading.steps, classifier)


def training_sidebar() -> None:
    """The sidebar: train and stop, progress, the hyperparameters, and the link that shares them."""
    with st.sidebar:
        st.header("Train the network", anchor=False)
        runs.buttons()
        runs.progress_panel()
        config, error = sidebar.sidebar_config()
        page_address.address_messages(config)
        sidebar.training_controls(config, error, advanced=not page_address.presenter())
        pen_data.data_choice()
        class_data.include_checkbox()
        page_address.share_controls(config)
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
                runs.learning_curves()
            with watch_column:
                watch_it_learn.watch_panel()
    with models_tab:
        runs_and_models.models_panel()
    if mistakes_tab.open:
        with mistakes_tab:
            mistakes.mistakes_panel()
    if data_tab.open:
        with data_tab:
            mnist_data.data_panel()
    if class_tab.open:
        with class_tab:
            class_drawings.class_drawings_panel()


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
    page_address.presenter_style()
    runs.collect_finished_job()
    training_sidebar()
    st.subheader("Draw a digit: the network names it as you draw", anchor=False)
    if state.session().default_model_error:
        st.warning(state.session().default_model_error)
    layout.drawing_styles(page_address.canvas_size())
    drawing_section()
    tabs_section()


if __name__ == "__main__":
    main()
