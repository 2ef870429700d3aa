"""Bad input the page must survive: uploads, canvas drawings and slider positions nobody planned for.

The inputs tests/test_app.py already covers (empty, not an image, a truncated PNG, a 60 000 ×
60 000 header, over the size cap, 16-bit, CMYK, animated GIF, transparent, σ = 0 and 1) are
not repeated; docs/robustness.md lists every input with the test that proves it. Here: header
bombs in other formats and sizes, truncated JPEG and GIF, an animated PNG, phone photos with
every EXIF rotation and the largest photo allowed, model files offered as uploads (which must
never reach a model loader), and in a real browser a one-click dot, a fully painted canvas and
the slider's two ends on a drawing.
"""

from __future__ import annotations

import re
import struct
from pathlib import Path

import keras
import numpy as np
import pytest
from helpers import browser_page, settle
from PIL import Image, ImageDraw, ImageFile
from streamlit.elements.lib.file_uploader_utils import enforce_filename_restriction
from streamlit.errors import StreamlitAPIException
from test_app import (  # the page fixtures and picture helpers tests/test_app.py defines
    assert_three_panels,
    digit_picture,
    encode,
    open_page,
    page_env,  # noqa: F401 - autouse: shipped weights in a temporary folder, empty runs folder
    png_header_only,
    readings,
    shipped,  # noqa: F401 - used by page_env
)
from test_browser import open_draw_tab, pixels, wait_for_drawing

from denoiser import preprocessing, storage
from denoiser.page import panels, uploads

ROOT = Path(__file__).resolve().parents[1]
WEIGHTS = ROOT / "weights"
CANVAS = 280


# Pictures the visitor's browser could send.


def jpeg_header_only(width: int, height: int) -> bytes:
    """A small valid JPEG whose frame header claims `width` × `height`."""
    data = bytearray(encode(Image.new("L", (8, 8), 255), "JPEG"))
    start_of_frame = data.find(b"\xff\xc0")
    struct.pack_into(">HH", data, start_of_frame + 5, height, width)
    return bytes(data)


def gif_header_only(width: int, height: int) -> bytes:
    """A small valid GIF whose logical screen claims `width` × `height`."""
    data = bytearray(encode(Image.new("L", (8, 8), 255), "GIF"))
    struct.pack_into("<HH", data, 6, width, height)
    return bytes(data)


def animated_png() -> bytes:
    """An APNG of a 2, then a 5."""
    frames = [Image.fromarray(digit_picture(2)), Image.fromarray(digit_picture(5))]
    return encode(frames[0], "PNG", save_all=True, append_images=frames[1:], duration=100)


def sideways_jpeg(orientation: int) -> bytes:
    """A 7 stored rotated, with the EXIF orientation that tells a viewer how to turn it upright."""
    upright = Image.fromarray(digit_picture(7)).convert("RGB")
    stored = {
        3: Image.Transpose.ROTATE_180,
        6: Image.Transpose.ROTATE_90,
        8: Image.Transpose.ROTATE_270,
    }[orientation]
    exif = Image.Exif()
    exif[0x0112] = orientation
    return encode(upright.transpose(stored), "JPEG", quality=95, exif=exif)


def largest_photo() -> bytes:
    """A 6000 × 4000 (24 MP) JPEG of a dark 7 on grey paper, just under the 25 MP limit."""
    paper = np.full((4000, 6000), 235, np.uint8)
    seven = digit_picture(7, scale=40).astype(np.float32) / 255  # dark on white, 1200 px square
    height, width = seven.shape
    paper[800 : 800 + height, 2400 : 2400 + width] = np.round(30 + 205 * seven).astype(np.uint8)
    return encode(Image.fromarray(paper), "JPEG", quality=80)


def keras_file() -> bytes:
    return (WEIGHTS / "classic.keras").read_bytes()


def h5_file(tmp_path: Path) -> bytes:
    """A Keras model saved in the legacy HDF5 format (`.h5`), as someone might try to upload."""
    model = keras.Sequential([keras.Input((28, 28, 1)), keras.layers.Conv2D(1, 3, padding="same")])
    path = tmp_path / "model.h5"
    model.save(path)
    return path.read_bytes()


