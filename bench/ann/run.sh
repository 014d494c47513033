#!/usr/bin/env bash
# bench/ann: approximate nearest-neighbour search, Fundus (HNSW on usearch:
# f32, float16, int8 and binary graphs, the quantized ones rescored against
# the floats) vs hnswlib vs faiss IndexHNSWFlat, same M, ef_construction and
# ef sweep, queries on one thread, in one run. Also the exact scans over
# codes (QuantizedFlatIndex: f32 / f16 / int8 / binary / PQ) for the
# memory-versus-recall table. Prints tables and ratios, writes
# bench/ann/last-run.json and bench/ann/recall-qps-DATASET.svg.
#
#   bench/ann/run.sh real     # all-MiniLM-L6-v2 vectors of ../shared/data (+ SciFact chunks)
#   bench/ann/run.sh synth    # 1,000,000 clustered 384-d vectors
#   bench/ann/run.sh all      # both, real first
#
# Environment (defaults in brackets):
#   EF [16,32,64,128,256,512]   ef_search sweep        M [16]
#   EFC [128 real, 64 synth]    ef_construction, the same for every engine
#   REPEAT [3]                  timed passes per ef (best counts)
#   VARIANTS ["f32 f16 int8 binary binary2" real, "f32 int8 binary" synth]
#                               (binary2: two bits per dimension)
#   FLAT ["f32 f16 int8 binary binary2 pq" real, "" synth]   exact scans over codes
#   PEERS ["hnswlib faiss"]
#   PORTABLE [0]                also build Fundus without usearch's numkong SIMD
#                               kernels (--no-default-features) into
#                               $PORTABLE_TARGET_DIR [$CARGO_TARGET_DIR/portable]
#                               and measure it ("-portable" engines)
#   PORTABLE_VARIANTS [f32 f16 int8 binary]  graphs measured with that build
#   BINARY_OVERSAMPLING [default,16,32]  rescored runs of the binary (and
#                               binary2) graph and flat scan (default = the
#                               quantization's, 4)
#   FILTER_EVERY [10 real, "" synth]  also search the graphs of FILTER_VARIANTS
#                               among every N-th row only (a filter of
#                               selectivity 1/N inside the traversal),
#                               recall against the exact filtered top-10
#   FILTER_VARIANTS [f32 int8]
#   LIMIT_S [7200]              time box per engine process (timeout)
#   SHARED [../shared/data]     data sets for the real embeddings
#
# Builds use all cores for every engine (RAYON_NUM_THREADS / num_threads /
# omp threads = nproc); queries run single-threaded. Data (embeddings,
# synthetic vectors, exact top-10) is made once and kept in bench/ann/data
# (gitignored); delete a folder there to remake it.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"
WHAT="${1:-all}"
EF="${EF:-16,32,64,128,256,512}"
M="${M:-16}"
REPEAT="${REPEAT:-3}"
PEERS="${PEERS:-hnswlib faiss}"
PORTABLE="${PORTABLE:-0}"
PORTABLE_VARIANTS="${PORTABLE_VARIANTS:-f32 f16 int8 binary}"
LIMIT_S="${LIMIT_S:-7200}"
BINARY_OVERSAMPLING="${BINARY_OVERSAMPLING:-default,16,32}"
FILTER_VARIANTS="${FILTER_VARIANTS:-f32 int8}"
SHARED="${SHARED:-$ROOT/../shared/data}"
THREADS="$(nproc)"
TARGET="${CARGO_TARGET_DIR:-$ROOT/target}"
PORTABLE_TARGET="${PORTABLE_TARGET_DIR:-$TARGET/portable}"
DATA="$ROOT/bench/ann/data"
OUT="$DATA/results"
mkdir -p "$OUT"

bash scripts/setup-peers.sh >/dev/null
PY="$ROOT/bench/.venv/bin/python"

echo "building ann_bench ..." >&2
cargo build --release -p fundus-index --example ann_bench -q
BENCH="$TARGET/release/examples/ann_bench"
BENCH_PORTABLE=""
if [ "$PORTABLE" = 1 ]; then
  echo "building ann_bench without numkong into $PORTABLE_TARGET ..." >&2
  CARGO_TARGET_DIR="$PORTABLE_TARGET" cargo build --release -p fundus-index --example ann_bench \
    --no-default-features -q
  BENCH_PORTABLE="$PORTABLE_TARGET/release/examples/ann_bench"
fi

prepare_real() {
  local dir="$DATA/real"
  if [ ! -f "$dir/base.npy" ] || [ ! -f "$dir/queries.npy" ]; then
    echo "embedding every text of $SHARED (once; ~15-25 min on 2 cores) ..." >&2
    cargo build --release -p fundus-models --example embed_ann_data -q
    "$TARGET/release/examples/embed_ann_data" all-minilm-l6-v2 "$SHARED" "$dir" >&2
  fi
  [ -f "$dir/gt.npy" ] || "$PY" bench/ann/prepare.py truth "$dir"
}

