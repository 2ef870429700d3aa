"""Load: many browser sessions on one server, each scrubbing its own digit, while a retraining runs.

One `streamlit run app.py` server, one chromium with a browser context per session (the
cheapest way to have many visitors on two cores). Each session opens the page (the MNIST
sample tab, a digit shown with no click), picks its own digit (class and example differ
between sessions) and then moves the live panels' σ slider one key press at a time. The
slider scrubs in the browser: every key draws that σ's frames from the sweep the server sent
once per digit (a new digit first comes at the current σ alone, its whole sweep a rerun later;
the bench waits for the whole sweep before the first key), and the server hears the σ 300 ms
after the last key press, then reruns (the download button's label then names the new σ). After every key the bench reads the
panels as the browser shows them (the 28×28 canvases) and checks that they are the session's
own: the Original is that session's digit, and the Noisy panel is exactly
round(255·clip(digit + σ·field)) at the σ the slider shows, the field being the page's noise
for a new visitor (seed 0). Phases, all against the same server:

1. one session alone: the baseline;
2. all sessions at once, while session 0 runs a retraining from the sidebar's Retrain section
   (6,000 digits, enough epochs to outlast the load; cancelled afterwards);
3. one session, 1,000 checked key presses in bursts (the server hears the end of each), a new
   digit every 100, with the server's memory sampled.

Two latencies, each what a visitor waits on, both on the page's own clock:

- key press → panel drawn: from the key event's time stamp to the first animation frame after
  the component drew the new σ (in the browser, no server involved);
- key release → the server has σ: from the key-up event to the frame in which the download
  button names the new σ (the component's 300 ms wait for more keys, the message, the rerun).

In phases 1 and 2 every move waits for both before the next key. Memory is the server
process's resident set (/proc VmRSS); the training runs in a child process of the server,
whose RSS is shown beside it. Errors are exception boxes, error alerts, browser console
errors, HTTP responses ≥ 400, and frozen pages: a key that draws no new panel, or whose σ
the server has not shown within `timeout_s`. A request for one of the images the server draws
before the live panels run (hidden, then dropped) that comes after the server dropped it is
counted apart: the visitor sees nothing of it. Any error, frozen page, wrong panel, or a
retraining that ended before the load did makes the exit status 1.

    python bench/load.py                    # 8 sessions × 20 moves, then 1,000 key presses
    python bench/load.py --sessions 12 --moves 30 --memory-moves 0
    python bench/load.py --no-retrain       # the same load without a training
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import hashlib
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.browser import CHROMIUM, IDLE, LIVE, LIVE_READY, LIVE_SLIDER, start_streamlit  # noqa: E402
from bench.browser import CHROMIUM_ARGS as BASE_CHROMIUM_ARGS  # noqa: E402
from denoiser import data  # noqa: E402 - numpy only: the bench process stays free of TensorFlow


@dataclass
class LoadSettings:
    """What one run does; each field is a command-line flag of the same name."""

    sessions: int = 8  # concurrent browser sessions in phase 2 (two cores: 8 is what fits)
    moves: int = 20  # key presses per session in phases 1 and 2, each waiting for the server's σ
    retrain: bool = True  # run a retraining from session 0 during phase 2
    retrain_digits: int = 6000  # its training-set size
    retrain_epochs: int = 40  # its epochs: enough to outlast phase 2 (it is cancelled after)
    memory_moves: int = 1000  # key presses in phase 3 (0 skips it)
    memory_burst: int = 5  # phase 3: key presses per burst; the server hears the end of each
    memory_every: int = 100  # memory sample, and a new digit, every this many key presses
    memory_new_digits: bool = True  # phase 3: a new digit at each sample (the caches fill per digit)
    timeout_s: float = 30.0  # longest wait for a panel or the server's σ (longer: a frozen page)
    mnist_dir: str = os.environ.get("MNIST_DIR") or str(
        ROOT.parent / "shared" / "data" / "mnist"
    )  # for the retraining


CHROMIUM_ARGS = [
    *BASE_CHROMIUM_ARGS,
    "--disable-renderer-backgrounding",  # pages in the background keep their timers and frames
    "--disable-background-timer-throttling",
    "--disable-backgrounding-occluded-windows",
]
MAIN = "[data-testid='stMain']"
DOWNLOAD = ".st-key-download button"  # its label names the σ the server last ran with
ERRORS = "[data-testid='stException'], [data-testid='stAlertContentError']"
# Before the browser runs the live panels, the server also draws them as images (the fallback,
# hidden once the component is ready and dropped from the next rerun); their URLs, to tell a
# request for one the server has already dropped (HTTP 404, which the visitor never sees) from
# a real error.
WATCH_FALLBACK = """
window.__fallbackSrcs = new Set();
window.__fallbackWatch = new MutationObserver(() => {
    for (const img of document.querySelectorAll(".st-key-fallback_panels img")) window.__fallbackSrcs.add(img.src);
});
window.__fallbackWatch.observe(document, { childList: true, subtree: true, attributes: true, attributeFilter: ["src"] });
"""
# Every key on the slider, on the page's clock: when it was pressed and released (the events'
# time stamps, taken when the input arrived, so a busy page's delay counts), and the first
# animation frame after the component's own keydown handler drew the new σ.
WATCH_KEYS = """() => {
    if (window.__loadMoves) return;
    const moves = (window.__loadMoves = []);
    const onSlider = (event) => event.target.classList && event.target.classList.contains("dn-slider");
    document.addEventListener("keydown", (event) => {
        if (!onSlider(event)) return;
        const move = { key: event.key, down: event.timeStamp };
        moves.push(move);
        requestAnimationFrame(() => {
            move.painted = performance.now();
            const live = document.querySelector(".dn-live:not(.dn-placeholder)");
            move.sigma = live.dataset.sigma;  // the slider's σ
            move.shown = live.dataset.shown;  // the σ of the frames the panels show
        });
    }, true);
    document.addEventListener("keyup", (event) => {
        if (onSlider(event) && moves.length) moves[moves.length - 1].up = event.timeStamp;
    }, true);
}"""
MOVE_DONE = """(n) => {
    const move = window.__loadMoves[n];
    return move && move.painted !== undefined && move.up !== undefined ? move : null;
}"""
SERVED = f"""(sigma) => {{
    const button = document.querySelector("{MAIN} {DOWNLOAD}");
    return button && button.textContent.includes("at σ " + sigma + " ") ? performance.now() : 0;
}}"""
# What the panels show now: σ, and the Noisy and Original canvases' grey levels, read together.
READ_PANELS = """() => {
    const grey = (kind) => {
        const canvas = document.querySelector(".dn-live:not(.dn-placeholder) .dn-panels .dn-" + kind);
        const rgba = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height).data;
        const out = [];
        for (let i = 0; i < rgba.length; i += 4) out.push(rgba[i]);
        return out;
    };
    const live = document.querySelector(".dn-live:not(.dn-placeholder)");
    return { sigma: live.dataset.sigma, shown: live.dataset.shown, noisy: grey("noisy"),
             original: grey("original") };
}"""
SHOWS_DIGIT = f"""(expected) => {{
    const live = document.querySelector("{LIVE_READY}");  // every σ's frames decoded
    if (!live) return false;
    const canvas = live.querySelector(".dn-panels .dn-original");
    const rgba = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height).data;
    for (let i = 0; i < expected.length; i++) if (rgba[4 * i] !== expected[i]) return false;
    return true;
}}"""
FIELD = np.random.default_rng(0).standard_normal((28, 28), dtype=np.float32)  # noise.noise_field(seed=0)


# What a session should see, computed here independently of the page.


def to_pixels(image: np.ndarray) -> np.ndarray:
    """A (28, 28) image in [0, 1] as the panels show it: uint8, rounded."""
    return np.round(np.clip(image, 0.0, 1.0) * 255).astype(np.uint8)


def noisy_at(clean: np.ndarray, sigma: float) -> np.ndarray:
    """The seed recipe's noise with the page's fixed field: clip(x + σ·field, 0, 1)."""
    if sigma == 0:
        return clean
    return np.clip(clean + np.float32(sigma) * FIELD, 0.0, 1.0).astype(np.float32)


def digest(pixels: np.ndarray) -> str:
    return hashlib.sha256(pixels.tobytes()).hexdigest()[:12]


def next_sigma(shown: str, key: str) -> str:
    """The σ the slider shows after `key` (ArrowRight: one step up; Home: 0)."""
    value = 0 if key == "Home" else min(100, round(float(shown) * 100) + 1)
    return f"{value / 100:.2f}"


@dataclass
class Session:
    """One visitor: which digit it shows, and what it saw."""

    number: int
    digit: int
    index: int  # example within the class
    clean: np.ndarray
    painted: list[float] = field(default_factory=list)  # key press → panel drawn (s)
    served: list[float] = field(default_factory=list)  # key release → the server has σ (s)
    checked: int = 0  # key presses whose panels were read back and compared
    wrong: list[str] = field(default_factory=list)  # one line per key with a wrong panel
    errors: list[str] = field(default_factory=list)  # exception boxes, error alerts, console errors
    frozen: int = 0  # keys with no new panel, or whose σ the server never showed, in time
    originals: set[str] = field(default_factory=set)  # digests of every Original panel it saw
    failed: list[tuple[str, str]] = field(default_factory=list)  # (URL, text) of loads that failed
    fallback_404: int = 0  # requests for a hidden fallback panel's image that the server had dropped
    placeholders: int = 0  # key presses that found the panels' placeholder on the page beside them
    resent: int = 0  # σ the live panels sent again (no answer after 2 s idle, then 4, 8, …)


def sample_sessions(count: int, first: int = 0) -> list[Session]:
    """Sessions with distinct digits: class = n mod 10, example = n div 10."""
    images, labels = data.load_sample()
    sessions = []
    for n in range(first, first + count):
        digit, index = n % 10, n // 10
        sessions.append(Session(n, digit, index, images[np.flatnonzero(labels == digit)[index]]))
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
    for name in ("DENOISER_TRAINING", "DENOISER_MAX_IMAGES", "DENOISER_COOLDOWN_S"):
        env.pop(name, None)
    with open(log, "wb") as output:  # a file, not a pipe: a full pipe would stall the server
        return start_streamlit("app.py", ROOT, env, output)


def rss_mb(pid: int) -> float:
    """The process's resident memory in MB (VmRSS from /proc); 0 once it has ended."""
    try:
        lines = Path(f"/proc/{pid}/status").read_text().splitlines()
    except OSError:
        return 0.0
    for line in lines:
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


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


