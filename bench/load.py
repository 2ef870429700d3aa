"""Load: many browser sessions on one server, each with its own digit, while a retraining runs.

One `streamlit run app.py` server, one chromium with a browser context per session (the
cheapest way to have many visitors on two cores). Each session opens the MNIST sample tab on
its own digit (class and index differ between sessions) or draws its own stroke, then moves
the σ slider one step at a time. After every move it reads the three panels as the browser
shows them (each <img> drawn onto a canvas) and checks that they are its own: the Original
panel's pixels are that session's digit, and the Noisy panel is exactly clip(digit + σ·field)
at the slider's σ (so it changed with the move and belongs to no other session); a drawing
session's Original must stay the drawing and its Noisy must differ from it. Phases, all
against the same server:

1. one session alone: the baseline latency;
2. all sessions at once, while session 0 runs a retraining from the sidebar's Retrain section
   (6,000 digits, enough epochs to outlast the load; cancelled afterwards);
3. one session, 1,000 slider moves (a new digit every 100), with the server's memory sampled.

Latency is key press → the Noisy image replaced in the page (the three panels are written
together), as in bench/latency.py. Memory is the server process's resident set (/proc VmRSS).
Errors are exception boxes, error alerts, browser console errors, HTTP responses ≥ 400 and
moves that get no new panels within `timeout_s`, on every page; any error, wrong panel, or a
retraining that ended before the load did makes the exit status 1.

    python bench/load.py                    # 8 sessions × 20 moves, then 1,000 moves
    python bench/load.py --sessions 12 --moves 30 --memory-moves 0
    python bench/load.py --no-retrain       # the same load without a training
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import dataclasses
import hashlib
import io
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.browser import CHROMIUM, start_streamlit  # noqa: E402
from bench.browser import CHROMIUM_ARGS as BASE_CHROMIUM_ARGS  # noqa: E402
from denoiser import data  # noqa: E402 - numpy only: the bench process stays free of TensorFlow


@dataclass
class LoadSettings:
    """What one run does; each field is a command-line flag of the same name."""

    sessions: int = 8  # concurrent browser sessions in phase 2 (two cores: 8 is what fits)
    drawing: int = 2  # how many of them draw a stroke instead of picking an MNIST sample
    moves: int = 20  # slider moves per session, in phases 1 and 2
    retrain: bool = True  # run a retraining from session 0 during phase 2
    retrain_digits: int = 6000  # its training-set size
    retrain_epochs: int = 40  # its epochs: enough to outlast phase 2 (it is cancelled after)
    memory_moves: int = 1000  # slider moves in phase 3 (0 skips it)
    memory_every: int = 100  # memory sample, and a new digit, every this many moves
    timeout_s: float = 30.0  # longest wait for one page update (a move without an update is an error)
    mnist_dir: str = os.environ.get("MNIST_DIR") or str(
        ROOT.parent / "shared" / "data" / "mnist"
    )  # for the retraining


CHROMIUM_ARGS = [
    *BASE_CHROMIUM_ARGS,
    "--disable-renderer-backgrounding",  # pages in the background keep their timers
    "--disable-background-timer-throttling",
]
PANELS = "[data-testid='stMain'] [data-testid='stImage'] img"
SLIDER = "[data-testid='stMain'] [data-testid='stSlider'] input[type='range']"
IDLE = "() => !document.querySelector('[data-testid=\"stStatusWidget\"]')"
CHANGED = f"""(old) => {{
    const s = Array.from(document.querySelectorAll("{PANELS}")).map(i => i.src);
    return s.length === 3 && s[0] !== old;
}}"""
ERRORS = "[data-testid='stException'], [data-testid='stAlertContentError']"
# Each panel as the browser shows it: the loaded <img> drawn onto a canvas, read back as a PNG.
READ_PANELS = """async (selector) => {
    const read = async (img) => {
        if (!img.complete) await new Promise(done => {
            img.addEventListener("load", done, {once: true});
            img.addEventListener("error", done, {once: true});
        });
        if (!img.naturalWidth) return null;
        const canvas = document.createElement("canvas");
        canvas.width = img.naturalWidth;
        canvas.height = img.naturalHeight;
        canvas.getContext("2d").drawImage(img, 0, 0);
        return canvas.toDataURL("image/png");
    };
    return Promise.all(Array.from(document.querySelectorAll(selector)).map(read));
}"""
PANEL_SCALE = 7  # 28 px → 196 px, nearest neighbour
FIELD = np.random.default_rng(0).standard_normal((28, 28), dtype=np.float32)  # every new session's


# What a session should see, computed here independently of the page.


def upscale(image: np.ndarray) -> np.ndarray:
    """A (28, 28) image in [0, 1] as the page shows it: uint8, 7× nearest neighbour."""
    pixels = np.round(np.clip(image, 0.0, 1.0) * 255).astype(np.uint8)
    return np.repeat(np.repeat(pixels, PANEL_SCALE, axis=0), PANEL_SCALE, axis=1)


def noisy_at(clean: np.ndarray, sigma: float) -> np.ndarray:
    """The seed recipe's noise with the page's fixed field: clip(x + σ·field, 0, 1)."""
    if sigma == 0:
        return clean
    return np.clip(clean + np.float32(sigma) * FIELD, 0.0, 1.0).astype(np.float32)


def digest(pixels: np.ndarray) -> str:
    return hashlib.sha256(pixels.tobytes()).hexdigest()[:12]


@dataclass
class Session:
    """One visitor: which digit it shows, and what it saw."""

    number: int
    digit: int | None = None  # MNIST sample class; None for a drawing session
    index: int = 0  # example within the class
    clean: np.ndarray | None = None  # the 28×28 digit it picked (None until a drawing is read back)
    latencies: list[float] = field(default_factory=list)
    wrong: list[str] = field(default_factory=list)  # one line per action with a wrong panel
    errors: list[str] = field(default_factory=list)  # exception boxes, error alerts, console errors
    originals: set[str] = field(default_factory=set)  # digests of every Original panel it saw


def sample_sessions(settings: LoadSettings, count: int, first: int = 0) -> list[Session]:
    """Sessions with distinct digits: class = n mod 10, example = n div 10, drawing for the last few."""
    images, labels = data.load_sample()
    sessions = []
    for n in range(first, first + count):
        if n - first >= count - settings.drawing and count > 1:
            sessions.append(Session(n))
            continue
        digit, index = n % 10, n // 10
        clean = images[np.flatnonzero(labels == digit)[index]]
        sessions.append(Session(n, digit, index, clean))
    return sessions


# The server.


def serve(runs_dir: Path, log: Path, settings: LoadSettings) -> tuple[subprocess.Popen, str]:
    """`streamlit run app.py` with a fresh runs folder and the retraining's limits; its output goes to `log`."""
    env = dict(
        os.environ,
        TF_CPP_MIN_LOG_LEVEL="2",
        DENOISER_RUNS_DIR=str(runs_dir),
        DENOISER_TRAIN_SIZES=str(settings.retrain_digits),
        DENOISER_MAX_EPOCHS=str(settings.retrain_epochs),
        MNIST_DIR=settings.mnist_dir,
    )
    with open(log, "wb") as output:  # a file, not a pipe: a full pipe would stall the server
        return start_streamlit("app.py", ROOT, env, output)