BAD_UPLOADS = {
    "20000 × 20000 PNG header, 69 bytes": (png_header_only(20_000, 20_000), "too large"),
    "20000 × 20000 JPEG header, 332 bytes": (jpeg_header_only(20_000, 20_000), "too large"),
    "20000 × 20000 GIF header, 54 bytes": (gif_header_only(20_000, 20_000), "too large"),
    "7000 × 7000 PNG header (49 MP, Pillow's warning band)": (png_header_only(7_000, 7_000), "too large"),
    "truncated JPEG": (
        encode(Image.fromarray(digit_picture(7)).convert("RGB"), "JPEG", quality=90)[:2000],
        "damaged or truncated",
    ),
    "truncated GIF": (encode(Image.fromarray(digit_picture(7)), "GIF")[:500], "damaged or truncated"),
}


# Uploads through the page.


@pytest.fixture
def loads(monkeypatch) -> list[str]:
    """Every file the page asks Keras to load a model or weights from while it runs (in this process)."""
    calls: list[str] = []
    real_load, real_weights = keras.models.load_model, keras.Model.load_weights

    def recording_load(path, *args, **kwargs):
        calls.append(str(path))
        return real_load(path, *args, **kwargs)

    def recording_weights(self, path, *args, **kwargs):
        calls.append(str(path))
        return real_weights(self, path, *args, **kwargs)

    monkeypatch.setattr(keras.models, "load_model", recording_load)
    monkeypatch.setattr(keras.saving, "load_model", recording_load)
    monkeypatch.setattr(keras.Model, "load_weights", recording_weights)
    return calls


def upload(name: str, content: bytes, mime: str = "image/png", loads: list[str] | None = None):
    """A fresh visitor on the Upload tab, after uploading one file; `loads` is emptied between the two runs."""
    at = open_page("Upload")  # loads (or finds cached) the shipped models
    if loads is not None:
        loads.clear()
    return at.file_uploader(key="upload").set_value((name, content, mime)).run()


@pytest.mark.parametrize("name", list(BAD_UPLOADS))
def test_bombs_and_damaged_files_in_every_format_give_one_line_and_no_decoding(name, monkeypatch):
    content, message = BAD_UPLOADS[name]
    decoded = []
    real_load = ImageFile.ImageFile.load
    monkeypatch.setattr(
        ImageFile.ImageFile, "load", lambda self: decoded.append(self.size) or real_load(self)
    )
    at = upload("digit.png", content)
    assert not at.exception
    assert len(at.error) == 1 and message in at.error[0].value and "\n" not in at.error[0].value
    assert len(at.image) == 0
    if "header" in name:  # refused from the header alone: nothing was decoded
        assert decoded == []
        assert len(content) < 400
    # Nothing near the bomb's size was decoded (a damaged file may decode its few real pixels).
    assert all(width * height <= uploads.MAX_PIXELS for width, height in decoded), decoded


def test_an_animated_png_uses_its_first_frame():
    at = upload("animated.png", animated_png())
    assert_three_panels(at)
    assert readings(at)[2] == 2
    assert any("using its first frame" in c.value for c in at.caption)


@pytest.mark.parametrize("orientation", [3, 6, 8])
def test_a_phone_photo_with_an_exif_rotation_is_shown_upright(orientation):
    at = upload("photo.jpg", sideways_jpeg(orientation), "image/jpeg")
    assert_three_panels(at)
    assert readings(at)[2] == 7  # a 7 turned 90° or 180° is not read as a 7
    upright = uploads.read_upload(
        encode(Image.fromarray(digit_picture(7)).convert("RGB"), "JPEG", quality=95)
    )
    assert np.abs(uploads.read_upload(sideways_jpeg(orientation)).image - upright.image).mean() < 0.02


def test_the_largest_photo_allowed_is_read_quickly():
    content = largest_photo()
    assert len(content) < uploads.MAX_BYTES
    image = uploads.open_image(content)
    stored = image.width * image.height
    assert stored >= 24_000_000
    frame, _ = uploads.first_frame(image)
    assert frame.width * frame.height <= stored / 4  # draft mode: the 24 MP are never decoded whole
    result = uploads.read_upload(content)
    at = upload("photo.jpg", content, "image/jpeg")
    assert_three_panels(at)
    assert readings(at)[2] == 7
    assert result.image.shape == (28, 28)


def test_the_uploader_accepts_only_picture_types():
    at = open_page("Upload")
    allowed = at.file_uploader(key="upload").allowed_type
    assert sorted(allowed) == sorted(f".{ext}" for ext in uploads.EXTENSIONS)
    for name in ("classic.keras", "model.h5", "weights.hdf5", "classic.png\0.keras", "model"):
        with pytest.raises(StreamlitAPIException):
            enforce_filename_restriction(name, allowed)  # what Streamlit's server runs on every upload


