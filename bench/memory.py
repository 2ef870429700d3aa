"""Peak memory of the server and of a training child, for hosts with a memory limit
(Streamlit Community Cloud documents about 2.7 GB per app; docs/deploy.md).

Serves app.py (a runs folder in a temporary directory), opens it in chromium until the live
panels are drawn, opens the comparison of all models, then starts a training from the sidebar
with its default settings and follows it to the end. Prints each process's peak resident set
(VmHWM, read from /proc while it runs) and the two together, against a bare Streamlit page that
imports TensorFlow and loads one model (bench/cold_page.py) in the same run.

    python bench/memory.py      # MNIST_DIR: the idx files (default ../shared/data/mnist)
"""

from __future__ import annotations

import os
import sys
import tempfile
import threading
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.browser import CHROMIUM, CHROMIUM_ARGS, start_streamlit, wait_live  # noqa: E402

SIDEBAR = "[data-testid='stSidebar']"


def peak_kb(pid: int) -> int:
    """The process's peak resident set so far, in kB (0 once it is gone)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0
    return next((int(line.split()[1]) for line in status.splitlines() if line.startswith("VmHWM:")), 0)


def children(pid: int) -> list[int]:
    try:
        return [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


def watch_children(pid: int, peaks: dict[int, int], stop: threading.Event) -> None:
    """Record every child's peak resident set until `stop` (the child's own VmHWM, polled)."""
    while not stop.is_set():
        for child in children(pid):
            peaks[child] = max(peaks.get(child, 0), peak_kb(child))
        stop.wait(0.2)


def bare_peak(browser) -> int:
    """bench/cold_page.py's server after it showed its image, in kB."""
    process, url = start_streamlit("bench/cold_page.py", ROOT, dict(os.environ), timeout=120)
    try:
        page = browser.new_page()
        page.goto(url)
        page.locator("[data-testid='stImage'] img").wait_for(timeout=300_000)
        time.sleep(1)
        page.close()
        return peak_kb(process.pid)
    finally:
        process.terminate()
        process.wait(timeout=30)


def app_peaks(browser) -> tuple[int, int, int, str]:
    """(server after the panels and the comparison, server at the end, the training child), in kB."""
    runs = tempfile.mkdtemp(prefix="bench-memory-runs-")
    mnist = os.environ.get("MNIST_DIR") or str(ROOT.parent / "shared" / "data" / "mnist")
    env = dict(os.environ, DENOISER_RUNS_DIR=runs, MNIST_DIR=mnist)
    process, url = start_streamlit("app.py", ROOT, env, timeout=120)
    peaks: dict[int, int] = {}
    stop = threading.Event()
    threading.Thread(target=watch_children, args=(process.pid, peaks, stop), daemon=True).start()
    try:
        page = browser.new_page(viewport={"width": 1200, "height": 1250})
        page.goto(url)
        wait_live(page, timeout=300_000)
        page.get_by_text("Compare all models").click()
        time.sleep(5)
        wait_live(page, timeout=300_000)
        before = peak_kb(process.pid)
        sidebar = page.locator(SIDEBAR)
        try:
            sidebar.get_by_role("button", name="Start training").click(timeout=180_000)
        except Exception as error:  # noqa: BLE001 - say what the sidebar showed instead
            raise RuntimeError(f"no Start button; the sidebar says:\n{sidebar.inner_text()}") from error
        sidebar.get_by_text("Epoch 1/").wait_for(timeout=600_000)
        job = [line for line in sidebar.inner_text().splitlines() if " epochs · " in line]
        settings = job[0].split(" · ")[:4] if job else ["?"]
        sidebar.get_by_text("Saved as").or_(sidebar.get_by_text("not saved")).wait_for(timeout=1_800_000)
        after = peak_kb(process.pid)
        page.close()
        return before, after, max(peaks.values(), default=0), " · ".join(settings)
    finally:
        stop.set()
        process.terminate()
        process.wait(timeout=30)


def main() -> None:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        bare = bare_peak(browser)
        before, after, child, settings = app_peaks(browser)
        browser.close()
    mb = 1024
    print(f"peak resident memory (VmHWM), MB; training with the sidebar's defaults ({settings})")
    print(f"  bare TF page (bench/cold_page.py), after its image: {bare / mb:.0f}")
    print(
        f"  app.py server, after the panels and Compare all models: {before / mb:.0f} ({before / bare:.2f}× bare)"
    )
    print(f"  app.py server, at the training's end: {after / mb:.0f}")
    print(f"  training child (python -m denoiser.worker): {child / mb:.0f}")
    print(f"  server + child at once, at most: {(after + child) / mb:.0f}")


if __name__ == "__main__":
    main()