def rss_mb(pid: int) -> float:
    """The process's resident memory in MB (VmRSS from /proc)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for {pid}")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of one process so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def descendants(pid: int) -> list[int]:
    """Every live process below `pid` (children, their children, …)."""
    parents = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parents[int(entry.name)] = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
    found, frontier = [], [pid]
    while frontier:
        children = [child for child, parent in parents.items() if parent in frontier]
        found += children
        frontier = children
    return found


def cpu_split(server: int) -> tuple[float, float]:
    """CPU seconds so far: the server (page and training threads), and the browser (everything else we started)."""
    browser = 0.0
    for pid in descendants(os.getpid()):
        if pid != server:
            try:
                browser += cpu_seconds(pid)
            except OSError:  # ended meanwhile
                continue
    return cpu_seconds(server), browser


# One page.


try:
    from playwright.async_api import TimeoutError as PlaywrightTimeout
except ImportError:  # reported when run() starts the browser
    PlaywrightTimeout = TimeoutError


async def open_session(browser, url: str, session: Session, settings: LoadSettings):
    """A new browser context on the page, showing this session's digit, slider focused."""
    context = await browser.new_context(viewport={"width": 1200, "height": 1250})
    page = await context.new_page()
    page.on("console", lambda m: m.type == "error" and session.errors.append(f"console: {m.text}"))
    page.on("pageerror", lambda error: session.errors.append(f"page error: {error}"))
    page.on("response", lambda r: r.status >= 400 and session.errors.append(f"HTTP {r.status}: {r.url}"))
    await page.goto(url)
    await page.locator("canvas.upper-canvas").wait_for(timeout=settings.timeout_s * 1000)
    await settle(page, settings)
    if session.digit is None:
        await draw(page, session.number, settings)
    else:
        await pick_sample(page, session.digit, session.index, settings)
        await show_digit(page, session, settings)
    await page.locator(SLIDER).focus()
    return context, page