prepare_synth() {
  local dir="$DATA/synth"
  [ -f "$dir/base.npy" ] || "$PY" bench/ann/prepare.py synth "$dir"
  [ -f "$dir/gt.npy" ] || "$PY" bench/ann/prepare.py truth "$dir"
}

# run NAME LOG CMD...: one engine in its own process, time-boxed; a timeout
# or failure is reported and the run goes on.
run() {
  local name="$1" log="$2"
  shift 2
  echo "== $name" >&2
  local t0=$SECONDS
  if ! timeout "$LIMIT_S" "$@" >>"$log"; then
    echo "!! $name failed or hit the ${LIMIT_S}s time box" >&2
  fi
  echo "   $name: $((SECONDS - t0)) s" >&2
}

bench() {
  local set="$1" efc="$2" variants="$3" flat="$4" filter_every="$5"
  local dir="$DATA/$set" log="$OUT/$set.jsonl"
  : >"$log"
  local common=(--data "$dir" --dataset "$set" --m "$M" --ef-construct "$efc" --ef "$EF" --repeat "$REPEAT"
    --scratch "$DATA/tmp")
  # Each graph variant with and without numkong back to back, and the peers
  # right after the f32 graphs, so the comparisons that matter most are
  # measured close together in time on a shared machine.
  local first=1 v
  os() { case "$1" in binary | binary2) echo --oversampling "$BINARY_OVERSAMPLING" ;; esac; }
  for v in $variants; do
    run "fundus $v" "$log" env RAYON_NUM_THREADS="$THREADS" "$BENCH" "${common[@]}" --variant "$v" $(os "$v")
    if [ "$v" = f32 ]; then
      # The native engine (what HnswIndex runs f32 graphs on); the line
      # above is f32 on usearch, for reference.
      run "fundus f32 (native)" "$log" env RAYON_NUM_THREADS="$THREADS" "$BENCH" "${common[@]}" --variant f32 --engine native --no-raw
    fi
    if [ -n "$BENCH_PORTABLE" ] && [[ " $PORTABLE_VARIANTS " == *" $v "* ]]; then
      run "fundus $v (portable)" "$log" env RAYON_NUM_THREADS="$THREADS" "$BENCH_PORTABLE" "${common[@]}" --variant "$v" $(os "$v")
    fi
    if [ "$first" = 1 ]; then
      for p in $PEERS; do
        run "$p" "$log" "$PY" bench/ann/peers.py --engine "$p" --build-threads "$THREADS" "${common[@]}"
      done
      first=0
    fi
  done
  if [ -n "$BENCH_PORTABLE" ]; then
    for v in $PORTABLE_VARIANTS; do
      [[ " $variants " == *" $v "* ]] && continue
      run "fundus $v (portable)" "$log" env RAYON_NUM_THREADS="$THREADS" "$BENCH_PORTABLE" "${common[@]}" --variant "$v" $(os "$v")
    done
  fi
  if [ -n "$filter_every" ]; then
    for v in $FILTER_VARIANTS; do
      run "fundus $v, 1 row in $filter_every allowed" "$log" env RAYON_NUM_THREADS="$THREADS" "$BENCH" \
        "${common[@]}" --variant "$v" --no-raw --filter-every "$filter_every"
      if [ "$v" = f32 ]; then
        run "fundus f32 (native), 1 row in $filter_every allowed" "$log" env RAYON_NUM_THREADS="$THREADS" "$BENCH" \
          "${common[@]}" --variant f32 --engine native --no-raw --filter-every "$filter_every"
      fi
    done
  fi
  for q in $flat; do
    run "fundus flat $q" "$log" "$BENCH" --data "$dir" --dataset "$set" --repeat 1 --variant "flat-$q" $(os "$q")
  done
}

logs=()
if [ "$WHAT" = real ] || [ "$WHAT" = all ]; then
  prepare_real
  bench real "${EFC:-128}" "${VARIANTS:-f32 f16 int8 binary binary2}" "${FLAT-f32 f16 int8 binary binary2 pq}" "${FILTER_EVERY-10}"
  logs+=("$OUT/real.jsonl")
fi
if [ "$WHAT" = synth ] || [ "$WHAT" = all ]; then
  prepare_synth
  bench synth "${EFC:-64}" "${VARIANTS:-f32 int8 binary}" "${FLAT-}" "${FILTER_EVERY-}"
  logs+=("$OUT/synth.jsonl")
fi
[ "${#logs[@]}" -gt 0 ] || { echo "usage: bench/ann/run.sh real|synth|all" >&2; exit 2; }

"$PY" bench/ann/report.py --out bench/ann/last-run.json --svg-dir bench/ann "${logs[@]}"
