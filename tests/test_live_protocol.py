"""How the live panels tell that the server has their σ, in a real browser with no server.

The component's own files are loaded into a blank page and called as Streamlit calls them (its
`data`, its element, a `setStateValue` recorded here), with the server's receipt an element this
test writes. So each way the load bench saw a σ lost can be played exactly, with no timing luck:
a rerun's data that happens to carry the σ the visitor asked for (the data's σ is the one the
server last *set*, not the one it has), a receipt whose number arrived while its σ was dropped,
a resend the server must hear as new, and (on the server's side, without a browser) a run taken
for a remount after an interrupted one, which must not take the visitor's σ back.
"""

from __future__ import annotations

import pytest
import streamlit as st
from helpers import SAMPLE, open_page
from test_live_panels import default_entry

from bench.browser import LIVE, LIVE_SLIDER
from denoiser import data, noise, storage
from denoiser.page import live, payload, session, sweep

# Mount the component as Streamlit does: its default export called with {data, parentElement,
# setStateValue}, again on every rerun with that run's data.
HARNESS = """
window.__sent = [];
window.__mount = (id, data) => window.__component({
  data, parentElement: document.getElementById(id),
  setStateValue: (key, value) => window.__sent.push([id, key, value]),
});
"""


@pytest.fixture(scope="module")
def panels_data() -> dict:
    """The page's data for its first digit at σ 0.50 with serial 1, from the shipped default model."""
    images, _ = data.load_sample()
    clean = images[0]
    result = sweep.run(storage.load_model(default_entry().path), clean, noise.noise_field((28, 28), seed=0))
    built = payload.build(result, clean, "Denoised", None, "first")
    return payload.with_raw(payload.with_sigma(built, 0.5, 1, ready=True), None)


@pytest.fixture
def bare(chromium):
    """A blank page holding two elements for the component (its HTML in each) and a receipt."""
    context = chromium.new_context()
    page = context.new_page()
    markup = live.read_asset("live_panels.html")
    page.set_content(
        f"<div id='one'>{markup}</div><div id='two'>{markup}</div>"
        "<div class='dn-receipt' data-asked='0' data-sigma='0.50' hidden></div>"
    )
    page.add_script_tag(
        content=live.read_asset("live_panels.js").replace(
            "export default function", "window.__component = function"
        )
    )
    page.add_script_tag(content=HARNESS)
    yield page
    context.close()


def mount(page, data: dict, element: str = "one") -> None:
    """One rerun's delivery of the component with `data`, drawn once its frames are decoded."""
    page.evaluate("([id, data]) => window.__mount(id, data)", [element, data])
    page.locator(f"#{element} {LIVE}[data-ready='true']").wait_for(timeout=10_000)


def receipt(page, asked: int, sigma: str) -> None:
    """What the server's last run drew: the number of the σ it was sent, and the σ it computed with."""
    page.evaluate(
        "([a, s]) => { const r = document.querySelector('.dn-receipt'); r.dataset.asked = a; r.dataset.sigma = s; }",
        [str(asked), sigma],
    )


def sent(page, key: str, element: str = "one") -> list:
    """Every value the component set for `key`, in order."""
    return [v for e, k, v in page.evaluate("window.__sent") if k == key and e == element]


def wait_sent(page, key: str, count: int, element: str = "one") -> list:
    """Until the component has set `key` `count` times (the resend's idle wait is its own clock)."""
    page.wait_for_function(
        "([e, k, n]) => window.__sent.filter(([id, key]) => id === e && key === k).length >= n",
        arg=[element, key, count],
        timeout=15_000,
        polling=50,
    )
    return sent(page, key, element)


def acknowledged(page, element: str = "one") -> str | None:
    return page.locator(f"#{element} {LIVE}").get_attribute("data-acknowledged")


def press(page, key: str, element: str = "one") -> None:
    """A key on the slider, then the 300 ms the component waits for more keys (its send is an event)."""
    count = len(sent(page, "sigma", element))
    page.locator(f"#{element} {LIVE_SLIDER}").press(key)
    wait_sent(page, "sigma", count + 1, element)