async def settle(page, settings: LoadSettings) -> None:
    """Until the script has finished (twice, a moment apart: reruns can queue up)."""
    for _ in range(2):
        await page.wait_for_function(IDLE, timeout=settings.timeout_s * 1000, polling=20)
        await page.wait_for_timeout(100)


async def pick_sample(page, digit: int, index: int, settings: LoadSettings) -> None:
    """The MNIST sample tab, then the digit class (select box) and the example (number input)."""
    await page.get_by_role("tab", name="MNIST sample").click()
    await page.locator(PANELS).nth(2).wait_for(timeout=settings.timeout_s * 1000)
    await settle(page, settings)
    await page.locator("[data-testid='stSelectbox']").click()
    await page.get_by_role("option", name=str(digit), exact=True).click()
    await settle(page, settings)
    await set_example(page, index, settings)


async def set_example(page, index: int, settings: LoadSettings) -> None:
    number = page.locator("[data-testid='stNumberInput'] input")
    await number.fill(str(index))
    await number.press("Enter")
    await settle(page, settings)


async def show_digit(page, session: Session, settings: LoadSettings) -> None:
    """Until the Original panel is the session's digit, so that a rerun for the pick cannot be
    taken for the next move's (on a loaded server it may start after `settle` returned)."""
    expected = upscale(session.clean)
    deadline = time.perf_counter() + settings.timeout_s
    while time.perf_counter() < deadline:
        images = await panel_images(page)
        if len(images) == 3 and images[2] is not None and np.array_equal(images[2], expected):
            await settle(page, settings)
            return
        await page.wait_for_timeout(50)
    session.errors.append(
        f"digit {session.digit} example {session.index} not shown within {settings.timeout_s:.0f} s"
    )


async def draw(page, n: int, settings: LoadSettings) -> None:
    """A stroke of its own for drawing session `n`: a 7, an L, a Z, … shifted by `n`."""
    shapes = [
        [(0.25, 0.2), (0.75, 0.2), (0.6, 0.5), (0.45, 0.85)],
        [(0.3, 0.15), (0.3, 0.85), (0.7, 0.85)],
        [(0.25, 0.2), (0.75, 0.2), (0.25, 0.8), (0.75, 0.8)],
        [(0.5, 0.1), (0.5, 0.9)],
        [(0.7, 0.2), (0.3, 0.5), (0.7, 0.8)],
    ]
    points = shapes[n % len(shapes)]
    box = await page.locator("canvas.upper-canvas").bounding_box()
    shift = 0.03 * (n // len(shapes))
    xy = [(box["x"] + (fx + shift) * box["width"], box["y"] + fy * box["height"]) for fx, fy in points]
    await page.mouse.move(*xy[0])
    await page.mouse.down()
    for x, y in xy[1:]:
        await page.mouse.move(x, y, steps=10)
    await page.mouse.up()
    await page.wait_for_function(
        f'() => document.querySelectorAll("{PANELS}").length === 3', timeout=settings.timeout_s * 1000
    )
    await settle(page, settings)


async def panel_images(page) -> list[np.ndarray | None]:
    """The three panels' pixels as the browser decoded them (None for an image that failed to load)."""
    encoded = await page.evaluate(READ_PANELS, PANELS)
    return [None if data is None else decode_data_url(data) for data in encoded]


def decode_data_url(data: str) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(base64.b64decode(data.split(",", 1)[1]))).convert("L"))


async def slider_move(page, session: Session, key: str, settings: LoadSettings) -> None:
    """Press `key` on the slider; time the Noisy panel's replacement; check all three panels."""
    old = await page.eval_on_selector(PANELS, "image => image.src")
    started = time.perf_counter()
    await page.keyboard.press(key)
    try:
        await page.wait_for_function(CHANGED, arg=old, timeout=settings.timeout_s * 1000, polling=5)
    except PlaywrightTimeout:
        session.errors.append(await describe_stall(page, key, old, settings))
        return
    session.latencies.append(time.perf_counter() - started)
    await page.wait_for_function(IDLE, timeout=settings.timeout_s * 1000, polling=20)
    sigma = float(await page.locator(SLIDER).input_value())
    noisy, denoised, original = await panel_images(page)
    if noisy is None or denoised is None or original is None:
        session.errors.append(f"a panel image failed to load at σ {sigma:.2f}")
        return
    check_panels(session, sigma, noisy, original)
    if await page.locator(ERRORS).count():
        session.errors.append(f"error element after a move to σ {sigma:.2f}")


