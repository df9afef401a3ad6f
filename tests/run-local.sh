#!/bin/sh
# `make run`: what can run today. The standalone proxy arrives with issue #3 and the control
# plane with issue #5; until then this validates the example configuration with the data
# plane's loader and says so.
set -eu
build=${1:-build}
cfg=examples/kong.yml
echo "== tollgate: validating $cfg with $build/tollgate-dp --check"
"$build/tollgate-dp" --check "$cfg"
cat <<MSG

Started: nothing yet. The data plane's proxy (issue #3) and the control plane's Admin API
(issue #5) are not built; today Tollgate validates Kong declarative files:

    $build/tollgate-dp --check FILE      # errors with their paths, or entity counts + hash
MSG
