"""The page, driven by Streamlit's AppTest: every path that does not need the canvas itself.

Each test runs the page against a temporary weights folder (copies of the shipped classic
model and classifier), so what it asserts does not change when new weights land in
`weights/`. The page's helper modules (catalog, panels, uploads, charts) are tested
directly at the end. The canvas is exercised in a real browser by tests/test_browser.py.
"""

from __future__ import annotations

import io
import json
import re
import shutil
import socket
import struct
import sys
import zlib
from pathlib import Path

import keras
import numpy as np
import pytest
from helpers import captions, networks, open_page
from PIL import Image
from streamlit.testing.v1 import AppTest

from denoiser import data, filters, noise, storage
from denoiser.page import catalog, charts, panels, sweep, uploads

ROOT = Path(__file__).resolve().parents[1]
WEIGHTS = ROOT / "weights"
PSNR = re.compile(r"PSNR (\d+\.\d|∞) dB")


# Fixtures: weights folders and pictures of digits.


def copy_model(source: str, folder: Path, name: str, **sidecar_changes) -> None:
    """Copy a shipped model under another name, editing its sidecar."""
    shutil.copy(WEIGHTS / f"{source}.keras", folder / f"{name}.keras")
    sidecar = json.loads((WEIGHTS / f"{source}.json").read_text())
    sidecar.update(sidecar_changes)
    (folder / f"{name}.json").write_text(json.dumps(sidecar))


@pytest.fixture(scope="session")
def shipped(tmp_path_factory) -> Path:
    """classic + classifier, as the repository ships them."""
    folder = tmp_path_factory.mktemp("weights")
    copy_model("classic", folder, "classic")
    copy_model("classifier", folder, "classifier")
    return folder


@pytest.fixture(autouse=True)
def page_env(monkeypatch, shipped, tmp_path):
    """Every page test sees the shipped weights and an empty runs folder."""
    monkeypatch.setenv("DENOISER_WEIGHTS_DIR", str(shipped))
    monkeypatch.setenv("DENOISER_RUNS_DIR", str(tmp_path / "runs"))


def classic_psnr(sigma: float) -> float:
    """The shipped classic model's test-set PSNR at σ, read from its sidecar's own row (σ on its
    0.1 grid; not through `catalog.score_at`, the code under test)."""
    (row,) = [
        r
        for r in json.loads((WEIGHTS / "classic.json").read_text())["scores"]
        if abs(r["sigma"] - sigma) < 1e-9
    ]
    return row["psnr"]


def psnr_in(caption: str) -> float:
    """The PSNR a caption shows (∞ as inf)."""
    value = PSNR.search(caption).group(1)
    return float("inf") if value == "∞" else float(value)


def readings(at: AppTest) -> list[int]:
    """The digits the classifier reads under the panels."""
    pattern = r"Classifier reads \*\*(\d)\*\*|Classifier is unsure: maybe (\d)"
    return [int(sure or unsure) for md in at.markdown for sure, unsure in re.findall(pattern, md.value)]


def assert_three_panels(at: AppTest) -> list[str]:
    """No exception, three captioned panels with numbers; returns their captions."""
    assert not at.exception
    texts = captions(at)
    assert [t.split(" ·")[0].split(" (")[0] for t in texts[:3]] == ["Noisy", "Denoised", "Original"]
    assert all(PSNR.search(t) and re.search(r"SSIM \d\.\d{3}", t) for t in texts[:3])
    return texts


def digit_picture(label: int = 7, scale: int = 10, dark_on_light: bool = True) -> np.ndarray:
    """A bundled test digit enlarged to a photo-like size, as uint8 greyscale."""
    images, labels = data.load_sample()
    digit = images[np.flatnonzero(labels == label)[0]]
    big = np.kron(digit, np.ones((scale, scale), np.float32))
    big = np.pad(big, 40)
    pixels = np.round(big * 255).astype(np.uint8)
    return 255 - pixels if dark_on_light else pixels


def encode(image: Image.Image, fmt: str = "PNG", **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **options)
    return buffer.getvalue()