async def describe_stall(page, key: str, old: str, settings: LoadSettings) -> str:
    """What a page looked like when a move got no new panels in time, and whether it catches up untouched."""
    value = await page.locator(SLIDER).input_value()
    running = not await page.evaluate(IDLE)
    progress = await training_status(page)
    try:  # no further input: does the page catch up by itself?
        await page.wait_for_function(CHANGED, arg=old, timeout=settings.timeout_s * 1000, polling=50)
        later = f"it caught up by itself within another {settings.timeout_s:.0f} s"
    except PlaywrightTimeout:
        later = f"still no new panel {2 * settings.timeout_s:.0f} s after the move"
    return (
        f"{key} at {time.strftime('%H:%M:%S')}: no new Noisy panel within {settings.timeout_s:.0f} s "
        f"(slider at {value}, script {'running' if running else 'idle'}, sidebar progress {progress!r}); {later}"
    )


def check_panels(session: Session, sigma: float, noisy: np.ndarray, original: np.ndarray) -> None:
    """Original is this session's digit and Noisy is it at σ; a drawing's Original never changes."""
    if session.clean is None:  # a drawing: the first Original read back is the reference
        session.clean = original[::PANEL_SCALE, ::PANEL_SCALE].astype(np.float32) / 255
    session.originals.add(digest(original))
    expected = upscale(session.clean)
    if not np.array_equal(original, expected):
        session.wrong.append(f"session {session.number}: Original is not its digit at σ {sigma:.2f}")
    if session.digit is not None and not np.array_equal(noisy, upscale(noisy_at(session.clean, sigma))):
        session.wrong.append(f"session {session.number}: Noisy is not its digit at σ {sigma:.2f}")
    if session.digit is None and sigma > 0 and np.array_equal(noisy, expected):
        session.wrong.append(f"session {session.number}: Noisy shows no noise at σ {sigma:.2f}")


async def run_moves(page, session: Session, moves: int, settings: LoadSettings) -> None:
    """`moves` steps to the right (to the left past σ = 1), each checked."""
    for _ in range(moves):
        sigma = float(await page.locator(SLIDER).input_value())
        await slider_move(page, session, "ArrowRight" if sigma < 1 else "Home", settings)


# The retraining, from the sidebar.


async def start_retraining(page, settings: LoadSettings) -> None:
    """Session 0 sets the epochs to the maximum the server allows and presses Start training."""
    sidebar = page.locator("[data-testid='stSidebar']")
    epochs = (
        sidebar.locator("[data-testid='stSlider']").filter(has_text="Epochs").locator("input[type='range']")
    )
    await epochs.focus()
    await page.keyboard.press("End")
    await settle(page, settings)
    start = sidebar.get_by_role("button", name="Start training")
    if not await start.count():
        raise RuntimeError(f"no Start button in the sidebar: {await sidebar.inner_text()}")
    await start.click()
    await sidebar.get_by_text("Epoch 1/").wait_for(timeout=settings.timeout_s * 1000)
    await page.locator(SLIDER).focus()


async def training_status(page) -> str:
    """The progress bar's text in session 0's sidebar ('' when no job runs)."""
    bars = page.locator("[data-testid='stSidebar'] [data-testid='stProgress']")
    return (await bars.first.inner_text()).strip() if await bars.count() else ""


async def cancel_retraining(page, settings: LoadSettings) -> bool:
    """Cancel session 0's job; False when it had already ended."""
    cancel = page.locator("[data-testid='stSidebar']").get_by_role("button", name="Cancel")
    if not await cancel.count():
        return False
    await cancel.click()
    await page.get_by_text("Training cancelled").wait_for(timeout=settings.timeout_s * 1000)
    return True


# The phases.


@dataclass
class Results:
    single: list[float] = field(default_factory=list)
    loaded: list[float] = field(default_factory=list)
    actions: int = 0
    wrong: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    distinct_originals: bool = True
    training: list[str] = field(default_factory=list)  # progress text before and after phase 2
    training_outlasted: bool = False  # the job was still running when phase 2 ended
    memory: list[tuple[str, float]] = field(default_factory=list)  # (moment, RSS MB)
    memory_moves: list[tuple[int, float]] = field(default_factory=list)  # (moves done, RSS MB)
    phase_s: dict[str, float] = field(default_factory=dict)
    cpu_loaded: tuple[float, float] = (0.0, 0.0)  # CPU seconds in phase 2: server, browser