def total_cpu(pids: list[int]) -> float:
    total = 0.0
    for pid in pids:
        try:
            total += cpu_seconds(pid)
        except OSError:  # ended meanwhile
            continue
    return total


def cpu_split(server: int) -> tuple[float, float, float]:
    """CPU seconds so far: the server, its children (the training process), and chromium (the rest
    of what this bench started). A process that ended meanwhile drops out of its sum."""
    below_server = descendants(server)
    others = [pid for pid in descendants(os.getpid()) if pid != server and pid not in below_server]
    return total_cpu([server]), total_cpu(below_server), total_cpu(others)


def training_rss_mb(server: int) -> float:
    """Resident memory of the server's children (the training process while one runs)."""
    return sum(rss_mb(pid) for pid in descendants(server))


# One page.


try:
    from playwright.async_api import TimeoutError as PlaywrightTimeout
    from playwright.async_api import expect
except ImportError:  # reported when run() starts the browser
    PlaywrightTimeout, expect = TimeoutError, None


async def open_session(browser, url: str, session: Session, settings: LoadSettings):
    """A new browser context on the page, showing this session's digit, slider focused and watched."""
    context = await browser.new_context(viewport={"width": 1200, "height": 1250})
    page = await context.new_page()
    page.on("console", lambda m: m.type == "error" and console_error(session, m))
    page.on("pageerror", lambda error: session.errors.append(f"page error: {error}"))
    page.on(
        "response", lambda r: r.status >= 400 and session.failed.append((r.url, f"HTTP {r.status}: {r.url}"))
    )
    await page.add_init_script(WATCH_FALLBACK)
    await page.goto(url)
    await page.locator(LIVE_READY).wait_for(timeout=3 * settings.timeout_s * 1000)  # the first visit
    await pick_sample(page, session, settings)
    await page.evaluate("() => window.__fallbackWatch.disconnect()")  # the fallback is gone for good
    await page.evaluate(WATCH_KEYS)
    await page.locator(LIVE_SLIDER).focus()
    return context, page