def png_header_only(width: int, height: int) -> bytes:
    """A valid PNG signature and header claiming huge dimensions, with almost no pixel data."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"\0" * 64))
        + chunk(b"IEND", b"")
    )


def good_uploads() -> dict[str, tuple[bytes, int]]:
    """Awkward but valid pictures of a digit, each with the digit it shows."""
    seven = digit_picture(7)
    three_light = digit_picture(3, dark_on_light=False)
    frames = [Image.fromarray(digit_picture(2)), Image.fromarray(digit_picture(5))]
    animated = io.BytesIO()
    frames[0].save(animated, format="GIF", save_all=True, append_images=frames[1:], duration=100, loop=0)
    alpha = digit_picture(4, dark_on_light=False)  # ink as opacity, black ink colour
    transparent = np.dstack([np.zeros_like(alpha)] * 3 + [alpha])
    return {
        "dark-on-light PNG": (encode(Image.fromarray(seven)), 7),
        "light-on-dark JPEG": (encode(Image.fromarray(three_light).convert("RGB"), "JPEG", quality=90), 3),
        "animated GIF": (animated.getvalue(), 2),
        "16-bit PNG": (encode(Image.fromarray(digit_picture(9).astype(np.uint16) * 257)), 9),
        "CMYK JPEG": (encode(Image.fromarray(digit_picture(1)).convert("CMYK"), "JPEG", quality=90), 1),
        "transparent PNG": (encode(Image.fromarray(transparent, mode="RGBA")), 4),
    }


BAD_UPLOADS = {
    "not an image": (b"digit,label\n7,7\n", "not an image"),
    "empty": (b"", "empty"),
    "huge-dimension header in a small file": (png_header_only(60_000, 60_000), "too large"),
    "over the size cap": (b"\x89PNG\r\n\x1a\n" + bytes(uploads.MAX_BYTES + 1), "limit is 5 MB"),
    "truncated PNG": (encode(Image.fromarray(digit_picture(7)))[:300], "damaged or truncated"),
}


# The page.


def test_first_page_opens_on_a_sample_digit_with_three_panels_and_lists_the_shipped_model():
    at = open_page()  # no tab chosen, nothing clicked: what a first-time visitor sees
    noisy, denoised, original = assert_three_panels(at)
    assert at.session_state["source"] == "MNIST sample" and at.session_state["noise_sigma"] == 0.5
    assert psnr_in(original) == float("inf") and psnr_in(denoised) > psnr_in(noisy)
    assert at.button(key="random_sample").proto.type == "primary"  # the main action is highlighted
    picker = at.radio(key="model")
    assert networks(picker.options) == [f"classic · test PSNR {classic_psnr(0.5):.1f} dB at σ 0.50"]
    assert [o.split(" · ")[0] for o in picker.options[1:]] == [
        "median 3×3 (filter)",
        "Gaussian blur (filter)",
    ]
    assert picker.value == "weights/classic"
    assert picker.proto.captions[0].startswith("The seed recipe")


def test_draw_tab_asks_for_a_drawing():
    at = open_page("Draw")
    assert not at.exception
    assert any("Draw a digit" in info.value for info in at.info)
    assert len(at.image) == 0


def test_classifier_is_not_offered_as_a_denoiser():
    at = open_page()
    assert not any("classifier" in option for option in at.radio(key="model").options)


def test_mnist_sample_shows_three_scored_panels_and_readings():
    at = open_page("MNIST sample")
    noisy, denoised, original = assert_three_panels(at)
    assert psnr_in(original) == float("inf")
    gain = float(re.search(r"\(([+-]\d+\.\d) dB\)", denoised).group(1))
    assert gain == pytest.approx(psnr_in(denoised) - psnr_in(noisy), abs=0.11)
    assert gain > 3  # classic at its training σ removes most of the noise
    assert readings(at)[2] == int(at.session_state["sample_digit"])
    assert at.get("download_button")[0].proto.label == "Download the three panels at σ 0.50 (PNG)"


def test_sample_chosen_by_class_and_index():
    at = open_page("MNIST sample")
    first = at.image[2].value[0]
    at.selectbox(key="sample_digit").set_value(3).run()
    at.number_input(key="sample_index").set_value(5).run()
    assert_three_panels(at)
    assert at.image[2].value[0] != first
    assert readings(at)[2] == 3


def test_random_digit_button_picks_another_digit():
    at = open_page("MNIST sample")
    seen = {at.image[2].value[0]}
    for _ in range(3):
        at.button(key="random_sample").click().run()
        assert_three_panels(at)
        seen.add(at.image[2].value[0])
    assert len(seen) > 1


def test_sigma_zero_leaves_the_input_exact_and_sigma_one_is_heavy_noise():
    at = open_page("MNIST sample")
    at.slider(key="sigma").set_value(0.0).run()
    noisy, denoised, _ = assert_three_panels(at)
    assert psnr_in(noisy) == float("inf") and "SSIM 1.000" in noisy
    assert "(worse: the input was clean)" in denoised  # classic blurs a clean digit, and says so
    assert "at σ 0.00" in at.radio(key="model").options[0]
    at.slider(key="sigma").set_value(1.0).run()
    noisy, denoised, _ = assert_three_panels(at)
    assert psnr_in(noisy) < 8 and psnr_in(denoised) > psnr_in(noisy)
    assert "at σ 1.00" in at.radio(key="model").options[0]


def test_slider_scales_one_noise_field_and_new_noise_draws_another():
    at = open_page("MNIST sample")
    field = at.session_state["noise_field"].copy()
    at.slider(key="sigma").set_value(0.51).run()
    np.testing.assert_array_equal(at.session_state["noise_field"], field)
    noisy_before, original_before = at.image[0].value[0], at.image[2].value[0]
    at.button(key="new_noise").click().run()
    assert_three_panels(at)
    assert not np.array_equal(at.session_state["noise_field"], field)
    assert at.image[0].value[0] != noisy_before
    assert at.image[2].value[0] == original_before


def test_model_switch_changes_the_denoised_panel(tmp_path, monkeypatch):
    copy_model("classic", tmp_path, "classic")
    copy_model(
        "classic",
        tmp_path,
        "other",
        description="A second model for the test.",
        scores=[],
        scores_by_noise={},
    )
    monkeypatch.setenv("DENOISER_WEIGHTS_DIR", str(tmp_path))
    at = open_page("MNIST sample")
    assert networks(at.radio(key="model").options) == [
        f"classic · test PSNR {classic_psnr(0.5):.1f} dB at σ 0.50",
        "other · no test score at σ 0.50",
    ]
    assert "Denoised (classic)" in captions(at)[1]
    at.radio(key="model").set_value("weights/other").run()
    assert "Denoised (other)" in assert_three_panels(at)[1]
    assert at.session_state["model"] == "weights/other"
    assert not any("Classifier reads" in md.value for md in at.markdown)  # no classifier in this folder


def test_blind_is_the_default_as_soon_as_it_exists(tmp_path, monkeypatch):
    copy_model("classic", tmp_path, "classic")
    monkeypatch.setenv("DENOISER_WEIGHTS_DIR", str(tmp_path))
    at = open_page("MNIST sample")
    assert at.radio(key="model").value == "weights/classic"
    copy_model("classic", tmp_path, "blind", recipe="unet", description="Blind stand-in.")
    at.run()
    assert at.radio(key="model").value == "weights/blind"
    assert "Denoised (blind)" in assert_three_panels(at)[1]


def test_a_model_chosen_elsewhere_is_kept(tmp_path, monkeypatch):
    copy_model("classic", tmp_path, "classic")
    copy_model("classic", tmp_path, "blind", description="Blind stand-in.")
    monkeypatch.setenv("DENOISER_WEIGHTS_DIR", str(tmp_path))
    at = open_page("MNIST sample", model="weights/classic")
    assert at.radio(key="model").value == "weights/classic"
    assert "Denoised (classic)" in captions(at)[1]


def test_retrained_models_in_the_runs_folder_are_listed_as_retrained(tmp_path, monkeypatch):
    runs = tmp_path / "runs"
    runs.mkdir()
    copy_model("classic", runs, "mine", description="Retrained by a visitor.")
    at = open_page("MNIST sample")
    picker = at.radio(key="model")
    assert picker.value == "weights/classic"
    assert picker.options[1].startswith("mine (retrained) · test PSNR")
    picker.set_value("runs/mine").run()
    assert "Denoised (mine (retrained))" in assert_three_panels(at)[1]


def test_compare_shows_every_models_output(tmp_path, monkeypatch):
    copy_model("classic", tmp_path, "classic")
    copy_model("classic", tmp_path, "other", description="A second model.")
    monkeypatch.setenv("DENOISER_WEIGHTS_DIR", str(tmp_path))
    at = open_page("MNIST sample")
    assert len(at.image) == 3
    at.toggle(key="compare").set_value(True).run()
    assert not at.exception
    assert at.subheader[0].value == "Every model on this input at σ 0.50"
    compared = captions(at)[3:]
    assert [c.split(" ·")[0] for c in compared] == [
        "classic",
        "other",
        "median 3×3 (filter)",
        "Gaussian blur (filter)",
    ]
    assert all(PSNR.search(c) for c in compared)


def test_corrupt_weights_disable_that_model_only(tmp_path, monkeypatch):
    copy_model("classic", tmp_path, "classic")
    copy_model("classic", tmp_path, "blind", description="Blind stand-in.")
    (tmp_path / "blind.keras").write_bytes(b"PK\x03\x04 this is not a whole zip file")
    monkeypatch.setenv("DENOISER_WEIGHTS_DIR", str(tmp_path))
    at = open_page("MNIST sample")
    picker = at.radio(key="model")
    assert picker.value == "weights/classic"  # the broken default is passed over
    assert picker.options[0] == "blind · unavailable"
    assert "Denoised (classic)" in assert_three_panels(at)[1]
    picker.set_value("weights/blind").run()
    assert not at.exception
    assert at.error[0].value.startswith("blind.keras could not be loaded")
    assert at.error[0].value.endswith("showing classic instead.")
    assert "Denoised (classic)" in assert_three_panels(at)[1]


def test_no_loadable_model_still_shows_noisy_and_original(tmp_path, monkeypatch):
    (tmp_path / "classic.keras").write_bytes(b"garbage")
    monkeypatch.setenv("DENOISER_WEIGHTS_DIR", str(tmp_path))
    at = open_page("MNIST sample")
    assert not at.exception
    assert "No other model could be loaded" in at.error[0].value
    assert [c.split(" ·")[0] for c in captions(at)] == ["Noisy", "Original"]


def test_no_mnist_dir_and_no_network(monkeypatch):
    def refuse(*args, **kwargs):
        raise OSError("network disabled by the test")

    monkeypatch.delenv("MNIST_DIR", raising=False)
    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    at = open_page("MNIST sample")
    assert_three_panels(at)


def test_canvas_unavailable_leaves_the_other_inputs_working(monkeypatch):
    monkeypatch.setitem(sys.modules, "streamlit_drawable_canvas", None)  # makes the import fail
    at = open_page("Draw")
    assert not at.exception
    assert "drawing canvas is unavailable" in at.warning[0].value
    at.session_state["source"] = "MNIST sample"
    assert_three_panels(at.run())


def test_about_the_models_charts_scores_with_a_rule_at_sigma():
    at = open_page("MNIST sample")
    at.slider(key="sigma").set_value(0.3).run()
    assert "About the models" in [expander.label for expander in at.expander]
    specs = [json.loads(chart.proto.spec) for chart in at.get("vega_lite_chart")]
    psnr = specs[0]
    lines, rule = psnr["layer"]
    models = {row["model"] for row in lines["data"]["values"]}
    filter_labels = {item.label for item in filters.FILTERS.values()}
    assert filter_labels == {"median 3×3 (filter)", "Gaussian blur (filter)"}
    assert models == {"classic", charts.NOISY} | filter_labels  # the filters drawn beside the network
    assert rule["data"]["values"] == [{"sigma": 0.3}]
    assert len(specs) == 2  # the shipped sidecar has classifier accuracies: their chart is drawn
    accuracy_lines, accuracy_rule = specs[1]["layer"]
    assert {row["model"] for row in accuracy_lines["data"]["values"]} == {
        "classic",
        charts.NOISY,
        charts.CLEAN,
    } | filter_labels
    assert accuracy_rule["data"]["values"] == [{"sigma": 0.3}]


def test_upload_tab_waits_for_a_file():
    at = open_page("Upload")
    assert not at.exception
    assert any("Upload a picture" in info.value for info in at.info)


@pytest.mark.parametrize("name", list(good_uploads()))
def test_awkward_uploads_become_the_right_digit(name):
    content, digit = good_uploads()[name]
    at = open_page("Upload")
    at.file_uploader(key="upload").set_value((f"digit-{name}.png", content, "image/png")).run()
    assert not at.error, at.error[0].value if at.error else ""
    assert_three_panels(at)
    assert readings(at)[2] == digit
    if name == "animated GIF":
        assert any("using its first frame" in c.value for c in at.caption)


@pytest.mark.parametrize("name", list(BAD_UPLOADS))
def test_bad_uploads_give_one_line_messages(name):
    content, message = BAD_UPLOADS[name]
    at = open_page("Upload")
    at.file_uploader(key="upload").set_value(("digit.png", content, "image/png")).run()
    assert not at.exception
    assert len(at.error) == 1 and message in at.error[0].value
    assert "\n" not in at.error[0].value
    assert len(at.image) == 0


# The page's helpers, without Streamlit.


def test_catalog_skips_the_classifier_temporaries_and_orders_blind_first(tmp_path):
    for name in ("classic", "blind", "aaa"):
        copy_model("classic", tmp_path, name)
    copy_model("classifier", tmp_path, "classifier")
    (tmp_path / ".blind.123.tmp.keras").write_bytes(b"half a model")
    entries = catalog.discover(tmp_path, tmp_path / "missing-runs")
    assert [e.key for e in entries] == ["weights/blind", "weights/classic", "weights/aaa"]
    assert catalog.default_key(entries) == "weights/blind"
    assert catalog.default_key(entries[1:]) == "weights/classic"


def test_catalog_refuses_models_that_are_not_image_to_image(tmp_path):
    copy_model("classifier", tmp_path, "sneaky", recipe="classic")
    with pytest.raises(catalog.ModelUnavailable, match="not an image-to-image model"):
        catalog.load_denoiser(tmp_path / "sneaky.keras")


def test_score_at_interpolates_between_sigma_rows_and_never_extrapolates():
    rows = [
        {"sigma": 0.0, "psnr": 20.0, "noisy_psnr": float("inf")},
        {"sigma": 0.5, "psnr": 18.0, "noisy_psnr": 12.0},
        {"sigma": 1.0, "psnr": 14.0, "noisy_psnr": 7.0},
    ]
    assert catalog.score_at(rows, 0.25) == pytest.approx(19.0)
    assert catalog.score_at(rows, 0.75) == pytest.approx(16.0)
    assert catalog.score_at(rows, 0.5) == 18.0
    assert catalog.score_at(rows, 0.0, "noisy_psnr") == float("inf")
    assert catalog.score_at(rows, 0.1, "noisy_psnr") is None  # cannot interpolate from ∞
    assert catalog.score_at(rows[1:], 0.2) is None
    assert catalog.score_at(rows, 0.5, "accuracy") is None


def test_sweep_matches_the_model_called_on_one_image_and_psnr_by_its_formula():
    model = storage.load_model(WEIGHTS / "classic.keras")
    images, _ = data.load_sample()
    clean, field = images[3], noise.noise_field((28, 28), seed=5)
    result = sweep.run(model, clean, field)
    assert result.sigmas == sweep.GRID and result.denoised.shape == (101, 28, 28)
    i = result.index(0.37)
    expected_noisy = np.clip(
        clean + 0.37 * field[0], 0.0, 1.0
    )  # the seed recipe's noise on the field's z, written out
    np.testing.assert_allclose(result.noisy[i], expected_noisy, atol=1e-6)
    expected_denoised = keras.ops.convert_to_numpy(model(expected_noisy[None, ..., None], training=False))[
        0, ..., 0
    ]
    np.testing.assert_allclose(result.denoised[i], expected_denoised, atol=1e-5)
    for image, score in (
        (expected_noisy, result.noisy_scores[i]),
        (expected_denoised, result.denoised_scores[i]),
    ):
        mse = np.mean((image.astype(np.float64) - clean) ** 2)
        assert score.psnr == pytest.approx(10 * np.log10(1.0 / mse), abs=1e-3)  # PSNR for a peak of 1
    assert 0 < result.noisy_scores[i].ssim < result.denoised_scores[i].ssim < 1
    assert result.noisy_scores[0].psnr == float("inf")  # σ = 0 is the clean digit itself


def test_sweep_covers_slider_positions_and_single_values_set_by_code():
    assert sweep.sigmas_for(0.5) is sweep.GRID and sweep.sigmas_for(1.0) is sweep.GRID
    assert sweep.sigmas_for(0.505) == (0.505,)
    with pytest.raises(KeyError):
        sweep.Sweep((0.1,), np.zeros((1, 28, 28)), np.zeros((1, 28, 28)), (), ()).index(0.2)


def test_chart_rows_hold_each_model_and_the_reference_lines_once(tmp_path):
    rows = [
        {
            "sigma": 0.0,
            "psnr": 21.0,
            "noisy_psnr": float("inf"),
            "accuracy": 0.99,
            "noisy_accuracy": 0.99,
            "clean_accuracy": 0.99,
        },
        {
            "sigma": 0.5,
            "psnr": 18.0,
            "noisy_psnr": 9.0,
            "accuracy": 0.95,
            "noisy_accuracy": 0.6,
            "clean_accuracy": 0.99,
        },
    ]
    entries = [
        catalog.ModelEntry("weights/a", "a", tmp_path / "a.keras", "", rows),
        catalog.ModelEntry("weights/b", "b", tmp_path / "b.keras", "", rows[1:]),
    ]
    psnr = charts.score_rows(entries, "psnr", charts.PSNR_REFERENCES)
    assert [(r["model"], r["sigma"]) for r in psnr] == [
        ("a", 0.0),
        ("a", 0.5),
        ("b", 0.5),
        (charts.NOISY, 0.5),
    ]
    accuracy = charts.score_rows(entries, "accuracy", charts.ACCURACY_REFERENCES)
    assert {r["model"] for r in accuracy if r["reference"]} == {charts.NOISY, charts.CLEAN}
    spec = charts.sigma_chart(accuracy, 0.42, "accuracy", ".0%")
    assert spec["layer"][1]["data"]["values"] == [{"sigma": 0.42}]


def test_panels_are_upscaled_crisply_to_at_least_196_px():
    image = np.zeros((28, 28), np.float32)
    image[3, 5] = 1.0
    big = panels.upscale(image)
    assert big.shape == (196, 196) and big.dtype == np.uint8
    assert big[21:28, 35:42].min() == 255 and big[:21].max() == 0 and big[28:].max() == 0
    assert Image.open(io.BytesIO(panels.panel_png(image))).size == (196, 196)


def test_captions_show_infinity_and_the_gain():
    exact, noisy, cleaned = (
        panels.PanelScore(float("inf"), 1.0),
        panels.PanelScore(12.04, 0.3),
        panels.PanelScore(19.5, 0.8),
    )
    assert panels.caption("Original", exact) == "Original · PSNR ∞ dB · SSIM 1.000"
    assert (
        panels.caption("Denoised", cleaned, panels.gain(cleaned, noisy))
        == "Denoised · PSNR 19.5 dB (+7.5 dB) · SSIM 0.800"
    )
    assert panels.gain(exact, exact) is None  # an exact copy of an exact input: nothing to say
    assert panels.gain(cleaned, exact) == float("-inf")
    assert panels.caption("Denoised", cleaned, panels.gain(cleaned, exact)).startswith(
        "Denoised · PSNR 19.5 dB (worse: the input was clean)"
    )
    worse = panels.PanelScore(10.8, 0.5)
    assert (
        panels.caption("Denoised", worse, panels.gain(worse, noisy))
        == "Denoised · PSNR 10.8 dB (\u22121.2 dB) · SSIM 0.500"
    )


def test_weak_classifier_readings_are_marked_unsure():
    assert panels.reading_text(7, 0.93) == "Classifier reads **7** (93%)"
    assert panels.reading_text(8, 0.41) == "Classifier is unsure: maybe 8 (41%)"


def test_composite_png_holds_the_three_panels_side_by_side():
    images = [np.full((28, 28), v, np.float32) for v in (0.0, 0.5, 1.0)]
    sheet = Image.open(
        io.BytesIO(panels.composite_png(images, ["Noisy · PSNR 9.0 dB", "b", "Original · PSNR ∞ dB"]))
    )
    assert sheet.width >= 3 * 196 and sheet.height > 196
    middle_row = np.asarray(sheet.convert("L"))[100]
    assert {0, 128, 255} <= set(middle_row.tolist())


@pytest.mark.parametrize("name", list(good_uploads()))
def test_read_upload_returns_an_mnist_style_input(name):
    content, _ = good_uploads()[name]
    result = uploads.read_upload(content)
    assert result.image.shape == (28, 28) and result.image.dtype == np.float32
    assert result.image.max() == pytest.approx(1.0) and result.image[:3].max() < 0.05  # framed like MNIST


def test_read_upload_takes_the_first_frame_of_an_animation():
    result = uploads.read_upload(good_uploads()["animated GIF"][0])
    assert result.notes == ("The image is animated: using its first frame.",)
    first_only = uploads.read_upload(encode(Image.fromarray(digit_picture(2))))
    assert np.abs(result.image - first_only.image).max() < 0.05


@pytest.mark.parametrize("name", list(BAD_UPLOADS))
def test_read_upload_refuses_bad_files_with_a_message(name):
    content, message = BAD_UPLOADS[name]
    with pytest.raises(ValueError, match=message):
        uploads.read_upload(content)


def test_read_upload_turns_a_sideways_phone_photo_upright():
    upright = Image.fromarray(digit_picture(7)).convert("RGB")
    exif = Image.Exif()
    exif[0x0112] = 6  # EXIF orientation: stored turned a quarter, "rotate 90° clockwise to view"
    sideways = encode(upright.transpose(Image.Transpose.ROTATE_90), "JPEG", quality=95, exif=exif)
    expected = uploads.read_upload(encode(upright, "JPEG", quality=95)).image
    assert np.abs(uploads.read_upload(sideways).image - expected).mean() < 0.02


def test_read_canvas_turns_the_canvas_png_into_the_drawn_digit():
    canvas = np.zeros((280, 280, 4), np.uint8)
    canvas[..., 3] = 255  # the canvas has an opaque black background
    canvas[40:240, 130:150, :3] = 255  # a white vertical stroke: a 1
    digit = uploads.read_canvas(encode(Image.fromarray(canvas, mode="RGBA")))
    assert digit.shape == (28, 28) and digit.max() == pytest.approx(1.0)
    columns = np.flatnonzero(digit.max(axis=0) > 0.5)
    assert 10 <= columns.min() and columns.max() <= 17  # tall, thin and centred, as MNIST's 1s are
    blank = canvas.copy()
    blank[..., :3] = 0
    with pytest.raises(ValueError, match="draw a digit"):
        uploads.read_canvas(encode(Image.fromarray(blank, mode="RGBA")))
    with pytest.raises(ValueError, match="too large"):
        uploads.read_canvas(png_header_only(60_000, 60_000))


def test_read_upload_refuses_a_fully_transparent_or_blank_picture():
    clear = np.zeros((100, 100, 4), np.uint8)
    with pytest.raises(ValueError):
        uploads.read_upload(encode(Image.fromarray(clear, mode="RGBA")))
    with pytest.raises(ValueError):
        uploads.read_upload(encode(Image.new("L", (100, 100), 255)))


# What the live-panels issue added to the page, through AppTest.


def test_an_upload_of_two_digits_side_by_side_gets_a_one_line_hint():
    seven, three = digit_picture(7), digit_picture(3)
    pair = np.hstack([seven, np.full((seven.shape[0], 60), 255, np.uint8), three])  # a gap between them
    at = open_page("Upload")
    at.file_uploader(key="upload").set_value(("two.png", encode(Image.fromarray(pair)), "image/png")).run()
    assert_three_panels(at)
    hints = [c.value for c in at.caption if "separate marks" in c.value]
    assert len(hints) == 1 and "\n" not in hints[0]


def test_a_single_digit_gets_no_hint():
    at = open_page("Upload")
    at.file_uploader(key="upload").set_value(
        ("7.png", encode(Image.fromarray(digit_picture(7))), "image/png")
    ).run()
    assert_three_panels(at)
    assert not [c.value for c in at.caption if "separate marks" in c.value or "single dot" in c.value]


def test_marks_are_counted_on_real_digits_and_a_dot_is_a_blob():
    images, _ = data.load_sample()
    flagged = sum(uploads.marks_hint(image) is not None for image in images)
    assert flagged <= len(images) // 100  # real MNIST digits are one mark (a few are broken strokes)
    pair = np.zeros((28, 28), np.float32)
    pair[4:24, 1:13], pair[4:24, 15:27] = images[0][4:24, 8:20], images[1][4:24, 8:20]
    assert "2 separate marks" in uploads.marks_hint(pair)
    dot = np.zeros((28, 28), np.float32)
    yy, xx = np.mgrid[:28, :28]
    dot[(yy - 14) ** 2 + (xx - 14) ** 2 < 100] = 1.0
    assert "single dot" in uploads.marks_hint(dot)


def test_a_visitor_whose_selected_model_was_removed_is_told_so(tmp_path, monkeypatch):
    runs = tmp_path / "runs"
    runs.mkdir()
    copy_model("classic", runs, "mine", description="Retrained by a visitor.")
    monkeypatch.setenv("DENOISER_RUNS_DIR", str(runs))
    at = open_page("MNIST sample")
    at.radio(key="model").set_value("runs/mine").run()
    assert "Denoised (mine (retrained))" in assert_three_panels(at)[1]
    (runs / "mine.keras").unlink()  # pruned by someone else's training
    (runs / "mine.json").unlink()
    at.run()
    assert at.radio(key="model").value == "weights/classic"
    assert any("mine (retrained)" in w.value and "removed" in w.value for w in at.sidebar.warning)
    at.run()
    assert not at.sidebar.warning  # said once


def test_the_selection_rule_follows_the_default_keeps_a_choice_and_reports_a_loss(tmp_path):
    from denoiser.page import picker

    entries = [
        catalog.ModelEntry("weights/blind", "blind", tmp_path / "b.keras", ""),
        catalog.ModelEntry("weights/classic", "classic", tmp_path / "c.keras", ""),
    ]
    usable = {"weights/blind": True, "weights/classic": True}
    assert picker.next_selection(entries, usable, None, None) == ("weights/blind", "weights/blind", False)
    assert picker.next_selection(entries, usable, "weights/classic", "weights/blind")[0] == "weights/classic"
    assert (
        picker.next_selection(entries, {**usable, "weights/blind": False}, None, None)[0] == "weights/classic"
    )
    assert picker.next_selection(entries, usable, "runs/gone", "weights/blind") == (
        "weights/blind",
        "weights/blind",
        True,
    )


def test_only_app_py_and_the_page_package_import_streamlit():
    import ast
    import subprocess

    importers = set()
    for path in [ROOT / "app.py", *(ROOT / "denoiser").rglob("*.py")]:
        tree = ast.parse(path.read_text())
        names = [a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names]
        names += [n.module or "" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)]
        if any(name.split(".")[0] in ("streamlit", "streamlit_drawable_canvas") for name in names):
            importers.add(path.relative_to(ROOT).as_posix())
    assert importers and all(p == "app.py" or p.startswith("denoiser/page/") for p in importers), importers
    library = (
        "data, noise, models, train, evaluate, metrics, storage, inference, classifier, preprocessing, cli"
    )
    check = f"import sys; from denoiser import {library}; print('streamlit' in sys.modules)"
    loaded = subprocess.run(
        [sys.executable, "-c", check], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert loaded.stdout.strip() == "False"


def test_the_fallback_choice_is_the_chosen_model_or_the_first_that_loaded(tmp_path):
    from denoiser.page import picker

    entries = [catalog.ModelEntry(f"weights/{n}", n, tmp_path / f"{n}.keras", "") for n in ("a", "b", "c")]
    loaded = {
        "weights/a": "a.keras is damaged or not a Keras model file",
        "weights/b": object(),
        "weights/c": object(),
    }
    assert picker.fallback_for(entries[2], entries, loaded) is entries[2]
    assert picker.fallback_for(entries[0], entries, loaded) is entries[1]
    assert picker.fallback_for(entries[0], entries, {key: "broken" for key in loaded}) is None


def test_the_gc_policy_comes_from_the_environment_with_a_safe_default(monkeypatch):
    from denoiser.page import session

    for value, policy in (
        ("models", "models"),
        ("OFF", "off"),
        ("", "imports"),
        ("freeze-everything", "imports"),
    ):
        monkeypatch.setenv("DENOISER_GC", value)
        assert session.gc_policy() == policy
    monkeypatch.delenv("DENOISER_GC")
    assert session.gc_policy() == "imports"
