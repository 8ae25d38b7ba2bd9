"""The teaching views on the page (AppTest): mistakes, the MNIST browser, watch it learn, literature lines."""
import json

import numpy as np
import pytest
from app_session import TEST_DATA_LIMIT, drawn_canvas, open_tab, run_until, texts
from streamlit.dataframe_util import convert_arrow_bytes_to_pandas_df
from streamlit.testing.v1 import AppTest

from digitdnn.ui.charts import LITERATURE, probability_bars
from digitdnn.ui.mistakes import GALLERY_SIZE, most_common_confusion
from digitdnn.ui.mnist_data import pixels_as_text, pixels_from_text

TEST_IMAGES = int(TEST_DATA_LIMIT.split(",")[1])


def galleries(at: AppTest) -> list:
    """The image lists on the page that are galleries of MNIST images (their captions say what the model said)."""
    return [e for e in at.get("image") if e.captions and e.captions[0].startswith("said ")]


def chart_specs(at: AppTest) -> list[dict]:
    return [json.loads(chart.proto.spec) for chart in at.get("vega_lite_chart")]


def chart_data(at: AppTest, title: str) -> list:
    """The data tables (DataFrames) of the chart with this title."""
    chart = next(c for c in at.get("vega_lite_chart") if json.loads(c.proto.spec).get("title") == title)
    return [convert_arrow_bytes_to_pandas_df(named.data.data) for named in chart.proto.datasets]


def the_matrix_table(at: AppTest):
    return next(d.value for d in at.dataframe if list(d.value.columns) == [str(i) for i in range(10)])


def test_mistakes_confusion_matrix_cells_and_confident_mistakes(page, mnist):
    assert not galleries(page) and not page.session_state["session"].evaluations  # nothing scored until the tab opens
    open_tab(page, "Mistakes")
    assert not page.exception

    (evaluation,) = page.session_state["session"].evaluations.values()
    matrix = the_matrix_table(page).to_numpy()
    assert matrix.sum() == TEST_IMAGES == len(evaluation.labels)
    np.testing.assert_array_equal(matrix, evaluation.confusion_matrix())
    np.testing.assert_array_equal(evaluation.labels, mnist.y_test[:TEST_IMAGES])
    assert "Default model** on 500 MNIST test images" in texts(page)
    heatmap = next(s for s in chart_specs(page) if s.get("params"))
    assert heatmap["params"][0]["name"] == "cell" and heatmap["params"][0]["select"]["fields"] == ["true", "predicted"]

    # The cell shown first is the commonest confusion; its gallery holds its images.
    true, predicted = most_common_confusion(matrix)
    assert (page.selectbox(key="mistakes_true").value, page.selectbox(key="mistakes_predicted").value) == \
        (true, predicted)
    cell, confident = galleries(page)
    assert len(cell.value) == min(matrix[true, predicted], GALLERY_SIZE)
    assert all(c.startswith(f"said {predicted} ") and f"· is {true} " in c for c in cell.captions)
    wrong = TEST_IMAGES - np.trace(matrix)
    assert len(confident.value) == min(wrong, GALLERY_SIZE)
    surest = [float(c.split()[2].rstrip("%")) for c in confident.captions]
    assert surest == sorted(surest, reverse=True) and all("· is " in c for c in confident.captions)

    # Choosing another cell (here a diagonal one: the right answers) changes the gallery.
    page.selectbox(key="mistakes_true").set_value(7)
    page.selectbox(key="mistakes_predicted").set_value(7).run()
    cell = galleries(page)[0]
    assert len(cell.value) == min(matrix[7, 7], GALLERY_SIZE)
    assert all(c.startswith("said 7 ") and "· is" not in c for c in cell.captions)
    assert f"{matrix[7, 7]} test images of 7 named correctly" in texts(page)

    page.run()  # a rerun scores nothing again
    assert len(page.session_state["session"].evaluations) == 1


