#!/bin/sh
# Declarative load benchmark: 1k, 10k and 100k routes (each with its own service and a
# consumer holding a key-auth credential), YAML and JSON. Each size runs 3 times in fresh
# processes; the median run is printed (this VM's timings vary by +-20% between runs).
# Targets (issue #2): 10k routes < 150 ms, 100k < 1.5 s, < 2 KB per route beyond the document.
set -eu
build=${1:-build}
for fmt in yaml json; do
    for n in 1000 10000 100000; do
        for i in 1 2 3; do
            "$build/tollgate-bench-load" "$n" "$fmt"
        done | sort -t= -k5 -n | sed -n 2p | sed 's/^/median of 3: /'
    done
done
