"""The page's results: the live panels (or, until the browser runs them, the same panels drawn by
the server), the download, *Compare all models*, and the sidecar charts.
"""

from __future__ import annotations

import functools

import keras
import numpy as np
import streamlit as st

from denoiser import noise
from denoiser.page import catalog, charts, live, panels, payload, resources, session, sweep

COMPARE_COLUMNS = 4


@st.cache_data(max_entries=32, show_spinner=False)
def live_data(
    _result: sweep.Sweep,
    _readings: sweep.Readings | None,
    _compared: tuple[payload.Compared, ...],
    identity: str,
    clean: np.ndarray,
    title: str,
    kind: str,
    unlike: bool,
) -> dict:
    """The component's data for one digit (sprites and captions), built once per digit and kind."""
    return payload.build(_result, clean, title, _readings, identity, _compared, kind, unlike)


PENDING = "live_pending"  # session state: the full sweep still to compute, once the browser drew
SWEPT = "live_swept"  # session state: identities whose full sweep this session has had


def show(
    entry: catalog.ModelEntry | None,
    entries: list[catalog.ModelEntry],
    loaded: dict,
    clean: np.ndarray,
    field: np.ndarray,
) -> None:
    """Noisy | Denoised | Original for this digit: live in the browser, drawn here until it runs.

    For a digit new to this session the browser first gets the panels at the current σ alone
    (one image through the model, no classifier). Once it has drawn them it says so, and
    `complete` computes every slider position and the readings in that rerun: the first
    panels come sooner, and the sweep follows a moment later without competing with the
    browser for the CPU while it draws.
    """
    sigma, kind = session.sigma(), session.noise_kind()
    if entry is None:  # no component either: these are the panels
        with st.container(key="plain_panels"):
            session.fallback_slider()
        show_without_model(clean, field, sigma, kind)
        return
    model = loaded[entry.key]
    compare = bool(st.session_state.get("compare"))
    slot = st.empty()  # the live panels' place
    if not live.ready():
        slot.html(live.placeholder())  # same size and look until the component replaces it
        with st.container(key="fallback_panels"):  # hidden by the page's CSS unless the component fails
            session.fallback_slider()
            static_panels(entry, model, clean, field, sigma, kind)
            if compare:
                show_comparison(entries, loaded, clean, field, sigma, kind)
    labels = [e.label for e in entries if compare and not isinstance(loaded[e.key], str)]
    identity = payload.sweep_id(entry.key, entry.version, clean, field, kind, labels)
    title = f"Denoised ({entry.label})"
    swept = st.session_state.setdefault(SWEPT, [])
    if live.ready() and identity not in swept:  # quick first answer: this σ only
        result = resources.sweep_of(model, entry.key, entry.version, clean, field, (sigma,), kind)
        quick_id = f"{identity}:{sigma}"
        data = payload.build(result, clean, title, None, quick_id, kind=kind)  # readings follow
        st.session_state[PENDING] = (identity, quick_id, entry, clean, field, compare, kind)
        sigmas = (sigma,)
    else:
        result, readings = sweep_at(entry, model, clean, field, sweep.GRID, kind)
        compared = comparisons(entries, loaded, clean, field, kind) if compare else ()
        unlike = readings is not None and resources.is_unlike_digits(clean)
        data = live_data(result, readings, compared, identity, clean, title, kind, unlike)
        mark_swept(identity)  # sent whole: once the browser runs the panels, no quick answer for it
        sigmas = sweep.sigmas_for(sigma)  # the grid's sweep, cached: a release makes no model call
    server_sigma, serial = session.server_sigma(live.remounted())
    with slot:
        live.mount(
            payload.with_raw(payload.with_sigma(data, server_sigma, serial, live.ready()), session.raw_view())
        )
    download(entry, model, clean, field, sigma, sigmas, kind)


