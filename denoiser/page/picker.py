"""The sidebar's model list: which denoiser is selected, how each is labelled, and what to show instead.

The rules are pure functions (`next_selection`, `option_label`, `fallback_for`) so tests reach
them without a page; `model_picker` and `usable_model` draw them.
"""

from __future__ import annotations

import streamlit as st

from denoiser import noise
from denoiser.page import catalog, panels

LOST = "model_lost"  # session state: the label of a selected model that disappeared, to say so once


def next_selection(
    entries: list[catalog.ModelEntry],
    usable: dict[str, bool],
    chosen: str | None,
    previous_default: str | None,
    kind: str = noise.DEFAULT_KIND,
) -> tuple[str, str, bool]:
    """(selection, default, lost): keep the selection on the default (the best shipped network
    for this noise kind: blind for Gaussian noise) until something else picks a model; after that
    it stays unless the model disappears (`lost`)."""
    keys = [e.key for e in entries]
    default = catalog.default_key([e for e in entries if usable[e.key]], kind) or keys[0]
    lost = chosen is not None and chosen not in keys
    if chosen not in keys or chosen == previous_default:
        return default, default, lost
    return chosen, default, False


def follow_default(entries: list[catalog.ModelEntry], usable: dict[str, bool], kind: str) -> None:
    """Apply `next_selection` to the session (before the radio renders, as Streamlit requires)."""
    state = st.session_state
    chosen = state.get("model")
    selection, default, lost = next_selection(entries, usable, chosen, state.get("model_default"), kind)
    if lost:
        state[LOST] = state.get("model_label", chosen)
    state.model, state.model_default = selection, default


def select_model(key: str) -> None:
    """Select a model by key (the Reset button's callback)."""
    st.session_state.model = key


def option_label(
    entry: catalog.ModelEntry, sigma: float, error: str | None, kind: str = noise.DEFAULT_KIND
) -> str:
    """`blind · test PSNR 24.3 dB at σ 0.50`: the model's test-set PSNR at this amount of this
    kind of noise, from its sidecar."""
    if error:
        return f"{entry.label} · unavailable"
    psnr = catalog.score_at(entry.scores_for(kind), sigma)
    score = f"test PSNR {panels.format_db(psnr)}" if psnr is not None else "no test score"
    return f"{entry.label} · {score} at {noise.amount_text(kind, sigma)}"


def errors_of(loaded: dict) -> dict[str, str | None]:
    """Each model's one-line problem, or None when it loaded."""
    return {key: value if isinstance(value, str) else None for key, value in loaded.items()}


def model_picker(
    entries: list[catalog.ModelEntry], loaded: dict, sigma: float, kind: str = noise.DEFAULT_KIND
) -> catalog.ModelEntry | None:
    """The sidebar: one radio option per denoiser with its description, and the Compare toggle."""
    st.sidebar.header("Model")
    if not entries:
        st.sidebar.error("No denoiser found: the weights folder has no model file.")
        return None
    errors = errors_of(loaded)
    follow_default(entries, {key: error is None for key, error in errors.items()}, kind)
    by_key = {e.key: e for e in entries}
    if lost := st.session_state.pop(LOST, None):
        st.sidebar.warning(
            f"The model you had selected, {lost}, was removed from this server (only the newest "
            "retrained models are kept): the default model is shown instead."
        )
    key = st.sidebar.radio(
        "Denoiser",
        list(by_key),
        key="model",
        format_func=lambda k: option_label(by_key[k], sigma, errors[k], kind),
        captions=[errors[e.key] or e.description for e in entries],
    )
    st.session_state.model_label = by_key[key].label
    st.sidebar.toggle("Compare all models", key="compare", help="Every model's output under the panels.")
    shipped = catalog.default_key([e for e in entries if not e.retrained and errors[e.key] is None], kind)
    st.sidebar.button(
        "Reset to the shipped models",
        on_click=select_model,
        args=(shipped,),
        disabled=shipped is None,
        key="reset_models",
        help="Select the default shipped model again; retrained models stay in the list.",
    )
    return by_key[key]


def fallback_for(
    entry: catalog.ModelEntry, entries: list[catalog.ModelEntry], loaded: dict
) -> catalog.ModelEntry | None:
    """The chosen model when it loaded, else the first network that did (None when none did: a
    classical filter is never shown in a model's place)."""
    if not isinstance(loaded[entry.key], str):
        return entry
    return next((e for e in entries if e.filter is None and not isinstance(loaded[e.key], str)), None)


def usable_model(entry: catalog.ModelEntry | None, entries: list[catalog.ModelEntry], loaded: dict):
    """The chosen model, or (saying so) the first one that loads; None when none does."""
    if entry is None:
        return None
    used = fallback_for(entry, entries, loaded)
    if used is None:
        st.error(f"{loaded[entry.key]}. No other model could be loaded either.")
    elif used is not entry:
        st.error(f"{loaded[entry.key]}: showing {used.label} instead.")
    return used
