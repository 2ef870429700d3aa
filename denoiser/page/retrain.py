"""The sidebar's Retrain section: settings, a Start button, and a panel that follows the machine's training.

The training is a child process (`denoiser.worker`) that one `supervisor.TrainingJobs` per server
(per runs folder) starts and follows, shared by every visitor's session through
`st.cache_resource`; this module only reads copies of its state. The panel is a fragment that
reruns itself every second while a job is active (an idle page does not poll) and asks for a
full rerun when the job ends, so the model list picks up the new file and the visitor who
started it finds it selected. Whoever presses Start gets a token in the page's URL
(`?training=…`): a reload keeps Cancel, the snapshots and the result; nobody else can cancel.
"""

from __future__ import annotations

import base64
import io
import math
import uuid
from pathlib import Path
from typing import Any

import numpy as np
import streamlit as st
from PIL import Image

from denoiser import data
from denoiser.page import catalog, session
from denoiser.page.retrain_form import chosen_config, format_duration, settings
from denoiser.train import Progress, TrainConfig
from denoiser.training import preflight, recipes, supervisor
from denoiser.training import settings as settings_module
from denoiser.training.settings import Options

POLL_SECONDS = 1.0  # how often an open page reads the job's progress while one runs
SNAPSHOTS_SHOWN = 6  # the strip of "watch it learn" images: the latest few
TOKEN = "training"  # the URL's query parameter that makes its holder the owner of a job
VISITOR = "retrain_visitor"  # session state: this session's id when the URL carries no token
WATCHING = "retrain_watching"  # the number of the active job at this session's last full run
NOTICE = "retrain_notice"  # a one-off message from the Start button's callback
ELSEWHERE = "retrain_elsewhere"  # this page showed another server process's training


@st.cache_resource(show_spinner=False)
def training_slot(
    runs_dir: str, keep: int, threads: int = 1, start_as: str = "autogroup"
) -> supervisor.TrainingJobs:
    """The server's view of the training for this runs folder and these options, shared by every
    session (every argument is in the cache's key: a changed setting gets a slot that obeys it)."""
    return supervisor.TrainingJobs(Path(runs_dir), keep=keep, threads=threads, start_as=start_as)


def visitor() -> str:
    """Who this page is: the job token in the URL, else this session's random id."""
    token = st.query_params.get(TOKEN)
    return token or st.session_state.setdefault(VISITOR, uuid.uuid4().hex)


def read_options() -> Options | str:
    """The deployment's options, or the one-line reason they are malformed."""
    try:
        return Options.from_env()
    except ValueError as error:
        return str(error)


def follow_training() -> supervisor.TrainingJobs | None:
    """Before the model list is built: the slot, with a just-finished model selected for its owner, once.

    Called at the top of every full run, so it also records whether a job is active; the
    progress panel compares against that to notice the job's end and rerun the page.
    """
    options = read_options()
    if not isinstance(options, Options) or not options.allowed:
        return None
    slot = training_slot(str(catalog.runs_dir()), options.keep, options.threads, options.start_as)
    state = slot.snapshot()
    st.session_state[WATCHING] = state.number if state.active else None
    mine = state.status == "done" and state.owner == visitor() and state.result_key
    if mine and not state.delivered:
        slot.mark_delivered(state.number)
        st.session_state.model = state.result_key  # before the radio renders, as docs/page.md asks
    return slot


def sidebar_section(slot: supervisor.TrainingJobs | None, entries: list[catalog.ModelEntry]) -> None:
    """Settings and Start while no training runs; the job's progress (for its owner: Cancel, and
    the digit on the panels when Start was pressed, denoised by the model being trained)."""
    options = read_options()
    if isinstance(options, Options) and not options.allowed:
        return
    st.sidebar.header("Retrain")
    if not isinstance(options, Options) or slot is None:
        st.sidebar.error(f"Training is switched off: {options}.")
        return
    state = slot.snapshot()
    elsewhere = None if state.active else slot.elsewhere()
    busy = state.active or elsewhere is not None
    problem = preflight.data_problem() or preflight.runs_writable(slot.runs_dir)
    with st.sidebar:
        running = state if state.active else None
        config = settings(options, busy or problem is not None, running, slot.measured)
        if problem:
            st.warning(f"Training is unavailable: {problem}")
        elif not busy and isinstance(config, TrainConfig):
            st.button("Start training", type="primary", on_click=start, args=(slot,), key="retrain_start")
        if notice := st.session_state.pop(NOTICE, None):
            st.info(notice)
        st.fragment(job_panel, run_every=POLL_SECONDS if busy else None)(slot, entries)


def watch_for(digit: np.ndarray | None) -> supervisor.Watch:
    """What the snapshots show: `digit` (else the MNIST sample picked) under the page's noise, kind and σ."""
    if digit is None:
        images, labels = data.load_sample()
        state = st.session_state
        of_class = np.flatnonzero(labels == state.get("sample_digit", int(labels[0])))
        digit = images[of_class[min(int(state.get("sample_index", 0)), len(of_class) - 1)]]
    field = st.session_state.get("noise_field")
    return supervisor.Watch(np.asarray(digit, np.float32), field, session.sigma(), session.noise_kind())