def console_error(session: Session, message) -> None:
    """A console error; a resource that failed to load is kept with its URL, to be sorted at the end."""
    if message.text.startswith("Failed to load resource"):
        session.failed.append((message.location.get("url", ""), f"console: {message.text}"))
    else:
        session.errors.append(f"console: {message.text}")


async def close_session(context, page, session: Session) -> None:
    """Sort the session's failed loads (a hidden fallback panel's image, or an error), then close it."""
    fallback = set(await page.evaluate("() => [...window.__fallbackSrcs]"))
    resent = await page.evaluate(
        f"() => [...document.querySelectorAll({LIVE!r})].map((l) => l.dataset.resent || 0)"
    )
    session.resent = sum(int(n) for n in resent)
    for url, text in session.failed:
        if url in fallback and ("404" in text):
            session.fallback_404 += text.startswith("HTTP")
        else:
            session.errors.append(text)
    session.failed.clear()
    await context.close()


async def pick_sample(page, session: Session, settings: LoadSettings) -> None:
    """The digit class (select box) and the example (number input), each until the live panels
    show it, then until the script is idle (so the first move's rerun is the move's own)."""
    images, labels = data.load_sample()
    first_of_class = images[np.flatnonzero(labels == session.digit)[0]]
    await page.locator(f"{MAIN} [data-testid='stSelectbox']").click()
    await page.get_by_role("option", name=str(session.digit), exact=True).click()
    await shows(page, first_of_class, settings)
    number = page.locator(f"{MAIN} [data-testid='stNumberInput'] input")
    await number.fill(str(session.index))
    await number.press("Enter")
    await shows(page, session.clean, settings)
    await page.wait_for_function(IDLE, timeout=settings.timeout_s * 1000, polling=50)


