"""The Retrain section's form: which model, epochs, σ, noise and digits, and how long that should take here.

The visitor's choices are theirs: kept in the session beside the widgets (Streamlit forgets a
widget's value on a run that does not draw it) and in the page's URL, so a reload, or a run
that showed someone's training instead, finds them as they were. While this server trains,
the form shows the running job's settings (greyed out), not the visitor's, and its estimate is
the job's own pace, the one the progress line uses.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import streamlit as st

from denoiser import models, noise
from denoiser.page import catalog
from denoiser.train import TrainConfig
from denoiser.training import estimate, recipes, supervisor
from denoiser.training.settings import MIN_EPOCHS, Options

DEFAULT_EPOCHS = 5  # with all 60,000 digits: the seed recipe
CLASSIC_SIGMAS = (0.2, 0.9)  # the classic σ slider's range: below 0.2 classic cannot beat the noisy input
KEPT = "retrain_choices"  # session state: the visitor's choices, widget key → value
URL = {  # widget key → the page URL's query parameter that keeps it across reloads
    "retrain_recipe": "train_model",
    "retrain_epochs": "train_epochs",
    "retrain_sigma": "train_sigma",
    "retrain_sigma_range": "train_sigmas",
    "retrain_size": "train_digits",
    "retrain_noise": "train_noise",
}


def offered_recipes() -> dict[str, str]:
    """Recipe → how the radio names it: classic and the shipped blind model's recipe."""
    improved = recipes.improved_recipe(catalog.weights_dir())
    return {"classic": "classic: one fixed σ", improved: f"blind ({improved}): a range of σ"}


def epoch_bounds(options: Options) -> tuple[int, int]:
    """The epochs slider's lowest and highest value on this deployment."""
    low = min(MIN_EPOCHS, options.max_epochs)
    return low, max(low + 1, options.max_epochs)


def defaults(options: Options, recipe: str) -> dict[str, Any]:
    """What a first-time visitor finds: the seed recipe's epochs, the recipe's σ, all digits."""
    low, high = epoch_bounds(options)
    spec = models.get_spec(recipe)
    return {
        "retrain_epochs": max(low, min(DEFAULT_EPOCHS, high)),
        "retrain_sigma": spec.sigma if spec.sigma is not None else 0.5,
        "retrain_sigma_range": tuple(spec.sigma_range),
        "retrain_size": options.train_sizes[-1],
        "retrain_noise": [noise.DEFAULT_KIND],
    }


def parse(key: str, text: str) -> Any:
    """A choice from the URL's text (ValueError when it is not one)."""
    if key == "retrain_sigma_range":
        low, high = (round(float(part), 1) for part in text.split(","))
        return (low, high)
    if key in ("retrain_epochs", "retrain_size"):
        return int(text)
    if key == "retrain_noise":
        return [part for part in text.split(",") if part]
    return round(float(text), 1) if key == "retrain_sigma" else text


def allowed(key: str, value: Any, options: Options) -> bool:
    """Whether `value` is one the widget `key` offers on this deployment."""
    if key == "retrain_recipe":
        return value in offered_recipes()
    if key == "retrain_epochs":
        low, high = epoch_bounds(options)
        return isinstance(value, int) and low <= value <= high
    if key == "retrain_sigma":
        return CLASSIC_SIGMAS[0] <= value <= CLASSIC_SIGMAS[1]
    if key == "retrain_sigma_range":
        return 0.0 <= value[0] <= value[1] <= 1.0
    if key == "retrain_noise":
        return isinstance(value, tuple | list) and bool(value) and set(value) <= set(noise.KINDS)
    return value in options.train_sizes


def encode(value: Any) -> str:
    """A choice as the URL keeps it."""
    if isinstance(value, tuple | list):
        return ",".join(v if isinstance(v, str) else f"{v:g}" for v in value)
    return f"{value}"


def restore_choices(options: Options) -> None:
    """Before the widgets draw: each one's value is the visitor's choice (this session's, else the
    URL's), else the default; a choice this deployment no longer offers falls back to the default."""
    state = st.session_state
    kept = state.setdefault(KEPT, {})
    for key, name in URL.items():
        if key not in kept and name in st.query_params:
            try:
                kept[key] = parse(key, st.query_params[name])
            except ValueError:
                continue
    recipes_offered = list(offered_recipes())
    recipe = kept.get("retrain_recipe")
    recipe = recipe if recipe in recipes_offered else recipes_offered[0]
    wanted = {"retrain_recipe": recipe} | defaults(options, recipe)
    for key, default in wanted.items():
        if key not in state:
            value = kept.get(key, default)
            state[key] = value if allowed(key, value, options) else default


def keep(key: str) -> None:
    """A widget's on_change: the visitor's new choice, in the session and the URL."""
    value = st.session_state[key]
    st.session_state.setdefault(KEPT, {})[key] = value
    st.query_params[URL[key]] = encode(value)


def kept(key: str, disabled: bool) -> dict[str, Any]:
    """A form widget's keyword arguments: its key, and `keep` on change (the visitor's choice kept)."""
    return {"key": key, "disabled": disabled, "on_change": keep, "args": (key,)}


