"""The page: draw, pick or upload a digit, move the noise slider, see Noisy | Denoised | Original.

A thin layer over `denoiser/`: each function below draws one part of the page and returns
what the visitor chose; all the work (finding models, decoding uploads, scoring, upscaling,
charts) happens in the package, where it is tested without Streamlit.
"""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # before TensorFlow is imported

import gc  # noqa: E402
from pathlib import Path  # noqa: E402

import keras  # noqa: E402
import numpy as np  # noqa: E402
import streamlit as st  # noqa: E402

from denoiser import catalog, charts, classifier, data, noise, panels, uploads  # noqa: E402
from denoiser.inference import denoise  # noqa: E402

SOURCES = ("Draw", "MNIST sample", "Upload")
CANVAS_PX = 280
STROKE_PX = 20  # about 2 px at 28×28 after the digit is fitted to 20 px: MNIST's stroke width
COMPARE_COLUMNS = 4


@st.cache_resource
def freeze_imports() -> None:
    """Move everything imported so far out of the collector's sight, once per process.

    Streamlit runs gc.collect() after every rerun; with TensorFlow's objects in the young
    generations that costs ~300 ms a rerun, ~100 ms once they are frozen.
    """
    gc.freeze()


# Cached work: models once per process, pure functions once per distinct input.


@st.cache_resource(max_entries=64, show_spinner=False)
def load_model(path: str, version: tuple[int, int]) -> keras.Model | str:
    """A denoiser, or the one-line reason it cannot be used; `version` reloads a replaced file."""
    try:
        model = catalog.load_denoiser(Path(path))
    except catalog.ModelUnavailable as error:
        return str(error)
    gc.freeze()  # the model's own objects need not be walked after every rerun either
    return model


@st.cache_resource(show_spinner=False)
def load_classifier(folder: str, version: tuple[int, int] | None) -> keras.Model | None:
    """The digit classifier, or None (the readings under the panels are then left out)."""
    model = catalog.load_classifier(Path(folder))
    gc.freeze()
    return model


@st.cache_data(show_spinner=False)
def sample_digits() -> tuple[np.ndarray, np.ndarray]:
    """The bundled test digits: the page needs no dataset."""
    return data.load_sample()


@st.cache_data(max_entries=64, show_spinner=False)
def canvas_digit(png: bytes) -> np.ndarray:
    """The canvas's PNG as the model's 28×28 input."""
    return uploads.read_canvas(png)


@st.cache_data(max_entries=16, show_spinner=False)
def uploaded_digit(content: bytes) -> uploads.Upload:
    """An upload as the model's 28×28 input (ValueError with a message when it is not usable)."""
    return uploads.read_upload(content)


@st.cache_data(max_entries=2048, show_spinner=False)
def denoised(_model: keras.Model, key: str, version: tuple[int, int], noisy: np.ndarray) -> np.ndarray:
    """One image through one model (`predict_on_batch`); cached by model file and input."""
    return denoise(_model, noisy)


@st.cache_data(max_entries=2048, show_spinner=False)
def scores(images: tuple[np.ndarray, ...], original: np.ndarray) -> list[panels.PanelScore]:
    """PSNR/SSIM of each image against the original."""
    return panels.score_panels(list(images), original)


@st.cache_data(max_entries=2048, show_spinner=False)
def readings(_model: keras.Model, folder: str, images: tuple[np.ndarray, ...]) -> list[classifier.Reading]:
    """What the classifier reads in each image."""
    probabilities = classifier.read_digits(_model, np.stack(images))
    return [classifier.Reading(int(p.argmax()), float(p.max())) for p in probabilities]


@st.cache_data(max_entries=4096, show_spinner=False)
def panel_png(image: np.ndarray) -> bytes:
    """One panel, upscaled crisply and encoded."""
    return panels.panel_png(image)


