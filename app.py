"""The page: draw, pick or upload a digit, move the noise slider, see Noisy | Denoised | Original.

A thin layer over `denoiser/`: each function below draws one part of the page and returns
what the visitor chose; all the work (finding models, decoding uploads, scoring, upscaling,
charts) happens in the package, where it is tested without Streamlit.
"""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # before TensorFlow is imported

import functools  # noqa: E402
import gc  # noqa: E402
from pathlib import Path  # noqa: E402

import keras  # noqa: E402
import numpy as np  # noqa: E402
import streamlit as st  # noqa: E402

from denoiser import data, noise  # noqa: E402
from denoiser.page import catalog, charts, panels, retrain, sweep, uploads  # noqa: E402

SOURCES = ("Draw", "MNIST sample", "Upload")
CANVAS_PX = 280
PAGE_PX = 704  # the width of Streamlit's centred layout
STROKE_PX = 20  # about 2 px at 28×28 after the digit is fitted to 20 px: MNIST's stroke width
COMPARE_COLUMNS = 4


def freeze_heap() -> None:
    """Move every object alive now out of the garbage collector's sight.

    Streamlit runs gc.collect() after every rerun; walking TensorFlow's and the models' objects
    took 200-330 ms a rerun here, 0.1-0.6 ms once frozen (docs/page.md). DENOISER_GC_FREEZE=0
    turns this off, for measuring what it saves.
    """
    if os.environ.get("DENOISER_GC_FREEZE") != "0":
        gc.freeze()


@st.cache_resource
def freeze_imports() -> None:
    """Freeze the heavy imports, once per process."""
    freeze_heap()


# Cached work: models once per process, pure functions once per distinct input.


@st.cache_resource(max_entries=64, show_spinner=False)
def load_model(path: str, version: tuple[int, int]) -> keras.Model | str:
    """A denoiser, or the one-line reason it cannot be used; `version` reloads a replaced file."""
    try:
        model = catalog.load_denoiser(Path(path))
    except catalog.ModelUnavailable as error:
        return str(error)
    freeze_heap()  # the model's own objects need not be walked after every rerun either
    return model


@st.cache_resource(show_spinner=False)
def load_classifier(folder: str, version: tuple[int, int] | None) -> keras.Model | None:
    """The digit classifier, or None (the readings under the panels are then left out)."""
    model = catalog.load_classifier(Path(folder))
    freeze_heap()
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


@st.cache_data(max_entries=64, show_spinner=False)
def sweep_of(
    _model: keras.Model,
    key: str,
    version: tuple[int, int],
    clean: np.ndarray,
    field: np.ndarray,
    sigmas: tuple[float, ...],
) -> sweep.Sweep:
    """The model on this digit and noise field at every slider position (a handful of batched calls)."""
    return sweep.run(_model, clean, field, sigmas)


@st.cache_data(max_entries=64, show_spinner=False)
def sweep_readings(
    _classifier: keras.Model,
    _sweep: sweep.Sweep,
    classifier_version: tuple[int, int] | None,
    key: str,
    version: tuple[int, int],
    clean: np.ndarray,
    field: np.ndarray,
    sigmas: tuple[float, ...],
) -> sweep.Readings:
    """The classifier's readings of a sweep, cached under the same inputs as the sweep itself."""
    return sweep.read(_classifier, _sweep, clean)


@st.cache_data(max_entries=256, show_spinner=False)
def scores(images: tuple[np.ndarray, ...], original: np.ndarray) -> list[panels.PanelScore]:
    """PSNR/SSIM of each image against the original (for panels outside a sweep)."""
    return panels.score_panels(list(images), original)


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
    canvas_column, side_column = st.columns([CANVAS_PX, PAGE_PX - CANVAS_PX])
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


def select_model(key: str) -> None:
    """Select a model by key (the Reset button's callback)."""
    st.session_state.model = key


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
    shipped = catalog.default_key([e for e in entries if not e.retrained and errors[e.key] is None])
    st.sidebar.button(
        "Reset to the shipped models",
        on_click=select_model,
        args=(shipped,),
        disabled=shipped is None,
        key="reset_models",
        help="Select the default shipped model again; retrained models stay in the list.",
    )
    return by_key[key]


def usable_model(entry: catalog.ModelEntry | None, entries: list[catalog.ModelEntry], loaded: dict):
    """The chosen model, or (saying so) the first one that loads; None when none does."""
    if entry is None:
        return None
    if not isinstance(loaded[entry.key], str):
        return entry
    fallback = next((e for e in entries if not isinstance(loaded[e.key], str)), None)
    if fallback is None:
        st.error(f"{loaded[entry.key]}. No other model could be loaded either.")
    else:
        st.error(f"{loaded[entry.key]}: showing {fallback.label} instead.")
    return fallback


def classifier_model() -> tuple[keras.Model | None, tuple[int, int] | None]:
    """The classifier in the weights folder (reloaded when its file changes), or None."""
    folder = catalog.weights_dir()
    version = file_version(folder / catalog.CLASSIFIER_FILE)
    return load_classifier(str(folder), version), version