@pytest.mark.parametrize("name", ["classic.keras", "model.h5"])
def test_a_model_file_by_its_own_name_never_reaches_a_model_loader(name, loads, tmp_path):
    content = keras_file() if name.endswith(".keras") else h5_file(tmp_path)
    at = upload(name, content, "application/octet-stream", loads)
    assert loads == []
    assert len(at.image) == 0
    # Streamlit's own extension check refuses the file before app.py sees it, and the visitor gets
    # its generic error box; a browser never sends such a file (docs/robustness.md).
    assert len(at.exception) == 1 and "redacted" in at.exception[0].value


@pytest.mark.parametrize("kind", ["keras", "h5"])
def test_a_model_file_renamed_to_png_is_refused_by_content_and_never_loaded(kind, loads, tmp_path):
    content = keras_file() if kind == "keras" else h5_file(tmp_path)
    at = upload("digit.png", content, loads=loads)
    assert loads == []
    assert not at.exception
    expected = "not an image" if kind == "keras" else "HDF5 files are not supported"
    assert len(at.error) == 1 and expected in at.error[0].value
    assert len(at.image) == 0
    storage.load_model(WEIGHTS / "classic.keras")  # the page's own loader goes through the recorder
    assert loads == [str(WEIGHTS / "classic.keras")]


# The canvas, directly: the PNG the browser sends, through the page's own reader.


def canvas_png(draw=None, fill: int = 0) -> bytes:
    """An opaque black 280 × 280 canvas as the component sends it, with white strokes drawn by `draw`."""
    canvas = Image.new("RGBA", (CANVAS, CANVAS), (fill, fill, fill, 255))
    if draw:
        draw(ImageDraw.Draw(canvas))
    return encode(canvas)


def test_one_dot_on_the_canvas_becomes_a_centred_blob_the_size_of_a_digit():
    dot = uploads.read_canvas(canvas_png(lambda d: d.ellipse((30, 190, 50, 210), fill="white")))
    ys, xs = np.nonzero(dot > 0.5)
    assert dot.max() == pytest.approx(1.0)
    assert 17 <= ys.max() - ys.min() + 1 <= 20 and 17 <= xs.max() - xs.min() + 1 <= 20  # fitted to the box
    assert (
        abs(np.average(ys, weights=dot[ys, xs]) - 13.5) <= 1
        and abs(np.average(xs, weights=dot[ys, xs]) - 13.5) <= 1
    )
    assert dot[:3].max() == 0 and dot[-3:].max() == 0


def test_a_fully_painted_canvas_becomes_a_centred_white_square():
    square = uploads.read_canvas(canvas_png(fill=255))
    expected = np.zeros((28, 28), np.float32)
    expected[4:24, 4:24] = 1.0
    np.testing.assert_allclose(square, expected, atol=1e-6)


def test_an_empty_or_forged_canvas_png_is_refused_with_one_line():
    with pytest.raises(ValueError, match="The canvas is empty: draw a digit first."):
        uploads.read_canvas(canvas_png())
    with pytest.raises(ValueError, match="not an image"):
        uploads.read_canvas(b"<svg xmlns='http://www.w3.org/2000/svg'/>")
    with pytest.raises(ValueError, match="damaged or truncated"):
        uploads.read_canvas(canvas_png(lambda d: d.line((0, 0, 279, 279), fill="white", width=20))[:200])
    with pytest.raises(ValueError, match="RGBA"):
        preprocessing.canvas_to_mnist(np.zeros((CANVAS, CANVAS, 3), np.uint8))


# The canvas and the uploader in a real browser.


@pytest.fixture
def browser(server, chromium):
    """A chromium page on the served app's Draw tab, with the browser's console errors collected."""
    with browser_page(server, chromium) as page:
        open_draw_tab(page)
        yield page


def assert_no_errors(page) -> None:
    """No exception box, no error alert and nothing in the browser's console."""
    assert page.locator("[data-testid='stException']").count() == 0
    assert page.locator("[data-testid='stAlertContentError']").count() == 0
    assert page.console_errors == []


