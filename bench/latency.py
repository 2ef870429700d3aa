"""How fast the page answers: slider move → updated panels in a real browser, cold start, one denoise.

Serves app.py and bench/bare_page.py (the same canvas, slider and three images, nothing else)
side by side, draws the same stroke on both, then moves each slider one step at a time with
the keyboard, alternating between the pages so background load hits both alike. For each move
it records when the Noisy image has changed ("panels": the three are drawn together, Noisy
first) and when the script has finished ("settled"). Then it adds a few strokes to each
drawing (each a new digit, for which app.py computes all 101 slider positions at once) and
times those the same way. Last, the server's side of one denoise: the `predict_on_batch`
path the page uses against `model.predict` on the same image.

    python bench/latency.py              # 30 moves and 5 strokes per page
    python bench/latency.py --moves 60 --strokes 10
    python bench/latency.py --no-gc-freeze    # what gc.freeze() in app.py saves
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.browser import CHROMIUM, CHROMIUM_ARGS, start_streamlit  # noqa: E402

PANELS = "[data-testid='stImage'] img"
SLIDER = "[data-testid='stMain'] [data-testid='stSlider'] input[type='range']"
IDLE = "() => !document.querySelector('[data-testid=\"stStatusWidget\"]')"
CHANGED = f"""(old) => {{
    const s = Array.from(document.querySelectorAll("{PANELS}")).map(i => i.src);
    return s.length >= 3 && s[0] !== old[0];
}}"""
PAGES = {"bare page": "bench/bare_page.py", "app.py": "app.py"}


def serve(script: str, env: dict[str, str] | None = None) -> tuple[subprocess.Popen, str]:
    """`streamlit run script` on a free port; returns the process and its URL once healthy."""
    return start_streamlit(script, ROOT, env)


def open_settled(browser, url: str):
    """A page on `url`, with its canvas shown and its first script run finished."""
    page = browser.new_page(viewport={"width": 1200, "height": 1250})
    page.goto(url)
    page.locator("canvas.upper-canvas").wait_for(timeout=120_000)
    page.wait_for_function(IDLE, timeout=120_000, polling=20)
    return page


def draw(page) -> None:
    """The same 7-shaped stroke on either page; waits for the three panels."""
    box = page.locator("canvas.upper-canvas").bounding_box()
    points = [(0.25, 0.2), (0.75, 0.2), (0.6, 0.5), (0.45, 0.85)]
    page.mouse.move(box["x"] + points[0][0] * box["width"], box["y"] + points[0][1] * box["height"])
    page.mouse.down()
    for fx, fy in points[1:]:
        page.mouse.move(box["x"] + fx * box["width"], box["y"] + fy * box["height"], steps=12)
    page.mouse.up()
    page.wait_for_function(f'() => document.querySelectorAll("{PANELS}").length >= 3', timeout=60_000)
    page.wait_for_function(IDLE, timeout=60_000, polling=20)


def stroke(page, n: int) -> tuple[float, float]:
    """Add a short stroke (a new digit for the page); seconds from mouse-up to new panels, and to idle."""
    box = page.locator("canvas.upper-canvas").bounding_box()
    old = page.eval_on_selector_all(PANELS, "images => images.map(i => i.src)")
    x, y = box["x"] + box["width"] * (0.3 + 0.05 * (n % 6)), box["y"] + box["height"] * 0.55
    page.mouse.move(x, y)
    page.mouse.down()
    page.mouse.move(x + 0.1 * box["width"], y + 0.05 * box["height"], steps=5)
    page.mouse.up()
    started = time.perf_counter()
    page.wait_for_function(CHANGED, arg=old, timeout=60_000, polling=5)
    panels = time.perf_counter() - started
    page.wait_for_function(IDLE, timeout=60_000, polling=5)
    return panels, time.perf_counter() - started


def press(page, key: str) -> tuple[float, float]:
    """Press a key on the focused slider; seconds until the Noisy panel changes, and until idle."""
    old = page.eval_on_selector_all(PANELS, "images => images.map(i => i.src)")
    started = time.perf_counter()
    page.keyboard.press(key)
    page.wait_for_function(CHANGED, arg=old, timeout=60_000, polling=5)
    panels = time.perf_counter() - started
    page.wait_for_function(IDLE, timeout=60_000, polling=5)
    return panels, time.perf_counter() - started


def cold_start(browser, script: str, env: dict[str, str] | None, processes: list) -> tuple[str, float]:
    """Seconds from launching the server to a settled first page; the server joins `processes`."""
    started = time.perf_counter()
    process, url = serve(script, env)
    processes.append(process)
    open_settled(browser, url).close()
    return url, time.perf_counter() - started


def browser_latency(moves: int, strokes: int, app_env: dict[str, str]) -> tuple[dict, dict, dict[str, float]]:
    """Slider-move and new-stroke latencies, and cold starts, for both pages."""
    from playwright.sync_api import sync_playwright

    processes = []
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
            cold, pages = {}, {}
            for name, script in PAGES.items():
                url, cold[name] = cold_start(
                    browser, script, app_env if name == "app.py" else None, processes
                )
                pages[name] = open_settled(browser, url)
                draw(pages[name])
                pages[name].locator(SLIDER).focus()
                press(pages[name], "Home")  # σ = 0; every move below reaches a σ not seen before
            timings: dict[str, list[tuple[float, float]]] = {name: [] for name in PAGES}
            for _ in range(moves):
                for name, page in pages.items():
                    timings[name].append(press(page, "ArrowRight"))
                    time.sleep(0.05)
            drawn: dict[str, list[tuple[float, float]]] = {name: [] for name in PAGES}
            for n in range(strokes):
                for name, page in pages.items():
                    drawn[name].append(stroke(page, n))
                    time.sleep(0.05)
            browser.close()
    finally:
        for process in processes:
            process.terminate()
            process.wait(timeout=30)
    return timings, drawn, cold


def report(title: str, timings: dict[str, list[tuple[float, float]]]) -> None:
    """Median ms per page for one kind of interaction, and the app's ratio to the bare page."""
    medians = {
        name: [1000 * statistics.median(t[i] for t in rows) for i in (0, 1)] for name, rows in timings.items()
    }
    bare, app = medians["bare page"], medians["app.py"]
    print(f"{title}, median of {len(timings['app.py'])} per page (ms): panels updated / script settled")
    print(f"  {'bare page':<10} {bare[0]:7.0f} {bare[1]:9.0f}")
    print(f"  {'app.py':<10} {app[0]:7.0f} {app[1]:9.0f}")
    print(f"  {'ratio':<10} {app[0] / bare[0]:7.2f} {app[1] / bare[1]:9.2f}")