def settings(
    options: Options,
    disabled: bool,
    running: supervisor.JobState | None = None,
    measured: Callable[[str], list[estimate.Measurement]] = lambda recipe: [],
) -> TrainConfig | str:
    """The form; the visitor's config (or why there is none). With `running` (this server's job),
    its settings, greyed out, and how long it takes at its own pace.

    Every value offered here was measured to end better than the noisy input (docs/retrain.md);
    a finished model is judged again all the same.
    """
    if running is not None and running.config is not None:
        show_running(options, running)
        return "a training is running"
    restore_choices(options)
    offered = offered_recipes()
    recipe = st.radio(
        "Model to train",
        list(offered),
        format_func=offered.get,
        **kept("retrain_recipe", disabled),
    )
    st.slider(
        "Epochs",
        *epoch_bounds(options),
        **kept("retrain_epochs", disabled),
    )
    if models.get_spec(recipe).sigma is not None:
        st.slider(
            "Training σ",
            *CLASSIC_SIGMAS,
            step=0.1,
            **kept("retrain_sigma", disabled),
        )
    else:
        st.slider(
            "Training σ range",
            0.0,
            1.0,
            step=0.1,
            **kept("retrain_sigma_range", disabled),
        )
    st.pills(
        "Noise to train on",
        noise.KINDS,
        selection_mode="multi",
        format_func=noise.LABELS.get,
        help="Each training image gets one of the kinds picked, drawn afresh every epoch; "
        "the model is judged on each of them.",
        **kept("retrain_noise", disabled),
    )
    st.radio(
        "Training digits",
        options.train_sizes,
        format_func=lambda n: f"{n:,}",
        horizontal=True,
        **kept("retrain_size", disabled),
    )
    try:
        config, shipped = chosen_config()
    except ValueError as error:
        st.error(str(error))
        return str(error)
    if over := options.over_cap(config):
        st.error(f"Too long for this server: {over}.")
        return over
    st.caption(estimate_text(config, shipped, measured(config.model)))
    return config


def show_running(options: Options, state: supervisor.JobState) -> None:
    """The running job's settings in the form's place, greyed out, with its own pace's total time.

    Widgets without keys: they hold the job's values and leave the visitor's choices alone."""
    config = state.config
    offered = offered_recipes() | {config.model: config.model}
    st.radio("Model to train", [config.model], format_func=offered.get, disabled=True)
    low, high = epoch_bounds(options)
    st.slider("Epochs", min(low, config.epochs), max(high, config.epochs), config.epochs, disabled=True)
    if config.sigma is not None:
        st.slider("Training σ", 0.0, 1.0, float(config.sigma), 0.1, disabled=True)
    else:
        st.slider("Training σ range", 0.0, 1.0, tuple(config.sigma_range), 0.1, disabled=True)
    kinds = list(config.noise)
    st.pills(
        "Noise to train on",
        kinds,
        selection_mode="multi",
        default=kinds,
        format_func=noise.LABELS.get,
        disabled=True,
    )
    size = config.train_size or 60000
    st.radio("Training digits", [size], format_func=lambda n: f"{n:,}", horizontal=True, disabled=True)
    st.caption(f"The running training's settings. {running_estimate(state)}")


def running_estimate(state: supervisor.JobState) -> str:
    """The running job's total time at its own pace so far (what its progress line extrapolates)."""
    progress = state.progress
    if progress is None or not math.isfinite(progress.remaining):
        return "Its pace is not known yet."
    total = state.elapsed + progress.remaining
    rate = progress.images_seen / progress.elapsed if progress.elapsed > 0 else 0.0
    return f"At its pace so far ({rate:,.0f} digits/s) it takes about {format_duration(total)} in all."


def chosen_config() -> tuple[TrainConfig, tuple[str, dict[str, Any]] | None]:
    """The settings' current values (from session state, so a callback sees them too) as a
    config, with the shipped model of that recipe it inherits from and would be compared to."""
    state = st.session_state
    recipe = state["retrain_recipe"]
    spec = models.get_spec(recipe)
    if spec.sigma is not None:
        amounts: dict[str, Any] = {"sigma": round(float(state.get("retrain_sigma", spec.sigma)), 2)}
    else:
        low, high = state.get("retrain_sigma_range", spec.sigma_range)
        amounts = {"sigma": None, "sigma_range": (round(float(low), 2), round(float(high), 2))}
    kinds = tuple(kind for kind in noise.KINDS if kind in (state.get("retrain_noise") or ()))
    if not kinds:
        raise ValueError("Pick at least one kind of noise to train on.")
    shipped = recipes.shipped_sidecar(recipe, catalog.weights_dir())
    config = recipes.retrain_config(
        recipe,
        shipped and shipped[1],
        epochs=int(state["retrain_epochs"]),
        train_size=int(state["retrain_size"]),
        noise=kinds,
        noise_weights=None,  # the kinds picked, equally often
        **amounts,
    )
    recipes.check_offered(config)
    return config, shipped


def estimate_text(
    config: TrainConfig, shipped: tuple[str, dict[str, Any]] | None, measured: list[estimate.Measurement]
) -> str:
    """How long `config` should take here: a range from trainings this server measured; before
    any, a lower bound from the speed the shipped model's sidecar recorded."""
    if measured:
        low, high = estimate.estimate_range(config, measured)
        rates = sorted(m.images_per_s for m in measured)
        speed = f"{rates[0]:,.0f}" if len(rates) == 1 else f"{rates[0]:,.0f}–{rates[-1]:,.0f}"
        trainings = "training" if len(rates) == 1 else "trainings"
        return (
            f"Takes about {format_duration(low)} – {format_duration(high)} on this server "
            f"(measured here: {len(rates)} {config.model} {trainings} at {speed} digits/s, "
            "plus loading and scoring)."
        )
    rate = float((shipped[1] if shipped else {}).get("images_per_s") or 0)
    if rate <= 0:
        return f"No time estimate yet: no {config.model} training has been timed on this server."
    seconds = estimate.estimate_seconds(config, rate)
    return (
        f"Takes at least {format_duration(seconds)}: {shipped[0]} trained at {rate:,.0f} digits/s "
        "with every core to itself; beside the page, on a shared machine, a training is slower. "
        "The first one here measures it."
    )


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