def complete(entries: list[catalog.ModelEntry], loaded: dict) -> None:
    """At the end of a run in which the browser says it drew a quick answer: compute the whole
    sweep (now cached) and rerun, so the panels get every slider position."""
    pending = st.session_state.get(PENDING)
    if pending is None or live.component_state().get("drawn") != pending[1]:
        return  # nothing to do, or the browser has not drawn the first answer yet (it asks)
    del st.session_state[PENDING]
    identity, _, entry, clean, field, compare, kind = pending
    sweep_at(entry, loaded[entry.key], clean, field, sweep.GRID, kind)
    if compare:
        comparisons(entries, loaded, clean, field, kind)
    mark_swept(identity)
    st.rerun()


def mark_swept(identity: str) -> None:
    """Remember that this session has had the whole sweep of `identity` (a bounded memory)."""
    swept = st.session_state.setdefault(SWEPT, [])
    if identity not in swept:
        swept.append(identity)
        del swept[:-64]


def sweep_at(
    entry: catalog.ModelEntry,
    model: keras.Model,
    clean: np.ndarray,
    field: np.ndarray,
    sigmas: tuple,
    kind: str,
) -> tuple[sweep.Sweep, sweep.Readings | None]:
    """This digit at `sigmas` of `kind`, with the classifier's readings (None without a classifier)."""
    result = resources.sweep_of(model, entry.key, entry.version, clean, field, sigmas, kind)
    reader, reader_version = resources.classifier_model()
    readings = None
    if reader is not None:
        readings = resources.sweep_readings(
            reader, result, reader_version, entry.key, entry.version, clean, field, sigmas, kind
        )
    return result, readings


def comparisons(
    entries: list[catalog.ModelEntry], loaded: dict, clean: np.ndarray, field: np.ndarray, kind: str
) -> tuple[payload.Compared, ...]:
    """Every model and filter that loads, swept on the same digit and noise (the live comparison row)."""
    return tuple(
        payload.Compared(
            e.label, resources.sweep_of(loaded[e.key], e.key, e.version, clean, field, sweep.GRID, kind)
        )
        for e in entries
        if not isinstance(loaded[e.key], str)
    )


def at_sigma(
    entry: catalog.ModelEntry,
    model: keras.Model,
    clean: np.ndarray,
    field: np.ndarray,
    sigma: float,
    kind: str,
    sigmas: tuple[float, ...] | None = None,
    with_readings: bool = True,
):
    """(images, captions, readings) of the three panels at σ, as the server draws them, from a
    sweep over `sigmas` (default: the whole grid, which later slider moves then reuse); the
    readings are None each when there is no classifier or they are not asked for."""
    sigmas = sigmas or sweep.sigmas_for(sigma)
    result = resources.sweep_of(model, entry.key, entry.version, clean, field, sigmas, kind)
    i = result.index(sigma)
    images = (result.noisy[i], result.denoised[i], clean)
    captions = panel_captions(entry, result.noisy_scores[i], result.denoised_scores[i])
    reader, reader_version = resources.classifier_model()
    found = (None,) * 3
    if reader is not None and with_readings:
        read = resources.sweep_readings(
            reader, result, reader_version, entry.key, entry.version, clean, field, sigmas, kind
        )
        found = (read.noisy[i], read.denoised[i], read.original)
    return images, captions, found


def static_panels(
    entry: catalog.ModelEntry,
    model: keras.Model,
    clean: np.ndarray,
    field: np.ndarray,
    sigma: float,
    kind: str,
) -> None:
    """The three panels as images with captions and readings (before the live panels run)."""
    images, captions, found = at_sigma(entry, model, clean, field, sigma, kind)
    unlike = found[0] is not None and resources.is_unlike_digits(clean)
    for column, image, text, reading in zip(st.columns(3), images, captions, found, strict=True):
        with column:
            st.image(resources.panel_png(image), caption=text, width=panels.PANEL_PX, output_format="PNG")
            if reading is not None:
                st.markdown(panels.reading_text(reading.digit, reading.confidence, unlike))
    if unlike:
        st.caption(f"⚠️ {panels.UNLIKE_NOTICE}")


