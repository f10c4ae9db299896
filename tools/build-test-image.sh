#!/usr/bin/env bash
# Build a systemd-capable Debian 12 (bookworm) test-host image with debootstrap
# and `docker import` it.  No registry is needed.
#
# The Debian mirror is READ from this machine's apt sources (deb822
# /etc/apt/sources.list.d/*.sources or one-line /etc/apt/sources.list); the
# image gets apt sources for the same mirror (bookworm, and bookworm-updates /
# bookworm-security when the host has them), so roles can apt-install for real.
#
# Env:
#   IMAGE   image name (default gpufleet/debian12-systemd:latest)
#   FORCE=1 rebuild even if the image exists
#   EXTRA_PACKAGES  space-separated extra packages to include
#   DEBOOTSTRAP_CACHE  .deb cache dir (default /var/cache/gpufleet-debootstrap)
set -euo pipefail

IMAGE="${IMAGE:-gpufleet/debian12-systemd:latest}"
SUITE=bookworm
FORCE="${FORCE:-0}"
DEBOOTSTRAP_CACHE="${DEBOOTSTRAP_CACHE:-/var/cache/gpufleet-debootstrap}"

log() { printf '[build-test-image] %s\n' "$*" >&2; }
die() { printf '[build-test-image] ERROR: %s\n' "$*" >&2; exit 1; }

[ "$(id -u)" -eq 0 ] || die "must run as root (debootstrap)"
command -v debootstrap >/dev/null || die "debootstrap missing: run tools/ensure-host-deps.sh"
docker info >/dev/null 2>&1 || die "no docker engine: run tools/ensure-host-deps.sh"

SCRIPT_SHA=$(sha256sum "${BASH_SOURCE[0]}" | cut -c1-16)

if [ "$FORCE" != 1 ] && docker image inspect "$IMAGE" >/dev/null 2>&1; then
  have=$(docker image inspect -f '{{index .Config.Labels "org.gpufleet.build-script"}}' "$IMAGE" 2>/dev/null || true)
  if [ "$have" != "$SCRIPT_SHA" ]; then
    log "note: $IMAGE was built by another revision of this script ($have != $SCRIPT_SHA); FORCE=1 to rebuild"
  fi
  log "$IMAGE exists; skipping (FORCE=1 rebuilds)"
  exit 0
fi

# ------------------------------------------------------------ mirror discovery
# Prints "URI<TAB>COMPONENTS" for the first source of the given suite.
find_source() {
  local want="$1" f
  shopt -s nullglob
  for f in /etc/apt/sources.list.d/*.sources; do
    # deb822: blank-line separated stanzas
    awk -v want="$want" '
      function flush() {
        if (types ~ /(^|[ \t])deb([ \t]|$)/ && enabled != "no" && uris != "") {
          n = split(suites, s, /[ \t]+/)
          for (i = 1; i <= n; i++) if (s[i] == want) {
            split(uris, u, /[ \t]+/); print u[1] "\t" comps; found = 1; exit
          }
        }
        types = uris = suites = comps = enabled = ""
      }
      /^[ \t]*#/ { next }
      /^[ \t]*$/ { flush(); next }
      {
        line = $0; key = tolower(line); sub(/:.*/, "", key)
        val = line; sub(/^[^:]*:[ \t]*/, "", val); sub(/[ \t]+$/, "", val)
        if (key == "types") types = val
        else if (key == "uris") uris = val
        else if (key == "suites") suites = val
        else if (key == "components") comps = val
        else if (key == "enabled") enabled = tolower(val)
      }
      END { if (!found) flush() }
    ' "$f" | head -n1 | grep . && return 0
  done
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
    [ -f "$f" ] || continue
    # deb [opts] URI SUITE COMP...
    awk -v want="$want" '
      $1 == "deb" {
        i = 2
        if ($i ~ /^\[/) { while ($i !~ /\]$/) i++; i++ }
        uri = $i; suite = $(i+1); comps = ""
        for (j = i + 2; j <= NF; j++) comps = comps (comps == "" ? "" : " ") $j
        if (suite == want) { print uri "\t" comps; exit }
      }' "$f" | head -n1 | grep . && return 0
  done
  return 1
}

