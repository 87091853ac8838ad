#!/bin/sh
# compat-runner.sh's cases run through the daemon (CQ_RUNNER_MODE=daemon: lib.sh's
# it_run_queue), which drives the same delivery engine as --once.
CQ_RUNNER_MODE=daemon
export CQ_RUNNER_MODE
. "${top_srcdir:-$(dirname "$0")/../..}/tests/integration/compat-runner.sh"