def canvas_stroke(page, points: list[tuple[float, float]]) -> None:
    """One mouse stroke through `points`, given as fractions of the canvas; one point is a click."""
    box = page.locator("canvas.upper-canvas").bounding_box()
    at = [(box["x"] + fx * box["width"], box["y"] + fy * box["height"]) for fx, fy in points]
    page.mouse.move(*at[0])
    page.mouse.down()
    for x, y in at[1:]:
        page.mouse.move(x, y, steps=8)
    page.mouse.up()


def bright_box(pixels: np.ndarray) -> tuple[int, int, int, int]:
    """(top, bottom, left, right) of the 28×28 pixels above half brightness."""
    ys, xs = np.nonzero(pixels > 128)
    return int(ys.min()), int(ys.max() + 1), int(xs.min()), int(xs.max() + 1)


def test_one_click_gives_a_centred_dot_and_the_slider_ends_are_exact_and_heavy(browser):
    page = browser
    canvas_stroke(page, [(0.15, 0.8)])  # a single click near a corner
    original = wait_for_drawing(page, np.zeros((28, 28), np.uint8))
    top, bottom, left, right = bright_box(original)
    assert 3 <= top and bottom <= 25 and 3 <= left and right <= 25  # fitted and centred, not in the corner
    assert abs((top + bottom) / 2 - 14) <= 1.5 and abs((left + right) / 2 - 14) <= 1.5
    assert page.get_by_text("single dot or blob").is_visible()  # and the page says it is no digit
    slider = page.locator(".dn-live .dn-slider")
    slider.focus()
    slider.press("Home")
    assert slider.get_attribute("aria-valuenow") == "0.00"
    np.testing.assert_array_equal(pixels(page, "noisy"), original)  # σ = 0: Noisy is the digit
    slider.press("End")
    assert slider.get_attribute("aria-valuenow") == "1.00"
    noisy = pixels(page, "noisy").astype(float)
    assert np.abs(noisy - original).mean() > 60  # σ = 1: the digit is buried
    assert page.get_by_role("img", name=panels.original_caption()).is_visible()
    assert_no_errors(page)


def test_a_fully_painted_canvas_gives_a_centred_square(browser):
    page = browser
    for row in range(15):
        y = 0.02 + row * 0.069
        canvas_stroke(page, [(0.005, y), (0.995, y)])  # the 20 px brush, every 19 px: no gaps
    settle(page)
    original = wait_for_drawing(page, np.zeros((28, 28), np.uint8))
    page.wait_for_function(  # the last stroke's panels: the square is whole
        "() => { const d = document.querySelector('.dn-live .dn-original').getContext('2d')"
        ".getImageData(0, 0, 28, 28).data; return d[4 * (22 * 28 + 22)] > 230; }",
        timeout=30_000,
    )
    original = pixels(page, "original")
    cells = original / 255
    assert cells[5:23, 5:23].min() > 0.9  # the square's inside is white...
    assert cells[:3].max() < 0.1 and cells[-3:].max() < 0.1 and cells[:, :3].max() < 0.1  # ...its frame black
    assert_no_errors(page)


def test_the_browser_refuses_a_model_file_before_it_reaches_the_server(browser):
    page = browser
    uploads_sent = []
    page.on(
        "request", lambda r: "/_stcore/upload_file" in r.url and r.method == "PUT" and uploads_sent.append(r)
    )
    page.get_by_role("tab", name="Upload").click()
    settle(page)
    picker = page.locator("[data-testid='stFileUploaderDropzoneInput']")
    picker.set_input_files(
        files=[{"name": "classic.keras", "mimeType": "application/octet-stream", "buffer": keras_file()}]
    )
    refusal = page.locator("[data-testid='stFileUploader']").get_by_text(
        re.compile("not allowed|not supported")
    )
    refusal.first.wait_for(timeout=30_000)
    # Uploads go out in order: once a picture sent after the model file has arrived, a model file
    # that had been sent would have been seen first.
    with page.expect_request(lambda r: "/_stcore/upload_file" in r.url and r.method == "PUT"):
        picker.set_input_files(files=[{"name": "seven.png", "mimeType": "image/png", "buffer": seven_png()}])
    settle(page)
    assert len(uploads_sent) == 1  # the picture's, sent after the model file: the model file never went
    assert page.locator("[data-testid='stException']").count() == 0


def seven_png() -> bytes:
    """A dark-on-light picture of a 7, as a visitor would upload."""
    return encode(Image.fromarray(digit_picture(7)))
