#!/usr/bin/env bash
# make bench-converge: what a converge that changes nothing costs on the demo fleet,
# against a bare fact-gathering play on the same hosts (benchmarks/converge_facts.yml).
# The fleet is a private copy of the demo's (inventories/demo, its group_vars, the same
# container options), containers ${BENCH_CONVERGE_PREFIX:-cv-}<host> on a network of its own,
# so `make demo`/`make bench-rollout` can run meanwhile. It is brought up and converged
# first (kept for the next run; BENCH_CONVERGE_DOWN=1 removes it at the end), so the timed
# site.yml is a no-op; the bench fails if that run changes anything. The fact-gathering
# play runs BENCH_FACTS_RUNS times (default 3), site.yml BENCH_SITE_RUNS times (default 1);
# the medians count. Then a no-op full converge (-e gpufleet_converge_fast=false: every stage's
# tasks, the path before the converge stamp), and a drift: a watched file's mode loosened on one
# host must be named, every stage run and the mode repaired; a restarted gateway (which keeps
# no workers) must be named and its workers come back; then the next run is a no-op again.
# Last line: noop_s=... facts_s=... ratio=... full_s=... full_ratio=... drift_s=...
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
PREFIX=${BENCH_CONVERGE_PREFIX:-cv-}
NET=${PREFIX}gpufleet-demo
IMAGE=${GPUFLEET_TEST_IMAGE:-gpufleet/debian12-systemd:latest}
LOG=.cache/bench-converge
INVENTORY=$LOG/inventory
HOSTS=(demo-a1 demo-a2 demo-b1 demo-b2 demo-router)
mkdir -p "$LOG"

# The demo inventory, each host reached in its own container.
rm -rf "$INVENTORY" && mkdir -p "$INVENTORY" && cp -r inventories/demo/group_vars "$INVENTORY/"
python3 - "$PREFIX" inventories/demo/hosts.yml "$INVENTORY/hosts.yml" <<'PY'
import sys, yaml
prefix, src, dest = sys.argv[1:]
inv = yaml.safe_load(open(src))
def walk(group):
    for name, hv in list((group.get("hosts") or {}).items()):
        group["hosts"][name] = dict(hv or {}, ansible_host=prefix + name)
    for child in (group.get("children") or {}).values():
        walk(child or {})
walk(inv["all"])
yaml.safe_dump(inv, open(dest, "w"), default_flow_style=False)
PY
EXTRA=(-e "sglang_server_emulator_checkout=$ROOT")

docker network inspect "$NET" >/dev/null 2>&1 || docker network create "$NET" >/dev/null
for h in "${HOSTS[@]}"; do
  c=$PREFIX$h
  if [ "$(docker inspect -f '{{.State.Running}}' "$c" 2>/dev/null)" != "true" ]; then
    docker rm -f "$c" >/dev/null 2>&1 || true
    # tools/demo.sh's options: systemd as PID 1 without --privileged.
    docker run -d --name "$c" --hostname "$h" --network "$NET" \
      --cap-add SYS_ADMIN --security-opt seccomp=unconfined --cgroupns=host \
      -v /sys/fs/cgroup:/sys/fs/cgroup:rw --tmpfs /run --tmpfs /run/lock "$IMAGE" /sbin/init >/dev/null
  fi
done
for h in "${HOSTS[@]}"; do
  for _ in $(seq 1 60); do
    case "$(docker exec "$PREFIX$h" systemctl is-system-running 2>/dev/null || true)" in running|degraded) break ;; esac
    sleep 1
  done
done

timed() {  # timed NAME PLAYBOOK [ARGS...]: runs it, prints the seconds
  local start end name=$1 playbook=$2
  shift 2
  start=$(date +%s.%N)
  ansible-playbook "$playbook" -i "$INVENTORY" "${EXTRA[@]}" "$@" > "$LOG/$name.log" 2>&1 \
    || { tail -40 "$LOG/$name.log" >&2; echo "bench-converge: $playbook failed (see $LOG/$name.log)" >&2; return 1; }
  end=$(date +%s.%N)
  python3 -c "print('%.2f' % ($end - $start))"
}
median() { python3 -c 'import statistics, sys; print("%.2f" % statistics.median(float(x) for x in sys.argv[1:]))' "$@"; }