async def phase_single(browser, url: str, settings: LoadSettings, results: Results) -> None:
    (session,) = sample_sessions(dataclasses.replace(settings, drawing=0), 1, first=settings.sessions)
    context, page = await open_session(browser, url, session, settings)
    started = time.perf_counter()
    await run_moves(page, session, settings.moves, settings)
    results.phase_s["single"] = time.perf_counter() - started
    await context.close()
    collect(results, [session], "single")


async def phase_loaded(browser, url: str, pid: int, settings: LoadSettings, results: Results) -> None:
    sessions = sample_sessions(settings, settings.sessions)
    opened = await asyncio.gather(*(open_session(browser, url, s, settings) for s in sessions))
    pages = [page for _, page in opened]
    if settings.retrain:
        await start_retraining(pages[0], settings)
        results.training.append(await training_status(pages[0]))
    results.memory.append((f"{len(sessions)} sessions open, before their moves", rss_mb(pid)))
    cpu_before = cpu_split(pid)
    started = time.perf_counter()
    await asyncio.gather(
        *(run_moves(p, s, settings.moves, settings) for p, s in zip(pages, sessions, strict=True))
    )
    results.phase_s["loaded"] = time.perf_counter() - started
    results.cpu_loaded = tuple(
        after - before for after, before in zip(cpu_split(pid), cpu_before, strict=True)
    )
    results.memory.append((f"after {len(sessions)} × {settings.moves} moves", rss_mb(pid)))
    if settings.retrain:
        results.training.append(await training_status(pages[0]))
        results.training_outlasted = await cancel_retraining(pages[0], settings)
    for page, session in zip(pages, sessions, strict=True):
        if await page.locator(ERRORS).count():
            session.errors.append("error element at the end of the load")
    for context, _ in opened:
        await context.close()
    collect(results, sessions, "loaded")
    digests = [s.originals for s in sessions]
    results.distinct_originals = all(len(d) == 1 for d in digests) and len(set().union(*digests)) == len(
        sessions
    )


async def phase_memory(browser, url: str, pid: int, settings: LoadSettings, results: Results) -> None:
    """One session, `memory_moves` checked slider moves, the next example of its class every `memory_every`."""
    (session,) = sample_sessions(dataclasses.replace(settings, drawing=0), 1, first=settings.sessions + 1)
    context, page = await open_session(browser, url, session, settings)
    images, labels = data.load_sample()
    of_class = np.flatnonzero(labels == session.digit)
    results.memory_moves.append((0, rss_mb(pid)))
    started = time.perf_counter()
    done = 0
    while done < settings.memory_moves:
        batch = min(settings.memory_every, settings.memory_moves - done)
        await run_moves(page, session, batch, settings)
        done += batch
        results.memory_moves.append((done, rss_mb(pid)))
        if done < settings.memory_moves:
            session.index = (session.index + 1) % len(of_class)
            session.clean = images[of_class[session.index]]
            await set_example(page, session.index, settings)
            await show_digit(page, session, settings)
            await page.locator(SLIDER).focus()
    results.phase_s["memory"] = time.perf_counter() - started
    await context.close()
    collect(results, [session], "memory")


def collect(results: Results, sessions: list[Session], phase: str) -> None:
    for session in sessions:
        if phase == "single":
            results.single += session.latencies
        elif phase == "loaded":
            results.loaded += session.latencies
        results.actions += len(session.latencies)
        results.wrong += session.wrong
        results.errors += [f"{phase}, session {session.number}: {e}" for e in session.errors]


async def run(settings: LoadSettings) -> Results:
    from playwright.async_api import async_playwright

    results = Results()
    with tempfile.TemporaryDirectory(prefix="load-runs-") as runs_dir:
        log = Path(runs_dir) / "server.log"
        process, url = serve(Path(runs_dir) / "runs", log, settings)
        try:
            results.memory.append(
                ("server started, before the first page (no TensorFlow yet)", rss_mb(process.pid))
            )
            async with async_playwright() as playwright:
                browser = await playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
                await phase_single(browser, url, settings, results)
                results.memory.append(("after the single session", rss_mb(process.pid)))
                await phase_loaded(browser, url, process.pid, settings, results)
                if settings.memory_moves:
                    await phase_memory(browser, url, process.pid, settings, results)
                await browser.close()
            results.memory.append(("every session closed", rss_mb(process.pid)))
        finally:
            process.terminate()
            process.wait(timeout=60)
            lines = log.read_text(errors="replace").splitlines()
            results.errors += [
                f"server log: {line}" for line in lines if "Traceback" in line or "Error" in line
            ]
    return results


