"""The page: pick, draw or upload a digit, move the noise slider, see Noisy | Denoised | Original.

Wiring only: each line below draws one part of the page from `denoiser.page`, top to bottom.
The work (finding models, decoding uploads, sweeping every σ at once, the live panels in the
browser, training in its own process) happens in the package, where it is tested.
"""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # before TensorFlow is imported

from denoiser.page import warmup  # noqa: E402

warmup.wait_for_imports()  # under the image's CMD: TensorFlow is being imported in the background

import streamlit as st  # noqa: E402

from denoiser.page import (  # noqa: E402
    catalog,
    inputs,
    inside,
    keras_session,
    live,
    picker,
    resources,
    results,
    retrain,
    session,
)

STYLE = """<style>
[data-testid='stImage'] img {image-rendering: pixelated;}
.st-key-canvas_area {padding-top: 2.9rem;}  /* the canvas's floating toolbar opens here, not over the tabs */
/* The server-drawn panels stay hidden: the live panels (or first their placeholder) hold the place.
   They show if the component says it failed, or 12 s after it arrived without drawing itself, or
   12 s without any live panels on the page (a browser that cannot mount the component at all). */
.st-key-fallback_panels {display: none;}
body:has(.dn-live[data-failed]) .st-key-fallback_panels {display: flex;}
body:not(:has(.dn-live)) .st-key-fallback_panels,
body:has(.dn-live:not(.dn-placeholder):not([data-ready]):not([data-failed])) .st-key-fallback_panels {
  animation: dn-reveal-fallback 0s 12s forwards;}
@keyframes dn-reveal-fallback {to {display: flex;}}
@media (max-width: 640px) {
  .block-container, [data-testid='stMainBlockContainer'] {padding-top: 2.5rem;}
  h1 {font-size: 1.6rem !important; padding-bottom: 0.2rem !important;}
}
</style>"""


def main() -> None:
    """Lay the page out top to bottom."""
    st.set_page_config(page_title="Denoising autoencoder", page_icon="✏️", layout="wide")
    session.freeze_imports()
    keras_session.keep()  # Streamlit would clear TensorFlow's caches after every run
    session.init_state()
    st.html(STYLE)
    st.title("Denoising autoencoder")
    st.caption("Pick, draw or upload a digit, add noise, and watch a small network take it away.")
    training = retrain.follow_training()  # before discovery: a model that just finished is listed
    entries = catalog.offered()
    loaded = resources.load_models(entries)
    entry = picker.model_picker(entries, loaded, session.sigma(), session.noise_kind())
    session.mark_page_sigma()
    workbench(entries, loaded, entry)
    results.about_models(entries, session.sigma(), session.noise_kind())
    retrain.sidebar_section(training, entries)


@st.fragment
def workbench(entries: list[catalog.ModelEntry], loaded: dict, entry: catalog.ModelEntry | None) -> None:
    """The digit, its panels and what the model keeps of it. A fragment: a stroke, a tab, an
    upload or *New noise* reruns this part alone, so the browser gets the panels sooner."""
    if session.page_behind():  # σ or the kind changed here: the sidebar's "PSNR at σ" and the charts follow
        st.rerun(scope="app")
    live.start_run()
    clean = inputs.digit_input()
    session.keep_digit(clean)  # what the sidebar's Start trains the snapshots on
    used = None
    if clean is not None:
        used = picker.usable_model(entry, entries, loaded)
        results.show(used, entries, loaded, clean, st.session_state.noise_field)
        if used is not None and used.filter is None:  # what the network keeps; nothing computed while folded
            samples = session.sample_digits()
            field, kind = st.session_state.noise_field, session.noise_kind()
            inside.show(used, loaded[used.key], clean, field, session.sigma(), samples, kind)
    if used is not None and used.filter is None:  # once per model and server, after the panels went out
        inside.prepare(used, loaded[used.key])
    results.complete(entries, loaded)  # a new digit's whole sweep, once the browser drew its first answer
    live.receipt()  # last: the live panels' acknowledgement of their σ, once all of this run arrived


main()
