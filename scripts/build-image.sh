#!/usr/bin/env bash
# Build the Space's image from the Dockerfile with buildah: no Docker daemon, the vfs storage
# driver and chroot isolation, so it runs as root on a plain machine or inside a CI container.
#
#   scripts/build-image.sh [--base-only]
#
# Environment:
#   IMAGE      the image's name (default denoiser-space)
#   MNIST_DIR  a folder with the four MNIST idx .gz files (default ../shared/data/mnist); when it
#              holds them they go into the build context's mnist-idx/ and the build copies them
#              instead of downloading (the Dockerfile's MNIST step); without them the build
#              downloads MNIST as it does for everyone else.
#   BASE_PULL  "never" to skip trying the registry for python:3.11-slim
#
# FROM python:3.11-slim comes from the registry where it can be pulled. Where it cannot (no
# registry but PyPI/Debian here), a stand-in of the same name is built from Debian packages with
# debootstrap (docs/deploy.md says how it differs), from the Debian mirror apt already uses.
# pip inside the build reaches the package index this machine's pip is configured for: its
# settings (`pip config list`: files and PIP_* variables) go into a pip.conf mounted into each
# RUN step, with the local files they name, and nothing of it stays in the image.
# Prints the build's time and the image's size; scripts/run-image.sh runs the result.
set -euo pipefail
umask 022

ROOT=$(cd "$(dirname "$0")/.." && pwd)
IMAGE=${IMAGE:-denoiser-space}
BASE=docker.io/library/python:3.11-slim
BUILDAH=(buildah --storage-driver vfs)
export BUILDAH_ISOLATION=chroot

fail() { echo "build-image: $*" >&2; exit 1; }
say() { echo "build-image: $*" >&2; }

[ "$(id -u)" = 0 ] || fail "run as root (buildah with chroot isolation needs it)"
command -v buildah >/dev/null || fail "buildah is missing (apt-get install buildah)"

