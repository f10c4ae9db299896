#!/usr/bin/env bash
# The local demo fleet: 2 model groups x 2 nodes (engine emulator) + a router
# host (the real Shepherd Model Gateway, smg), as systemd containers on the
# Docker network gpufleet-demo.
#   tools/demo.sh up      create the containers (idempotent) and run site.yml
#   tools/demo.sh run     up, a chat completion through the router, a rolling
#                         restart under load, a status table and the figures
#   tools/demo.sh bench   up, then the rollout under load; prints the figures, each
#                         batch's out-of-service window against the engine's start-to-
#                         ready time and the serving capacity minimum (holds
#                         /tmp/gpufleet-demo.lock while it runs)
#   tools/demo.sh benchmark  up, then playbooks/benchmark.yml against the gateway (the table
#                         `run` ends with)
#   tools/demo.sh down    remove the containers and the network
# Expects the Makefile's environment (venv on PATH, ANSIBLE_COLLECTIONS_PATH,
# GPUFLEET_ROUTER_WHEELS): run it through `make demo`, `make bench-rollout`,
# `make demo-down`.
set -euo pipefail
cd "$(dirname "$0")/.."

NET=gpufleet-demo
IMAGE=${GPUFLEET_TEST_IMAGE:-gpufleet/debian12-systemd:latest}
INVENTORY=inventories/demo
HOSTS=(demo-a1 demo-a2 demo-b1 demo-b2 demo-router)

up() {
  docker network inspect "$NET" >/dev/null 2>&1 || docker network create "$NET" >/dev/null
  for h in "${HOSTS[@]}"; do
    if [ "$(docker inspect -f '{{.State.Running}}' "$h" 2>/dev/null)" != "true" ]; then
      docker rm -f "$h" >/dev/null 2>&1 || true
      # Same options as the molecule base config: systemd as PID 1 without --privileged.
      docker run -d --name "$h" --hostname "$h" --network "$NET" \
        --cap-add SYS_ADMIN --security-opt seccomp=unconfined --cgroupns=host \
        -v /sys/fs/cgroup:/sys/fs/cgroup:rw --tmpfs /run --tmpfs /run/lock \
        "$IMAGE" /sbin/init >/dev/null
      echo "demo: started container $h"
    fi
  done
  for h in "${HOSTS[@]}"; do
    for _ in $(seq 1 60); do
      state=$(docker exec "$h" systemctl is-system-running 2>/dev/null || true)
      case "$state" in running|degraded) break ;; esac
      sleep 1
    done
  done
  ansible-playbook site.yml -i "$INVENTORY"
}

chat() {
  echo "demo: a chat completion through the router"
  docker exec demo-router curl -sS --max-time 30 http://127.0.0.1:30000/v1/chat/completions \
    -H 'Content-Type: application/json' \
    -d '{"model": "deepseek-r1", "messages": [{"role": "user", "content": "Hello from gpufleet"}], "max_tokens": 16}'
  echo
}

rollout() {
  local version=${DEMO_VERSION:-0.5.23-demo.$(date +%s)}
  ansible-playbook tests/playbooks/rollout_under_load.yml -i "$INVENTORY" -e "rollout_new_version=$version" \
    | tee .cache/demo-rollout.log
  grep -E '^ *(batch .*(out of service|surge)|serving capacity|rollout:|estimated duration:)' .cache/demo-rollout.log \
    | sed 's/^ *//' || true
  grep -o 'groups=[0-9]* requests=.*' .cache/demo-rollout.log | tail -1 | sed 's/\\n.*//' || true
}

status() {
  echo
  printf '%-10s %-11s %-6s %-26s %-8s %s\n' GROUP HOST RANK UNIT STATE VERSION
  for h in demo-a1 demo-a2 demo-b1 demo-b2; do
    group=demo_${h:5:1}
    state=$(docker exec "$h" systemctl is-active "sglang-$group" 2>/dev/null || true)
    version=$(docker exec "$h" cat /opt/sglang-emulator/VERSION 2>/dev/null || echo '?')
    rank=$(( ${h: -1} - 1 ))
    printf '%-10s %-11s %-6s %-26s %-8s %s\n' "$group" "$h" "$rank" "sglang-$group.service" "$state" "$version"
  done
  echo
  echo "gateway (smg) workers:"
  docker exec demo-router curl -sS http://127.0.0.1:30000/workers \
    | python3 -c 'import json,sys; [print("  %s status=%s healthy=%s load=%s" % (w["url"], w.get("status"), w.get("is_healthy"), w.get("load"))) for w in json.load(sys.stdin)["workers"]]'
}

# The serving benchmark (playbooks/benchmark.yml: SGLang's own bench_serving, from .venv-sglang) against the
# gateway, from this machine. The emulator generates one token every SGLANG_EMULATOR_TOKEN_DELAY s (0.02) and the
# tokenizer is a word-level test tokenizer (tools/bench_tokenizer.py): emulator figures, not a model's.
benchmark() {
  local ip
  ip=$(docker inspect -f "{{ (index .NetworkSettings.Networks \"$NET\").IPAddress }}" demo-router)
  .venv-sglang/bin/python tools/bench_tokenizer.py .cache/bench-tokenizer >/dev/null
  ansible-playbook playbooks/benchmark.yml -i "$INVENTORY" -e "benchmark_url=http://$ip:30000" \
    -e benchmark_model=deepseek-r1 -e "benchmark_tokenizer=$PWD/.cache/bench-tokenizer" \
    -e benchmark_report_dir="$PWD/.cache/demo-benchmark" \
    -e '{"benchmark_input_lens": [128], "benchmark_output_lens": [64], "benchmark_prompts_per_concurrency": 2,
         "benchmark_label": "demo fleet (emulator)"}' \
    >.cache/demo-benchmark.log || { tail -40 .cache/demo-benchmark.log; return 1; }
  echo
  echo "demo: serving benchmark through the gateway (.cache/demo-benchmark/sglang-bench.{json,md,png})"
  cat .cache/demo-benchmark/sglang-bench.md
}

down() {
  for h in "${HOSTS[@]}"; do
    if docker rm -f "$h" >/dev/null 2>&1; then echo "demo: removed $h"; fi
  done
  docker network rm "$NET" >/dev/null 2>&1 || true
}

mkdir -p .cache
case "${1:-run}" in
  up) up ;;
  run) up; chat; rollout; status; benchmark ;;
  benchmark) up; benchmark ;;
  # One user of the demo fleet at a time (other benchmarks run site.yml on it too).
  bench) exec 9>/tmp/gpufleet-demo.lock; flock 9; up; rollout ;;
  down) down ;;
  *) echo "usage: $0 up|run|bench|benchmark|down" >&2; exit 2 ;;
esac