def start(slot: supervisor.TrainingJobs) -> None:
    """The Start button's callback: checks everything first, and says in plain words why not.

    The snapshots follow the digit on the panels at this moment (`session.current_digit`: the
    panels rerun on their own, so the sidebar's last full run may have drawn an older one)."""
    options = read_options()
    try:
        config, _ = chosen_config()
    except (KeyError, ValueError) as error:  # settings not drawn yet, or out of range
        st.session_state[NOTICE] = f"Training was not started: {error}"
        return
    if not isinstance(options, Options) or (over := options.over_cap(config)):
        st.session_state[NOTICE] = (
            f"Training was not started: {over if isinstance(options, Options) else options}."
        )
        return
    token = uuid.uuid4().hex
    try:
        slot.start(
            token,
            config,
            watch_for(session.current_digit()),
            visitor=cooldown_key(options),
            cooldown_s=options.cooldown_s,
        )
    except supervisor.StartRefused as refusal:
        st.session_state[NOTICE] = str(refusal)
        return
    st.query_params[TOKEN] = token  # a reload keeps it: the owner stays the owner


def cooldown_key(options: Options) -> str:
    """Whom the cooldown counts. Per server (DENOISER_COOLDOWN_PER=server, the image's default):
    every start, whoever made it, so no reload, tab or browser resets it. Per visitor: the IP
    address where Streamlit knows it (behind a proxy, the proxy's), else this page's session,
    which a reload replaces."""
    if options.cooldown_per == "server":
        return settings_module.WHOLE_SERVER
    return st.context.ip_address or visitor()


def cancel(slot: supervisor.TrainingJobs) -> None:
    """The Cancel button's callback (only the owner sees the button, and only the owner may cancel)."""
    slot.cancel(visitor())


def job_panel(slot: supervisor.TrainingJobs, entries: list[catalog.ModelEntry]) -> None:
    """The fragment: the running job's progress, or the outcome of this visitor's last job."""
    state = slot.snapshot()
    if not state.active and state.number and st.session_state.get(WATCHING) == state.number:
        st.session_state[WATCHING] = None
        st.rerun()  # the job ended: the model list (and the owner's selection) needs a full run
    mine = state.owner == visitor()
    if state.active:
        if not mine:
            st.info(
                f"A training is already running on this server ({time_left(state)}). "
                "You can start yours when it has finished."
            )
        show_progress(state, mine)
        if mine:
            st.button(
                "Cancel", on_click=cancel, args=(slot,), disabled=state.cancelling, key="retrain_cancel"
            )
    elif mine:
        show_outcome(state, entries)
    elif elsewhere := slot.elsewhere():
        st.session_state[ELSEWHERE] = True
        st.info(
            f"A training is already running on this machine, started from another server process "
            f"({elsewhere.get('description', 'settings unknown')}). You can start yours when it has finished."
        )
    elif st.session_state.pop(ELSEWHERE, False):
        st.rerun()  # the other server's training ended: the Start button comes back


def show_progress(state: supervisor.JobState, mine: bool) -> None:
    """Progress bar per batch, epoch and loss, elapsed and remaining time, the owner's snapshots, the loss chart."""
    progress = state.progress
    if state.cancelling:
        st.progress(progress.fraction if progress else 0.0, text="Cancelling…")
    elif progress is None:
        st.progress(0.0, text="Starting the training process and loading MNIST…")
    elif state.status == "running":
        text = f"Epoch {progress.epoch}/{progress.epochs} · batch {progress.step}/{progress.steps} · loss {progress.loss:.4f}"
        st.progress(min(progress.fraction, 1.0), text=text)
    else:
        st.progress(1.0, text="Scoring on held-out test digits…" if state.status == "scoring" else "Saving…")
    st.caption(
        f"{recipes.describe(state.config)} · {format_duration(state.elapsed)} elapsed · {time_left(state)}"
    )
    if mine:
        show_snapshots(state.snapshots)
    show_loss_chart(progress)


def show_snapshots(snapshots: list[supervisor.Snapshot]) -> None:
    """Your digit, denoised by the model being trained: the latest few, oldest first.

    Inline PNGs (data URIs), not `st.image`: the panel redraws every second, and each redraw
    would replace the previous run's media files while the browser may still be fetching
    them (404s in its console, seen in bench/load.py's retraining session).
    """
    shown = snapshots[-SNAPSHOTS_SHOWN:]
    if not shown:
        return
    figures = "".join(
        f'<figure style="margin:0;text-align:center"><img alt="epoch {s.epoch:.1f}" src="{png_uri(s.image)}" '
        f'style="width:40px;image-rendering:pixelated"><figcaption style="font-size:0.7rem">'
        f"{s.epoch:.1f}</figcaption></figure>"
        for s in shown
    )
    st.html(f'<div class="dn-snapshots" style="display:flex;gap:6px;flex-wrap:wrap">{figures}</div>')
    st.caption("Your digit, denoised by the model being trained (by epoch): it learns as you watch.")


