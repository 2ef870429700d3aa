"""The sidebar's Retrain section: settings, a Start button, and a panel that follows the server's training.

The training runs in the worker thread of one `jobs.TrainingJobs` per server (per runs
folder), shared by every visitor's session through `st.cache_resource`; this module only
reads copies of its state. The panel is a fragment that reruns itself every second while a
job is active (an idle page does not poll) and asks for a full rerun when the job ends, so
the model list picks up the new file and the visitor who started it finds it selected.
"""

from __future__ import annotations

import math
import uuid
from pathlib import Path
from typing import Any

import keras
import streamlit as st

from denoiser import models
from denoiser.page import catalog, jobs, streamlit_fixes
from denoiser.train import Progress, TrainConfig

POLL_SECONDS = 1.0  # how often an open page reads the job's progress while one runs
DEFAULT_EPOCHS = 3
VISITOR = "retrain_visitor"  # session state: this session's id, which owns the jobs it starts
WATCHING = "retrain_watching"  # the number of the active job at this session's last full run
SELECTED = "retrain_selected"  # the number of the job whose model was already selected here
NOTICE = "retrain_notice"  # a one-off message from the Start button's callback


@st.cache_resource(show_spinner=False)
def training_slot(runs_dir: str, _keep: int) -> jobs.TrainingJobs:
    """The server's one training slot for this runs folder, shared by every session."""
    return jobs.TrainingJobs(Path(runs_dir), keep=_keep)


def visitor() -> str:
    """This session's id (a random uuid): whoever starts a job owns it."""
    return st.session_state.setdefault(VISITOR, uuid.uuid4().hex)


def read_options() -> jobs.Options | str:
    """The deployment's options, or the one-line reason they are malformed."""
    try:
        return jobs.Options.from_env()
    except ValueError as error:
        return str(error)


def keep_keras_state() -> None:
    """Stop Streamlit from resetting Keras after every script and fragment run.

    Streamlit calls `keras.backend.clear_session()` after each run. That swaps out Keras's
    global state (layer-name counters, scopes) for every thread at once, so a model being
    built by the training thread could get two layers called "conv2d" and fail. The page
    builds no models itself, so there is nothing for Streamlit to clear.
    """
    keras.backend.clear_session = _no_reset


def _no_reset(*args: Any, **kwargs: Any) -> None:
    """Stands in for `keras.backend.clear_session` in the server process."""


def follow_training() -> jobs.TrainingJobs | None:
    """Before the model list is built: the slot, with a just-finished model selected for its owner, once.

    Called at the top of every full run, so it also records whether a job is active; the
    progress panel compares against that to notice the job's end and rerun the page. It also
    installs the server-process fixes the panel needs (both are once-per-process and idempotent).
    """
    keep_keras_state()
    streamlit_fixes.deliver_full_runs()  # the panel's polls must not drop a full run's panels
    options = read_options()
    if not isinstance(options, jobs.Options) or not options.allowed:
        return None
    slot = training_slot(str(catalog.runs_dir()), options.keep)
    state = slot.snapshot()
    st.session_state[WATCHING] = state.number if state.active else None
    mine = state.status == "done" and state.owner == visitor() and state.result_key
    if mine and st.session_state.get(SELECTED) != state.number:
        st.session_state[SELECTED] = state.number
        st.session_state.model = state.result_key  # before the radio renders, as docs/page.md asks
    return slot


def sidebar_section(slot: jobs.TrainingJobs | None, entries: list[catalog.ModelEntry]) -> None:
    """Settings and Start while the slot is free; the job's progress (and for its owner, Cancel)."""
    options = read_options()
    if isinstance(options, jobs.Options) and not options.allowed:
        return
    st.sidebar.header("Retrain")
    if not isinstance(options, jobs.Options) or slot is None:
        st.sidebar.error(f"Training is switched off: {options}.")
        return
    state = slot.snapshot()
    problem = jobs.data_problem() or jobs.runs_writable(slot.runs_dir)
    with st.sidebar:
        config = settings(options, disabled=state.active or problem is not None)
        if problem:
            st.warning(f"Training is unavailable: {problem}")
        elif not state.active and isinstance(config, TrainConfig):
            st.button("Start training", type="primary", on_click=start, args=(slot,), key="retrain_start")
        if notice := st.session_state.pop(NOTICE, None):
            st.info(notice)
        run_every = POLL_SECONDS if state.active else None
        st.fragment(job_panel, run_every=run_every)(slot, entries)


def settings(options: jobs.Options, disabled: bool) -> TrainConfig | str:
    """Which model, epochs, σ (or σ range) and how many digits; shows the time estimate."""
    improved = jobs.improved_recipe(catalog.weights_dir())
    recipes = {"classic": "classic: one fixed σ", improved: f"blind ({improved}): a range of σ"}
    recipe = st.radio(
        "Model to train", list(recipes), format_func=recipes.get, key="retrain_recipe", disabled=disabled
    )
    default_epochs = min(DEFAULT_EPOCHS, options.max_epochs)
    st.slider("Epochs", 1, options.max_epochs, default_epochs, key="retrain_epochs", disabled=disabled)
    spec = models.get_spec(recipe)
    if spec.sigma is not None:
        st.slider("Training σ", 0.0, 1.0, spec.sigma, 0.05, key="retrain_sigma", disabled=disabled)
    else:
        sigma_range = tuple(spec.sigma_range)
        st.slider(
            "Training σ range", 0.0, 1.0, sigma_range, 0.05, key="retrain_sigma_range", disabled=disabled
        )
    st.radio(
        "Training digits",
        options.train_sizes,
        format_func=lambda n: f"{n:,}",
        horizontal=True,
        key="retrain_size",
        disabled=disabled,
    )
    try:
        config, shipped = chosen_config()
    except ValueError as error:
        st.error(str(error))
        return str(error)
    st.caption(estimate_text(config, shipped))
    return config


