#!/usr/bin/env bash
# Prepare this (Debian 12) machine to run the test-host harness:
#   - apt-install what is missing (docker.io, debootstrap, make, python3-venv, rsync
#     for the fan-out follower's real-rsync unit tests, ...)
#   - start dockerd directly (no systemd as PID 1 here) unless a Docker engine
#     already answers `docker info`, and wait for it.
# Idempotent; run as root.  Env knobs:
#   DOCKER_STORAGE_DRIVER  force a storage driver (default: overlay2 if an
#                          overlay mount works on /var/lib/docker, else vfs)
#   DOCKERD_LOG            dockerd log file (default /var/log/dockerd.log)
#   DOCKER_WAIT_SECS       how long to wait for the daemon (default 60)
set -euo pipefail

log() { printf '[ensure-host-deps] %s\n' "$*" >&2; }
die() { printf '[ensure-host-deps] ERROR: %s\n' "$*" >&2; exit 1; }

[ "$(id -u)" -eq 0 ] || die "must run as root"

DOCKERD_LOG="${DOCKERD_LOG:-/var/log/dockerd.log}"
DOCKER_WAIT_SECS="${DOCKER_WAIT_SECS:-60}"
DOCKER_DATA_ROOT=/var/lib/docker

# ---------------------------------------------------------------- apt packages
PKGS=(docker.io debootstrap make python3-venv iproute2 iptables ca-certificates
      tar xz-utils procps rsync)

wait_for_apt() {
  local i
  for i in $(seq 1 600); do
    if ! pgrep -x apt-get >/dev/null && ! pgrep -x dpkg >/dev/null \
       && ! pgrep -x apt >/dev/null; then
      return 0
    fi
    [ "$i" -eq 1 ] && log "another apt-get/dpkg is running; waiting for it"
    sleep 2
  done
  die "apt-get/dpkg still running after 20 minutes"
}

missing=()
for p in "${PKGS[@]}"; do
  if ! dpkg-query -W -f='${db:Status-Status}\n' "$p" 2>/dev/null | grep -qx installed; then
    missing+=("$p")
  fi
done
if [ "${#missing[@]}" -gt 0 ]; then
  wait_for_apt
  log "installing: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
else
  log "apt packages present"
fi

# ---------------------------------------------------------------- docker engine
# /usr/local/bin/docker (a newer client) may shadow /usr/bin/docker; both speak
# to the default unix socket and negotiate the API version down, so either works
# as long as nothing points them elsewhere.
if [ -n "${DOCKER_HOST:-}" ] && [ "${DOCKER_HOST}" != "unix:///var/run/docker.sock" ] \
   && [ "${DOCKER_HOST}" != "unix:///run/docker.sock" ]; then
  log "note: DOCKER_HOST=${DOCKER_HOST} is set; checking that engine"
fi

docker_ok() { docker info >/dev/null 2>&1; }

pick_storage_driver() {
  if [ -n "${DOCKER_STORAGE_DRIVER:-}" ]; then
    echo "$DOCKER_STORAGE_DRIVER"; return
  fi
  # Use overlay2 only if an overlay mount really works on the data-root fs.
  if grep -qw overlay /proc/filesystems || modprobe overlay 2>/dev/null; then
    mkdir -p "$DOCKER_DATA_ROOT"
    local d; d=$(mktemp -d "$DOCKER_DATA_ROOT/.ovltest.XXXXXX")
    mkdir -p "$d"/{l,u,w,m}
    echo ok >"$d/l/f"
    if mount -t overlay overlay -o "lowerdir=$d/l,upperdir=$d/u,workdir=$d/w" "$d/m" 2>/dev/null; then
      local r=vfs
      if [ "$(cat "$d/m/f" 2>/dev/null)" = ok ] && touch "$d/m/g" 2>/dev/null; then r=overlay2; fi
      umount "$d/m" || true
      rm -rf "$d"
      echo "$r"; return
    fi
    rm -rf "$d"
  fi
  echo vfs
}

if docker_ok; then
  log "docker engine answers ($(docker info -f '{{.ServerVersion}} / {{.Driver}}' 2>/dev/null))"
else
  # Is a dockerd of ours already starting up?  Otherwise clean stale pid and start one.
  pidf=/var/run/docker.pid
  if [ -f "$pidf" ] && kill -0 "$(cat "$pidf")" 2>/dev/null; then
    log "dockerd (pid $(cat "$pidf")) is running but not answering yet; waiting"
  else
    rm -f /var/run/docker.pid
    command -v dockerd >/dev/null || die "dockerd not found even after installing docker.io"
    driver=$(pick_storage_driver)
    log "starting dockerd (storage driver: $driver), log: $DOCKERD_LOG"
    mkdir -p "$(dirname "$DOCKERD_LOG")"
    # setsid + nohup: survive the calling shell; no systemd to supervise it.
    setsid nohup dockerd --storage-driver="$driver" >>"$DOCKERD_LOG" 2>&1 </dev/null &
    disown || true
  fi
  for _ in $(seq 1 "$DOCKER_WAIT_SECS"); do
    docker_ok && break
    sleep 1
  done
  if ! docker_ok; then
    tail -n 30 "$DOCKERD_LOG" >&2 || true
    die "docker engine did not answer 'docker info' within ${DOCKER_WAIT_SECS}s (log: $DOCKERD_LOG)"
  fi
  log "docker engine up ($(docker info -f '{{.ServerVersion}} / {{.Driver}}'))"
fi

# dockerd normally enables forwarding itself; containers need it to reach the apt mirror.
if [ "$(cat /proc/sys/net/ipv4/ip_forward)" != 1 ]; then
  echo 1 >/proc/sys/net/ipv4/ip_forward || log "warning: could not enable ip_forward"
fi
# Every systemd test host (and the Podman inside the container scenario's hosts) takes inotify
# instances from the same per-user pool; at the kernel's default of 128 a few scenarios in
# parallel make new test hosts exit 255 at boot. Raise it (to 8192), never lower it.
if [ "$(cat /proc/sys/fs/inotify/max_user_instances)" -lt 8192 ]; then
  echo 8192 >/proc/sys/fs/inotify/max_user_instances || log "warning: could not raise fs.inotify.max_user_instances"
fi
log "ok"
