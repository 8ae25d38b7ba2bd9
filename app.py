"""digitdnn: draw a digit and a fully connected network names it; train that network live in the sidebar.

Run with `make run` (streamlit run app.py). Layout only: every piece comes from digitdnn.ui.
"""
import streamlit as st

from digitdnn.ui import (class_data, class_drawings, correction, dataset, fool, inputs, inside, layout, mistakes,
                         models, pen_data, prediction, share, sidebar, state, training, watch)

st.set_page_config(page_title="digitdnn: draw a digit", page_icon="✏️", layout="wide")
state.init_session()
share.read_address()
share.presenter_style()
training.collect_finished_job()

with st.sidebar:
    st.header("Train the network", anchor=False)
    training.buttons()
    training.progress_panel()
    share.address_messages()
    sidebar.training_controls(advanced=not share.presenter())
    pen_data.data_choice()
    class_data.include_checkbox()
    share.share_controls()
share.write_address()


@st.fragment
def drawing_section() -> None:
    """The canvas (or a photo) and everything drawn from it: a stroke reruns only this part of the page."""
    canvas_column, prediction_column, input_column = layout.drawing_columns(share.canvas_size())
    with canvas_column:
        reading, image = inputs.input_area(share.canvas_size())
    classifier, model_label = training.scoring_model()
    watch.record(reading)
    with prediction_column:
        probabilities = prediction.prediction_panel(reading, classifier, model_label)
        correction.correction_panel(reading, image, probabilities, model_label)
    with input_column:
        prediction.network_input(reading.steps)
    prediction.preprocessing_steps(reading)
    inside.network_inside(reading.steps, classifier)
    fool.fool_panel(reading.steps, classifier)


st.subheader("Draw a digit: the network names it as you draw", anchor=False)
if "default_model_error" in st.session_state:
    st.warning(st.session_state.default_model_error)
drawing_section()

# Only the open tab's content is made (key "tab" holds its label), except Runs and models: its model
# picker holds the session's active model, and a widget that is not drawn loses its value.
curves_tab, models_tab, mistakes_tab, data_tab, class_tab = st.tabs(
    ["Learning curves", "Runs and models", "Mistakes", "MNIST data", "Class drawings"], key="tab", on_change="rerun")
if curves_tab.open:
    with curves_tab:
        curves_column, watch_column = layout.wrapping_row("curves_tab", ["30rem", "14rem"])
        with curves_column:
            training.learning_curves()
        with watch_column:
            watch.watch_panel()
with models_tab:
    models.models_panel()
if mistakes_tab.open:
    with mistakes_tab:
        mistakes.mistakes_panel()
if data_tab.open:
    with data_tab:
        dataset.data_panel()
if class_tab.open:
    with class_tab:
        class_drawings.class_drawings_panel()
