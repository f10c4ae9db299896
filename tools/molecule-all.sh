#!/usr/bin/env bash
# Run every molecule scenario, in two lanes: the scenarios on the shared base
# network (gpufleet-test: default, fleet) one after another in lane 1, the
# scenarios with their own network and host names spread over both lanes. Each scenario's
# output goes to .cache/molecule/<scenario>.log; a failing scenario's tail is
# printed. Exits non-zero if any scenario failed.
#   tools/molecule-all.sh [scenario ...]     (default: every molecule/*/)
set -uo pipefail
cd "$(dirname "$0")/.." || exit 2
mkdir -p .cache/molecule
results=.cache/molecule/results
: >"$results"

scenarios=("$@")
if [ ${#scenarios[@]} -eq 0 ]; then
  for f in molecule/*/molecule.yml; do scenarios+=("$(basename "$(dirname "$f")")"); done
fi
# Scenarios on the shared base network must not overlap: all in lane 1. The
# others (own network and host names) alternate, lane 2 first, to balance.
lane1=() lane2=() turn=2
for s in "${scenarios[@]}"; do
  if ! grep -q 'gpufleet-test-' "molecule/$s/molecule.yml"; then
    lane1+=("$s")
  elif [ $turn -eq 2 ]; then
    lane2+=("$s"); turn=1
  else
    lane1+=("$s"); turn=2
  fi
done

run_lane() {
  local failed=0 s start
  for s in "$@"; do
    start=$SECONDS
    if molecule test -s "$s" >".cache/molecule/$s.log" 2>&1; then
      echo "molecule $s: passed ($((SECONDS - start)) s)"
      echo "pass $s" >>"$results"
    else
      echo "molecule $s: FAILED ($((SECONDS - start)) s), last lines of .cache/molecule/$s.log:"
      sed 's/\x1b\[[0-9;]*m//g' ".cache/molecule/$s.log" | tail -60
      echo "fail $s" >>"$results"
      failed=1
    fi
  done
  return $failed
}

run_lane "${lane1[@]}" & pid1=$!
run_lane "${lane2[@]}" & pid2=$!
rc=0
wait $pid1 || rc=1
wait $pid2 || rc=1
# One closing line in the plain "N passed, N failed" form.
echo "molecule: $(grep -c '^pass ' "$results") passed, $(grep -c '^fail ' "$results") failed"
exit $rc
