"""How fast the page answers, in a real browser, against a bare Streamlit page in the same run.

Serves app.py and bench/bare_page.py (the same canvas, a Streamlit slider and three images,
nothing else) side by side and measures, on each page's own clock:

- key press → changed Noisy panel: from the keydown event's timestamp to the first animation
  frame in which the Noisy panel differs (app.py: its canvas's pixels; the bare page: its image,
  once loaded), median and p95;
- a one-second mouse drag of the slider: how many animation frames showed a new Noisy panel
  while the button was down;
- websocket frames the page sends for a burst of 20 key presses;
- new digit → panels: a stroke added to the drawing (a new digit, for which app.py computes all
  101 slider positions at once), from mouse-up to the first frame with the new Noisy panel;
- app.py only: a σ release → the server has rerun with it (the download's label names the σ),
  with the "Inside the model" section folded and open, and how long opening the section takes
  (the first time in the server, whose sub-models app.py prepared after the first run, and then on new digits);
- the server's side of one denoise: `predict_on_batch` (the page's path) against `model.predict`.

With --cold, only the cold start instead: a freshly started server's first visitor, for app.py
as the image starts it (`python -m denoiser.page.warmup`, which prepares the default view at
start), app.py under plain `streamlit run`, and bench/cold_page.py (a bare page that imports
TensorFlow, loads one .keras model and shows one image), alternating, each from process start
(the visitor asks as soon as the health check answers) and from first request (the visitor
comes --idle seconds after the server started), plus the slowest health answer meanwhile.

Timings on a shared machine are noisy: read the ratios, measured in one run with the pages
alternating, rather than the milliseconds.

    python bench/latency.py                  # 30 presses, 5 strokes, 10 releases per page
    python bench/latency.py --presses 60 --strokes 10
    python bench/latency.py --cold --runs 3  # cold starts only
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

from bench.browser import CHROMIUM, CHROMIUM_ARGS, IDLE, LIVE, LIVE_SLIDER, start_streamlit, wait_live  # noqa: E402

PAGES = {"bare page": "bench/bare_page.py", "app.py": "app.py"}
SLIDERS = {"bare page": "[data-testid='stSlider'] input[type='range']", "app.py": LIVE_SLIDER}

# Installed in every page before it loads: what "the Noisy panel" is on each page, a record of
# keydown/mouseup timestamps, and an animation-frame watcher that notes when the panel changed.
PROBE = """
(() => {
  const noisy = () => {
    const canvas = document.querySelector(".dn-live:not(.dn-placeholder) .dn-noisy");
    if (canvas) {
      const d = canvas.getContext("2d").getImageData(0, 0, 28, 28).data;
      let h = 0;
      for (let i = 0; i < d.length; i += 4) h = (h * 31 + d[i]) | 0;
      return "c" + h;
    }
    const img = document.querySelector("[data-testid='stImage'] img");
    return img && img.complete ? img.src : null;
  };
  window.__probe = { changes: [], sent: [], frames: 0, down: false };
  const watch = (t0) => {
    const before = noisy();
    const check = () => {
      if (noisy() !== before) window.__probe.changes.push(performance.now() - t0);
      else if (performance.now() - t0 < 20000) requestAnimationFrame(check);
    };
    requestAnimationFrame(check);
  };
  document.addEventListener("keydown", (e) => watch(e.timeStamp), true);
  document.addEventListener("mouseup", (e) => window.__probe.watchUp && watch(e.timeStamp), true);
  document.addEventListener("mousedown", () => (window.__probe.down = true), true);
  document.addEventListener("mouseup", () => (window.__probe.down = false), true);
  let last = null;
  const frame = () => {
    const now = noisy();
    if (window.__probe.down && now !== last) window.__probe.frames += 1;
    last = now;
    requestAnimationFrame(frame);
  };
  requestAnimationFrame(frame);
  const send = WebSocket.prototype.send;
  WebSocket.prototype.send = function (data) {
    window.__probe.sent.push(performance.now());
    return send.call(this, data);
  };
})();
"""


def open_page(browser, url: str, live: bool):
    """A settled page on `url` with the probe installed; the app's panels live and drawn."""
    page = browser.new_page(viewport={"width": 1200, "height": 1250})
    page.add_init_script(PROBE)
    page.goto(url)
    if live:
        wait_live(page, timeout=120_000)
    page.wait_for_function(IDLE, timeout=120_000, polling=20)
    return page


