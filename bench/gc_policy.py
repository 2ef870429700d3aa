"""What the page's garbage-collection policy costs a σ release: three servers, one run, ratios.

Streamlit calls gc.collect() after every rerun (`runner.postScriptGC`); walking TensorFlow's
and the models' objects made that 200-330 ms a rerun here. Served side by side, alternating:

- "imports" (the page's default): the imports frozen once, `runner.postScriptGC = false`;
- "models": what the page did before, gc.freeze() after every model load too, Streamlit's
  collection on (an evicted model can never be freed);
- "off": nothing frozen, Streamlit's collection on: what it costs unhandled.

Each figure is the median time from the σ leaving the browser to the server's rerun with it.

    python bench/gc_policy.py            # 20 releases per server
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.browser import CHROMIUM, CHROMIUM_ARGS, start_streamlit  # noqa: E402
from bench.latency import open_page, releases  # noqa: E402

POLICIES = {  # name: (DENOISER_GC, runner.postScriptGC)
    "imports": ("imports", "false"),
    "models": ("models", "true"),
    "off": ("off", "true"),
}


def measure(count: int) -> dict[str, list[float]]:
    """Release timings per policy, one release on each server in turn."""
    from playwright.sync_api import sync_playwright

    processes, pages, timings = [], {}, {name: [] for name in POLICIES}
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
            for name, (policy, collect) in POLICIES.items():
                env = dict(os.environ, DENOISER_GC=policy, STREAMLIT_RUNNER_POST_SCRIPT_GC=collect)
                process, url = start_streamlit("app.py", ROOT, env)
                processes.append(process)
                pages[name] = open_page(browser, url, live=True)
            for _ in range(count):
                for name, page in pages.items():
                    timings[name] += releases(page, 1)
            browser.close()
    finally:
        for process in processes:
            process.terminate()
            process.wait(timeout=30)
    return timings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--releases", type=int, default=20, help="σ releases timed per server")
    timings = measure(parser.parse_args().releases)
    base = statistics.median(timings["imports"])
    print("σ sent → the server's rerun with it, median ms (ratio to the page's default):")
    for name, values in timings.items():
        median = statistics.median(values)
        print(f"  {name:<8} {median:7.0f} ms  {median / base:5.2f}×  ({len(values)} releases)")


if __name__ == "__main__":
    main()