def png_uri(image: np.ndarray) -> str:
    """A 28×28 uint8 image as a `data:` URI (about 400 bytes)."""
    buffer = io.BytesIO()
    Image.fromarray(image, mode="L").save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


def show_outcome(state: supervisor.JobState, entries: list[catalog.ModelEntry]) -> None:
    """What became of this visitor's job: the new model against the shipped one, or why there is none."""
    if state.status == "failed":
        st.error(f"{state.message[:1].upper()}{state.message[1:]}. Nothing was saved.")
        return
    if state.status == "cancelled":
        st.info("Training cancelled: nothing was saved.")
        return
    if state.status != "done":
        return
    if state.result_key:
        label = next((e.label for e in entries if e.key == state.result_key), state.result_key)
        st.success(
            f"Saved as **{label}** and selected for you: {state.verdict}. Every visitor now finds it in the list."
        )
    else:
        st.warning(
            f"The new model is {state.verdict}. More epochs or more digits would help; "
            "the model you had stays selected."
        )
    shipped = recipes.shipped_sidecar(state.config.model, catalog.weights_dir())
    st.markdown(comparison_table(state.scores, shipped))
    st.caption(scored_on(state, shipped))
    show_snapshots(state.snapshots)
    show_loss_chart(state.progress)


def scored_on(state: supervisor.JobState, shipped: tuple[str, dict[str, Any]] | None) -> str:
    """The table's caption: where the new model was scored (this job's own validation digits)."""
    compared = (
        f"{shipped[0]}: the shipped model it would replace, from its sidecar (whole test set)."
        if shipped
        else "there is no shipped model of this recipe to compare with."
    )
    return f"PSNR (dB) of the new model on the last {state.validation_size:,} test digits, which training never saw; {compared}"


def comparison_table(scores: list[dict[str, float]], shipped: tuple[str, dict[str, Any]] | None) -> str:
    """A Markdown table: the new model's PSNR at each validation σ, beside the shipped model's.

    Four narrow columns, so it fits the sidebar; the noisy input's PSNR is left out for that.
    """
    name = shipped[0] if shipped else None
    lines = [
        "| σ | new |" + (f" {name} | Δ |" if name else ""),
        "|---:|---:|" + ("---:|---:|" if name else ""),
    ]
    for row in scores:
        line = f"| {row['sigma']:.1f} | **{row['psnr']:.1f}** |"
        if name:
            before = catalog.score_at(shipped[1].get("scores") or [], row["sigma"])
            line += " – | – |" if before is None else f" {before:.1f} | {row['psnr'] - before:+.1f} |"
        lines.append(line)
    return "\n".join(lines)


def show_loss_chart(progress: Progress | None) -> None:
    """Training loss (live, within the epoch) and validation loss per epoch."""
    rows = loss_rows(progress) if progress else []
    if rows:
        st.vega_lite_chart(loss_chart(rows))
        st.caption("Loss per epoch: dark, training (the running epoch so far); light, validation.")


def loss_rows(progress: Progress) -> list[dict[str, Any]]:
    """One row per epoch and loss kind, plus the running epoch's training loss so far."""
    rows = []
    for entry in progress.history:
        rows.append({"epoch": entry["epoch"], "loss": entry["loss"], "kind": "training"})
        if "val_loss" in entry:
            rows.append({"epoch": entry["epoch"], "loss": entry["val_loss"], "kind": "validation"})
    if progress.epoch > len(progress.history) and progress.step:
        fraction = progress.epoch - 1 + progress.step / progress.steps
        rows.append({"epoch": round(fraction, 3), "loss": progress.loss, "kind": "training"})
    return [row for row in rows if math.isfinite(row["loss"])]


def loss_chart(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """A plain Vega-Lite spec (Altair's st.line_chart costs ~70× more per redraw, docs/retrain.md)."""
    return {
        "data": {"values": rows},
        "mark": {"type": "line", "point": True},
        "encoding": {
            "x": {"field": "epoch", "type": "quantitative", "title": "epoch", "axis": {"tickMinStep": 1}},
            "y": {"field": "loss", "type": "quantitative", "title": "loss", "scale": {"zero": False}},
            # No legend: beside the plot it takes half the sidebar, below it Streamlit squashes the plot.
            "color": {"field": "kind", "type": "nominal", "legend": None, "sort": ["training", "validation"]},
        },
        "height": 140,
    }


def time_left(state: supervisor.JobState) -> str:
    """`about 1 min 20 s left`, extrapolated from the pace so far."""
    progress = state.progress
    if state.status not in ("loading", "running"):
        return "a few seconds left"
    if progress is None or not math.isfinite(progress.remaining):
        return "time left not known yet"
    return f"about {format_duration(progress.remaining)} left"
