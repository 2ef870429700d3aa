"""The image's CMD, `python -m denoiser.page.warmup app.py`: Streamlit answers its health
check first, then the default view is prepared in the background, and the page it then
serves is the ordinary one (tests/test_space.py and tests/test_image.py open it in chromium)."""

from __future__ import annotations

import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from bench.browser import free_port, wait_until_healthy

ROOT = Path(__file__).resolve().parents[1]


def test_the_server_answers_its_health_check_before_it_prepares_the_default_view(tmp_path):
    port, log = free_port(), tmp_path / "warmup.log"
    command = [sys.executable, "-m", "denoiser.page.warmup", "app.py", "--server.port", str(port)]
    with log.open("w") as output:
        process = subprocess.Popen(
            [*command, "--server.headless", "true"], cwd=ROOT, stdout=output, stderr=subprocess.STDOUT
        )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_healthy(url, process, timeout=120)
        assert "prepared" not in log.read_text()  # the page's work had not begun to hold it up
        deadline = time.monotonic() + 300
        while "warmup: the default view prepared" not in log.read_text():
            assert time.monotonic() < deadline and process.poll() is None, log.read_text()[-2000:]
            assert urllib.request.urlopen(f"{url}/_stcore/health", timeout=30).read() == b"ok"
            time.sleep(0.5)
        assert "warm-up failed" not in log.read_text()
    finally:
        process.terminate()
        process.wait(timeout=30)