async def shows(page, clean: np.ndarray, settings: LoadSettings) -> None:
    """Until the live Original panel is `clean` and its whole sweep is decoded (a new digit's
    first answer holds only the current σ; the sweep follows in a second rerun)."""
    expected = to_pixels(clean).ravel().tolist()
    await page.wait_for_function(SHOWS_DIGIT, arg=expected, timeout=settings.timeout_s * 1000, polling=50)


async def press(page, session: Session, key: str, settings: LoadSettings, wait_for_server: bool) -> None:
    """Press `key` on the slider; record key → panel drawn, check the panels, and (if asked) record
    key release → the download button names the new σ."""
    before = await page.locator(LIVE).get_attribute("data-sigma")
    session.placeholders += await page.locator(".dn-live.dn-placeholder").count()
    expected = next_sigma(before, key)
    n = await page.evaluate("() => window.__loadMoves.length")
    await page.locator(LIVE_SLIDER).press(key)  # focuses the slider first, as a click on it would
    try:
        handle = await page.wait_for_function(MOVE_DONE, arg=n, timeout=settings.timeout_s * 1000)
    except PlaywrightTimeout:
        session.frozen += 1
        session.errors.append(f"{key} from σ {before}: no frame drawn within {settings.timeout_s:.0f} s")
        return
    move = await handle.json_value()
    session.painted.append((move["painted"] - move["down"]) / 1000)
    if (move["sigma"], move["shown"]) != (expected, expected):
        session.wrong.append(
            f"session {session.number}: {key} from σ {before} drew σ {move['shown']} "
            f"(slider at {move['sigma']})"
        )
    await check_panels(page, session)
    if wait_for_server:
        await server_has(page, session, expected, move["up"], settings)