def settle(page) -> None:
    """Until the page's script has finished, twice (reruns can queue up)."""
    for _ in range(2):
        page.wait_for_function(IDLE, timeout=60_000, polling=20)
        page.wait_for_timeout(150)


def probe(page, name: str):
    return page.evaluate(f"() => window.__probe.{name}")


def reset(page) -> None:
    page.evaluate(
        "() => { window.__probe.changes = []; window.__probe.sent = []; window.__probe.frames = 0; }"
    )


def draw(page) -> None:
    """The same 7-shaped stroke on either page's canvas; waits until the page has settled."""
    box = page.locator("canvas.upper-canvas").bounding_box()
    points = [(0.25, 0.2), (0.75, 0.2), (0.6, 0.5), (0.45, 0.85)]
    page.mouse.move(box["x"] + points[0][0] * box["width"], box["y"] + points[0][1] * box["height"])
    page.mouse.down()
    for fx, fy in points[1:]:
        page.mouse.move(box["x"] + fx * box["width"], box["y"] + fy * box["height"], steps=12)
    page.mouse.up()
    page.wait_for_function(
        "() => document.querySelector('.dn-live:not(.dn-placeholder) .dn-noisy, [data-testid=stImage] img')"
    )
    settle(page)


def key_presses(page, count: int) -> list[float]:
    """ms from each keydown to the first frame with a changed Noisy panel (one press at a time)."""
    times = []
    for _ in range(count):
        reset(page)
        page.keyboard.press("ArrowRight")
        page.wait_for_function("() => window.__probe.changes.length > 0", timeout=60_000, polling=5)
        times.append(probe(page, "changes")[0])
        page.wait_for_function("() => window.__probe.sent.length > 0", timeout=60_000, polling=5)
        settle(page)  # the press's own rerun is over before the next press
    return times


def drag_frames(page, slider: str) -> int:
    """Frames with a new Noisy panel while the mouse drags the slider's thumb for about a second."""
    box = page.locator(slider).bounding_box()
    y = box["y"] + box["height"] / 2
    reset(page)
    page.mouse.move(box["x"] + box["width"] * 0.2, y)
    page.mouse.down()
    for step in range(60):
        page.mouse.move(box["x"] + box["width"] * (0.2 + 0.01 * step), y)
        page.wait_for_timeout(16)
    frames = probe(page, "frames")
    page.mouse.up()
    settle(page)
    return frames


def burst_messages(page, presses: int = 20) -> int:
    """Websocket frames sent for `presses` key presses 50 ms apart, until the page is idle again."""
    reset(page)
    for _ in range(presses):
        page.keyboard.press("ArrowLeft")
        page.wait_for_timeout(50)
    page.wait_for_timeout(600)  # the live slider's idle wait, and then some
    settle(page)
    return len(probe(page, "sent"))


def stroke(page, x: float, y: float, dx: float, dy: float) -> None:
    """A short stroke from (x, y) by (dx, dy), page coordinates: a new digit on the canvas."""
    page.mouse.move(x, y)
    page.mouse.down()
    page.mouse.move(x + dx, y + dy, steps=5)
    page.mouse.up()


def new_digits(page, count: int) -> list[float]:
    """ms from the mouse-up ending a new stroke to the first frame with the new Noisy panel."""
    times = []
    page.evaluate("() => (window.__probe.watchUp = true)")
    box = page.locator("canvas.upper-canvas").bounding_box()
    for n in range(count):
        reset(page)
        x, y = box["x"] + box["width"] * (0.3 + 0.05 * (n % 6)), box["y"] + box["height"] * 0.55
        stroke(page, x, y, 0.1 * box["width"], 0.05 * box["height"])
        page.wait_for_function("() => window.__probe.changes.length > 0", timeout=60_000, polling=5)
        times.append(probe(page, "changes")[0])
        settle(page)
    page.evaluate("() => (window.__probe.watchUp = false)")
    return times


