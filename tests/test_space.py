"""The Hugging Face Space: the Dockerfile, and the container's start reproduced without Docker.

No Docker daemon runs here or in CI, so `scripts/run-as-space.sh` does what the image does (a
fresh environment from requirements.txt, the `.dockerignore`d copy of the app made read-only,
uid 1000, the same ENV and CMD) and these tests drive the result in Debian's chromium. The
first tests check that the script and the Dockerfile agree; they need nothing but the files.
The others are skipped where chromium, Playwright or a way to run as uid 1000 is missing, except
in CI (CI=true), where that is a failure. They replace /home/user/app and /home/user/runs.
"""

from __future__ import annotations

import contextlib
import http.server
import io
import json
import os
import pwd
import re
import shlex
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from helpers import in_ci
from PIL import Image

from bench.browser import CHROMIUM, CHROMIUM_ARGS, free_port, live_labels, wait_live, wait_until_healthy

ROOT = Path(__file__).resolve().parents[1]
DOCKERFILE = ROOT / "Dockerfile"
SCRIPT = ROOT / "scripts" / "run-as-space.sh"
SPACE_UID = 1000
SPACE_COLORS = {"red", "yellow", "green", "blue", "indigo", "purple", "pink", "gray"}


# The Dockerfile and the script, read as text.


def dockerfile() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, continuation lines joined and comments dropped."""
    instructions, pending = [], ""
    for line in DOCKERFILE.read_text().splitlines():
        if not pending and (not line.strip() or line.lstrip().startswith("#")):
            continue
        pending += line.rstrip()
        if pending.endswith("\\"):
            pending = pending[:-1] + " "
            continue
        keyword, _, arguments = pending.strip().partition(" ")
        instructions.append((keyword.upper(), arguments.strip()))
        pending = ""
    return instructions


def dockerfile_env() -> dict[str, str]:
    """Every variable the Dockerfile's ENV instructions set."""
    env = {}
    for keyword, arguments in dockerfile():
        if keyword == "ENV":
            env.update(item.split("=", 1) for item in shlex.split(arguments))
    return env


def dockerfile_argument(keyword: str) -> str:
    (value,) = [arguments for k, arguments in dockerfile() if k == keyword]
    return value


def script_value(name: str) -> str:
    """A `NAME=value` assignment at the top of the script, unquoted."""
    match = re.search(rf"^{name}=(.*)$", SCRIPT.read_text(), re.MULTILINE)
    assert match, f"{SCRIPT.name} sets no {name}"
    return shlex.split(match.group(1))[0]


def script_env() -> dict[str, str]:
    """The script's copy of the Dockerfile's ENV (`${PORT:-7860}` read as its default)."""
    block = re.search(r"^DOCKERFILE_ENV=\(\n(.*?)^\)", SCRIPT.read_text(), re.MULTILINE | re.DOTALL)
    assert block, f"{SCRIPT.name} has no DOCKERFILE_ENV block"
    env = dict(item.split("=", 1) for item in shlex.split(block.group(1)))
    return {name: re.sub(r"^\$\{\w+:-(.*)\}$", r"\1", value) for name, value in env.items()}


def front_matter() -> dict[str, str]:
    """The Space's YAML header: README.md's, once merged there, else the block in docs/deploy.md."""
    readme = (ROOT / "README.md").read_text()
    if readme.startswith("---\n"):
        text = readme
    else:
        deploy = (ROOT / "docs" / "deploy.md").read_text()
        found = re.search(r"```ya?ml\n(---\n.*?\n---)\n```", deploy, re.DOTALL)
        assert found, "docs/deploy.md has no ```yaml block with the front matter"
        text = found.group(1)
    pairs = (line.partition(":") for line in text.split("---\n")[1].splitlines())
    return {key.strip(): value.strip().strip("\"'") for key, _, value in pairs}


