#!/usr/bin/env bash
# Runs every Fuzz target of the module for FUZZTIME (default 5s) each.
# A failing input the fuzzer finds fails the run (the input is written under
# the package's testdata/fuzz). A failure with no input written is shown and
# tried once more with a count (-fuzztime ${RETRY_EXECS}x) instead of a
# duration: Go 1.26's fuzz coordinator can report "context deadline
# exceeded" when a duration limit expires while a worker is mid-input
# (golang/go#75804, fixed in Go 1.27), and a count has no deadline to race.
# A second failure fails the run, so a real hang or crash still does.
set -uo pipefail
fuzztime=${FUZZTIME:-5s}
retry_execs=${RETRY_EXECS:-3000}
go=${GO:-go}
log=$(mktemp)
trap 'rm -f "$log"' EXIT
for pkg in $($go list ./...); do
  for f in $($go test -list '^Fuzz' "$pkg" 2>/dev/null | grep '^Fuzz'); do
    budget=$fuzztime
    for attempt in 1 2; do
      echo "fuzz $pkg $f (attempt $attempt, -fuzztime $budget)"
      if $go test -run '^$' -fuzz "^$f\$" -fuzztime "$budget" "$pkg" >"$log" 2>&1; then
        break
      fi
      tail -n 40 "$log"
      if grep -q 'Failing input written to' "$log" || [ "$attempt" = 2 ]; then
        echo "fuzz $pkg $f: FAILED"
        exit 1
      fi
      echo "fuzz $pkg $f: failed without a failing input; trying once more by count"
      budget=${retry_execs}x
    done
  done
done
echo "fuzz: all targets passed"