async def server_has(page, session: Session, sigma: str, released: float | None, settings: LoadSettings):
    """Until the download button names `sigma`; records the time from `released` (page clock)."""
    try:
        handle = await page.wait_for_function(
            SERVED, arg=sigma, timeout=settings.timeout_s * 1000, polling="raf"
        )
    except PlaywrightTimeout:
        session.frozen += 1
        session.errors.append(await describe_stall(page, sigma, settings))
        return
    if released is not None:
        session.served.append((await handle.json_value() - released) / 1000)


async def check_panels(page, session: Session) -> None:
    """Original is this session's digit and Noisy is it at the σ the slider shows."""
    shown = await page.evaluate(READ_PANELS)
    sigma = shown["shown"]  # the σ of the frames drawn (the slider's, once the whole sweep is in)
    if sigma != shown["sigma"]:
        session.wrong.append(f"session {session.number}: panels at σ {sigma}, slider at {shown['sigma']}")
    noisy = np.asarray(shown["noisy"], np.uint8).reshape(28, 28)
    original = np.asarray(shown["original"], np.uint8).reshape(28, 28)
    session.checked += 1
    session.originals.add(digest(original))
    if not np.array_equal(original, to_pixels(session.clean)):
        session.wrong.append(f"session {session.number}: Original is not its digit at σ {sigma}")
    if not np.array_equal(noisy, to_pixels(noisy_at(session.clean, float(sigma)))):
        session.wrong.append(f"session {session.number}: Noisy is not its digit at σ {sigma}")


async def describe_stall(page, sigma: str, settings: LoadSettings) -> str:
    """What a page looked like when the server did not show a σ in time, and whether it catches up untouched."""
    button = page.locator(f"{MAIN} {DOWNLOAD}")
    label = await button.first.text_content() if await button.count() else "no download button"
    running = not await page.evaluate(IDLE)
    progress = await training_status(page)
    panels = await page.evaluate(PANELS_STATE)
    try:  # no further input: does the page catch up by itself?
        await page.wait_for_function(SERVED, arg=sigma, timeout=settings.timeout_s * 1000, polling=50)
        later = f"it caught up by itself within another {settings.timeout_s:.0f} s"
    except PlaywrightTimeout:
        later = f"still not {2 * settings.timeout_s:.0f} s after the key"
    return (
        f"{time.strftime('%H:%M:%S')}: the server had not shown σ {sigma} within {settings.timeout_s:.0f} s "
        f"(button {label!r}, script {'running' if running else 'idle'}, sidebar progress {progress!r}; "
        f"the panels: {panels}); {later}"
    )


# What the live panels know at a stall: how many σ they sent, which the server's receipt
# echoes, whether they resent, and how many of them the page holds.
PANELS_STATE = """() => {
  const lives = Array.from(document.querySelectorAll('.dn-live'));
  const receipt = document.querySelector('.dn-receipt');
  return JSON.stringify({
    elements: lives.length,
    state: lives.map((l) => ({sigma: l.dataset.sigma, shown: l.dataset.shown, asked: l.dataset.asked,
      acknowledged: l.dataset.acknowledged, resent: l.dataset.resent, ready: l.dataset.ready,
      placeholder: l.classList.contains('dn-placeholder')})),
    receipt: receipt ? receipt.dataset.asked : null,
    focused: document.activeElement ? document.activeElement.className : null,
  });
}"""


async def run_moves(page, session: Session, moves: int, settings: LoadSettings, burst: int = 1) -> None:
    """`moves` keys, one step to the right (back to 0 with Home past σ = 1), each checked; the
    server's σ awaited after every `burst` keys."""
    for done in range(1, moves + 1):
        shown = await page.locator(LIVE).get_attribute("data-sigma")
        key = "ArrowRight" if float(shown) < 1 else "Home"
        await press(page, session, key, settings, wait_for_server=done % burst == 0 or done == moves)


# The retraining, from the sidebar.