def server_side(repeats: int) -> tuple[str, float, float]:
    """Median ms of one denoise through `predict_on_batch` (the page's path) and `model.predict`."""
    from denoiser import data, noise
    from denoiser.inference import denoise
    from denoiser.page import catalog

    entries = catalog.discover()
    entry = next(e for e in entries if e.key == catalog.default_key(entries))
    model = catalog.load_denoiser(entry.path)
    images, _ = data.load_sample()
    noisy = noise.add_noise(images[0], 0.5, seed=0)
    batch = noisy[None, ..., None]

    def median_ms(call) -> float:
        call()  # warm-up: the first call traces the graph
        times = []
        for _ in range(repeats):
            started = time.perf_counter()
            call()
            times.append(time.perf_counter() - started)
        return 1000 * statistics.median(times)

    fast = median_ms(lambda: denoise(model, noisy))
    slow = median_ms(lambda: model.predict(batch, verbose=0))
    return entry.label, fast, slow


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--moves", type=int, default=30, help="slider moves per page (at most 100)")
    parser.add_argument("--strokes", type=int, default=5, help="strokes added to the drawing per page")
    parser.add_argument("--repeats", type=int, default=50, help="denoise calls timed per path")
    parser.add_argument(
        "--no-gc-freeze", action="store_true", help="serve app.py without gc.freeze(), to see what it saves"
    )
    args = parser.parse_args()
    app_env = dict(os.environ, DENOISER_GC_FREEZE="0" if args.no_gc_freeze else "1")
    timings, drawn, cold = browser_latency(min(args.moves, 100), args.strokes, app_env)
    report("slider move → panels", timings)
    report("new stroke on the canvas → panels", drawn)
    print(
        f"cold start, server launch → settled first page: app.py {cold['app.py']:.1f} s, bare page {cold['bare page']:.1f} s"
    )
    label, fast, slow = server_side(args.repeats)
    print(
        f"one denoise ({label}), median of {args.repeats}: predict_on_batch {fast:.1f} ms, model.predict {slow:.1f} ms ({slow / fast:.1f}× slower)"
    )


if __name__ == "__main__":
    main()
