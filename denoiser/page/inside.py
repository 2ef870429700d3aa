"""The page's "Inside the model" section: the code, the first filters, and decoding mixed codes.

It sits in an expander that tracks whether it is open (`on_change="rerun"`), and nothing in
it runs while it is closed: no sub-model is built, no TensorFlow call made, no image sent.
Open, it runs the model's first layer and its code (or deepest level) on the noisy input at
the current σ and on the clean digit: one call of two images, ~1–2 ms here, cached per σ.
Sweeping all 101 slider positions at once (as the panels do) took 14–29 ms more on every
opening and every new digit, to save that much on σ moves that the live panels already
answer in the browser. The pictures come from `denoiser.anatomy` (the numbers) and
`denoiser.page.anatomy_images` (the grids); this module only lays them out and words them.
"""

from __future__ import annotations

from dataclasses import dataclass

import keras
import numpy as np
import streamlit as st

from denoiser import anatomy, noise
from denoiser.page import anatomy_images, catalog

EXPANDER_KEY = "inside_open"
OTHER_DIGIT_KEY = "inside_other_digit"
OTHER_INDEX_KEY = "inside_other_index"
LEVEL_MAPS = 16  # maps shown per input: all of classic's code, the U-Net's most active
MAP_TILE_PX = 42  # a 7×7 map at ×6
RESPONSE_TILE_PX = 56  # a 28×28 response at ×2
FILTER_TILE_PX = 57  # a 3×3 filter at ×19, so the filter grid is as wide as the responses' below it
STRIP_TILE_PX = 56  # a 28×28 digit at ×2: eight fit the expander's width without the browser resizing

CODE_TEXT = (
    "The encoder squeezes the 28×28 digit into this code, {maps}: {size}, and all the decoder gets. "
    "Left for the noisy input, right for the clean digit; brighter is larger, each map on one scale for both."
)
LEVEL_TEXT = (
    "{maps} at the model's deepest level, for the noisy input (left) and the clean digit (right); "
    "brighter is larger, each map on one scale for both."
)
NO_CODE_TEXT = (
    "There is no single code to decode here: skip connections hand the decoder detail from the "
    "encoder's earlier, larger layers, around this level, so these maps alone cannot rebuild the digit."
)
FILTERS_TEXT = (
    "The {count} filters of the first layer, 3×3 pixels each, as the training left them: lighter "
    "adds, darker subtracts, grey is zero."
)
RESPONSES_TEXT = (
    "What each filter (in the same place in the grid above) picks out of the noisy input: "
    "bright where the input matches its pattern."
)
MIX_TEXT = (
    "The decoder run on {steps} codes evenly spaced on the straight line from this digit's code "
    "(left) to the other digit's (right). A denoising autoencoder is not a generative model: it "
    "only learned to turn codes of real digits back into digits, so the middle of the strip is a "
    "ghostly overlay of the two, not a new digit."
)


@dataclass(frozen=True)
class Parts:
    """The sub-models one denoiser needs for this section, built once and kept (each is traced once)."""

    watcher: keras.Model | None  # input → [first convolution's output, the code or deepest level]
    decoder: keras.Model | None  # code → output; None where the model cannot be split
    level_is_code: bool  # True where the level shown is a code the decoder can run from
    filters: np.ndarray  # (F, 3, 3) first-layer kernels
    reason: str | None  # why there is no deepest level to show, where there is none


@st.cache_resource(max_entries=16, show_spinner=False)
def model_parts(_model: keras.Model, model_key: str) -> Parts:
    """Split the model (or find its deepest level) and trace the pieces, once per model file.

    `model_key` names the file. Each sub-model is run once on blanks of the batch sizes the
    section uses (two images; the strip's codes), so TensorFlow traces it here and not when a
    visitor opens the section: ~60 ms for classic, most of it the decoder's first call."""
    filters = anatomy.first_filters(_model)
    first = anatomy.first_conv(_model).name
    try:
        _encoder, decoder = anatomy.split(_model)
        level = anatomy.code_layer(_model)
    except ValueError:
        decoder = None
        try:
            level = anatomy.deepest_layer(_model)
        except ValueError as error:
            return traced(Parts(anatomy.watch(_model, [first]), None, False, filters, str(error)))
    watcher = anatomy.watch(_model, [first, level.name])
    return traced(Parts(watcher, decoder, decoder is not None, filters, None))


def traced(parts: Parts) -> Parts:
    """`parts` after one call of each sub-model on blanks shaped as the section's own calls."""
    anatomy.look(parts.watcher, np.zeros((2, 28, 28), np.float32))
    if parts.decoder is not None:  # the strip's own call, so its batch is the one traced
        blank = np.zeros(tuple(int(n) for n in parts.decoder.inputs[0].shape[1:]), np.float32)
        anatomy.interpolate(parts.decoder, blank, blank)
    return parts


