"""digitdnn: draw a digit and a fully connected network names it; train that network live in the sidebar.

Run with `make run` (streamlit run app.py). Layout only: every piece comes from digitdnn.ui.
"""
import streamlit as st

from digitdnn.ui import drawing, models, prediction, sidebar, state, training

st.set_page_config(page_title="digitdnn: draw a digit", page_icon="✏️", layout="wide")
state.init_session()
training.collect_finished_job()

with st.sidebar:
    st.header("Train the network", anchor=False)
    training.buttons()
    training.progress_panel()
    sidebar.training_controls()


@st.fragment
def drawing_section() -> None:
    """The canvas and everything drawn from it: a stroke reruns only this part of the page."""
    canvas_column, prediction_column, input_column = st.columns([5, 5, 4], gap="medium")
    with canvas_column:
        image, strokes = drawing.drawing_area()
    reading = prediction.read_drawing(image, strokes)
    classifier, model_label = training.scoring_model()
    with prediction_column:
        prediction.prediction_panel(reading, classifier, model_label)
    with input_column:
        prediction.network_input(reading.steps)
    prediction.preprocessing_steps(reading.steps)
    prediction.network_inside(reading.steps, classifier)


st.subheader("Draw a digit: the network names it as you draw", anchor=False)
if "default_model_error" in st.session_state:
    st.warning(st.session_state.default_model_error)
drawing_section()

curves_tab, models_tab = st.tabs(["Learning curves", "Runs and models"])
with curves_tab:
    training.learning_curves()
with models_tab:
    models.models_panel()