@st.cache_data(max_entries=256, show_spinner=False)
def composite(images: tuple[np.ndarray, ...], captions: tuple[str, ...]) -> bytes:
    """The three panels as one PNG, for the download button."""
    return panels.composite_png(list(images), list(captions))


# Session state: the noise field, the canvas's key, the sample picked.


def init_state() -> None:
    """Defaults for a new visitor; the noise field is one N(0, 1) draw that σ only scales."""
    st.session_state.setdefault("noise_field", noise.noise_field((28, 28), seed=0))
    st.session_state.setdefault("canvas_version", 0)


def new_noise() -> None:
    """A fresh noise field (the slider then scales this one)."""
    st.session_state.noise_field = noise.noise_field((28, 28), seed=np.random.default_rng())


def clear_canvas() -> None:
    """A new key gives a new, empty canvas; the component has no clear call of its own."""
    st.session_state.canvas_version += 1


def random_sample() -> None:
    """Pick a random digit class and a random example of it."""
    rng = np.random.default_rng()
    _, labels = sample_digits()
    digit = int(rng.integers(10))
    st.session_state.sample_digit = digit
    st.session_state.sample_index = int(rng.integers(np.count_nonzero(labels == digit)))


# Page parts.


def draw_input() -> np.ndarray | None:
    """A canvas to draw on (white ink on black), and a Clear button."""
    try:
        from streamlit_drawable_canvas import st_canvas  # registers a component: only inside a page
    except Exception as error:  # noqa: BLE001 - any failure leaves the other two inputs working
        st.warning(
            f"The drawing canvas is unavailable ({catalog.first_line(error)}): pick a sample or upload."
        )
        return None
    canvas_column, side_column = st.columns([CANVAS_PX, 704 - CANVAS_PX])
    with canvas_column:
        result = st_canvas(
            stroke_width=STROKE_PX,
            stroke_color="#FFFFFF",
            background_color="#000000",
            width=CANVAS_PX,
            height=CANVAS_PX,
            drawing_mode="freedraw",
            return_image_data=True,
            key=f"canvas-{st.session_state.canvas_version}",
        )
    with side_column:
        st.button("Clear", on_click=clear_canvas, key="clear")
        strokes = (result.json_data or {}).get("objects") or []
        png = result.image_bytes if strokes else None
        if not png:
            st.info("Draw a digit on the black square, about as tall as the square.")
            return None
        try:
            return canvas_digit(png)
        except ValueError as error:
            st.info(f"Draw a digit: {error}")
            return None


def sample_input() -> np.ndarray:
    """A bundled MNIST test digit, by class and index or at random."""
    images, labels = sample_digits()
    st.session_state.setdefault("sample_digit", int(labels[0]))
    digit_column, index_column, button_column = st.columns([2, 2, 1.4], vertical_alignment="bottom")
    digit = digit_column.selectbox("Digit", list(range(10)), key="sample_digit")
    of_class = np.flatnonzero(labels == digit)
    index = index_column.number_input(
        f"Example (0-{len(of_class) - 1})", 0, len(of_class) - 1, key="sample_index"
    )
    button_column.button("Random digit", on_click=random_sample, key="random_sample")
    return images[of_class[min(int(index), len(of_class) - 1)]]


def upload_input() -> np.ndarray | None:
    """A picture of a digit: photo, scan or drawing, any polarity."""
    upload = st.file_uploader(
        "A PNG or JPEG of one digit (dark on light or light on dark)", type=uploads.EXTENSIONS, key="upload"
    )
    if upload is None:
        st.info("Upload a picture of a single digit.")
        return None
    try:
        result = uploaded_digit(upload.getvalue())
    except ValueError as error:
        st.error(str(error))
        return None
    for note in result.notes:
        st.caption(note)
    return result.image


def digit_input() -> np.ndarray | None:
    """The three ways in, as tabs; only the open tab's code runs."""
    tabs = st.tabs(list(SOURCES), key="source", on_change="rerun")
    inputs = (draw_input, sample_input, upload_input)
    clean = None
    for tab, read in zip(tabs, inputs, strict=True):
        with tab:
            if tab.open is not False:
                clean = read()
    return clean