# The first Debian mirror apt is configured with, deb822 (.sources) or one-line (.list) format.
debian_mirror() {
  local files=(/etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources)
  local mirror
  mirror=$(cat "${files[@]}" 2>/dev/null | awk '
    /^[[:space:]]*#/ { next }
    /^URIs:/ { for (i = 2; i <= NF; i++) if ($i ~ /\/debian\/?$/) { print $i; exit } }
    /^deb[[:space:]]/ { for (i = 2; i <= NF; i++) if ($i ~ /^(https?|file):.*\/debian\/?$/) { print $i; exit } }
  ')
  [ -n "$mirror" ] || fail "no Debian mirror (a URI ending in /debian) in apt's sources"
  echo "$mirror"
}

# The stand-in for python:3.11-slim: Debian bookworm's Python 3.11, with `python` and `pip` on
# the PATH and pip allowed to install (the official image's pip is not Debian-managed).
build_standin_base() {
  command -v debootstrap >/dev/null || fail "debootstrap is missing (apt-get install debootstrap)"
  local mirror rootfs container mount
  mirror=$(debian_mirror)
  rootfs=$(mktemp -d /var/tmp/python-slim-rootfs.XXXXXX)
  say "building a stand-in for $BASE with debootstrap from $mirror"
  debootstrap --variant=minbase --include=python3,python3-pip,ca-certificates \
    bookworm "$rootfs" "$mirror" >"$rootfs.log" 2>&1 || { tail -20 "$rootfs.log" >&2; fail "debootstrap failed"; }
  ln -sf /usr/bin/python3 "$rootfs/usr/local/bin/python"
  ln -sf /usr/bin/pip3 "$rootfs/usr/local/bin/pip"
  rm -f "$rootfs"/usr/lib/python3.11/EXTERNALLY-MANAGED
  rm -rf "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/log/* \
    "$rootfs"/usr/share/doc/* "$rootfs"/usr/share/man/* "$rootfs"/usr/share/locale/*
  find "$rootfs/usr/lib/python3" "$rootfs/usr/lib/python3.11" -name __pycache__ -prune -exec rm -rf {} +
  container=$("${BUILDAH[@]}" from scratch)
  mount=$("${BUILDAH[@]}" mount "$container")
  cp -a "$rootfs/." "$mount/"
  "${BUILDAH[@]}" umount "$container" >/dev/null
  "${BUILDAH[@]}" config \
    --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    --env LANG=C.UTF-8 \
    --env PYTHON_VERSION="$(chroot "$rootfs" python3 -c 'import platform; print(platform.python_version())')" \
    --cmd python3 \
    --label org.opencontainers.image.description="stand-in for python:3.11-slim: Debian bookworm's python3 and python3-pip (scripts/build-image.sh)" \
    "$container"
  "${BUILDAH[@]}" commit --rm "$container" "$BASE" >/dev/null
  rm -rf "$rootfs" "$rootfs.log"
  say "stand-in $BASE built"
}

ensure_base() {
  if "${BUILDAH[@]}" inspect --type image "$BASE" >/dev/null 2>&1; then
    say "using $BASE from local storage"
  elif [ "${BASE_PULL:-}" != never ] && timeout 120 "${BUILDAH[@]}" pull --quiet "$BASE" >/dev/null 2>&1; then
    say "pulled $BASE from the registry"
  else
    build_standin_base
  fi
}

# The pip settings this machine uses, as one pip.conf, and -v options for it and the local
# paths it names (find-links folders, file:// indexes, the constraints file, the CA bundle).
pip_volumes() {
  local conf=$1 line key value path
  local -A settings=()
  local -a volumes=(-v "$conf:/etc/pip.conf:ro")
  # `pip config list` prints PIP_* variables (:env:) before the files; the variables win, as in pip.
  while IFS= read -r line; do
    key=${line%%=*}
    key=${key#*.}  # global.index-url, :env:.index-url, install.find-links: the option's name
    value=${line#*=}
    value=${value#\'}
    value=${value%\'}
    [ -n "${settings[$key]+set}" ] || settings[$key]=$value
  done < <(python3 -m pip config list 2>/dev/null || true)
  echo "[global]" >"$conf"
  for key in "${!settings[@]}"; do
    [ "$key" = no-cache-dir ] && continue  # the Dockerfile says --no-cache-dir itself
    echo "$key = ${settings[$key]}" >>"$conf"
    for path in ${settings[$key]}; do
      path=${path#file://}
      # A file:// index links to files beside its simple/ folder: mount the folder above it.
      [[ "$key" == *index-url && "$path" == */simple ]] && path=${path%/simple}
      if [[ "$path" == /* ]] && [ -e "$path" ]; then
        volumes+=(-v "$path:$path:ro")
      fi
    done
  done
  printf '%s\n' "${volumes[@]}"
}

# The four MNIST idx files into the context's mnist-idx/ (git- and later docker-ignored), or none.
stage_mnist() {
  local source=${MNIST_DIR:-$ROOT/../shared/data/mnist}
  local names=(train-images-idx3-ubyte.gz train-labels-idx1-ubyte.gz t10k-images-idx3-ubyte.gz t10k-labels-idx1-ubyte.gz)
  rm -rf "$ROOT/mnist-idx"
  for name in "${names[@]}"; do
    [ -f "$source/$name" ] || { say "no MNIST idx files in $source: the build downloads MNIST"; return; }
  done
  mkdir "$ROOT/mnist-idx"
  for name in "${names[@]}"; do cp "$source/$name" "$ROOT/mnist-idx/"; done
  say "MNIST from $source (build context's mnist-idx/)"
}

ensure_base
[ "${1:-}" = --base-only ] && exit 0

work=$(mktemp -d)
trap 'rm -rf "$work" "$ROOT/mnist-idx"' EXIT
mapfile -t volumes < <(pip_volumes "$work/pip.conf")
stage_mnist

say "building $IMAGE from $ROOT/Dockerfile"
start=$(date +%s)
# Docker format: the OCI format has no HEALTHCHECK (buildah drops it), and Spaces build Docker images.
"${BUILDAH[@]}" build --isolation chroot --format docker --pull=never --layers=false \
  "${volumes[@]}" -t "$IMAGE" -f "$ROOT/Dockerfile" "$ROOT"
seconds=$(($(date +%s) - start))

# Leave no dangling images behind (an earlier build of the same name).
"${BUILDAH[@]}" rmi --prune >/dev/null 2>&1 || true
size=$("${BUILDAH[@]}" images --format '{{.Size}}' "$IMAGE" | head -1)
echo "build-image: built $IMAGE in ${seconds} s; image size $size"
