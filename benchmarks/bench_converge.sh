#!/usr/bin/env bash
# make bench-converge: what a converge that changes nothing costs on the demo fleet,
# against a bare fact-gathering play on the same hosts (benchmarks/converge_facts.yml).
# Brings the demo fleet up and converges it first (tools/demo.sh up), so the timed
# site.yml is a no-op; it fails if that run changes anything. The fact-gathering play
# runs BENCH_FACTS_RUNS times (default 3, the median counts), site.yml BENCH_SITE_RUNS
# times (default 1, the median counts). Last line: noop_s=... facts_s=... ratio=...
set -euo pipefail
cd "$(dirname "$0")/.."
INVENTORY=inventories/demo
LOG=.cache/bench-converge
mkdir -p "$LOG"

tools/demo.sh up > "$LOG/up.log" 2>&1 || { tail -40 "$LOG/up.log"; echo "bench-converge: tools/demo.sh up failed" >&2; exit 1; }

timed() {  # timed NAME PLAYBOOK: runs it, prints the seconds
  local start end
  start=$(date +%s.%N)
  ansible-playbook "$2" -i "$INVENTORY" > "$LOG/$1.log" 2>&1 || { tail -40 "$LOG/$1.log" >&2; echo "bench-converge: $2 failed" >&2; return 1; }
  end=$(date +%s.%N)
  python3 -c "print('%.2f' % ($end - $start))"
}

median() { python3 -c 'import statistics, sys; print("%.2f" % statistics.median(float(x) for x in sys.argv[1:]))' "$@"; }

facts=()
for i in $(seq 1 "${BENCH_FACTS_RUNS:-3}"); do facts+=("$(timed "facts-$i" benchmarks/converge_facts.yml)"); done
site=()
for i in $(seq 1 "${BENCH_SITE_RUNS:-1}"); do
  site+=("$(timed "noop-$i" site.yml)")
  changed=$(sed -n '/PLAY RECAP/,$p' "$LOG/noop-$i.log" | grep -o 'changed=[0-9]*' | cut -d= -f2 | paste -sd+ | bc)
  if [ "$changed" != "0" ]; then
    echo "bench-converge: the converge after 'up' changed $changed thing(s): not a no-op (see $LOG/noop-$i.log)" >&2
    exit 1
  fi
done
facts_s=$(median "${facts[@]}")
noop_s=$(median "${site[@]}")
echo "fact-gathering play (5 hosts): ${facts[*]} s, median $facts_s s"
echo "no-op site.yml (5 hosts)     : ${site[*]} s, median $noop_s s (changed=0)"
echo "noop_s=$noop_s facts_s=$facts_s ratio=$(python3 -c "print('%.2f' % ($noop_s / $facts_s))")"