def prepare(entry: catalog.ModelEntry, model: keras.Model) -> None:
    """Have the section's sub-models built and traced for this model, once per file and server.

    app.py calls this last in a run, after the page has gone out: the first visitor to open the
    section then waits no longer than the next one does (the first opening was ~2× a slider
    release). Once per model file and server process, on blanks; every rerun after that finds
    them in the cache, and the section itself still computes nothing while it is closed."""
    model_parts(model, model_key(entry))


@dataclass(frozen=True)
class Levels:
    """What the model makes of one digit at one σ, from one call."""

    sigma: float
    responses: np.ndarray  # (28, 28, F) uint8: the first layer on the noisy input, each map over its max
    noisy: np.ndarray | None  # (7, 7, C): the code (or deepest level) of the noisy input
    clean: np.ndarray | None  # (7, 7, C): the same for the clean digit


@st.cache_data(max_entries=256, show_spinner=False)
def levels(
    _parts: Parts, model_key: str, clean: np.ndarray, field: np.ndarray, sigma: float, kind: str
) -> Levels:
    """The noisy digit at σ (of `kind`) and the clean one through the watcher, in one call of two images."""
    outputs = anatomy.look(_parts.watcher, np.stack([noise.apply_noise(clean, field, sigma, kind), clean]))
    responses = outputs[0][0]
    unit = anatomy_images.scale_to_unit(responses, responses.max(axis=(0, 1), keepdims=True))
    pixels = np.round(unit * 255).astype(np.uint8)
    if len(outputs) == 1:
        return Levels(sigma, pixels, None, None)
    return Levels(sigma, pixels, outputs[1][0], outputs[1][1])


@dataclass(frozen=True)
class LevelViews:
    """The pictures of the digit at one σ, ready to show."""

    noisy_png: bytes | None
    clean_png: bytes | None
    shape: tuple[int, int, int]  # the level's (height, width, maps); (0, 0, 0) where there is none
    distance: float | None  # ‖noisy − clean‖ / ‖clean‖ at that level
    responses_png: bytes


@st.cache_data(max_entries=64, show_spinner=False)
def level_views(
    _levels: Levels, model_key: str, clean: np.ndarray, field: np.ndarray, sigma: float, kind: str
) -> LevelViews:
    """The level's maps for the noisy input beside the clean digit's, and the first-layer responses, at σ.

    Classic's 16 code maps keep their order; a U-Net's 16 most active (on the clean digit, so
    they stay put while σ moves) are picked from its deepest level. Each map has one scale for
    both pictures, so brighter on the left means the noise added to it."""
    responses_png = anatomy_images.maps_png(_levels.responses / 255.0, 1.0, 8, RESPONSE_TILE_PX)
    if _levels.noisy is None:
        return LevelViews(None, None, (0, 0, 0), None, responses_png)
    noisy_level, clean_level = _levels.noisy, _levels.clean
    channels = clean_level.shape[-1]
    shown = np.arange(channels) if channels <= LEVEL_MAPS else anatomy.most_active(clean_level, LEVEL_MAPS)
    noisy_maps, clean_maps = noisy_level[..., shown], clean_level[..., shown]
    tops = anatomy_images.channel_tops(noisy_maps, clean_maps)
    return LevelViews(
        noisy_png=anatomy_images.maps_png(noisy_maps, tops, 4, MAP_TILE_PX),
        clean_png=anatomy_images.maps_png(clean_maps, tops, 4, MAP_TILE_PX),
        shape=tuple(int(n) for n in clean_level.shape),
        distance=anatomy.code_distance(noisy_level, clean_level),
        responses_png=responses_png,
    )


@st.cache_data(max_entries=16, show_spinner=False)
def filters_png(_parts: Parts, model_key: str) -> bytes:
    """The first layer's filters as one grid (a property of the model alone)."""
    return anatomy_images.filters_png(_parts.filters, tile_px=FILTER_TILE_PX)


@st.cache_data(max_entries=64, show_spinner=False)
def mix_png(_parts: Parts, model_key: str, clean: np.ndarray, other: np.ndarray) -> bytes:
    """The decoder on 8 codes between the two clean digits' codes, as one strip."""
    codes = anatomy.look(_parts.watcher, np.stack([clean, other]))[1]
    return anatomy_images.strip_png(anatomy.interpolate(_parts.decoder, codes[0], codes[1]), STRIP_TILE_PX)


def model_key(entry: catalog.ModelEntry) -> str:
    """The file's key and version: a replaced file is a different model to the caches."""
    return f"{entry.key}@{entry.version[0]}:{entry.version[1]}"


@st.fragment
def show(
    entry: catalog.ModelEntry,
    model: keras.Model,
    clean: np.ndarray,
    field: np.ndarray,
    sigma: float,
    samples: tuple[np.ndarray, np.ndarray],
    kind: str = noise.DEFAULT_KIND,
) -> None:
    """The "Inside the model" expander for the selected model and the current digit.

    `clean` is the (28, 28) Original panel and `field` the page's noise field, so the noisy
    input at `sigma` of `kind` is exactly the Noisy panel (`noise.apply_noise(clean, field, sigma, kind)`);
    `samples` is `data.load_sample()`'s (images, labels), where the digit to mix with comes from.
    Closed, it draws only its label and computes nothing. A fragment: opening or closing it, and
    its own controls, rerun this section alone, not the page above it.
    """
    box = st.expander("Inside the model", key=EXPANDER_KEY, on_change="rerun", icon=":material/neurology:")
    with box:
        if box.open:
            draw(entry, model, clean, field, sigma, samples, kind)