def test_the_script_runs_the_dockerfiles_command_as_its_user():
    command = json.loads(dockerfile_argument("CMD"))
    assert command == ["sh", "-c", script_value("SPACE_CMD")]
    assert "--server.port=$PORT" in command[2] and "--server.address=0.0.0.0" in command[2]
    user = dockerfile_argument("USER")
    assert user.split(":")[0] == str(SPACE_UID) == script_value("SPACE_UID")
    creates = [a for k, a in dockerfile() if k == "RUN" and "useradd" in a]
    assert creates and f"--uid {SPACE_UID}" in creates[0]
    assert dockerfile_argument("WORKDIR") == script_value("SPACE_APP")
    assert dockerfile_env()["HOME"] == script_value("SPACE_HOME")


def test_the_script_sets_the_dockerfiles_environment():
    env = dockerfile_env()
    path = env.pop("PATH")
    assert script_env() == env  # the script then points MNIST_DIR at the local idx files
    local_bin = f"{env['HOME']}/.local/bin:"
    assert path.startswith(local_bin)
    assert f'"PATH={local_bin}' in SCRIPT.read_text()


def test_the_port_agrees_across_front_matter_env_expose_and_healthcheck():
    port = dockerfile_env()["PORT"]
    assert port == dockerfile_argument("EXPOSE") == front_matter()["app_port"] == "7860"
    healthcheck = dockerfile_argument("HEALTHCHECK")
    assert "os.environ['PORT']" in healthcheck and "/_stcore/health" in healthcheck


def test_the_front_matter_is_a_docker_space():
    header = front_matter()
    assert header["sdk"] == "docker"
    assert header["title"] and header["emoji"]
    assert {header["colorFrom"], header["colorTo"]} <= SPACE_COLORS
    assert 0 < len(header["short_description"]) <= 60  # the Hub refuses longer ones


# The container, started by the script.


def require(problem: str | None) -> None:
    """Skip for `problem`, unless this is CI, where it fails."""
    if problem:
        if in_ci():
            pytest.fail(f"the Space test must run in CI: {problem}")
        pytest.skip(problem)


def browser_problem() -> str | None:
    if not CHROMIUM.exists():
        return f"{CHROMIUM} is missing"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "playwright is not installed"
    return None


def space_user_problem() -> str | None:
    """Why the script could not run the app as uid 1000 here, or None."""
    if os.geteuid() == SPACE_UID:
        return None
    if os.geteuid() != 0:
        return f"needs root (to create and switch to uid {SPACE_UID}) or uid {SPACE_UID}"
    if not shutil.which("setpriv"):
        return "setpriv is missing"
    try:
        pwd.getpwuid(SPACE_UID)
    except KeyError:
        if not shutil.which("useradd"):
            return f"no user with uid {SPACE_UID} and no useradd to create one"
    return None


def tail(path: Path, lines: int = 30) -> str:
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


def stop(process: subprocess.Popen) -> None:
    """Stop the script's whole process group (the server runs as uid 1000 in it)."""
    if process.poll() is not None:
        return
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)


