#!/usr/bin/env bash
# bench/embed: Fundus (f32, and the int8 variant all-minilm-l6-v2-int8) vs
# sentence-transformers (torch, CPU) vs onnxruntime (f32) on the SciFact
# corpus, same model (all-MiniLM-L6-v2), same max_seq_length (256), batch
# size and thread count, in one run. Prints the ratios and writes
# bench/embed/last-run.json.
#
#   bench/embed/run.sh [LIMIT]      # LIMIT: first N documents (default: all 5183)
#   ENGINES=onnxruntime bench/embed/run.sh 1000   # skip sentence-transformers
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
BIN="${CARGO_TARGET_DIR:-$ROOT/target}/release"
WORK="$ROOT/target/bench-embed"
mkdir -p "$WORK"

cargo build --release --bin fundus -p fundus-cli -q
cargo build --release -p fundus-models --example embed_corpus -q
MODEL="$("$BIN/fundus" models pull all-minilm-l6-v2 --quiet | awk '{print $2}')"
bash scripts/setup-peers.sh
PY="$ROOT/bench/.venv/bin/python"
[ -f "$WORK/minilm.onnx" ] || "$PY" bench/embed/export_onnx.py --model "$MODEL" --out "$WORK/minilm.onnx"

limit_args=()
[ -n "$LIMIT" ] && limit_args=(--limit "$LIMIT")

echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
echo "fundus f32 ..." >&2
RAYON_NUM_THREADS="$THREADS" "$BIN/examples/embed_corpus" "$MODEL" "$CORPUS" \
  "${limit_args[@]}" --batch-size "$BATCH" --dump "$WORK/fundus.f32" > "$WORK/fundus.json"
echo "fundus int8 ..." >&2
RAYON_NUM_THREADS="$THREADS" "$BIN/examples/embed_corpus" "$MODEL" "$CORPUS" \
  "${limit_args[@]}" --batch-size "$BATCH" --int8 --dump "$WORK/fundus-int8.f32" > "$WORK/fundus-int8.json"
echo "peers ..." >&2
"$PY" bench/embed/peers.py --model "$MODEL" --onnx "$WORK/minilm.onnx" --corpus "$CORPUS" \
  "${limit_args[@]}" --batch-size "$BATCH" --max-seq-length 256 --threads "$THREADS" \
  --engines "${ENGINES:-sentence_transformers,onnxruntime}" \
  --dump-embeddings "$WORK/peers.npy" --out "$WORK/peers.json"
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)" >&2

"$PY" - "$WORK" <<'PY'
import json, sys, numpy as np
work = sys.argv[1]
f = json.load(open(f"{work}/fundus.json"))
q = json.load(open(f"{work}/fundus-int8.json"))
p = json.load(open(f"{work}/peers.json"))
engines = p["engines"]
ort = p["onnxruntime"]
st = p.get("sentence_transformers")
n = f["n_docs"]
ours = np.fromfile(f"{work}/fundus.f32", dtype="<f4").reshape(n, -1)
ours8 = np.fromfile(f"{work}/fundus-int8.f32", dtype="<f4").reshape(n, -1)
peers = np.load(f"{work}/peers.npy")
ref = peers[engines.index("sentence_transformers" if st else "onnxruntime")]
def cos(a, b):
    return (a * b).sum(1) / np.linalg.norm(a, axis=1) / np.linalg.norm(b, axis=1)
cos_f32, cos_int8 = cos(ours, ref), cos(ours8, ours)
out = {
    "n_docs": n, "threads": f["threads"], "batch_size": f["batch_size"],
    "max_seq_length": f["max_seq_length"],
    "fundus_docs_per_s": f["docs_per_s"],
    "fundus_int8_docs_per_s": q["docs_per_s"],
    "sentence_transformers_docs_per_s": st["docs_per_s"] if st else None,
    "onnxruntime_docs_per_s": ort["docs_per_s"],
    "ratio_vs_sentence_transformers": f["docs_per_s"] / st["docs_per_s"] if st else None,
    "ratio_vs_onnxruntime": f["docs_per_s"] / ort["docs_per_s"],
    "int8_ratio_vs_onnxruntime": q["docs_per_s"] / ort["docs_per_s"],
    "int8_ratio_vs_fundus_f32": q["docs_per_s"] / f["docs_per_s"],
    "min_cosine_vs_" + ("sentence_transformers" if st else "onnxruntime"): float(cos_f32.min()),
    "int8_vs_f32_min_cosine": float(cos_int8.min()),
    "int8_vs_f32_mean_cosine": float(cos_int8.mean()),
}
json.dump(out, open(f"{work}/../../bench/embed/last-run.json", "w"), indent=2)
o = ort["docs_per_s"]
print(f"{'engine':<24}{'docs/s':>10}{'ours/peer':>12}{'int8/peer':>12}")
print(f"{'fundus f32':<24}{f['docs_per_s']:>10.1f}")
print(f"{'fundus int8':<24}{q['docs_per_s']:>10.1f}{'':>12}{q['docs_per_s']/f['docs_per_s']:>11.2f}x (vs fundus f32)")
if st:
    s_ = st["docs_per_s"]
    print(f"{'sentence-transformers':<24}{s_:>10.1f}{f['docs_per_s']/s_:>11.2f}x{q['docs_per_s']/s_:>11.2f}x")
print(f"{'onnxruntime (f32)':<24}{o:>10.1f}{f['docs_per_s']/o:>11.2f}x{q['docs_per_s']/o:>11.2f}x")
print(f"{n} docs, batch {f['batch_size']}, max_seq_length {f['max_seq_length']}, "
      f"{f['threads']} threads; min cosine fundus f32 vs {'sentence-transformers' if st else 'onnxruntime'} "
      f"{cos_f32.min():.6f}; int8 vs f32 min {cos_int8.min():.5f}, mean {cos_int8.mean():.5f}")
PY