LABEL_WATCH = """(text) => { window.__label = null;
    const seen = () => [...document.querySelectorAll("button")].some((b) => b.innerText.includes(text));
    new MutationObserver((_, observer) => { if (!window.__label && seen()) {
        window.__label = performance.now(); observer.disconnect(); } })
      .observe(document.body, {subtree: true, childList: true, characterData: true}); }"""


def releases(page, count: int) -> list[float]:
    """ms from the σ leaving the browser to the server's rerun with it on screen (the download's
    label), both on the page's clock (a mutation observer, not Playwright's polling)."""
    times = []
    for n in range(count):
        reset(page)
        page.locator(LIVE_SLIDER).focus()
        page.keyboard.press("ArrowRight" if n % 2 else "ArrowLeft")
        sigma = page.locator(LIVE).get_attribute("data-sigma")
        page.evaluate(LABEL_WATCH, f"at σ {sigma} (PNG)")
        page.wait_for_function("() => window.__label", timeout=60_000, polling=20)
        times.append(page.evaluate("() => window.__label") - probe(page, "sent")[-1])
        settle(page)
    return times


def open_inside(page) -> float:
    """ms from clicking "Inside the model" to its first picture on screen (page clock)."""
    page.evaluate(
        """() => { window.__opened = null; const start = () => { window.__click = performance.now(); };
        document.addEventListener("click", start, {capture: true, once: true});
        new MutationObserver((_, observer) => {
            if (document.querySelector("[data-testid='stExpander'] [data-testid='stImage'] img")) {
                window.__opened = performance.now(); observer.disconnect(); } })
          .observe(document.body, {subtree: true, childList: true}); }"""
    )
    page.get_by_text("Inside the model").click()
    page.wait_for_function("() => window.__opened", timeout=120_000, polling=20)
    opened = page.evaluate("() => window.__opened - window.__click")
    settle(page)
    return opened


def openings(page, count: int) -> list[float]:
    """ms for opening "Inside the model" `count` times: the first in this server process (the
    first time it draws for this model; app.py built and traced its sub-models after the page's
    first run), then each time after closing it and drawing a stroke (a new digit, so nothing of
    it is cached)."""
    times = [open_inside(page)]
    box = page.locator("canvas.upper-canvas").bounding_box()
    for n in range(count - 1):
        page.get_by_text("Inside the model").click()
        settle(page)
        x, y = box["x"] + box["width"] * (0.3 + 0.07 * n), box["y"] + box["height"] * 0.3
        stroke(page, x, y, 0.05 * box["width"], 0.1 * box["height"])
        settle(page)
        page.wait_for_timeout(300)  # the whole sweep the stroke asked for, and its rerun
        settle(page)
        times.append(open_inside(page))
    return times


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile (nearest rank)."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * len(ordered)) - 1))]


def browser_figures(presses: int, strokes: int, release_count: int, opening_count: int) -> dict:
    """Every browser measurement for both pages (alternating), and app.py's release timings."""
    from playwright.sync_api import sync_playwright

    processes, figures = [], {name: {} for name in PAGES}
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
            pages = {}
            for name, script in PAGES.items():
                process, url = start_streamlit(script, ROOT, dict(os.environ))
                processes.append(process)
                pages[name] = open_page(browser, url, live=name == "app.py")
            pages["app.py"].get_by_role("tab", name="Draw").click()
            pages["app.py"].locator("canvas.upper-canvas").wait_for(timeout=60_000)
            for name, page in pages.items():
                draw(page)
                page.locator(SLIDERS[name]).focus()
                page.keyboard.press("Home")
                settle(page)
            for name, page in pages.items():
                page.locator(SLIDERS[name]).focus()
                figures[name]["press"] = key_presses(page, presses)
            for name, page in pages.items():
                figures[name]["drag"] = drag_frames(page, SLIDERS[name])
            for name, page in pages.items():
                page.locator(SLIDERS[name]).focus()
                figures[name]["burst"] = burst_messages(page)
            for name, page in pages.items():
                figures[name]["new digit"] = new_digits(page, strokes)
            app = pages["app.py"]
            figures["app.py"]["release, folded"] = releases(app, release_count)
            figures["app.py"]["open inside"] = openings(app, opening_count)
            figures["app.py"]["release, open"] = releases(app, release_count)
            browser.close()
    finally:
        for process in processes:
            process.terminate()
            process.wait(timeout=30)
    return figures


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

    return (
        entry.label,
        median_ms(lambda: denoise(model, noisy)),
        median_ms(lambda: model.predict(batch, verbose=0)),
    )