main_src=$(find_source "$SUITE") || die "no 'deb' source for suite $SUITE in /etc/apt/sources.list{,.d/*}"
MIRROR=${main_src%%$'\t'*}
COMPONENTS=${main_src#*$'\t'}; COMPONENTS=${COMPONENTS:-main}
upd_src=$(find_source "$SUITE-updates" || true)
sec_src=$(find_source "$SUITE-security" || true)
[ -n "$sec_src" ] || sec_src=$(find_source "$SUITE/updates" || true)
log "suite $SUITE from the host's apt sources (components: $COMPONENTS; updates: $([ -n "$upd_src" ] && echo yes || echo no); security: $([ -n "$sec_src" ] && echo yes || echo no))"

# ------------------------------------------------------------ debootstrap
PACKAGES=(systemd systemd-sysv dbus python3 python3-apt python3-debian sudo
          iproute2 iputils-ping procps ca-certificates curl netcat-openbsd
          debian-archive-keyring gnupg less)
# shellcheck disable=SC2206
[ -n "${EXTRA_PACKAGES:-}" ] && PACKAGES+=(${EXTRA_PACKAGES})
include=$(IFS=,; echo "${PACKAGES[*]}")

WORK=$(mktemp -d /var/tmp/gpufleet-rootfs.XXXXXX)
ROOT="$WORK/rootfs"
cleanup() {
  local m
  for m in dev/pts dev proc sys; do
    if mountpoint -q "$ROOT/$m" 2>/dev/null; then umount -l "$ROOT/$m" || true; fi
  done
  rm -rf --one-file-system "$WORK"
}
trap cleanup EXIT

mkdir -p "$ROOT" "$DEBOOTSTRAP_CACHE"
start=$(date +%s)
log "debootstrap $SUITE (minbase + ${#PACKAGES[@]} packages) ..."
comp_csv=$(echo "$COMPONENTS" | tr -s ' ' ',')
if ! debootstrap --variant=minbase --components="$comp_csv" --include="$include" \
     --cache-dir="$DEBOOTSTRAP_CACHE" "$SUITE" "$ROOT" "$MIRROR" >"$WORK/debootstrap.log" 2>&1; then
  tail -n 40 "$WORK/debootstrap.log" >&2
  [ -f "$ROOT/debootstrap/debootstrap.log" ] && tail -n 40 "$ROOT/debootstrap/debootstrap.log" >&2
  die "debootstrap failed"
fi
log "debootstrap done in $(( $(date +%s) - start ))s"

# ------------------------------------------------------------ apt sources
rm -f "$ROOT/etc/apt/sources.list"
{
  printf 'Types: deb\nURIs: %s\nSuites: %s%s\nComponents: %s\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' \
    "$MIRROR" "$SUITE" "$( [ -n "$upd_src" ] && [ "${upd_src%%$'\t'*}" = "$MIRROR" ] && echo " $SUITE-updates")" "$COMPONENTS"
  if [ -n "$upd_src" ] && [ "${upd_src%%$'\t'*}" != "$MIRROR" ]; then
    printf '\nTypes: deb\nURIs: %s\nSuites: %s-updates\nComponents: %s\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' \
      "${upd_src%%$'\t'*}" "$SUITE" "$COMPONENTS"
  fi
  if [ -n "$sec_src" ]; then
    sec_suite="$SUITE-security"
    printf '\nTypes: deb\nURIs: %s\nSuites: %s\nComponents: %s\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' \
      "${sec_src%%$'\t'*}" "$sec_suite" "$COMPONENTS"
  fi
} >"$ROOT/etc/apt/sources.list.d/debian.sources"

# ------------------------------------------------------------ container tweaks
# keep the image small: no docs/man/locales from later installs either
cat >"$ROOT/etc/dpkg/dpkg.cfg.d/01-gpufleet-nodoc" <<'EOF'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/info/*
path-exclude /usr/share/locale/*
path-include /usr/share/locale/locale.alias
EOF
find "$ROOT/usr/share/doc" -mindepth 1 -not -name copyright -not -type d -delete 2>/dev/null || true
rm -rf "$ROOT"/usr/share/man/* "$ROOT"/usr/share/info/* 2>/dev/null || true
find "$ROOT/usr/share/locale" -mindepth 1 -maxdepth 1 -not -name locale.alias -exec rm -rf {} + 2>/dev/null || true

cat >"$ROOT/etc/apt/apt.conf.d/01-gpufleet" <<'EOF'
APT::Install-Recommends "false";
APT::Install-Suggests "false";
Acquire::Languages "none";
EOF

# systemd regenerates these on first boot
: >"$ROOT/etc/machine-id"
rm -f "$ROOT/var/lib/dbus/machine-id"
echo localhost >"$ROOT/etc/hostname"

# Units that cannot work (or only add noise) in an unprivileged container.
MASK=(
  getty@.service serial-getty@.service console-getty.service getty-static.service
)
for u in "${MASK[@]}"; do ln -sf /dev/null "$ROOT/etc/systemd/system/$u"; done
# don't inherit a stale default target
ln -sf /lib/systemd/system/multi-user.target "$ROOT/etc/systemd/system/default.target"

# apt caches / lists out of the image (apt-get update works inside)
rm -rf "$ROOT"/var/lib/apt/lists/* "$ROOT"/var/cache/apt/*.bin \
       "$ROOT"/var/cache/apt/archives/*.deb "$ROOT"/var/cache/apt/archives/partial/* \
       "$ROOT"/var/log/*.log "$ROOT"/var/log/apt/* "$ROOT"/debootstrap "$ROOT"/tmp/* "$ROOT"/var/tmp/*
mkdir -p "$ROOT/var/lib/apt/lists/partial"
# ansible.builtin.apt's cache_valid_time looks at the mtime of
# /var/lib/apt/lists when no update-success-stamp exists: make the (empty)
# cache look ancient so the first `update_cache: true` always really updates.
rm -f "$ROOT/var/lib/apt/periodic/update-success-stamp"
touch -d @0 "$ROOT/var/lib/apt/lists/partial" "$ROOT/var/lib/apt/lists"

# ------------------------------------------------------------ import
log "importing as $IMAGE"
# `docker import --change` on this daemon (20.10) rejects STOPSIGNAL, so it is
# added by a one-line local build on top (legacy builder: the docker 28 client
# has no buildx plugin here; nothing is pulled, the base image is local).
TMP_TAG="gpufleet/debian12-systemd-import:$$"
OLD_ID=$(docker image inspect -f '{{.Id}}' "$IMAGE" 2>/dev/null || true)
tar --numeric-owner --xattrs --one-file-system -C "$ROOT" \
    --exclude='./proc/*' --exclude='./sys/*' --exclude='./dev/*' -c . |
  docker import \
    --change 'ENV container=docker' \
    --change 'ENV LANG=C.UTF-8' \
    --change 'CMD ["/sbin/init"]' \
    - "$TMP_TAG" >/dev/null
mkdir -p "$WORK/ctx"
printf 'FROM %s\nSTOPSIGNAL SIGRTMIN+3\nLABEL org.gpufleet.build-script=%s org.opencontainers.image.title=gpufleet-debian12-systemd\n' \
  "$TMP_TAG" "$SCRIPT_SHA" >"$WORK/ctx/Dockerfile"
if ! DOCKER_BUILDKIT=0 docker build -q -t "$IMAGE" "$WORK/ctx" >/dev/null 2>"$WORK/build.err"; then
  cat "$WORK/build.err" >&2
  docker rmi "$TMP_TAG" >/dev/null 2>&1 || true
  die "docker build failed"
fi
docker rmi "$TMP_TAG" >/dev/null
# drop the image this one replaced (kept if a container still uses it)
NEW_ID=$(docker image inspect -f '{{.Id}}' "$IMAGE")
if [ -n "$OLD_ID" ] && [ "$OLD_ID" != "$NEW_ID" ]; then
  docker rmi "$OLD_ID" >/dev/null 2>&1 || log "note: old image $OLD_ID still in use; not removed"
fi
size=$(docker image inspect -f '{{.Size}}' "$IMAGE")
log "built $IMAGE ($(( size / 1024 / 1024 )) MiB) in $(( $(date +%s) - start ))s"