def test_a_rerun_whose_data_carries_the_asked_sigma_is_no_answer(bare, panels_data):
    """Back at the server's own σ 0.50: a rerun that began before that σ arrived delivers the
    same data (σ 0.50, serial 1); only the receipt may end the wait, so the σ is sent again."""
    mount(bare, panels_data)
    press(bare, "ArrowRight")  # σ 0.51, number 1
    receipt(bare, 1, "0.51")
    bare.locator(f"#one {LIVE}[data-acknowledged='1']").wait_for(timeout=10_000)
    press(bare, "ArrowLeft")  # σ 0.50, number 2
    mount(bare, panels_data)  # the earlier run's delivery: its data's σ is 0.50 too
    resent = wait_sent(bare, "resent", 1)
    assert acknowledged(bare) == "1", "the data's σ was taken for the server's answer"
    assert sent(bare, "sigma")[-1] == 0.5 and len(resent) == 1
    receipt(bare, 2, "0.50")
    bare.locator(f"#one {LIVE}[data-acknowledged='2']").wait_for(timeout=10_000)


def test_a_receipt_with_the_number_but_not_the_sigma_is_no_answer(bare, panels_data):
    """Streamlit took the message's number and dropped its σ: the receipt reads number 1 at the
    old σ 0.50, so the σ is sent again, and the wait ends when the receipt shows it."""
    mount(bare, panels_data)
    press(bare, "ArrowRight")
    receipt(bare, 1, "0.50")
    wait_sent(bare, "resent", 1)
    assert acknowledged(bare) is None
    receipt(bare, 1, "0.51")
    bare.locator(f"#one {LIVE}[data-acknowledged='1']").wait_for(timeout=10_000)
    count = len(sent(bare, "resent"))
    bare.wait_for_timeout(2500)  # more than the first resend's idle wait (2 s): nothing more may go out
    assert len(sent(bare, "resent")) == count


def test_every_resend_is_a_value_the_server_has_not_held(bare, panels_data):
    """Streamlit calls a state's callback only when its value changes: two resends of one σ, and
    the first resend of panels drawn anew (their counters start again), must each be new."""
    mount(bare, panels_data, "one")
    press(bare, "ArrowRight", "one")
    first = wait_sent(bare, "resent", 2, "one")
    mount(bare, panels_data, "two")
    press(bare, "ArrowRight", "two")
    second = wait_sent(bare, "resent", 1, "two")
    values = first[:2] + second[:1]
    assert len(set(values)) == len(values), values


def test_a_new_serial_still_wins_over_the_slider(bare, panels_data):
    """When the server sets σ itself (a new serial), the panels take its σ and stop waiting."""
    mount(bare, panels_data)
    press(bare, "ArrowRight")
    mount(bare, {**panels_data, "sigma": 0.3, "serial": 2})
    assert bare.locator(f"#one {LIVE}").get_attribute("data-sigma") == "0.30"
    assert acknowledged(bare) == "1"


class State(dict):
    """Streamlit's session state as the page uses it: keys and attributes alike."""

    __getattr__ = dict.get

    def __setattr__(self, key, value):
        self[key] = value


def test_a_run_taken_for_a_remount_keeps_the_serial_and_brings_sigma_up_to_date(monkeypatch):
    """Under load a run is interrupted after it began (`live.start_run`) and before it drew the
    panels, so the next run takes them for new. Their σ must not come back with a new serial
    (the browser would pull its thumb back and stop waiting for the σ it sent), yet panels
    that really are new must start at the session's σ."""
    state = State({session.SIGMA: 0.5})
    monkeypatch.setattr(st, "session_state", state)
    assert session.server_sigma(live.remounted()) == (0.5, 1)  # the first run: the server's σ
    live.start_run()
    st.session_state[live.MOUNTED] = True  # that run drew the panels
    session.set_sigma(0.66, from_live_slider=True)  # the visitor's σ
    live.start_run()  # a run interrupted before it drew the panels
    live.start_run()
    assert live.remounted()
    assert session.server_sigma(True) == (0.66, 1)
    session.set_sigma(0.2)  # set by the page itself: the browser must take it
    assert session.server_sigma(False) == (0.2, 2)


def test_the_receipt_is_the_last_element_the_panels_run_draws():
    """A run can be stopped for the next one after any element, so the receipt (which ends the
    panels' wait) comes after everything else the run of the panels draws: the download and
    *Inside the model* included. Had it come first, a stopped run acknowledged a σ whose
    download label never arrived."""
    at = open_page(SAMPLE)
    nodes = list(at.main)  # in page order
    body = [str(node.value) if getattr(node, "type", None) == "html" else "" for node in nodes]
    receipt = next(i for i, text in enumerate(body) if "dn-receipt" in text)
    inside = next(i for i, node in enumerate(nodes) if getattr(node, "label", None) == "Inside the model")
    download = next(i for i, node in enumerate(nodes) if getattr(node, "type", None) == "download_button")
    assert receipt > download and receipt > inside
    assert 'data-sigma="0.50"' in body[receipt]  # the σ this run computed with
