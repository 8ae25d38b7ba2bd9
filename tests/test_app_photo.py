"""The page's "Photo or file" tab (AppTest): an uploaded photo or a camera shot of a digit on paper is named, its
steps are shown, its file name is plain text, and a file too large is refused with a plain message."""
import numpy as np
import pytest
from markdown_text import active_links, shown

from digitdnn.data.pendigits import load_pen_digits, split_by_writer
from digitdnn.imaging.photo import MAX_PHOTO_BYTES
from testkit.paper_photos import paper_photo

HOSTILE_NAME = "**my 4** [log in](http://ev.il).jpg"


@pytest.fixture(scope="module")
def four() -> bytes:
    """A JPEG photo of a 4 written on paper by a writer no model trained on."""
    pen = load_pen_digits()
    _, held_out = split_by_writer(pen)
    first_four = next(int(i) for i in held_out if pen.label[i] == 4)
    return paper_photo(pen.strokes(first_four), np.random.default_rng(4))


def open_photo_tab(at):
    at.session_state["input_tab"] = "Photo or file"
    at.run()
    assert not at.exception, at.exception
    return at


def headings(at) -> str:
    return "\n".join(t.value for t in at.title)


def test_an_uploaded_photo_is_named_with_its_steps_and_its_name_as_plain_text(page, four):  # noqa: F811
    open_photo_tab(page)
    assert "No photo yet" in headings(page)
    page.file_uploader(key="photo_file").upload(HOSTILE_NAME, four, "image/jpeg").run()
    assert not page.exception, page.exception
    assert "Prediction: 4" in headings(page)
    caption = next(c.value for c in page.caption if "Scored by" in c.value)
    assert f"photo {HOSTILE_NAME} ·" in shown(caption) and not active_links(caption)

    page.session_state["steps_open"] = True
    page.run()
    captions = [c for image in page.get("image") for c in image.captions]
    assert any("The photo divided by b" in c for c in captions), captions
    assert any("Centred by mass in 28 x 28" in c for c in captions), captions

    page.session_state["input_tab"] = "Draw"
    page.run()
    assert "Draw a digit" in headings(page)  # the canvas's digit is named while the Draw tab is open


def test_a_camera_shot_is_named(page, four):  # noqa: F811
    open_photo_tab(page)
    assert not page.camera_input  # the camera starts only when asked for
    page.toggle(key="photo_camera").set_value(True).run()
    page.camera_input(key="photo_shot").upload("shot.jpg", four).run()
    assert not page.exception, page.exception
    assert "Prediction: 4" in headings(page)


def test_a_file_too_large_is_refused_plainly(page):  # noqa: F811
    open_photo_tab(page)
    page.file_uploader(key="photo_file").upload("huge.jpg", b"\xff" * (MAX_PHOTO_BYTES + 1), "image/jpeg").run()
    assert not page.exception, page.exception
    assert "huge.jpg: The file is 12.0 MB; photos up to 12 MB are accepted." in [shown(e.value) for e in page.error]
    assert "No photo yet" in headings(page)


def test_a_16_bit_png_and_an_mpo_are_named_and_a_png_of_inflating_text_refused_plainly(page, four):  # noqa: F811
    import io

    from PIL import Image, PngImagePlugin

    photo = Image.open(io.BytesIO(four))
    sixteen_bit, mpo, text_bomb = io.BytesIO(), io.BytesIO(), io.BytesIO()
    Image.fromarray(np.asarray(photo.convert("L")).astype(np.uint16) * 257).save(sixteen_bit, format="PNG")
    photo.save(mpo, format="MPO", save_all=True, append_images=[Image.new("RGB", photo.size, "black")])
    text = PngImagePlugin.PngInfo()
    text.add_text("Comment", "a" * 64 * 2**20, zip=True)
    photo.save(text_bomb, format="PNG", pnginfo=text)

    open_photo_tab(page)
    for name, data in (("grey16.png", sixteen_bit), ("phone.jpg", mpo)):
        page.file_uploader(key="photo_file").upload(name, data.getvalue(), "image/png").run()
        assert not page.exception, page.exception
        assert "Prediction: 4" in headings(page), name
        assert any(f"photo {name} ·" in shown(c.value) for c in page.caption), name
    page.file_uploader(key="photo_file").upload("comment.png", text_bomb.getvalue(), "image/png").run()
    assert not page.exception, page.exception
    assert [shown(e.value) for e in page.error] == ["comment.png: The file could not be read as a PNG or JPEG image."]
    assert "No photo yet" in headings(page)