def test_mnist_browser_by_digit_and_the_784_numbers_round_trip(page, mnist):
    open_tab(page, "MNIST data")
    grid = next(e for e in page.get("image") if e.captions and e.captions[0].startswith("#"))
    assert all(c.endswith("· 0") for c in grid.captions)

    page.segmented_control(key="data_digit").set_value(7).run()
    grid = next(e for e in page.get("image") if e.captions and e.captions[0].startswith("#"))
    shown = [int(c.split()[0][1:]) for c in grid.captions]
    assert len(shown) == 40 and all(c.endswith("· 7") for c in grid.captions)
    assert (mnist.y_train[shown] == 7).all()

    page.number_input(key="data_pick").set_value(3).run()
    index = shown[2]
    numbers = page.text_area(key=f"data_text_train_{index}")
    image = mnist.x_train[index]
    np.testing.assert_array_equal(pixels_from_text(numbers.value), image)  # image -> 784 numbers -> image
    assert "From the numbers: the same image" in [c for e in page.get("image") for c in e.captions]
    table = next(d.value for d in page.dataframe if d.value.shape == (28, 28))
    np.testing.assert_array_equal(table.to_numpy(), image)

    erased = image.copy()
    erased[:, 14:] = 0  # wipe the right half
    numbers.set_value(pixels_as_text(erased)).run()
    changed = int((erased != image).sum())
    assert f"From the numbers: {changed} changed" in [c for e in page.get("image") for c in e.captions]
    assert "says" in texts(page)

    page.text_area(key=f"data_text_train_{index}").set_value("1 2 3").run()
    assert "784 numbers (28 x 28); this is 3" in " ".join(e.value for e in page.error)


@pytest.mark.parametrize("text, problem", [("0 " * 783 + "256", "between 0"), ("a " * 784, "whole numbers")])
def test_bad_numbers_are_refused_in_plain_words(text, problem):
    with pytest.raises(ValueError, match=problem):
        pixels_from_text(text)


def test_the_data_tab_shows_each_step_of_loading_mnist(page, mnist, tmp_path, monkeypatch):
    copy = tmp_path / "mnist.npz"
    np.savez(copy, **{name: getattr(mnist, name) for name in ("x_train", "y_train", "x_test", "y_test")})
    monkeypatch.setenv("DIGITDNN_DATA_LIMIT", "1996,496")  # a loader of its own, not the one loaded already
    monkeypatch.setenv("DIGITDNN_MNIST", str(copy))
    open_tab(page, "MNIST data")
    assert not page.exception
    (status,) = page.status
    assert status.label == "MNIST loaded: 1,996 training and 496 test images" and status.state == "complete"
    assert f"verified the MNIST fingerprints: file {copy}" in texts(status)
    open_tab(page, "Mistakes")  # loaded now: no second status
    assert not page.status


def test_unavailable_mnist_is_said_in_the_data_and_mistakes_tabs(page, tmp_path, monkeypatch):
    monkeypatch.setenv("DIGITDNN_DATA_LIMIT", "1997,497")  # a loader of its own, not the cached one
    monkeypatch.setenv("DIGITDNN_MNIST", str(tmp_path / "nowhere.npz"))
    errors = []
    for tab in ("MNIST data", "Mistakes"):
        open_tab(page, tab)
        assert not page.exception
        errors += [e.value for e in page.error]
    assert len(errors) == 2 and all("MNIST could not be loaded" in e and "nowhere.npz" in e for e in errors)


def literature_in(tables: list) -> list[tuple]:
    """(accuracy, label, reference) rows of a chart's literature tables (each label has its own)."""
    rows = {tuple(row) for t in tables if "reference" in t.columns
            for row in t[["accuracy", "label", "reference"]].values}
    return sorted(rows)


def test_accuracy_charts_carry_the_literature_lines(page):
    # The default model's accuracy curve and the runs overlay (both shown at start), not the loss curve.
    for title in ("Accuracy per epoch", "Accuracy: runs compared (test solid, train dashed)"):
        assert literature_in(chart_data(page, title)) == list(LITERATURE), title
        spec = next(s for s in chart_specs(page) if s.get("title") == title)
        marks = [layer["mark"]["type"] for layer in spec["layer"][1]["layer"]]
        assert marks == ["rule", "text", "text", "text"]
    assert literature_in(chart_data(page, "Loss per epoch")) == []
    (lecun, _, lecun_ref), (simard, _, simard_ref), (srivastava, _, srivastava_ref) = LITERATURE
    assert (lecun, simard, srivastava) == (0.9695, 0.984, 0.9905)
    assert "LeCun et al. 1998, 300-100" in lecun_ref and "Simard et al. 2003, 800" in simard_ref
    assert "Srivastava et al. 2014, dropout and max-norm" in srivastava_ref