echo "bench-converge: converging the fleet first (site.yml)"
up_s=$(timed up site.yml)
facts=()
for i in $(seq 1 "${BENCH_FACTS_RUNS:-3}"); do facts+=("$(timed "facts-$i" benchmarks/converge_facts.yml)"); done
changed_in() { sed -n '/PLAY RECAP/,$p' "$LOG/$1.log" | grep -o 'changed=[0-9]*' | cut -d= -f2 | paste -sd+ | bc; }
noop_check() {  # noop_check NAME: the run changed nothing
  local changed
  changed=$(changed_in "$1")
  if [ "$changed" != "0" ]; then
    echo "bench-converge: the converge after the first one changed $changed thing(s): not a no-op (see $LOG/$1.log)" >&2
    exit 1
  fi
}
site=()
for i in $(seq 1 "${BENCH_SITE_RUNS:-1}"); do
  site+=("$(timed "noop-$i" site.yml)")
  noop_check "noop-$i"
  tr -s ' \n' ' ' < "$LOG/noop-$i.log" | grep -q 'Nothing changed since the last full converge' \
    || { echo "bench-converge: the no-op did not take the fast path (see $LOG/noop-$i.log)" >&2; exit 1; }
done
full_s=$(timed full site.yml -e gpufleet_converge_fast=false)
noop_check full
# Drift: a watched file's mode on one host.
DRIFT_HOST=demo-a2
DRIFT_FILE=/etc/sglang/demo_a.env
docker exec "$PREFIX$DRIFT_HOST" chmod 0644 "$DRIFT_FILE"
drift_s=$(timed drift site.yml)
tr -s ' \n' ' ' < "$LOG/drift.log" | grep -q "Full converge: $DRIFT_HOST: file $DRIFT_FILE changed (0644" \
  || { echo "bench-converge: the drift on $DRIFT_HOST was not named (see $LOG/drift.log)" >&2; exit 1; }
[ "$(docker exec "$PREFIX$DRIFT_HOST" stat -c %a "$DRIFT_FILE")" = 600 ] \
  || { echo "bench-converge: $DRIFT_FILE on $DRIFT_HOST was not repaired (see $LOG/drift.log)" >&2; exit 1; }
if [ "${BENCH_CONVERGE_DOWN:-0}" = 1 ]; then
  for h in "${HOSTS[@]}"; do docker rm -f "$PREFIX$h" >/dev/null 2>&1 || true; done
  docker network rm "$NET" >/dev/null 2>&1 || true
fi
# A restarted gateway keeps none of the workers the rollout registered: its unit's start time
# differs from the stamp's, so site.yml converges fully and the workers are back.
docker exec "${PREFIX}demo-router" systemctl restart sglang-router
restart_s=$(timed restart site.yml)
tr -s ' \n' ' ' < "$LOG/restart.log" | grep -q "unit sglang-router.service restarted since the last full converge" \
  || { echo "bench-converge: the gateway's restart was not named (see $LOG/restart.log)" >&2; exit 1; }
workers=$(docker exec "${PREFIX}demo-router" python3 -c \
  'import json, urllib.request; print(len(json.load(urllib.request.urlopen("http://127.0.0.1:30000/workers"))["workers"]))')
[ "$workers" = 2 ] || { echo "bench-converge: the gateway lists $workers worker(s) after the converge, not 2" >&2; exit 1; }
again_s=$(timed again site.yml)
tr -s ' \n' ' ' < "$LOG/again.log" | grep -q 'Nothing changed since the last full converge' \
  || { echo "bench-converge: the run after the repairs did not take the fast path (see $LOG/again.log)" >&2; exit 1; }
facts_s=$(median "${facts[@]}")
noop_s=$(median "${site[@]}")
echo "first converge (site.yml)     : $up_s s"
echo "fact-gathering play (5 hosts) : ${facts[*]} s, median $facts_s s"
echo "no-op site.yml (5 hosts)      : ${site[*]} s, median $noop_s s (changed=0)"
echo "no-op full converge            : $full_s s (-e gpufleet_converge_fast=false)"
echo "drift repaired (site.yml)     : $drift_s s ($DRIFT_FILE on $DRIFT_HOST)"
echo "gateway restart repaired      : $restart_s s (2 workers again); then a no-op: $again_s s"
echo "noop_s=$noop_s facts_s=$facts_s ratio=$(python3 -c "print('%.2f' % ($noop_s / $facts_s))")" \
  "full_s=$full_s full_ratio=$(python3 -c "print('%.2f' % ($full_s / $facts_s))") drift_s=$drift_s"
