#!/usr/bin/env bash
# bench/embed: Fundus vs sentence-transformers (torch, CPU) vs onnxruntime on
# the SciFact corpus, same model (all-MiniLM-L6-v2), same max_seq_length
# (256), batch size and thread count, in one run. Prints the ratios and
# writes bench/embed/last-run.json.
#
#   bench/embed/run.sh [LIMIT]      # LIMIT: first N documents (default: all 5183)
#
# Needs ../shared/data/scifact (or SCIFACT=dir) and sets up bench/.venv with
# scripts/setup-peers.sh on first use.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"
LIMIT="${1:-}"
CORPUS="${SCIFACT:-$ROOT/../shared/data/scifact}/corpus.jsonl"
THREADS="${THREADS:-$(nproc)}"
BATCH="${BATCH:-32}"
WORK="$ROOT/target/bench-embed"
mkdir -p "$WORK"

cargo build --release --bin fundus -p fundus-cli -q
cargo build --release -p fundus-models --example embed_corpus -q
MODEL="$(target/release/fundus models pull all-minilm-l6-v2 --quiet | awk '{print $2}')"
bash scripts/setup-peers.sh
PY="$ROOT/bench/.venv/bin/python"
[ -f "$WORK/minilm.onnx" ] || "$PY" bench/embed/export_onnx.py --model "$MODEL" --out "$WORK/minilm.onnx"

limit_args=()
[ -n "$LIMIT" ] && limit_args=(--limit "$LIMIT")

echo "fundus ..." >&2
RAYON_NUM_THREADS="$THREADS" target/release/examples/embed_corpus "$MODEL" "$CORPUS" \
  "${limit_args[@]}" --batch-size "$BATCH" --dump "$WORK/fundus.f32" > "$WORK/fundus.json"
echo "peers ..." >&2
"$PY" bench/embed/peers.py --model "$MODEL" --onnx "$WORK/minilm.onnx" --corpus "$CORPUS" \
  "${limit_args[@]}" --batch-size "$BATCH" --max-seq-length 256 --threads "$THREADS" \
  --dump-embeddings "$WORK/peers.npy" --out "$WORK/peers.json"

"$PY" - "$WORK" <<'PY'
import json, sys, numpy as np
work = sys.argv[1]
f = json.load(open(f"{work}/fundus.json"))
p = json.load(open(f"{work}/peers.json"))
st, ort = p["sentence_transformers"], p["onnxruntime"]
ours = np.fromfile(f"{work}/fundus.f32", dtype="<f4").reshape(f["n_docs"], -1)
ref = np.load(f"{work}/peers.npy")[0]
cos = (ours * ref).sum(1) / np.linalg.norm(ours, axis=1) / np.linalg.norm(ref, axis=1)
out = {
    "n_docs": f["n_docs"], "threads": f["threads"], "batch_size": f["batch_size"],
    "max_seq_length": f["max_seq_length"],
    "fundus_docs_per_s": f["docs_per_s"],
    "sentence_transformers_docs_per_s": st["docs_per_s"],
    "onnxruntime_docs_per_s": ort["docs_per_s"],
    "ratio_vs_sentence_transformers": f["docs_per_s"] / st["docs_per_s"],
    "ratio_vs_onnxruntime": f["docs_per_s"] / ort["docs_per_s"],
    "min_cosine_vs_sentence_transformers": float(cos.min()),
}
json.dump(out, open(f"{work}/../../bench/embed/last-run.json", "w"), indent=2)
print(f"{'engine':<24}{'docs/s':>10}{'ratio':>10}")
print(f"{'fundus':<24}{f['docs_per_s']:>10.1f}{1.0:>10.2f}")
print(f"{'sentence-transformers':<24}{st['docs_per_s']:>10.1f}{f['docs_per_s']/st['docs_per_s']:>10.2f}x")
print(f"{'onnxruntime':<24}{ort['docs_per_s']:>10.1f}{f['docs_per_s']/ort['docs_per_s']:>10.2f}x")
print(f"{f['n_docs']} docs, batch {f['batch_size']}, max_seq_length {f['max_seq_length']}, "
      f"{f['threads']} threads; min cosine fundus vs sentence-transformers {cos.min():.6f}")
PY