def test_every_chart_is_described_for_screen_readers(page):
    specs = chart_specs(page)  # the learning curves (the first tab) and the runs compared
    specs += chart_specs(open_tab(page, "Mistakes")) + [probability_bars(np.eye(10)[3] * 0.9 + 0.01)]
    titles = {s.get("title") for s in specs}
    assert {"Accuracy per epoch", "Loss per epoch", None} <= titles and any(s.get("params") for s in specs)
    for spec in specs:
        assert len(spec.get("description", "")) > 40, spec.get("title")
    accuracy = next(s for s in specs if s.get("title") == "Accuracy per epoch")["description"]
    assert "test" in accuracy and "Dashed lines: published results" in accuracy and "LeCun" in accuracy
    assert "the highest is 3 (91%)" in specs[-1]["description"]


def test_every_hyperparameter_control_says_what_it_does(page):
    widgets = [page.selectbox(key="preset"), page.slider(key="layers"), page.number_input(key="units_1"),
               page.number_input(key="units_2"), page.selectbox(key="activation"), page.selectbox(key="optimizer"),
               page.select_slider(key="learning_rate"), page.select_slider(key="batch_size"),
               page.slider(key="epochs"), page.slider(key="dropout"), page.checkbox(key="augment"),
               page.select_slider(key="l2"), page.number_input(key="seed")]
    for widget in widgets:
        assert widget.help and len(widget.help) > 60, widget.key
    raising = [w.help for w in widgets if w.key not in ("preset", "activation", "optimizer", "augment", "seed")]
    assert all(any(word in text for word in ("Raising", "More", "raise")) for text in raising)


def test_watch_it_learn_and_mistakes_after_a_training_run(page, monkeypatch):
    assert "press Train" in texts(page)  # how to use it, before any run
    open_tab(page, "Mistakes")
    open_tab(page, "Learning curves")
    # The page has imported digitdnn.ui.draw (importing the canvas component needs a running page).
    monkeypatch.setattr("digitdnn.ui.draw.st_canvas", lambda **kwargs: drawn_canvas(3))
    page.selectbox(key="preset").set_value("Tiny").run()
    page.slider(key="epochs").set_value(3).run()
    assert "Prediction: 3" in "\n".join(t.value for t in page.title)
    page.button(key="train").click().run()
    run_until(page, lambda at: at.session_state["session"].job is None)

    watched = page.session_state["session"].watched
    assert watched.run == "Run 1"
    epochs = sorted(watched.probabilities)
    assert epochs == [1, 2, 3]  # the run scores the drawing itself after every epoch: none is missed
    assert all(p.shape == (10,) and abs(p.sum() - 1) < 1e-4 for p in watched.probabilities.values())
    lines, names = chart_data(page, "Your drawing by epoch")
    assert set(lines["epoch"]) == set(epochs) and len(lines) == 10 * len(epochs)
    last = watched.probabilities[3]
    assert sorted(names["digit"]) == sorted(str(d) for d in range(10) if last[d] >= 0.05)  # the likely digits, named
    assert "Run 1 after epoch 3" in texts(page)

    # The mistakes tab now shows the trained run, the active model: scored once more, for it.
    open_tab(page, "Mistakes")
    assert len(page.session_state["session"].evaluations) == 2
    assert "Run 1: " in texts(page) and "on 500 MNIST test images" in texts(page)

    open_tab(page, "Learning curves")
    page.slider(key="epochs").set_value(1).run()  # a new run starts a new record
    page.button(key="train").click().run()
    run_until(page, lambda at: at.session_state["session"].job is None)
    watched = page.session_state["session"].watched
    assert watched.run == "Run 2" and sorted(watched.probabilities) == [1]
