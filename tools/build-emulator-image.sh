#!/usr/bin/env bash
# Package the SGLang engine emulator (a test/demo double, not an engine) as a
# container image, built locally from the test base image (no registry), and
# write it as a `docker save` archive that `docker load` / `podman load` read.
# Inside the image the emulator IS `python3 -m sglang.launch_server` (module
# sglang.launch_server, with its flag catalog next to it), so the container
# runtime's production argv runs it unchanged.
#   tools/build-emulator-image.sh OUT.tar
# Env:
#   BASE_IMAGE  (default ${GPUFLEET_TEST_IMAGE:-gpufleet/debian12-systemd:latest}; needs python3)
#   IMAGE       (default gpufleet/sglang-emulator:test)
#   VERSION     the SGLang version the emulator reports (default: the catalog's);
#               baked into the image (sglang/VERSION, which the emulator reads, and
#               the OCI version label), so another VERSION gives another digest: the
#               `container` scenario rolls such a second image through its groups.
# Loading the same archive gives the same image digest on every host (the
# molecule `container` scenario checks this and pins the group by digest).
set -euo pipefail
out="${1:?usage: $0 OUT.tar}"
root="$(cd "$(dirname "$0")/.." && pwd)"
BASE_IMAGE="${BASE_IMAGE:-${GPUFLEET_TEST_IMAGE:-gpufleet/debian12-systemd:latest}}"
IMAGE="${IMAGE:-gpufleet/sglang-emulator:test}"
VERSION="${VERSION:-}"
case "$VERSION" in
  *[!A-Za-z0-9._+-]*) echo "build-emulator-image: VERSION '$VERSION' has characters other than A-Za-z0-9._+-" >&2; exit 2 ;;
esac
ctx="$(mktemp -d)"
trap 'rm -rf "$ctx"' EXIT
mkdir -p "$ctx/sglang"
: >"$ctx/sglang/__init__.py"
cp "$root/tools/doubles/sglang_emulator.py" "$ctx/sglang/launch_server.py"
cp "$root/plugins/module_utils/sglang_catalog.py" "$ctx/sglang/sglang_catalog.py"
label=""
if [ -n "$VERSION" ]; then
  printf '%s\n' "$VERSION" >"$ctx/sglang/VERSION"
  label="LABEL org.opencontainers.image.version=\"$VERSION\""
fi
cat >"$ctx/Dockerfile" <<DOCKERFILE
FROM $BASE_IMAGE
COPY sglang /usr/lib/python3/dist-packages/sglang
# The systemd base image stops with SIGRTMIN+3; SGLang's image keeps docker's default
# SIGTERM, the signal SGLang drains on.
STOPSIGNAL SIGTERM
$label
CMD ["python3", "-m", "sglang.launch_server", "--help"]
DOCKERFILE
docker build -q -t "$IMAGE" "$ctx" >/dev/null
got="$(docker run --rm --entrypoint python3 "$IMAGE" -c \
  'import sglang.launch_server as m; print(m._installed_version() or "")')" \
  || { echo "build-emulator-image: the image cannot import sglang.launch_server" >&2; exit 1; }
[ "$got" = "$VERSION" ] \
  || { echo "build-emulator-image: the image reports version '$got', expected '$VERSION'" >&2; exit 1; }
docker save -o "$out.tmp" "$IMAGE"
mv "$out.tmp" "$out"
echo "$out"