def draw(
    entry: catalog.ModelEntry,
    model: keras.Model,
    clean: np.ndarray,
    field: np.ndarray,
    sigma: float,
    samples: tuple[np.ndarray, np.ndarray],
    kind: str = noise.DEFAULT_KIND,
) -> None:
    """The open section's three parts: the code (or deepest level), the filters, the mixed codes."""
    key = model_key(entry)
    parts = model_parts(model, key)
    clean, field = np.asarray(clean, np.float32), np.asarray(field, np.float32)
    views = level_views(levels(parts, key, clean, field, sigma, kind), key, clean, field, sigma, kind)
    show_level(entry, parts, views, noise.amount_text(kind, sigma))
    show_filters(parts, key, views)
    if parts.decoder is not None:
        show_mix(parts, key, clean, samples)


def show_level(entry: catalog.ModelEntry, parts: Parts, views: LevelViews, amount: str) -> None:
    """Classic's code, or a U-Net's deepest level, for the noisy input beside the clean digit."""
    if parts.reason is not None:
        st.info(f"{entry.label}: {parts.reason}.")
        return
    st.markdown(f"**{'The code' if parts.level_is_code else 'The deepest level'}** ({entry.label})")
    left, right = st.columns(2)
    left.image(views.noisy_png, caption=f"Noisy input, {amount}", output_format="PNG")
    right.image(views.clean_png, caption="Clean digit", output_format="PNG")
    st.caption(level_text(views.shape, parts.level_is_code))
    what = "code" if parts.level_is_code else "deepest level"
    st.markdown(
        f"Distance between the two {what}s at {amount}: **{views.distance:.2f}** "
        f"(the size of their difference over the size of the clean {what}: 0 means the noise "
        "never reached it, 1 means the change is as large as the clean one itself)."
    )
    if not parts.level_is_code:
        st.caption(NO_CODE_TEXT)


def level_text(shape: tuple[int, int, int], is_code: bool) -> str:
    """The sentence under the maps, with the level's own sizes (classic: 16 maps of 7×7, 784 numbers)."""
    height, width, count = shape
    maps = f"{count} maps of {height}×{width}"
    if count > LEVEL_MAPS:
        maps = f"the {LEVEL_MAPS} most active of its {maps}"
    if not is_code:
        return LEVEL_TEXT.format(maps=maps[0].upper() + maps[1:])
    numbers = height * width * count
    size = "as many numbers as the image has pixels" if numbers == 28 * 28 else f"{numbers:,} numbers"
    return CODE_TEXT.format(maps=maps, size=size)


def show_filters(parts: Parts, key: str, views: LevelViews) -> None:
    """The first layer's filters and what each one does to the current input."""
    st.markdown("**The first layer's filters**")
    st.image(filters_png(parts, key), output_format="PNG")
    st.caption(FILTERS_TEXT.format(count=len(parts.filters)))
    st.image(views.responses_png, output_format="PNG")
    st.caption(RESPONSES_TEXT)


def next_sample() -> None:
    """Step to the next bundled digit of the chosen class."""
    st.session_state[OTHER_INDEX_KEY] = st.session_state.get(OTHER_INDEX_KEY, 0) + 1


def other_digit(samples: tuple[np.ndarray, np.ndarray]) -> tuple[np.ndarray, str]:
    """The picker for the digit to mix with: a class, and *Next sample* to step through its digits."""
    images, labels = samples
    choice, button = st.columns([4, 1], vertical_alignment="bottom")
    digit = choice.segmented_control("Mix with a digit", list(range(10)), default=8, key=OTHER_DIGIT_KEY)
    button.button("Next sample", on_click=next_sample, key="inside_next_sample")
    digit = 8 if digit is None else int(digit)
    matches = np.flatnonzero(labels == digit)
    index = int(matches[st.session_state.get(OTHER_INDEX_KEY, 0) % len(matches)])
    return images[index], f"{'an' if digit == 8 else 'a'} {digit} (bundled sample #{index})"


def show_mix(parts: Parts, key: str, clean: np.ndarray, samples: tuple[np.ndarray, np.ndarray]) -> None:
    """The decoder on codes between this digit and another, as one strip."""
    st.markdown("**Decoding mixed codes**")
    other, name = other_digit(samples)
    strip = mix_png(parts, key, clean, np.asarray(other, np.float32))
    st.image(strip, caption=f"This digit → {name}", output_format="PNG")
    st.caption(MIX_TEXT.format(steps=anatomy.INTERPOLATION_STEPS))
