"""What the "Inside the model" section costs the server per rerun, closed and open, and its screenshot.

Runs `inside.show` through Streamlit's AppTest for each shipped model and times the call
itself (the section's own work: sub-models, TensorFlow, PNGs, Streamlit elements), median of
`--runs` reruns per case:

- closed: the section is folded (every rerun of the page pays this);
- prepare: `inside.prepare`, which app.py calls once per model and server process at the end
  of a run, after the page went out: it builds the section's sub-models and traces them;
- open, first: the first opening after that, the first time the section draws for this model;
- open, new digit: another digit each rerun (the model on two images, new PNGs; for classic
  also the decoder on the strip's eight codes);
- open, σ move: a new σ each rerun (the model on two images, new PNGs);
- open, rerun: nothing changed (every picture from the caches).

Against these, `python bench/latency.py` measures the page's whole slider move in a browser.

    python bench/inside.py                               # 30 reruns per case
    python bench/inside.py --screenshot docs/inside.png  # and a picture of the open section
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import streamlit as st  # noqa: E402
from streamlit.testing.v1 import AppTest  # noqa: E402

from bench.browser import CHROMIUM, CHROMIUM_ARGS, start_streamlit  # noqa: E402
from denoiser import data, noise  # noqa: E402
from denoiser.page import catalog, inside  # noqa: E402

CASES = ("closed", "prepare", "open, first", "open, new digit", "open, σ move", "open, rerun")


def timed_page(times, entry, model, clean, field, sigma, samples) -> None:
    """The section alone (AppTest runs this body as the script); appends `inside.show`'s seconds to `times`."""
    from time import perf_counter

    from denoiser.page import inside, keras_session

    keras_session.keep()  # as app.py does: Streamlit would empty TensorFlow's caches after every run
    start = perf_counter()
    inside.show(entry, model, clean, field, sigma, samples)
    times.append(perf_counter() - start)


def cases(name: str, runs: int) -> dict[str, list[float]]:
    """Seconds per rerun in each case, for one shipped model."""
    entry = next(e for e in catalog.discover(ROOT / "weights", ROOT / "no-runs") if e.label == name)
    model = catalog.load_denoiser(entry.path)
    samples = data.load_sample()
    images, labels = samples
    clean = images[int(np.flatnonzero(labels == 7)[0])]
    field = noise.noise_field((28, 28), seed=0)
    st.cache_data.clear()
    st.cache_resource.clear()
    times: list[float] = []

    def run(at: AppTest, sigma: float, digit: np.ndarray = clean) -> float:
        at.args = (times, entry, model, digit, field, sigma, samples)
        at.run()
        if at.exception:
            raise RuntimeError(at.exception[0].message)
        return times[-1]

    # Streamlit looks at the whole call stack once per process, on the first element it draws
    # outside a server (~230 ms): spend that here rather than in the first timed opening.
    AppTest.from_string("import streamlit as st\nst.markdown('warm')").run()
    at = AppTest.from_function(timed_page, args=(), default_timeout=120)
    closed = [run(at, 0.5) for _ in range(runs)]
    start = time.perf_counter()
    inside.prepare(entry, model)
    prepare = [time.perf_counter() - start]
    at.session_state[inside.EXPANDER_KEY] = True
    first = [run(at, 0.5)]
    digits = [run(at, 0.5, images[i]) for i in range(runs)]
    moves = [run(at, round(0.5 + 0.01 * (i + 1), 2)) for i in range(runs)]
    same = [run(at, 0.8) for _ in range(runs)]
    return {
        "closed": closed,
        "prepare": prepare,
        "open, first": first,
        "open, new digit": digits,
        "open, σ move": moves,
        "open, rerun": same,
    }


def screenshot(path: Path) -> None:
    """The open section for classic on a bundled 7 at σ = 0.5, photographed in chromium."""
    from playwright.sync_api import sync_playwright

    process, url = start_streamlit("bench/inside_page.py", ROOT)
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 900, "height": 1600}, device_scale_factor=1)
            page.goto(f"{url}/?model=classic&sigma=0.5&digit=7")
            section = page.locator("[data-testid='stExpander']")
            section.locator("summary").click()
            page.locator("[data-testid='stExpander'] [data-testid='stImage'] img").nth(4).wait_for(
                timeout=120_000
            )
            page.wait_for_function(
                "() => Array.from(document.querySelectorAll('[data-testid=\"stExpander\"] img'))"
                ".every(i => i.complete && i.naturalWidth > 0)",
                timeout=60_000,
            )
            section.screenshot(path=str(path))
            browser.close()
    finally:
        process.terminate()
        process.wait(timeout=20)
    print(f"screenshot: {path}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=30, help="reruns per case (default 30)")
    parser.add_argument("--screenshot", type=Path, help="also save a PNG of the open section here")
    args = parser.parse_args()
    print(f"inside.show per rerun, median of {args.runs} (ms); 'prepare' and 'open, first' are one call each")
    print(f"{'model':8}" + "".join(f"{case:>16}" for case in CASES))
    for name in ("classic", "blind"):
        ms = {case: 1000 * statistics.median(values) for case, values in cases(name, args.runs).items()}
        print(f"{name:8}" + "".join(f"{ms[case]:16.2f}" for case in CASES))
    if args.screenshot:
        screenshot(args.screenshot)


if __name__ == "__main__":
    main()