def payload_sizes() -> list[tuple[str, int, int]]:
    """(model, bytes of one digit's payload, bytes with every model compared) on 10 sample digits' maximum."""
    from denoiser import data, noise
    from denoiser.page import catalog, payload, sweep

    entries = catalog.discover()
    models = {e.key: catalog.load_denoiser(e.path) for e in entries}
    reader = catalog.load_classifier()
    images, _ = data.load_sample()
    field = noise.noise_field((28, 28), seed=0)
    sizes = []
    for entry in entries:
        alone = together = 0
        for clean in images[::50]:
            result = sweep.run(models[entry.key], clean, field)
            readings = sweep.read(reader, result, clean) if reader else None
            compared = tuple(
                payload.Compared(e.label, sweep.run(models[e.key], clean, field)) for e in entries
            )
            built = payload.build(result, clean, f"Denoised ({entry.label})", readings, "id", compared)
            alone = max(alone, payload.size_of(built, with_compared=False))
            together = max(together, payload.size_of(built))
        sizes.append((entry.label, alone, together))
    return sizes


def report(figures: dict) -> None:
    """The table the README shows: app.py against the bare page, as ratios."""
    bare, app = figures["bare page"], figures["app.py"]

    def row(label: str, a: float, b: float, unit: str = "ms") -> None:
        ratio = f"{a / b:6.2f}×" if b else "     –"
        print(f"  {label:<44} {a:9.1f} {b:9.1f} {unit:<7} {ratio}")

    print(f"  {'':<44} {'app.py':>9} {'bare':>9}")
    for q, name in ((50, "median"), (95, "p95")):
        row(
            f"key press → changed Noisy panel, {name}",
            percentile(app["press"], q),
            percentile(bare["press"], q),
        )
    row("frames shown during a 1 s drag", app["drag"], bare["drag"], "frames")
    row("websocket frames sent for 20 presses", app["burst"], bare["burst"], "frames")
    row(
        "new digit → panels, median",
        statistics.median(app["new digit"]),
        statistics.median(bare["new digit"]),
    )
    print(f"  ({len(app['press'])} presses, {len(app['new digit'])} strokes per page)")
    folded, opened = statistics.median(app["release, folded"]), statistics.median(app["release, open"])
    print("app.py: σ sent → the server's rerun with it (download label), median:")
    print(f"  Inside the model folded {folded:.0f} ms, open {opened:.0f} ms ({opened / folded:.2f}×)")
    first, *later = app["open inside"]
    print(
        f"  opening Inside the model, first time in this server: {first:.0f} ms ({first / folded:.2f}× a release)"
    )
    if later:
        again = statistics.median(later)
        print(
            f"  opening Inside the model on a new digit, median of {len(later)}: {again:.0f} ms "
            f"({again / folded:.2f}× a release)"
        )


COLD = {
    "bare TF page": ["-m", "streamlit", "run", "bench/cold_page.py"],
    "app.py (image's CMD)": ["-m", "denoiser.page.warmup", "app.py"],
    "app.py (streamlit run)": ["-m", "streamlit", "run", "app.py"],
}


def shown(page, name: str) -> None:
    """Until the page shows its image (the bare page) or its live panels (app.py)."""
    if name.startswith("bare"):
        page.wait_for_function(
            "() => { const i = document.querySelector(\"[data-testid='stImage'] img\");"
            " return i && i.complete && i.naturalWidth > 0; }",
            timeout=600_000,
            polling=20,
        )
    else:
        wait_live(page, timeout=600_000)


