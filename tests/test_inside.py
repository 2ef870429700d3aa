"""The "Inside the model" section through AppTest, with the shipped models and bundled test digits.

The page under test is `inside.show(...)` alone, called the way app.py calls it. Whether the
section computed anything is observed directly: every TensorFlow call it makes goes through
`anatomy.look` (one batched call) and every sub-model it builds through `anatomy.watch`, and
both are counted; the images Streamlit received are counted too.
"""

from __future__ import annotations

from pathlib import Path

import keras
import numpy as np
import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from denoiser import anatomy, data, noise
from denoiser.page import catalog, inside

ROOT = Path(__file__).resolve().parents[1]


def page(entry, model, clean, field, sigma, samples) -> None:
    """The section alone, as app.py wires it."""
    from denoiser.page import inside

    inside.show(entry, model, clean, field, sigma, samples)


@pytest.fixture(scope="module")
def shipped() -> dict[str, tuple[catalog.ModelEntry, keras.Model]]:
    entries = {entry.label: entry for entry in catalog.discover(ROOT / "weights", ROOT / "no-runs")}
    return {name: (entries[name], catalog.load_denoiser(entries[name].path)) for name in ("classic", "blind")}


@pytest.fixture(scope="module")
def samples() -> tuple[np.ndarray, np.ndarray]:
    return data.load_sample()


@pytest.fixture
def calls(monkeypatch) -> dict[str, int]:
    """How many batched model calls and sub-model builds the section made, from empty caches."""
    st.cache_data.clear()
    st.cache_resource.clear()
    counts = {"look": 0, "watch": 0}
    for name in counts:
        original = getattr(anatomy, name)

        def counted(*args, _name=name, _original=original, **kwargs):
            counts[_name] += 1
            return _original(*args, **kwargs)

        monkeypatch.setattr(anatomy, name, counted)
    return counts


def section(shipped, samples, name: str, sigma: float = 0.5, digit: int = 7) -> AppTest:
    """An AppTest of the section for a shipped model, the first bundled `digit`, noisy at σ."""
    entry, model = shipped[name]
    images, labels = samples
    clean = images[int(np.flatnonzero(labels == digit)[0])]
    field = noise.noise_field((28, 28), seed=0)
    return AppTest.from_function(page, args=(entry, model, clean, field, sigma, samples), default_timeout=60)


def expander(at: AppTest):
    (box,) = at.expander
    assert box.label == "Inside the model"
    return box


def texts(at: AppTest) -> str:
    box = expander(at)
    return "\n".join(e.value for kind in ("markdown", "caption", "info") for e in box.get(kind))


def images(at: AppTest) -> list[str]:
    return [url for image in expander(at).image for url in image.value]


@pytest.mark.parametrize("name", ["classic", "blind"])
def test_closed_section_computes_and_sends_nothing(shipped, samples, calls, name):
    at = section(shipped, samples, name).run()
    assert not at.exception
    assert at.session_state[inside.EXPANDER_KEY] is False
    assert len(expander(at).children) == 0 and not at.image
    at.run()  # a rerun with the section still closed (a σ move, say)
    assert calls == {"look": 0, "watch": 0}
    assert not at.image


def test_open_classic_shows_its_code_filters_and_mixed_codes(shipped, samples, calls):
    at = section(shipped, samples, "classic")
    at.session_state[inside.EXPANDER_KEY] = True
    at.run()
    assert not at.exception
    assert len(images(at)) == 5  # code noisy, code clean, filters, responses, strip
    assert all(url.endswith(".png") for url in images(at))  # sent as PNG: JPEG would blur the squares
    captions = [c for image in expander(at).image for c in image.captions]
    assert captions[:2] == ["Noisy input, σ 0.50", "Clean digit"]
    words = texts(at)
    assert "**The code** (classic)" in words
    assert "16 maps of 7×7: as many numbers as the image has pixels" in words
    assert "The 32 filters of the first layer" in words
    assert "not a generative model" in words and "ghostly overlay" in words
    distance = float(words.split("at σ 0.50: **")[1].split("**")[0])
    assert 0.05 < distance < 2.0
    assert at.segmented_control(key=inside.OTHER_DIGIT_KEY).value == 8
    assert calls["watch"] == 1  # one watcher per model, built once


def test_open_blind_shows_its_deepest_level_and_why_nothing_is_decoded(shipped, samples, calls):
    at = section(shipped, samples, "blind")
    at.session_state[inside.EXPANDER_KEY] = True
    at.run()
    assert not at.exception
    assert len(images(at)) == 4  # level noisy, level clean, filters, responses; no strip
    words = texts(at)
    assert "**The deepest level** (blind)" in words
    assert "The 16 most active of its 128 maps of 7×7 at the model's deepest level" in words
    assert "no single code to decode" in words and "skip connections" in words
    assert "The 32 filters of the first layer" in words
    assert "ghostly" not in words and not at.segmented_control


