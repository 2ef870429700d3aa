"""`python -m denoiser.page.warmup app.py [streamlit options]`: `streamlit run`, with the first
visitor's work done at server start instead of on their visit.

Streamlit runs a page only when a visitor connects, so a freshly started server (a Space that
woke up or was just pushed) made its first visitor wait for TensorFlow's import, the models'
loading, the first traced model calls and the default digit's sweep. Here a background thread
does that once the server is up: it calls the page's own cached functions (`st.cache_resource`
and `st.cache_data` are per process), so the first run finds everything ready. The thread
starts once the health check answers, so that answer is not delayed (bench/latency.py times
both). The image's CMD uses it; `streamlit run app.py` works as before, only without this.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
import time
import urllib.request

LOG = logging.getLogger(__name__)
WAIT_FOR_SERVER_S = 120.0
IMPORTED = threading.Event()  # the warm-up has imported TensorFlow and the page's modules
RUNNING = threading.Event()  # a warm-up thread was started in this process


def wait_for_imports(timeout: float = 300.0) -> None:
    """app.py's first line: while a warm-up imports TensorFlow, wait for it. Two threads
    importing TensorFlow at once break it (one sees a half-initialised module: "module
    'tensorflow.python.data.ops.dataset_ops' has no attribute 'DatasetV2'"). Without a
    warm-up (plain `streamlit run`) this returns at once."""
    if RUNNING.is_set():
        IMPORTED.wait(timeout)


def prepare() -> float:
    """What the first run of app.py would compute for the default view; the seconds it took."""
    started = time.perf_counter()
    try:
        from denoiser import noise
        from denoiser.page import catalog, inside, keras_session, resources, results, session, sweep
    finally:
        IMPORTED.set()  # the page may import now, whatever happened

    keras_session.keep()
    entries = catalog.discover()
    loaded = resources.load_models(entries)
    resources.classifier_model()
    usable = [e for e in entries if not isinstance(loaded[e.key], str)]
    key = catalog.default_key(usable)
    if key is None:
        return time.perf_counter() - started
    entry = next(e for e in usable if e.key == key)
    images, _ = session.sample_digits()
    clean = images[0]  # the sample tab opens on the first example of the first digit's class
    field = noise.noise_field((28, 28), seed=0)  # session.init_state's first noise
    model = loaded[key]
    kind = noise.DEFAULT_KIND  # passed as the page passes it, so the caches' keys are the same
    resources.sweep_of(model, entry.key, entry.version, clean, field, (session.DEFAULT_SIGMA,), kind)
    results.sweep_at(entry, model, clean, field, sweep.GRID, kind)
    inside.prepare(entry, model)
    return time.perf_counter() - started


def prepare_when_served() -> None:
    """Wait until the server answers its health check, then prepare; never raise."""
    from streamlit import config
    from streamlit.runtime import Runtime

    deadline = time.monotonic() + WAIT_FOR_SERVER_S
    while not Runtime.exists() and time.monotonic() < deadline:  # the options are parsed by then
        time.sleep(0.05)
    while time.monotonic() < deadline:
        url = f"http://127.0.0.1:{config.get_option('server.port')}/_stcore/health"
        try:
            with urllib.request.urlopen(url, timeout=2) as answer:
                if answer.read() == b"ok":
                    break
        except OSError:
            time.sleep(0.05)
    try:
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 10)  # this thread only: the page first
    except OSError:
        pass
    try:
        seconds = prepare()
    except Exception:  # noqa: BLE001 - the page then does the work itself, as without warm-up
        IMPORTED.set()
        LOG.warning("warm-up failed; the first visitor's run will do its work", exc_info=True)
        return
    print(f"warmup: the default view prepared in {seconds:.1f} s", file=sys.stderr, flush=True)


def main(argv: list[str]) -> int:
    """Start the warm-up thread, then Streamlit's own `streamlit run` in this process."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    from streamlit.web import cli

    RUNNING.set()
    threading.Thread(target=prepare_when_served, name="warmup", daemon=True).start()
    sys.argv = ["streamlit", "run", *argv]
    return cli.main()


if __name__ == "__main__":
    # The module app.py imports, not this `__main__` copy: their events must be the same ones.
    from denoiser.page import warmup

    sys.exit(warmup.main(sys.argv[1:]))