def noise_controls() -> tuple[float, np.ndarray]:
    """The σ slider and the New noise button."""
    slider_column, button_column = st.columns([5, 1], vertical_alignment="bottom")
    sigma = slider_column.slider("Noise σ", 0.0, 1.0, 0.5, 0.01, key="sigma")
    button_column.button("New noise", on_click=new_noise, key="new_noise")
    return float(sigma), st.session_state.noise_field


def follow_default(entries: list[catalog.ModelEntry], usable: dict[str, bool]) -> None:
    """Keep the selection on the default (blind once it exists) until something else picks a model.

    A visitor's click or another feature writing `st.session_state.model` moves it off the
    default; after that it stays, unless the chosen model disappears.
    """
    keys = [e.key for e in entries]
    default = catalog.default_key([e for e in entries if usable[e.key]]) or keys[0]
    chosen, previous_default = st.session_state.get("model"), st.session_state.get("model_default")
    if chosen not in keys or chosen == previous_default:
        st.session_state.model = default
    st.session_state.model_default = default


def option_label(entry: catalog.ModelEntry, sigma: float, error: str | None) -> str:
    """`blind · 24.3 dB at σ 0.50`: the model's test-set PSNR at the slider's σ, from its sidecar."""
    if error:
        return f"{entry.label} · unavailable"
    psnr = catalog.score_at(entry.scores, sigma)
    score = f"test PSNR {panels.format_db(psnr)}" if psnr is not None else "no test score"
    return f"{entry.label} · {score} at σ {sigma:.2f}"


def model_picker(entries: list[catalog.ModelEntry], loaded: dict, sigma: float) -> catalog.ModelEntry | None:
    """The sidebar: one radio option per denoiser with its description, and the Compare toggle."""
    st.sidebar.header("Model")
    if not entries:
        st.sidebar.error(f"No denoiser found in {catalog.weights_dir()} or {catalog.runs_dir()}.")
        return None
    errors = {key: value if isinstance(value, str) else None for key, value in loaded.items()}
    follow_default(entries, {key: error is None for key, error in errors.items()})
    by_key = {e.key: e for e in entries}
    key = st.sidebar.radio(
        "Denoiser",
        list(by_key),
        key="model",
        format_func=lambda k: option_label(by_key[k], sigma, errors[k]),
        captions=[errors[e.key] or e.description for e in entries],
    )
    st.sidebar.toggle("Compare all models", key="compare", help="Show every model's output under the panels.")
    return by_key[key]


def denoise_with(
    entry: catalog.ModelEntry, entries: list[catalog.ModelEntry], loaded: dict, noisy: np.ndarray
) -> tuple[np.ndarray | None, catalog.ModelEntry | None]:
    """The chosen model's output; if it cannot load, say so and use the first model that can."""
    if not isinstance(loaded[entry.key], str):
        return denoised(loaded[entry.key], entry.key, entry.version, noisy), entry
    fallback = next((e for e in entries if not isinstance(loaded[e.key], str)), None)
    if fallback is None:
        st.error(f"{loaded[entry.key]}. No other model could be loaded either.")
        return None, None
    st.error(f"{loaded[entry.key]}: showing {fallback.label} instead.")
    return denoised(loaded[fallback.key], fallback.key, fallback.version, noisy), fallback