async def start_retraining(page, settings: LoadSettings) -> None:
    """Session 0 sets the epochs to the maximum the server allows and presses Start training."""
    sidebar = page.locator("[data-testid='stSidebar']")
    epochs = sidebar.locator("[data-testid='stSlider']").filter(has_text="Epochs").get_by_role("slider")
    if await epochs.count():
        await epochs.first.focus()
        await page.keyboard.press("End")
        top = await epochs.first.get_attribute("max")  # an <input type="range"> in Streamlit 1.67
        await expect(epochs.first).to_have_value(top, timeout=settings.timeout_s * 1000)
    start = sidebar.get_by_role("button", name="Start training")
    if not await start.count():
        raise RuntimeError(f"no Start button in the sidebar: {await sidebar.inner_text()}")
    await start.click()
    await (
        sidebar.locator("[data-testid='stProgress']")
        .filter(has_text="Epoch 1/")
        .wait_for(timeout=4 * settings.timeout_s * 1000)
    )
    await page.locator(LIVE_SLIDER).focus()


async def training_status(page) -> str:
    """The progress bar's text in the page's sidebar ('' when no job runs)."""
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
    painted: dict[str, list[float]] = field(default_factory=dict)  # phase → key press → panel drawn (s)
    served: dict[str, list[float]] = field(default_factory=dict)  # phase → key release → server has σ (s)
    checked: int = 0
    frozen: int = 0
    fallback_404: int = 0
    placeholders: int = 0
    resent: int = 0
    wrong: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    distinct_originals: bool = True
    training: list[str] = field(default_factory=list)  # progress text before and after phase 2
    training_outlasted: bool = False  # the job was still running when phase 2 ended
    memory: list[tuple[str, float, float]] = field(default_factory=list)  # (moment, server MB, training MB)
    memory_moves: list[tuple[int, float]] = field(default_factory=list)  # (keys pressed, RSS MB)
    phase_s: dict[str, float] = field(default_factory=dict)
    cpu_loaded: tuple[float, float, float] = (0.0, 0.0, 0.0)  # CPU-s in phase 2: server, training, chromium


def sample_memory(results: Results, moment: str, pid: int) -> None:
    results.memory.append((moment, rss_mb(pid), training_rss_mb(pid)))


async def phase_single(browser, url: str, settings: LoadSettings, results: Results) -> None:
    (session,) = sample_sessions(1, first=settings.sessions)
    context, page = await open_session(browser, url, session, settings)
    started = time.perf_counter()
    await run_moves(page, session, settings.moves, settings)
    results.phase_s["single"] = time.perf_counter() - started
    await close_session(context, page, session)
    collect(results, [session], "single")


async def phase_loaded(browser, url: str, pid: int, settings: LoadSettings, results: Results) -> None:
    sessions = sample_sessions(settings.sessions)
    opened = await asyncio.gather(*(open_session(browser, url, s, settings) for s in sessions))
    pages = [page for _, page in opened]
    if settings.retrain:
        await start_retraining(pages[0], settings)
        results.training.append(await training_status(pages[0]))
    sample_memory(results, f"{len(sessions)} sessions open, before their moves", pid)
    cpu_before = cpu_split(pid)
    started = time.perf_counter()
    await asyncio.gather(
        *(run_moves(p, s, settings.moves, settings) for p, s in zip(pages, sessions, strict=True))
    )
    results.phase_s["loaded"] = time.perf_counter() - started
    results.cpu_loaded = tuple(
        max(0.0, after - before) for after, before in zip(cpu_split(pid), cpu_before, strict=True)
    )
    sample_memory(results, f"after {len(sessions)} × {settings.moves} moves", pid)
    if settings.retrain:
        results.training.append(await training_status(pages[0]))
        results.training_outlasted = await cancel_retraining(pages[0], settings)
    for page, session in zip(pages, sessions, strict=True):
        if await page.locator(ERRORS).count():
            session.errors.append("error element at the end of the load")
    for (context, page), session in zip(opened, sessions, strict=True):
        await close_session(context, page, session)
    collect(results, sessions, "loaded")
    digests = [s.originals for s in sessions]
    results.distinct_originals = all(len(d) == 1 for d in digests) and len(set().union(*digests)) == len(
        sessions
    )


