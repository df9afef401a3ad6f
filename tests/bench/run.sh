#!/bin/sh
# Declarative load benchmark: 1k, 10k and 100k routes, YAML and JSON, one process each.
# Targets (issue #2): 10k routes < 150 ms, 100k < 1.5 s, < 2 KB per route beyond the document.
set -eu
build=${1:-build}
for fmt in yaml json; do
    for n in 1000 10000 100000; do
        "$build/tollgate-bench-load" "$n" "$fmt"
    done
done