@pytest.fixture(scope="module")
def space(tmp_path_factory):
    """The app as the container serves it, on a free port; its URL."""
    require(browser_problem() or space_user_problem())
    log = tmp_path_factory.mktemp("space") / "run-as-space.log"
    # Building the environment takes minutes the first time; start-up itself then has 3.
    prepared = subprocess.run([SCRIPT, "--prepare-only"], capture_output=True, text=True, timeout=1800)
    assert prepared.returncode == 0, prepared.stderr[-3000:]
    port = free_port()
    with log.open("w") as output:
        process = subprocess.Popen(
            [SCRIPT],
            env=dict(os.environ, PORT=str(port)),
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_healthy(url, process, timeout=180, context=lambda: f":\n{tail(log)}")
        yield url, process
    finally:
        stop(process)


@pytest.fixture(scope="module")
def browser(space):
    with chromium() as browser:
        yield browser


@contextlib.contextmanager
def chromium():
    """Debian's chromium through Playwright, closed afterwards."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


def settle(page_or_frame, timeout: float = 60_000) -> None:
    """Wait until the script has finished running and stays finished (reruns can queue up)."""
    for _ in range(2):
        page_or_frame.locator("[data-testid='stStatusWidget']").wait_for(state="detached", timeout=timeout)
        time.sleep(0.3)


def panel_captions(page_or_frame) -> list[str]:
    """The captions of the three live panels once they are drawn."""
    wait_live(page_or_frame, timeout=120_000)
    settle(page_or_frame)
    return live_labels(page_or_frame)


def assert_three_panels(captions: list[str]) -> None:
    noisy, denoised, original = captions
    assert noisy.startswith("Noisy ·")
    assert denoised.startswith("Denoised (")
    assert original.startswith("Original · PSNR ∞ dB")


def test_the_container_serves_a_read_only_app_as_uid_1000(space):
    _, process = space
    status = Path(f"/proc/{process.pid}/status").read_text()
    assert re.search(rf"^Uid:\s+{SPACE_UID}\s", status, re.MULTILINE)
    app = Path(os.readlink(f"/proc/{process.pid}/cwd"))
    assert app == Path(script_value("SPACE_APP"))
    assert (app / "app.py").is_file() and (app / ".streamlit" / "config.toml").is_file()
    assert any((app / "weights").glob("*.keras"))
    assert not (app / "tests").exists() and not (app / ".git").exists()  # .dockerignore
    assert not any(p.stat().st_mode & 0o222 for p in [app, *app.rglob("*")])


def test_the_dockerfiles_healthcheck_passes(space):
    url, _ = space
    command = json.loads(dockerfile_argument("HEALTHCHECK").split(" CMD ", 1)[1])
    assert command[0] == "python"
    port = url.rsplit(":", 1)[1]
    checked = subprocess.run([sys.executable, *command[1:]], env=dict(os.environ, PORT=port), timeout=30)
    assert checked.returncode == 0


def test_the_page_shows_noisy_denoised_and_original(space, browser):
    shows_the_panels(browser, space[0])


def shows_the_panels(browser, url: str) -> None:
    """The page at `url` opens on a sample digit's three panels, with no exception shown."""
    page = browser.new_page(viewport={"width": 1200, "height": 1250})
    page.goto(url)
    assert_three_panels(panel_captions(page))  # the page opens on a sample digit
    assert page.locator("[data-testid='stException']").count() == 0
    page.close()


def digit_png() -> bytes:
    """A bundled test digit, dark on light and four times MNIST's size, like a scan."""
    from denoiser import data

    images, _ = data.load_sample()
    picture = Image.fromarray(np.round((1 - images[0]) * 255).astype(np.uint8)).resize((112, 112))
    buffer = io.BytesIO()
    picture.save(buffer, format="PNG")
    return buffer.getvalue()


@pytest.fixture
def embedding_site(space):
    """A page on another site (localhost, not 127.0.0.1) that shows the app in an iframe, as Spaces do."""
    with embedding(space[0]) as site:
        yield site


@contextlib.contextmanager
def embedding(url: str):
    """The URL of a page on another site (localhost, not 127.0.0.1) showing `url` in an iframe."""
    body = f'<iframe src="{url}/" style="width: 1150px; height: 1200px; border: 0"></iframe>'.encode()

    class Embed(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Embed)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://localhost:{server.server_address[1]}/"
    server.shutdown()


def test_an_upload_works_inside_a_cross_site_iframe(space, browser, embedding_site):
    uploads_in_an_iframe(browser, embedding_site)


def uploads_in_an_iframe(browser, site: str) -> None:
    """An upload on the app embedded by `site` is accepted and gives three panels."""
    # The iframe's cookies are third-party: with XSRF protection on, the upload gets a 403.
    page = browser.new_page(viewport={"width": 1200, "height": 1250})
    page.goto(site)
    frame = page.frame_locator("iframe")
    frame.get_by_role("tab", name="Upload").click(timeout=120_000)
    upload = {"name": "digit.png", "mimeType": "image/png", "buffer": digit_png()}
    with page.expect_response(lambda response: "/_stcore/upload_file/" in response.url) as sent:
        frame.locator("input[type='file']").set_input_files(files=[upload])
    assert sent.value.ok, f"the upload got {sent.value.status} {sent.value.status_text}"
    assert_three_panels(panel_captions(frame))
    page.close()
