"""A client that forges the canvas's picture: the page served by `streamlit run app.py`, sent the canvas widget's
value over its own websocket protocol with a picture the canvas never sends (9000 x 9000 pixels, not a PNG, not
square, a damaged PNG). The page refuses it from the PNG's header, in one sentence and without a prediction, and
the server's memory does not jump; a picture of the canvas's size is still named."""
import io

import pytest
from PIL import Image

from benchmarks.trust_canvas import blank_png, canvas_value, send_canvas
from digitdnn.imaging.brush import render
from digitdnn.imaging.canvas_png import UNREADABLE
from testkit.server import running_server
from testkit.streamlit_client import component_value
from testkit.strokes import digit_strokes

MAX_GROWTH_MB = 300  # the 9000 x 9000 picture decoded as RGBA is 324 MB; the page used to grow by 2.5 GB


@pytest.fixture(scope="module")
def server(default_model, tmp_path_factory):
    """A page server, its first session's run done (the default model loaded)."""
    with running_server(tmp_path_factory.mktemp("forged-canvas"), timeout=60,
                        DIGITDNN_DEFAULT_MODEL=str(default_model)) as server:
        send_canvas(server.url, server.process.pid, component_value())
        yield server


def png_of(picture: Image.Image) -> bytes:
    buffer = io.BytesIO()
    picture.save(buffer, format="PNG")
    return buffer.getvalue()


def drawn_three(side: int) -> bytes:
    """A 3 drawn on a side x side canvas (the strokes of a 280 px one, scaled), as PNG."""
    scale = side / 280
    return png_of(Image.fromarray(render([line * scale for line in digit_strokes(3)], canvas=(side, side),
                                         brush=20 * scale)))


def prediction(texts: list[str]) -> str | None:
    return next((text for text in texts if text.startswith("Prediction:")), None)


@pytest.mark.parametrize("side", [280, 560], ids=["canvas size", "twice (a device pixel ratio of 2)"])
def test_a_picture_of_the_canvas_size_is_named(server, side):
    answer = send_canvas(server.url, server.process.pid, canvas_value(drawn_three(side), strokes=3))
    assert answer.run.finished and not answer.run.exceptions, answer.run
    assert prediction(answer.run.texts) == "Prediction: 3", answer.run.texts
    assert UNREADABLE not in answer.run.texts


def damaged_png() -> bytes:
    """A PNG whose header says 280 x 280 but whose pixels are cut off."""
    return png_of(Image.new("RGBA", (280, 280), (255, 255, 255, 255)))[:60]


FORGED = {
    "9000 x 9000": lambda: canvas_value(blank_png(9000, 9000)),
    "281 x 280": lambda: canvas_value(blank_png(281, 280)),
    "279 x 279": lambda: canvas_value(blank_png(279, 279)),
    "a JPEG": lambda: canvas_value(b"\xff\xd8\xff\xe0" + bytes(400), mime="image/jpeg"),
    "GIF bytes as a PNG": lambda: canvas_value(b"GIF89a" + bytes(400)),
    "a damaged PNG": lambda: canvas_value(damaged_png()),
    "not base64": lambda: component_value(drawing={"raw": {"objects": [{}]}, "data": "data:image/png;base64,#!"}),
    "no picture": lambda: component_value(drawing={"raw": {"objects": [{}]}, "data": None}),
}


@pytest.mark.parametrize("forged", FORGED.values(), ids=FORGED.keys())
def test_a_forged_picture_is_refused_before_it_is_decoded(server, forged):
    answer = send_canvas(server.url, server.process.pid, forged(), timeout=30)
    assert answer.run.finished and not answer.run.exceptions, answer.run
    assert UNREADABLE in answer.run.texts, answer.run.texts
    assert prediction(answer.run.texts) is None, answer.run.texts
    assert answer.growth_mb < MAX_GROWTH_MB, f"the server grew by {answer.growth_mb:.0f} MB"


FORGED_SHAPES = {
    "a list": component_value(drawing=[1, 2]),
    "raw a string": component_value(drawing={"raw": "x", "data": None}),
    "objects a number": component_value(drawing={"raw": {"objects": 5}, "data": None}),
    "not an object": '"drawing"',
}


@pytest.mark.parametrize("value", FORGED_SHAPES.values(), ids=FORGED_SHAPES.keys())
def test_a_value_of_another_shape_is_an_empty_canvas(server, value):
    answer = send_canvas(server.url, server.process.pid, value)
    assert answer.run.finished and not answer.run.exceptions, answer.run
    assert "Draw a digit" in answer.run.texts and prediction(answer.run.texts) is None, answer.run.texts