def chosen_config() -> tuple[TrainConfig, tuple[str, dict[str, Any]] | None]:
    """The settings' current values (from session state, so a callback sees them too) as a
    config, with the shipped model of that recipe it inherits from and would be compared to."""
    state = st.session_state
    recipe = state["retrain_recipe"]
    spec = models.get_spec(recipe)
    if spec.sigma is not None:
        noise: dict[str, Any] = {"sigma": state.get("retrain_sigma", spec.sigma)}
    else:
        noise = {"sigma": None, "sigma_range": tuple(state.get("retrain_sigma_range", spec.sigma_range))}
    shipped = jobs.shipped_sidecar(recipe, catalog.weights_dir())
    config = jobs.retrain_config(
        recipe,
        shipped and shipped[1],
        epochs=int(state["retrain_epochs"]),
        train_size=int(state["retrain_size"]),
        **noise,
    )
    return config, shipped


def estimate_text(config: TrainConfig, shipped: tuple[str, dict[str, Any]] | None) -> str:
    """How long `config` should take here, from the training speed the shipped model's sidecar recorded."""
    rate = float((shipped[1] if shipped else {}).get("images_per_s") or 0)
    if rate <= 0:
        return (
            f"No time estimate: no shipped {config.model} model records how fast it trained on this server."
        )
    seconds = jobs.estimate_seconds(config, rate)
    return (
        f"Takes about {format_duration(seconds)} on this server "
        f"({shipped[0]} trained at {rate:,.0f} digits/s here, plus loading and scoring)."
    )


def start(slot: jobs.TrainingJobs) -> None:
    """The Start button's callback; a visitor who lost the race is told, not given a second job."""
    try:
        config, _ = chosen_config()
    except (KeyError, ValueError) as error:  # settings not drawn yet, or out of range
        st.session_state[NOTICE] = f"Training was not started: {error}"
        return
    if not slot.start(visitor(), config):
        st.session_state[NOTICE] = (
            "A training is already running on this server, and only one runs at a time: "
            "its progress is below. You can start yours when it has finished."
        )


def cancel(slot: jobs.TrainingJobs) -> None:
    """The Cancel button's callback (only the owner sees the button, and only the owner may cancel)."""
    slot.cancel(visitor())


def job_panel(slot: jobs.TrainingJobs, entries: list[catalog.ModelEntry]) -> None:
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
        show_progress(state)
        if mine:
            st.button(
                "Cancel", on_click=cancel, args=(slot,), disabled=state.cancelling, key="retrain_cancel"
            )
    elif mine:
        show_outcome(state, entries)


def show_progress(state: jobs.JobState) -> None:
    """Progress bar per batch, epoch and loss, elapsed and remaining time, and the loss chart."""
    progress = state.progress
    if state.cancelling:
        st.progress(progress.fraction if progress else 0.0, text="Cancelling after this batch…")
    elif progress is None:
        st.progress(0.0, text="Loading MNIST…")
    elif state.status == "running":
        text = f"Epoch {progress.epoch}/{progress.epochs} · batch {progress.step}/{progress.steps} · loss {progress.loss:.4f}"
        st.progress(min(progress.fraction, 1.0), text=text)
    else:
        st.progress(
            1.0, text="Scoring on held-out test digits…" if state.status == "validating" else "Saving…"
        )
    st.caption(f"{describe(state.config)} · {format_duration(state.elapsed)} elapsed · {time_left(state)}")
    show_loss_chart(progress)


def show_outcome(state: jobs.JobState, entries: list[catalog.ModelEntry]) -> None:
    """What became of this visitor's job: the new model against the shipped one, or why there is none."""
    if state.status == "failed":
        st.error(f"{state.message[:1].upper()}{state.message[1:]}. Nothing was saved.")
        return
    if state.status == "cancelled":
        st.info("Training cancelled: nothing was saved.")
        return
    if state.status != "done":
        return
    label = next((e.label for e in entries if e.key == state.result_key), state.result_key)
    st.success(f"Saved as **{label}** and selected for you; every visitor now finds it in the list.")
    shipped = jobs.shipped_sidecar(state.config.model, catalog.weights_dir())
    st.markdown(comparison_table(state.scores, shipped))
    st.caption(
        f"PSNR (dB) of the new model on the last {jobs.VALIDATION_SIZE:,} test digits, "
        "which training never saw; "
        + (
            f"{shipped[0]}: the shipped model it would replace, from its sidecar (whole test set)."
            if shipped
            else "there is no shipped model of this recipe to compare with."
        )
    )
    show_loss_chart(state.progress)


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


def describe(config: TrainConfig | None) -> str:
    """`classic · 5 epochs · σ 0.5 · 6,000 digits`."""
    if config is None:
        return ""
    epochs = f"{config.epochs} epoch{'s' if config.epochs != 1 else ''}"
    return f"{config.model} · {epochs} · σ {config.sigma_label} · {config.train_size or 60000:,} digits"


def time_left(state: jobs.JobState) -> str:
    """`about 1 min 20 s left`, extrapolated from the pace so far."""
    progress = state.progress
    if state.status != "running":
        return "a few seconds left"
    if progress is None or not math.isfinite(progress.remaining):
        return "time left not known yet"
    return f"about {format_duration(progress.remaining)} left"


def format_duration(seconds: float) -> str:
    """`45 s`, `3 min 05 s`, `1 h 02 min`."""
    if not math.isfinite(seconds):
        return "unknown"
    seconds = max(0, round(seconds))
    if seconds < 60:
        return f"{seconds} s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes} min {seconds:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"