async def phase_memory(browser, url: str, pid: int, settings: LoadSettings, results: Results) -> None:
    """One session, `memory_moves` checked keys in bursts, memory sampled every `memory_every`
    and, with `memory_new_digits`, the next example of its class then."""
    (session,) = sample_sessions(1, first=settings.sessions + 1)
    context, page = await open_session(browser, url, session, settings)
    images, labels = data.load_sample()
    of_class = np.flatnonzero(labels == session.digit)
    results.memory_moves.append((0, rss_mb(pid)))
    started = time.perf_counter()
    done = 0
    while done < settings.memory_moves:
        batch = min(settings.memory_every, settings.memory_moves - done)
        await run_moves(page, session, batch, settings, burst=settings.memory_burst)
        done += batch
        results.memory_moves.append((done, rss_mb(pid)))
        if done < settings.memory_moves and settings.memory_new_digits:
            session.index = (session.index + 1) % len(of_class)
            session.clean = images[of_class[session.index]]
            number = page.locator(f"{MAIN} [data-testid='stNumberInput'] input")
            await number.fill(str(session.index))
            await number.press("Enter")
            await shows(page, session.clean, settings)
            await page.locator(LIVE_SLIDER).focus()
    results.phase_s["memory"] = time.perf_counter() - started
    if await page.locator(ERRORS).count():
        session.errors.append("error element at the end of the key presses")
    await close_session(context, page, session)
    collect(results, [session], "memory")


def collect(results: Results, sessions: list[Session], phase: str) -> None:
    for session in sessions:
        results.painted.setdefault(phase, []).extend(session.painted)
        results.served.setdefault(phase, []).extend(session.served)
        results.checked += session.checked
        results.frozen += session.frozen
        results.fallback_404 += session.fallback_404
        results.placeholders += session.placeholders
        results.resent += session.resent
        results.wrong += session.wrong
        results.errors += [f"{phase}, session {session.number}: {e}" for e in session.errors]


async def run(settings: LoadSettings) -> Results:
    from playwright.async_api import async_playwright

    results = Results()
    with tempfile.TemporaryDirectory(prefix="load-runs-") as runs_dir:
        log = Path(runs_dir) / "server.log"
        process, url = serve(Path(runs_dir) / "runs", log, settings)
        try:
            sample_memory(results, "server started, before the first page (no TensorFlow yet)", process.pid)
            async with async_playwright() as playwright:
                browser = await playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
                await phase_single(browser, url, settings, results)
                sample_memory(results, "after the single session", process.pid)
                await phase_loaded(browser, url, process.pid, settings, results)
                if settings.memory_moves:
                    await phase_memory(browser, url, process.pid, settings, results)
                await browser.close()
            sample_memory(results, "every session closed", process.pid)
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
    return float(np.percentile(np.asarray(values) * 1000, q)) if values else float("nan")


def latency_table(title: str, settings: LoadSettings, times: dict[str, list[float]]) -> None:
    single, loaded = times.get("single", []), times.get("loaded", [])
    single50, single95 = percentile(single, 50), percentile(single, 95)
    load50, load95 = percentile(loaded, 50), percentile(loaded, 95)
    retraining = " + retraining" if settings.retrain else ""
    print(f"{title} (ms), one server, {os.cpu_count()} CPU cores")
    print("| phase | sessions | moves | p50 | p95 | max | p50 / p95 vs one session |")
    print("|---|---:|---:|---:|---:|---:|---|")
    print(
        f"| one session | 1 | {len(single)} | {single50:.0f} | {single95:.0f} | "
        f"{max(single, default=0) * 1000:.0f} | 1 / 1 |"
    )
    print(
        f"| {settings.sessions} sessions at once{retraining} | {settings.sessions} | {len(loaded)} | "
        f"{load50:.0f} | {load95:.0f} | {max(loaded, default=0) * 1000:.0f} | "
        f"**{load50 / single50:.2f} / {load95 / single95:.2f}** |"
    )