def download(
    entry: catalog.ModelEntry,
    model: keras.Model,
    clean: np.ndarray,
    field: np.ndarray,
    sigma: float,
    sigmas: tuple[float, ...],
    kind: str,
) -> None:
    """The download button and New noise, under the panels; the PNG is built only when clicked,
    from the sweep over `sigmas` the panels were drawn from."""
    images, captions, _ = at_sigma(entry, model, clean, field, sigma, kind, sigmas, with_readings=False)
    with st.container(horizontal=True, key="result_actions"):
        session.noise_choice()
        st.button("New noise", on_click=session.new_noise, key="new_noise")
        st.download_button(
            f"Download the three panels at {noise.amount_text(kind, sigma)} (PNG)",
            data=functools.partial(resources.composite, images, captions),
            file_name=f"denoised-digit-{kind.replace('_', '-')}.png",
            mime="image/png",
            on_click="ignore",
            key="download",
        )


def panel_captions(
    entry: catalog.ModelEntry, noisy: panels.PanelScore, denoised: panels.PanelScore
) -> tuple[str, str, str]:
    """The three captions; the Denoised one names the model and the gain over Noisy, the Original
    says it is the model's input."""
    return (
        panels.caption("Noisy", noisy),
        panels.caption(f"Denoised ({entry.label})", denoised, panels.gain(denoised, noisy)),
        panels.original_caption(),
    )


def show_without_model(clean: np.ndarray, field: np.ndarray, sigma: float, kind: str) -> None:
    """Noisy and Original only, when no denoiser loads."""
    noisy = noise.apply_noise(clean, field, sigma, kind)
    (noisy_score,) = resources.scores((noisy,), clean)
    left, middle, right = st.columns(3)
    left.image(
        resources.panel_png(noisy),
        caption=panels.caption("Noisy", noisy_score),
        width=panels.PANEL_PX,
        output_format="PNG",
    )
    middle.warning("No denoiser could be loaded.")
    right.image(
        resources.panel_png(clean),
        caption=panels.original_caption(),
        width=panels.PANEL_PX,
        output_format="PNG",
    )


def show_comparison(
    entries: list[catalog.ModelEntry],
    loaded: dict,
    clean: np.ndarray,
    field: np.ndarray,
    sigma: float,
    kind: str,
) -> None:
    """Every model's output for the same noisy input, in rows of four (the server-drawn comparison)."""
    st.subheader(f"Every model on this input at {noise.amount_text(kind, sigma)}")
    sigmas = sweep.sigmas_for(sigma)
    columns = st.columns(COMPARE_COLUMNS)
    for n, entry in enumerate(entries):
        with columns[n % COMPARE_COLUMNS]:
            model = loaded[entry.key]
            if isinstance(model, str):
                st.caption(f"**{entry.label}**: {model}")
                continue
            result = resources.sweep_of(model, entry.key, entry.version, clean, field, sigmas, kind)
            i = result.index(sigma)
            text = f"{entry.label} · PSNR {panels.format_db(result.denoised_scores[i].psnr)}"
            st.image(resources.panel_png(result.denoised[i]), caption=text, width=150, output_format="PNG")


def about_models(entries: list[catalog.ModelEntry], sigma: float, kind: str) -> None:
    """Test-set PSNR and classifier accuracy against the amount of the chosen noise kind, from the
    sidecars (not recomputed)."""
    name, axis = noise.LABELS[kind], noise.AMOUNT_NAMES[kind].lower()
    with st.expander("About the models"):
        for entry in entries:
            trained = (
                f" Trained on: {', '.join(noise.LABELS[k].lower() for k in entry.noise)}."
                if entry.noise
                else ""
            )
            st.markdown(f"**{entry.label}**: {entry.description}{trained}")
        st.markdown(f"**Test-set PSNR on {name.lower()} noise** (red line: the slider's position)")
        psnr = charts.score_rows(entries, "psnr", charts.PSNR_REFERENCES, kind)
        st.vega_lite_chart(charts.sigma_chart(psnr, sigma, "PSNR (dB)", x_title=axis))
        accuracy = charts.score_rows(entries, "accuracy", charts.ACCURACY_REFERENCES, kind)
        st.markdown(f"**Classifier accuracy on {name.lower()} noise**")
        if any(not row["reference"] for row in accuracy):
            st.vega_lite_chart(charts.sigma_chart(accuracy, sigma, "accuracy", ".0%", x_title=axis))
        else:
            st.caption("No model's sidecar has classifier accuracies for this kind of noise yet.")