# The report.


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(values) * 1000, q))


def report(settings: LoadSettings, results: Results) -> None:
    single50, single95 = percentile(results.single, 50), percentile(results.single, 95)
    load50, load95 = percentile(results.loaded, 50), percentile(results.loaded, 95)
    retraining = " + retraining" if settings.retrain else ""
    print(f"Slider move → new Noisy panel (ms), one server, {os.cpu_count()} CPU cores")
    print("| phase | sessions | moves | p50 | p95 | max | p50 / p95 vs one session |")
    print("|---|---:|---:|---:|---:|---:|---|")
    print(
        f"| one session | 1 | {len(results.single)} | {single50:.0f} | {single95:.0f} | "
        f"{max(results.single) * 1000:.0f} | 1 / 1 |"
    )
    print(
        f"| {settings.sessions} sessions at once{retraining} | {settings.sessions} | {len(results.loaded)} | "
        f"{load50:.0f} | {load95:.0f} | {max(results.loaded) * 1000:.0f} | "
        f"**{load50 / single50:.2f} / {load95 / single95:.2f}** |"
    )
    wall, (server_cpu, browser_cpu) = results.phase_s["loaded"], results.cpu_loaded
    print(
        f"While the {settings.sessions} sessions moved ({wall:.1f} s, {os.cpu_count()} cores = "
        f"{wall * os.cpu_count():.1f} CPU-s): the server used {server_cpu:.1f} CPU-s"
        f"{' (page and training)' if settings.retrain else ''}, chromium {browser_cpu:.1f} CPU-s"
    )
    print()
    print(
        f"Checked actions: {results.actions} ({settings.drawing} of the {settings.sessions} sessions drew); "
        f"wrong panels: {len(results.wrong)}; errors: {len(results.errors)}; "
        f"each session saw only its own Original: {'yes' if results.distinct_originals else 'NO'}"
    )
    for line in (results.wrong + results.errors)[:20]:
        print(f"  {line}")
    if results.training:
        print(f"Retraining in session 0's sidebar: at the start of the load {results.training[0]!r};")
        ending = "then cancelled" if results.training_outlasted else "it had ENDED before the load did"
        print(f"  at its end {results.training[-1]!r} ({ending})")
    print()
    print("Server memory (RSS, MB)")
    print("| moment | RSS |")
    print("|---|---:|")
    for moment, mb in results.memory:
        print(f"| {moment} | {mb:.0f} |")
    if results.memory_moves:
        print()
        print(
            f"One session, {results.memory_moves[-1][0]} slider moves, a new digit every "
            f"{settings.memory_every} ({results.phase_s['memory']:.0f} s):"
        )
        print("| moves | " + " | ".join(str(n) for n, _ in results.memory_moves) + " |")
        print("|---|" + "---:|" * len(results.memory_moves))
        print("| RSS (MB) | " + " | ".join(f"{mb:.0f}" for _, mb in results.memory_moves) + " |")
        first, last = results.memory_moves[1][1], results.memory_moves[-1][1]
        print(f"Growth from move {results.memory_moves[1][0]} to the last: {last - first:+.0f} MB")


def parse_settings(argv: list[str] | None = None) -> LoadSettings:
    """Flags named after LoadSettings' fields (`--memory-moves 1000`, `--no-retrain`)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    for setting in dataclasses.fields(LoadSettings):
        flag = "--" + setting.name.replace("_", "-")
        if setting.type == "bool":
            parser.add_argument(flag, action=argparse.BooleanOptionalAction, default=setting.default)
        else:
            kind = {"float": float, "int": int}.get(setting.type, str)
            parser.add_argument(flag, type=kind, default=setting.default)
    return LoadSettings(**vars(parser.parse_args(argv)))


def main() -> None:
    settings = parse_settings()
    started = time.perf_counter()
    results = asyncio.run(run(settings))
    report(settings, results)
    print(f"\nWhole run: {time.perf_counter() - started:.0f} s")
    outlasted = results.training_outlasted or not settings.retrain
    if results.wrong or results.errors or not results.distinct_originals or not outlasted:
        sys.exit(1)


if __name__ == "__main__":
    main()