def report(settings: LoadSettings, results: Results) -> None:
    latency_table("Key press → panel drawn, in the browser", settings, results.painted)
    print()
    latency_table("Key release → the server has σ (the download label names it)", settings, results.served)
    cores = os.cpu_count()
    wall, (server_cpu, training_cpu, browser_cpu) = results.phase_s.get("loaded", 0.0), results.cpu_loaded
    print(
        f"While the {settings.sessions} sessions moved ({wall:.1f} s, {cores} cores = "
        f"{wall * cores:.1f} CPU-s): the server used {server_cpu:.1f} CPU-s, the training process "
        f"{training_cpu:.1f}, chromium {browser_cpu:.1f}"
    )
    print()
    print(
        f"Checked key presses: {results.checked}; wrong panels: {len(results.wrong)}; "
        f"frozen pages: {results.frozen}; errors: {len(results.errors)}; "
        f"each session saw only its own Original: {'yes' if results.distinct_originals else 'NO'}"
    )
    print(f"Key presses that found the panels' placeholder beside the live panels: {results.placeholders}")
    print(f"σ the live panels sent again (no answer after 2 s idle, then 4, 8, …): {results.resent}")
    if results.fallback_404:
        print(
            f"  Not counted as errors: {results.fallback_404} requests (HTTP 404) for a hidden fallback "
            "panel's image the server had already dropped, on a session's first page"
        )
    for line in (results.wrong + results.errors)[:20]:
        print(f"  {line}")
    if results.training:
        print(f"Retraining in session 0's sidebar: at the start of the load {results.training[0]!r};")
        ending = "then cancelled" if results.training_outlasted else "it had ENDED before the load did"
        print(f"  at its end {results.training[-1]!r} ({ending})")
    print()
    print("Memory (RSS, MB)")
    print("| moment | server | training process |")
    print("|---|---:|---:|")
    for moment, server, training in results.memory:
        print(f"| {moment} | {server:.0f} | {f'{training:.0f}' if training else '–'} |")
    if results.memory_moves:
        memory, heard = results.painted.get("memory", []), results.served.get("memory", [])
        print()
        print(
            f"One session, {results.memory_moves[-1][0]} key presses in bursts of {settings.memory_burst} "
            f"(the server hears the end of each), memory sampled every {settings.memory_every}"
            f"{', each time with a new digit' if settings.memory_new_digits else ', one digit throughout'} "
            f"({results.phase_s['memory']:.0f} s; key press → panel drawn p50 {percentile(memory, 50):.0f} ms, "
            f"p95 {percentile(memory, 95):.0f} ms; burst's key release → server has σ p50 "
            f"{percentile(heard, 50):.0f} ms):"
        )
        print("| key presses | " + " | ".join(str(n) for n, _ in results.memory_moves) + " |")
        print("|---|" + "---:|" * len(results.memory_moves))
        print("| server RSS (MB) | " + " | ".join(f"{mb:.0f}" for _, mb in results.memory_moves) + " |")
        first, last = results.memory_moves[1][1], results.memory_moves[-1][1]
        print(f"Growth from key press {results.memory_moves[1][0]} to the last: {last - first:+.0f} MB")
        print(
            f"Median growth per step from there: {growth_per_1000(results.memory_moves[1:]):+.1f} MB per 1,000 key presses"
        )


def growth_per_1000(samples: list[tuple[int, float]]) -> float:
    """The server's memory growth in MB per 1,000 key presses: the median of the growth between
    successive samples. A leak adds to every step; a one-time step (a closed session's state
    freed when Streamlit's two-minute hold on it ends, a cache filling) moves one step only, and
    a sample's jitter far less than it moves `last - first`."""
    keys = np.diff([n for n, _ in samples])
    rss = np.diff([mb for _, mb in samples])
    return float(np.median(rss / keys) * 1000) if len(samples) >= 2 else 0.0


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
    if results.wrong or results.errors or results.frozen or not results.distinct_originals or not outlasted:
        sys.exit(1)


if __name__ == "__main__":
    main()