def test_distance_is_zero_without_noise(shipped, samples, calls):
    at = section(shipped, samples, "classic", sigma=0.0)
    at.session_state[inside.EXPANDER_KEY] = True
    at.run()
    assert "at σ 0.00: **0.00**" in texts(at)


def test_a_sigma_move_while_open_is_one_small_model_call(shipped, samples, calls, monkeypatch):
    """Two images (the noisy input at the new σ, the clean digit), and none for a σ seen before."""
    at = section(shipped, samples, "classic")
    at.session_state[inside.EXPANDER_KEY] = True
    at.run()
    before, first = dict(calls), images(at)
    batches = []
    counted = anatomy.look
    monkeypatch.setattr(anatomy, "look", lambda watcher, x: batches.append(len(x)) or counted(watcher, x))
    entry, model, clean, field, _, samples_ = at.args
    at.args = (entry, model, clean, field, 0.8, samples_)
    at.run()
    assert calls == {"look": before["look"] + 1, "watch": before["watch"]} and batches == [2]
    assert "at σ 0.80: **" in texts(at)
    after = images(at)
    # The noisy code and the responses to the noisy input change, and the clean code's brightness
    # with them (one scale for both); the filters and the mixed codes do not depend on σ.
    assert after[0] != first[0] and after[3] != first[3]
    assert after[2] == first[2] and after[4] == first[4]
    moved = dict(calls)
    at.args = (entry, model, clean, field, 0.5, samples_)
    at.run()
    assert calls == moved and images(at) == first  # back to σ 0.5: cached
    at.session_state[inside.EXPANDER_KEY] = False
    at.run()
    assert not at.image and calls == moved  # closed again: nothing more


def test_a_new_digit_while_open_is_one_model_call(shipped, samples, calls):
    at = section(shipped, samples, "blind")
    at.session_state[inside.EXPANDER_KEY] = True
    at.run()
    before = dict(calls)
    entry, model, _, field, sigma, samples_ = at.args
    at.args = (entry, model, samples_[0][1], field, sigma, samples_)  # a 2 after the 7
    at.run()
    assert not at.exception
    assert calls == {"look": before["look"] + 1, "watch": before["watch"]}


def test_a_sigma_off_the_slider_grid_is_shown_too(shipped, samples, calls):
    at = section(shipped, samples, "classic", sigma=0.123)
    at.session_state[inside.EXPANDER_KEY] = True
    at.run()
    assert not at.exception and len(images(at)) == 5
    assert "at σ 0.12: **" in texts(at)


def test_picking_another_digit_changes_the_strip(shipped, samples, calls):
    at = section(shipped, samples, "classic")
    at.session_state[inside.EXPANDER_KEY] = True
    at.run()
    strip = images(at)[-1]
    assert expander(at).image[-1].captions[0].startswith("This digit → an 8 (")
    at.segmented_control(key=inside.OTHER_DIGIT_KEY).set_value(3).run()
    assert images(at)[-1] != strip
    caption = expander(at).image[-1].captions[0]
    assert caption.startswith("This digit → a 3 (")
    at.button(key="inside_next_sample").click().run()
    stepped = expander(at).image[-1].captions[0]
    assert stepped.startswith("This digit → a 3 (") and stepped != caption


def test_the_sentence_under_the_maps_gives_each_levels_own_sizes():
    wide_code = inside.level_text((7, 7, 64), is_code=True)
    assert "the 16 most active of its 64 maps of 7×7: 3,136 numbers, and all the decoder gets" in wide_code
    assert "maps of 4×4: 128 numbers" in inside.level_text((4, 4, 8), is_code=True)


@pytest.mark.parametrize("name", ["classic", "blind"])
def test_prepared_parts_leave_nothing_to_trace_when_the_section_opens(shipped, samples, calls, name):
    """app.py prepares the selected model's parts after a run; the first opening then traces nothing."""
    entry, model = shipped[name]
    inside.prepare(entry, model)
    parts = inside.model_parts(model, inside.model_key(entry))
    functions = [m.predict_function for m in (parts.watcher, parts.decoder) if m is not None]
    assert len(functions) == (2 if name == "classic" else 1) and all(f is not None for f in functions)
    traces = [f.experimental_get_tracing_count() for f in functions]
    at = section(shipped, samples, name)
    at.session_state[inside.EXPANDER_KEY] = True
    at.run()
    assert not at.exception and len(images(at)) == (5 if name == "classic" else 4)
    assert [f.experimental_get_tracing_count() for f in functions] == traces
    assert calls["watch"] == 1  # built once, by `prepare`; the opening found it in the cache
    inside.prepare(entry, model)
    assert inside.model_parts(model, inside.model_key(entry)) is parts