def health_watch(url: str, stop) -> list[float]:
    """Seconds each health request took, polled every 0.2 s until `stop` is set (a thread)."""
    import threading
    import urllib.request

    times: list[float] = []

    def poll() -> None:
        while not stop.is_set():
            started = time.perf_counter()
            try:
                urllib.request.urlopen(f"{url}/_stcore/health", timeout=30).read()
                times.append(time.perf_counter() - started)
            except OSError:
                pass
            stop.wait(0.2)

    threading.Thread(target=poll, daemon=True).start()
    return times


def cold_start(browser, name: str, idle: float) -> tuple[float, float, float]:
    """(process start → shown, first request → shown, slowest health answer) for one fresh server.

    idle 0: the visitor asks as soon as the server answers its health check."""
    import subprocess
    import threading

    from bench.browser import free_port, wait_until_healthy

    port = free_port()
    command = [sys.executable, *COLD[name], "--server.port", str(port), "--server.headless", "true"]
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
    started = time.perf_counter()
    process = subprocess.Popen(
        command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT
    )
    url = f"http://127.0.0.1:{port}"
    stop = threading.Event()
    try:
        wait_until_healthy(url, process, timeout=300)
        healths = health_watch(url, stop)
        time.sleep(max(0.0, started + idle - time.perf_counter()))
        context = browser.new_context(viewport={"width": 1200, "height": 1250})
        page = context.new_page()
        asked = time.perf_counter()
        page.goto(url)
        shown(page, name)
        done = time.perf_counter()
        context.close()
        return done - started, done - asked, max(healths, default=0.0)
    finally:
        stop.set()
        process.terminate()
        process.wait(timeout=30)


def cold_figures(runs: int, idle: float) -> None:
    """Print each page's cold starts (median of `runs`, pages alternating) and the ratios."""
    from playwright.sync_api import sync_playwright

    figures: dict[str, dict[str, list[float]]] = {n: {"start": [], "request": [], "health": []} for n in COLD}
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        for _ in range(runs):
            for name in COLD:
                from_start, _, health = cold_start(browser, name, 0.0)
                _, from_request, idle_health = cold_start(browser, name, idle)
                figures[name]["start"].append(from_start)
                figures[name]["request"].append(from_request)
                figures[name]["health"].append(max(health, idle_health))
        browser.close()
    bare = {kind: statistics.median(figures["bare TF page"][kind]) for kind in ("start", "request")}
    print(
        f"cold start, median of {runs} per page (pages alternating); first request {idle:.0f} s after start"
    )
    for name, values in figures.items():
        start, request = statistics.median(values["start"]), statistics.median(values["request"])
        print(
            f"  {name:24s} process start → shown {start:5.1f} s ({start / bare['start']:.2f}× bare)"
            f" · first request → shown {request:5.1f} s ({request / bare['request']:.2f}× bare)"
            f" · slowest health answer {max(values['health']) * 1000:.0f} ms"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--presses", type=int, default=30, help="single key presses timed per page (≤ 100)")
    parser.add_argument("--strokes", type=int, default=5, help="strokes added to the drawing per page")
    parser.add_argument("--releases", type=int, default=10, help="σ releases timed, folded and open")
    parser.add_argument("--openings", type=int, default=6, help="times Inside the model is opened")
    parser.add_argument("--repeats", type=int, default=50, help="denoise calls timed per path")
    parser.add_argument("--cold", action="store_true", help="only the cold start against a bare TF page")
    parser.add_argument("--runs", type=int, default=1, help="cold starts per page and kind (--cold)")
    parser.add_argument("--idle", type=float, default=60.0, help="seconds before the first request (--cold)")
    args = parser.parse_args()
    if args.cold:
        cold_figures(args.runs, args.idle)
        return
    report(browser_figures(min(args.presses, 100), args.strokes, args.releases, args.openings))
    for label, alone, together in payload_sizes():
        print(
            f"payload for a new digit ({label}, largest of 10 sample digits): {alone / 1000:.0f} kB "
            f"(budget 250 kB); with every model compared {together / 1000:.0f} kB"
        )
    label, fast, slow = server_side(args.repeats)
    print(
        f"one denoise ({label}), median of {args.repeats}: predict_on_batch {fast:.1f} ms, "
        f"model.predict {slow:.1f} ms ({slow / fast:.1f}× slower)"
    )


if __name__ == "__main__":
    main()
