#!/usr/bin/env bash
# Run the image scripts/build-image.sh built as a Space runs it: a fresh container of the image,
# its own CMD, ENV and WORKDIR (read from the image's configuration, not copied from the
# Dockerfile), as uid 1000, with the app folder (WORKDIR) mounted read-only over itself.
#
#   scripts/run-image.sh              the server, in the foreground (Ctrl-C stops it)
#   scripts/run-image.sh --health     the image's HEALTHCHECK command, in that running container
#   scripts/run-image.sh --path [PATH] where PATH (default: its root) inside the running container lies here
#
# Environment:
#   IMAGE      the image (default denoiser-space)
#   SPACE_ENV  extra NAME=value settings, space-separated, as a Space's variables would add
#              (the tests offer 2,048 training digits: DENOISER_TRAIN_SIZES=2048)
# chroot isolation shares this machine's network: the server listens on the image's PORT here.
# One container at a time (named $IMAGE-run); it is removed when the server stops.
set -euo pipefail

IMAGE=${IMAGE:-denoiser-space}
NAME=$IMAGE-run
BUILDAH=(buildah --storage-driver vfs)
export BUILDAH_ISOLATION=chroot

fail() { echo "run-image: $*" >&2; exit 1; }
[ "$(id -u)" = 0 ] || fail "run as root (buildah with chroot isolation needs it)"

# One field of the image's (Docker-format) configuration: strings as they are, a list one
# item a line (what Env, Cmd and a HEALTHCHECK's Test hold).
config() {
  "${BUILDAH[@]}" inspect --type image "$IMAGE" | python3 -c '
import json, sys
value = json.load(sys.stdin)["Docker"]["config"]
for key in sys.argv[1].split("."):
    value = (value or {}).get(key)
print("\n".join(value or []) if isinstance(value, list) else value or "")' "$1"
}

case "${1:-}" in
  --health)
    mapfile -t test < <(config Healthcheck.Test)
    [ "${test[0]}" = CMD ] || fail "HEALTHCHECK is ${test[0]}, expected an exec-form CMD"
    mapfile -t env < <(config Env)
    env_args=()
    for item in "${env[@]}" ${SPACE_ENV:-}; do env_args+=(--env "$item"); done
    exec "${BUILDAH[@]}" run --isolation chroot --user "$(config User)" \
      --workingdir "$(config WorkingDir)" "${env_args[@]}" "$NAME" -- "${test[@]:1}"
    ;;
  --path)
    echo "$("${BUILDAH[@]}" mount "$NAME")${2:-}"
    exit 0
    ;;
  "") ;;
  *) fail "usage: $0 [--health | --path PATH]" ;;
esac

user=$(config User)
workdir=$(config WorkingDir)
mapfile -t cmd < <(config Cmd)
mapfile -t env < <(config Env)
[ "${user%%:*}" = 1000 ] || fail "the image's USER is '$user', not uid 1000 as on Spaces"
[ -n "$workdir" ] && [ "${#cmd[@]}" -gt 0 ] || fail "the image has no WORKDIR or CMD"

"${BUILDAH[@]}" rm "$NAME" >/dev/null 2>&1 || true
"${BUILDAH[@]}" from --pull=never --name "$NAME" "$IMAGE" >/dev/null
cleanup() { "${BUILDAH[@]}" rm "$NAME" >/dev/null 2>&1 || true; }
trap cleanup EXIT
root=$("${BUILDAH[@]}" mount "$NAME")

env_args=()
for item in "${env[@]}" ${SPACE_ENV:-}; do env_args+=(--env "$item"); done
echo "run-image: $IMAGE as $user in $workdir (read-only): ${cmd[*]}" >&2
# Not exec: the trap removes the container once the server has stopped.
"${BUILDAH[@]}" run --isolation chroot --user "$user" --workingdir "$workdir" "${env_args[@]}" \
  --volume "$root$workdir:$workdir:ro" "$NAME" -- "${cmd[@]}" &
server=$!
trap 'kill -TERM "$server" 2>/dev/null || true' INT TERM
wait "$server" || true
wait "$server" 2>/dev/null || true
