"""The live panel component: the Noise σ slider and Noisy | Denoised | Original, scrubbed in the browser.

A Streamlit components-v2 element whose HTML, CSS and JavaScript are the files in `assets/`
(read once at import; no build step, nothing fetched at run time). The server sends one
digit's whole sweep (`payload.build`); the browser moves through it on every animation frame
and reports only the σ the visitor settles on, through the component's `sigma` state, which
`take_sigma` copies into the session before the rerun's script runs. Until the browser says
it runs the component (`ready`), the page also draws the panels itself, so a browser where
the component fails still sees them (and AppTest, which cannot run components, too).
"""

from __future__ import annotations

import logging
from html import escape as html_escape
from importlib import resources
from typing import Any

import streamlit as st

from denoiser.page import catalog, panels, session

LOG = logging.getLogger(__name__)
KEY = "live"  # session-state key of the component's own state: {"sigma", "asked", "ready", "drawn", "resent"}
NAME = "denoiser.live_panels"
ASSETS = resources.files("denoiser.page") / "assets"


def read_asset(name: str) -> str:
    """One of the component's files, as text."""
    return (ASSETS / name).read_text(encoding="utf-8")


def register() -> Any | None:
    """The component's mount function, or None when it cannot be created (the page then draws
    its panels the plain way)."""
    try:
        return st.components.v2.component(
            NAME,
            html=read_asset("live_panels.html"),
            css=read_asset("live_panels.css"),
            js=read_asset("live_panels.js"),
            isolate_styles=False,  # tests and benchmarks read the canvases from the page's DOM
        )
    except Exception as error:  # noqa: BLE001 - any failure leaves the fallback panels
        LOG.warning("the live panels are unavailable, the page draws its own: %s", catalog.first_line(error))
        return None


COMPONENT = register()


def placeholder() -> str:
    """The component's own markup and style, inert (no data, the slider disabled): what the page
    shows in the panels' place until the component has drawn itself there, so the first load
    neither shows another slider nor jumps."""
    html = read_asset("live_panels.html").replace('class="dn-live"', 'class="dn-live dn-placeholder"', 1)
    html = html.replace('class="dn-slider"', 'class="dn-slider" disabled', 1)
    original = 'aria-label="Original"></canvas>\n      <figcaption class="dn-caption">'
    caption = "\n".join(panels.original_caption().split(" · "))  # the same for every digit
    html = html.replace(original, original + html_escape(caption), 1)
    return f"<style>{read_asset('live_panels.css')}</style>{html}"


def component_state() -> dict[str, Any]:
    """The component's state as the browser last set it (empty before it first reports)."""
    state = st.session_state.get(KEY)
    return dict(state) if state else {}


def ready() -> bool:
    """Whether this visitor's browser has run the component (it then draws the panels alone)."""
    return COMPONENT is not None and bool(component_state().get("ready"))


def take_sigma() -> None:
    """The component's callback: the σ the visitor let go at becomes the session's σ."""
    value = component_state().get("sigma")
    if value is not None:
        session.set_sigma(value, from_live_slider=True)


MOUNTED = "live_mounted"  # session state: whether the last full run drew the component


def mount(data: dict[str, Any]) -> bool:
    """Draw the component with `data` (see `payload.with_sigma`); False when there is no component."""
    if COMPONENT is None:
        return False
    COMPONENT(
        key=KEY,
        data=data,
        on_sigma_change=take_sigma,
        on_ready_change=lambda: None,
        on_asked_change=take_sigma,  # a numbered σ (echoed by `receipt`): taken even if its value looks unchanged
        on_resent_change=resent,
        on_drawn_change=lambda: None,  # a quick answer is on screen: `results.complete` sweeps the rest
    )
    st.session_state[MOUNTED] = True
    return True


def resent() -> None:
    """The browser never saw a reply to its last σ and sends it again: take it (whatever Streamlit
    made of the first sending) and redraw the whole page, as after a σ the page has not drawn."""
    take_sigma()
    session.forget_page_sigma()


def receipt() -> None:
    """The last element of a run that drew the component: a hidden element with the number of
    the last σ its slider sent (the `asked` state) and the σ this run computed with. The panels
    take the two together as the server's acknowledgement and stop resending (a number alone
    would also acknowledge a σ whose value Streamlit dropped on the way). Drawn last, because a
    run can be stopped for the next one after any element: had the receipt come before the
    download, a run stopped between them acknowledged a σ whose download label never came (a
    frozen page under load, when the next run was the Retrain poll's). It changes on every σ
    while the panels' data (the whole sweep) stays the same message."""
    if not st.session_state.get(MOUNTED):
        return
    asked = int(component_state().get("asked") or 0)
    with st.container(key="live_receipt"):  # hidden by the component's CSS
        st.html(
            f'<div class="dn-receipt" data-asked="{asked}" data-sigma="{session.sigma():.2f}" hidden></div>'
        )


def start_run() -> None:
    """At the top of every run of the panels' fragment (alone or in a full run): the component
    counts as drawn only if this run draws it."""
    st.session_state[f"{MOUNTED}_before"] = st.session_state.pop(MOUNTED, False)


def remounted() -> bool:
    """True when this run draws the component and the previous one did not."""
    return not st.session_state.get(f"{MOUNTED}_before", False)
