#!/usr/bin/env bash
# Start the page the way the Space's container does, on a machine without Docker.
#
#   [PORT=7860] [MNIST_DIR=...] scripts/run-as-space.sh [--prepare-only]
#
# What the Dockerfile builds, reproduced step by step:
#   - Python 3.11 with requirements.txt alone, in a fresh virtual environment
#     (/tmp/space-venv-<hash of requirements.txt>, reused while requirements.txt is unchanged);
#   - the files `COPY . .` would copy (the rules in .dockerignore) in /home/user/app, read-only;
#   - the user with uid 1000, HOME=/home/user, an empty runs folder (a fresh container);
#   - the Dockerfile's ENV, and its CMD run by sh in the app folder.
# One change: MNIST_DIR is the local idx files (default ../shared/data/mnist), not the image's
# mnist-idx/, which the image's build step fills (docs/deploy.md).
# --prepare-only builds the environment and the copy, then exits without starting the server.
# Runs as root (to create the user and switch to it) or as uid 1000 itself.
set -euo pipefail
umask 022

ROOT=$(cd "$(dirname "$0")/.." && pwd)

# The Dockerfile's values; tests/test_space.py checks that the two agree.
SPACE_UID=1000
SPACE_HOME=/home/user
SPACE_APP=/home/user/app
# shellcheck disable=SC2016  # $PORT is expanded by the sh that runs it, as in the container
SPACE_CMD='exec python -m denoiser.page.warmup app.py --server.port=$PORT --server.address=0.0.0.0'
DOCKERFILE_ENV=(
  HOME=/home/user
  PORT="${PORT:-7860}"
  PYTHONUNBUFFERED=1
  TF_CPP_MIN_LOG_LEVEL=2
  TF_NUM_INTRAOP_THREADS=2
  TF_NUM_INTEROP_THREADS=1
  OMP_NUM_THREADS=2
  STREAMLIT_SERVER_ENABLE_XSRF_PROTECTION=false
  MNIST_DIR=/home/user/app/mnist-idx
  DENOISER_TRAINING=on
  DENOISER_MAX_IMAGES=300000
  DENOISER_COOLDOWN_S=300
  DENOISER_COOLDOWN_PER=server
)
BASE_IMAGE_PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin

prepare_only=false
case "${1:-}" in
  "") ;;
  --prepare-only) prepare_only=true ;;
  *) echo "usage: [PORT=7860] $0 [--prepare-only]" >&2; exit 2 ;;
esac

fail() { echo "run-as-space: $*" >&2; exit 1; }

# As uid 1000: directly when we are that user, through setpriv when we are root.
as_space_user() {
  if [ "$(id -u)" = "$SPACE_UID" ]; then
    "$@"
  else
    setpriv --reuid="$SPACE_UID" --regid="$space_gid" --clear-groups -- "$@"
  fi
}

# The user. An existing uid 1000 is used as it is (only its uid matters, as on Spaces).
case "$(id -u)" in
  0)
    command -v setpriv >/dev/null || fail "setpriv (util-linux) is needed to switch to uid $SPACE_UID"
    if ! getent passwd "$SPACE_UID" >/dev/null; then
      useradd --create-home --uid "$SPACE_UID" user
    fi
    ;;
  "$SPACE_UID") ;;
  *) fail "run as root (to switch to uid $SPACE_UID) or as uid $SPACE_UID itself" ;;
esac
space_gid=$(getent passwd "$SPACE_UID" | cut -d: -f4)
if [ ! -d "$SPACE_HOME" ]; then
  install -d -o "$SPACE_UID" -g "$space_gid" -m 755 "$SPACE_HOME"
fi
[ "$(stat -c %u "$SPACE_HOME")" = "$SPACE_UID" ] || fail "$SPACE_HOME exists but is not owned by uid $SPACE_UID"

# A Python 3.11 that uid 1000 can run (a pyenv under /root, for one, it cannot).
python=${SPACE_PYTHON:-}
if [ -z "$python" ]; then
  for candidate in /usr/bin/python3.11 /usr/local/bin/python3.11 "$(command -v python3.11 || true)"; do
    if [ -n "$candidate" ] && [ -x "$candidate" ] && as_space_user "$candidate" -c "" 2>/dev/null; then
      python=$candidate
      break
    fi
  done
fi
[ -n "$python" ] || fail "no Python 3.11 that uid $SPACE_UID can run; set SPACE_PYTHON=/path/to/python3.11"
"$python" -c "import sys; assert sys.version_info[:2] == (3, 11), sys.version" \
  || fail "$python is not Python 3.11 (the image's is)"