def show_panels(noisy: np.ndarray, cleaned: np.ndarray | None, clean: np.ndarray, used: str) -> None:
    """Noisy | Denoised | Original, captioned with PSNR/SSIM, the classifier's reading, a download."""
    images = (noisy, cleaned if cleaned is not None else np.zeros_like(clean), clean)
    noisy_score, denoised_score, original_score = scores(images, clean)
    captions = (
        panels.caption("Noisy", noisy_score),
        panels.caption(f"Denoised ({used})", denoised_score, panels.gain(denoised_score, noisy_score)),
        panels.caption("Original", original_score),
    )
    reader = load_classifier(
        str(catalog.weights_dir()), file_version(catalog.weights_dir() / catalog.CLASSIFIER_FILE)
    )
    read = readings(reader, str(catalog.weights_dir()), images) if reader is not None else None
    for i, column in enumerate(st.columns(3)):
        with column:
            if i == 1 and cleaned is None:
                st.warning("No denoiser could be loaded.")
                continue
            st.image(panel_png(images[i]), caption=captions[i], width=panels.PANEL_PX, output_format="PNG")
            if read is not None:
                st.markdown(panels.reading_text(read[i].digit, read[i].confidence))
    if cleaned is not None:
        st.download_button(
            "Download the three panels (PNG)",
            data=composite(images, captions),
            file_name="denoised-digit.png",
            mime="image/png",
            on_click="ignore",
            key="download",
        )


def show_comparison(
    entries: list[catalog.ModelEntry], loaded: dict, noisy: np.ndarray, clean: np.ndarray
) -> None:
    """Every model's output for the same noisy input, in rows of four."""
    st.subheader(f"Every model on this input at σ = {st.session_state.sigma:.2f}")
    columns = st.columns(COMPARE_COLUMNS)
    for i, entry in enumerate(entries):
        with columns[i % COMPARE_COLUMNS]:
            model = loaded[entry.key]
            if isinstance(model, str):
                st.caption(f"**{entry.label}**: {model}")
                continue
            output = denoised(model, entry.key, entry.version, noisy)
            (score,) = scores((output,), clean)
            st.image(
                panel_png(output), caption=f"{entry.label} · PSNR {panels.format_db(score.psnr)}", width=150
            )


def about_models(entries: list[catalog.ModelEntry], sigma: float) -> None:
    """Test-set PSNR and classifier accuracy against σ, from the sidecars (not recomputed)."""
    with st.expander("About the models"):
        for entry in entries:
            st.markdown(f"**{entry.label}**: {entry.description}")
        st.markdown("**Test-set PSNR against σ** (red line: the slider's σ)")
        st.vega_lite_chart(
            charts.sigma_chart(charts.score_rows(entries, "psnr", "noisy_psnr"), sigma, "PSNR (dB)")
        )
        accuracy = charts.score_rows(entries, "accuracy", "noisy_accuracy")
        st.markdown("**Classifier accuracy against σ**")
        if accuracy:
            st.vega_lite_chart(charts.sigma_chart(accuracy, sigma, "accuracy", ".0%"))
        else:
            st.caption("No model's sidecar has classifier accuracies yet.")


def file_version(path: Path) -> tuple[int, int] | None:
    """(mtime, size) of a file, or None when it is missing: a changed file is reloaded."""
    try:
        stat = path.stat()
    except OSError:
        return None
    return stat.st_mtime_ns, stat.st_size


def main() -> None:
    """Lay the page out top to bottom."""
    st.set_page_config(page_title="Denoising autoencoder", page_icon="✏️")
    freeze_imports()
    init_state()
    st.html("<style>[data-testid='stImage'] img {image-rendering: pixelated;}</style>")
    st.title("Denoising autoencoder")
    st.caption("Draw, pick or upload a digit, add Gaussian noise, and watch a small network take it away.")
    clean = digit_input()
    sigma, field = noise_controls()
    entries = catalog.discover()
    loaded = {e.key: load_model(str(e.path), e.version) for e in entries}
    entry = model_picker(entries, loaded, sigma)
    if clean is not None:
        noisy = noise.apply_noise(clean, field, sigma)
        cleaned, used = denoise_with(entry, entries, loaded, noisy) if entry else (None, None)
        show_panels(noisy, cleaned, clean, used.label if used else "none")
        if st.session_state.get("compare") and entries:
            show_comparison(entries, loaded, noisy, clean)
    about_models(entries, sigma)


main()