def show_panels(
    entry: catalog.ModelEntry | None, model, clean: np.ndarray, field: np.ndarray, sigma: float
) -> None:
    """Noisy | Denoised | Original, captioned with PSNR/SSIM and the classifier's reading, and a download."""
    if entry is None:
        show_without_model(clean, field, sigma)
        return
    sigmas = sweep.sigmas_for(sigma)
    result = sweep_of(model, entry.key, entry.version, clean, field, sigmas)
    i = result.index(sigma)
    images = (result.noisy[i], result.denoised[i], clean)
    captions = panel_captions(entry, result.noisy_scores[i], result.denoised_scores[i], clean)
    reader, reader_version = classifier_model()
    found = (None,) * 3
    if reader is not None:
        read = sweep_readings(reader, result, reader_version, entry.key, entry.version, clean, field, sigmas)
        found = (read.noisy[i], read.denoised[i], read.original)
    for column, image, text, reading in zip(st.columns(3), images, captions, found, strict=True):
        with column:
            st.image(panel_png(image), caption=text, width=panels.PANEL_PX, output_format="PNG")
            if reading is not None:
                st.markdown(panels.reading_text(reading.digit, reading.confidence))
    st.download_button(
        "Download the three panels (PNG)",
        data=functools.partial(composite, images, captions),  # built only when clicked
        file_name="denoised-digit.png",
        mime="image/png",
        on_click="ignore",
        key="download",
    )


def panel_captions(
    entry: catalog.ModelEntry, noisy: panels.PanelScore, denoised: panels.PanelScore, clean: np.ndarray
) -> tuple[str, str, str]:
    """The three captions; the Denoised one names the model and the gain over Noisy."""
    (original,) = scores((clean,), clean)
    return (
        panels.caption("Noisy", noisy),
        panels.caption(f"Denoised ({entry.label})", denoised, panels.gain(denoised, noisy)),
        panels.caption("Original", original),
    )


def show_without_model(clean: np.ndarray, field: np.ndarray, sigma: float) -> None:
    """Noisy and Original only, when no denoiser loads."""
    noisy = noise.apply_noise(clean, field, sigma)
    noisy_score, original_score = scores((noisy, clean), clean)
    left, middle, right = st.columns(3)
    left.image(
        panel_png(noisy),
        caption=panels.caption("Noisy", noisy_score),
        width=panels.PANEL_PX,
        output_format="PNG",
    )
    middle.warning("No denoiser could be loaded.")
    right.image(
        panel_png(clean),
        caption=panels.caption("Original", original_score),
        width=panels.PANEL_PX,
        output_format="PNG",
    )


def show_comparison(
    entries: list[catalog.ModelEntry], loaded: dict, clean: np.ndarray, field: np.ndarray, sigma: float
) -> None:
    """Every model's output for the same noisy input, in rows of four."""
    st.subheader(f"Every model on this input at σ = {sigma:.2f}")
    sigmas = sweep.sigmas_for(sigma)
    columns = st.columns(COMPARE_COLUMNS)
    for n, entry in enumerate(entries):
        with columns[n % COMPARE_COLUMNS]:
            model = loaded[entry.key]
            if isinstance(model, str):
                st.caption(f"**{entry.label}**: {model}")
                continue
            result = sweep_of(model, entry.key, entry.version, clean, field, sigmas)
            i = result.index(sigma)
            text = f"{entry.label} · PSNR {panels.format_db(result.denoised_scores[i].psnr)}"
            st.image(panel_png(result.denoised[i]), caption=text, width=150, output_format="PNG")


def about_models(entries: list[catalog.ModelEntry], sigma: float) -> None:
    """Test-set PSNR and classifier accuracy against σ, from the sidecars (not recomputed)."""
    with st.expander("About the models"):
        for entry in entries:
            st.markdown(f"**{entry.label}**: {entry.description}")
        st.markdown("**Test-set PSNR against σ** (red line: the slider's σ)")
        st.vega_lite_chart(
            charts.sigma_chart(charts.score_rows(entries, "psnr", charts.PSNR_REFERENCES), sigma, "PSNR (dB)")
        )
        accuracy = charts.score_rows(entries, "accuracy", charts.ACCURACY_REFERENCES)
        st.markdown("**Classifier accuracy against σ**")
        if any(not row["reference"] for row in accuracy):
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
    training = retrain.follow_training()  # before discovery: a model that just finished is listed
    entries = catalog.discover()
    loaded = {e.key: load_model(str(e.path), e.version) for e in entries}
    entry = model_picker(entries, loaded, sigma)
    if clean is not None:
        used = usable_model(entry, entries, loaded)
        show_panels(used, loaded[used.key] if used else None, clean, field, sigma)
        if st.session_state.get("compare") and entries:
            show_comparison(entries, loaded, clean, field, sigma)
    about_models(entries, sigma)
    retrain.sidebar_section(training, entries)  # last, so the panels are sent first


main()