# The virtual environment, built once per requirements.txt (and interpreter).
key=$( (cat "$ROOT/requirements.txt"; "$python" -VV) | sha256sum | cut -c1-16)
venv=${SPACE_VENV:-/tmp/space-venv-$key}
exec 9>"$venv.lock"
flock 9
if [ ! -f "$venv/.complete" ]; then
  echo "run-as-space: installing requirements.txt into $venv (once per requirements.txt)" >&2
  rm -rf "$venv"
  "$python" -m venv "$venv"
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$ROOT/requirements.txt"
  touch "$venv/.complete"
fi
exec 9>&-

# The files the image gets, read-only (runs then go to ~/runs: denoiser/page/catalog.py, runs_dir).
if [ -d "$SPACE_APP" ]; then
  chmod -R u+w "$SPACE_APP" 2>/dev/null || true
  rm -rf "$SPACE_APP"
fi
"$python" - "$ROOT" "$SPACE_APP" <<'PY'
"""Copy a build context the way `COPY . .` does: everything but what .dockerignore excludes."""

import os
import re
import shutil
import sys
from pathlib import Path

source, target = Path(sys.argv[1]), Path(sys.argv[2])


def to_regex(pattern: str) -> re.Pattern:
    """A .dockerignore pattern (Go's filepath.Match, plus `**`) as a regular expression."""
    out, i = "", 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out, i = out + "(?:.*/)?", i + 3
        elif pattern.startswith("**", i):
            out, i = out + ".*", i + 2
        elif pattern[i] == "*":
            out, i = out + "[^/]*", i + 1
        elif pattern[i] == "?":
            out, i = out + "[^/]", i + 1
        else:
            out, i = out + re.escape(pattern[i]), i + 1
    return re.compile(out)


rules = []
for line in (source / ".dockerignore").read_text().splitlines():
    line = line.strip()
    if line and not line.startswith("#"):
        negated = line.startswith("!")
        pattern = os.path.normpath(line.lstrip("!").strip().lstrip("/"))
        rules.append((negated, to_regex(pattern)))


def excluded(relative: str) -> bool:
    """Docker's rule: the last pattern matching the path or one of its parents decides."""
    parts = relative.split("/")
    candidates = ["/".join(parts[: n + 1]) for n in range(len(parts))]
    verdict = False
    for negated, regex in rules:
        if any(regex.fullmatch(c) for c in candidates):
            verdict = not negated
    return verdict


count = size = 0
for folder, dirs, files in os.walk(source):
    dirs.sort()
    for name in sorted(files):
        path = Path(folder, name)
        relative = path.relative_to(source).as_posix()
        if excluded(relative):
            continue
        destination = target / relative
        destination.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, destination, follow_symlinks=True)
        count, size = count + 1, size + path.stat().st_size
print(f"run-as-space: copied {count} files ({size / 1e6:.1f} MB) into {target}", file=sys.stderr)
PY
if [ "$(id -u)" = 0 ]; then
  chown -R "$SPACE_UID:$space_gid" "$SPACE_APP"  # COPY --chown=user
fi
chmod -R a-w "$SPACE_APP"

# A fresh container: no models retrained by an earlier run.
rm -rf "${SPACE_HOME:?}/runs"

# PATH: the Dockerfile's, with the virtual environment standing in for ~/.local; LANG: the base image's.
space_env=("${DOCKERFILE_ENV[@]}" "PATH=/home/user/.local/bin:$venv/bin:$BASE_IMAGE_PATH" LANG=C.UTF-8)
# MNIST for retraining: the image downloads it at build time; here, the local idx files.
mnist=${MNIST_DIR:-$ROOT/../shared/data/mnist}
if [ -f "$mnist/train-images-idx3-ubyte.gz" ]; then
  space_env+=("MNIST_DIR=$(cd "$mnist" && pwd)")
else
  echo "run-as-space: no MNIST idx files in $mnist; retraining will need the network" >&2
fi

if $prepare_only; then
  exit 0
fi
cd "$SPACE_APP"
if [ "$(id -u)" = "$SPACE_UID" ]; then
  exec env -i "${space_env[@]}" sh -c "$SPACE_CMD"
fi
exec setpriv --reuid="$SPACE_UID" --regid="$space_gid" --clear-groups -- env -i "${space_env[@]}" sh -c "$SPACE_CMD"
