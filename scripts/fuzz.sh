#!/usr/bin/env bash
# Runs every Fuzz target of the module for FUZZTIME (default 5s) each.
# A failing input the fuzzer finds fails the run (the input is written under
# the package's testdata/fuzz). A failure with no input written — the fuzz
# coordinator losing a worker, say — is shown and tried once more, so a
# glitch of the machine is told apart from a bug.
set -uo pipefail
fuzztime=${FUZZTIME:-5s}
go=${GO:-go}
log=$(mktemp)
trap 'rm -f "$log"' EXIT
for pkg in $($go list ./...); do
  for f in $($go test -list '^Fuzz' "$pkg" 2>/dev/null | grep '^Fuzz'); do
    for attempt in 1 2; do
      echo "fuzz $pkg $f (attempt $attempt)"
      if $go test -run '^$' -fuzz "^$f\$" -fuzztime "$fuzztime" "$pkg" >"$log" 2>&1; then
        break
      fi
      tail -n 40 "$log"
      if grep -q 'Failing input written to' "$log" || [ "$attempt" = 2 ]; then
        echo "fuzz $pkg $f: FAILED"
        exit 1
      fi
      echo "fuzz $pkg $f: failed without a failing input; trying once more"
    done
  done
done
echo "fuzz: all targets passed"
