"""What the benchmarks and the browser tests share: which chromium, and a Streamlit server that answers.

Imported as `bench.browser` from the project root (the benchmarks put the root on sys.path;
pytest runs from it). Needs only the standard library, so importing it starts nothing heavy.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path

CHROMIUM = Path("/usr/bin/chromium")  # Debian's package; Playwright's own download needs the network
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def free_port() -> int:
    """A TCP port nothing listens on now (the OS picks it)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def streamlit_command(script: str, port: int) -> list[str]:
    """`streamlit run script` headless on `port`, with this interpreter."""
    return [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        script,
        "--server.port",
        str(port),
        "--server.headless",
        "true",
    ]


def wait_until_healthy(
    url: str, process: subprocess.Popen, timeout: float = 120, context: Callable[[], str] = lambda: ""
) -> None:
    """Poll Streamlit's health endpoint until it answers "ok"; fail early if the process exits.

    `context` adds what would explain a failure (a log's tail) to the error.
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the server exited with {process.returncode}{context()}")
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:
                if response.read() == b"ok":
                    return
        except OSError:
            time.sleep(0.2)
    raise TimeoutError(f"nothing answered on {url}/_stcore/health within {timeout:.0f} s{context()}")


def start_streamlit(
    script: str, cwd: Path, env: dict[str, str] | None = None, output=subprocess.DEVNULL, timeout: float = 120
) -> tuple[subprocess.Popen, str]:
    """`streamlit run script` on a free port; its process and URL once it answers (stopped if it never does).

    `output` takes the server's stdout and stderr: a file, not a pipe, when it may write much
    (a full pipe would stall the server).
    """
    port = free_port()
    process = subprocess.Popen(
        streamlit_command(script, port), cwd=cwd, env=env, stdout=output, stderr=subprocess.STDOUT
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_healthy(url, process, timeout)
    except BaseException:
        process.terminate()
        process.wait(timeout=20)
        raise
    return process, url


# The live panels (denoiser/page/assets/live_panels.*), read the same way by benchmarks and tests.

# The live panels, never their placeholder (`live.placeholder`: the same markup, inert, which a
# run that finds the component not ready draws in the panels' place until the component replaces it).
LIVE = ".dn-live:not(.dn-placeholder)"
LIVE_SLIDER = f"{LIVE} .dn-slider"
LIVE_READY = ".dn-live[data-ready='true'][data-complete='true']"  # every σ's frames decoded
LIVE_KINDS = ("noisy", "denoised", "original")
# No script runs: Streamlit's "Running…" indicator is gone (also the live panels' own test, `RUNNING`).
IDLE = "() => !document.querySelector('[data-testid=\"stStatusWidget\"]')"
PIXELS_JS = """(canvas) => {
    const data = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height).data;
    const grey = [];
    for (let i = 0; i < data.length; i += 4) grey.push(data[i]);
    return grey;
}"""


def wait_live(target, timeout: float = 90_000) -> None:
    """Until the live panels have decoded their frames and drawn them (`target`: a page or frame)."""
    target.locator(LIVE_READY).wait_for(timeout=timeout)


def live_pixels(target, kind: str) -> list[list[int]]:
    """The 28×28 grey levels a live panel ("noisy", "denoised", "original") shows now."""
    flat = target.locator(f"{LIVE} .dn-panels .dn-{kind}").evaluate(PIXELS_JS)
    side = int(len(flat) ** 0.5)
    return [flat[row * side : (row + 1) * side] for row in range(side)]


def live_labels(target) -> list[str]:
    """The three panels' accessible names (their captions), in page order."""
    return target.locator(f"{LIVE} .dn-panels canvas").evaluate_all(
        "canvases => canvases.map(c => c.getAttribute('aria-label'))"
    )


def live_sigma(target) -> str:
    """The σ the live panels show now, as the slider writes it ("0.50")."""
    return target.locator(LIVE).get_attribute("data-sigma")
