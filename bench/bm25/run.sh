#!/usr/bin/env bash
# bench/bm25: Fundus BM25 vs bm25s and tantivy (Python) on SciFact, in one
# run: index build time, single-thread queries/s (top 10, query analysis
# included) and nDCG@10. Fundus runs twice: with bm25s' parameters
# (Lucene, k1=1.5, b=0.75) and with tantivy's fixed ones (k1=1.2, b=0.75).
# Prints the ratios and writes bench/bm25/last-run.json.
#
#   bash bench/bm25/run.sh                 # from the repository root
#   MIN_SECONDS=5 ROUNDS=5 bash bench/bm25/run.sh   # defaults: 3 s, 3 rounds
#
# Needs ../shared/data/scifact (or SCIFACT=dir) and sets up bench/.venv with
# scripts/setup-peers.sh on first use. Times are wall clock and CPU time of
# the process; ratios use CPU time, which a busy machine distorts less
# (wall-clock ratios are in the JSON too). Each round runs every engine
# once; the summary is the median over rounds of the ratios taken within
# a round.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"
DATA="${SCIFACT:-$ROOT/../shared/data/scifact}"
MIN_SECONDS="${MIN_SECONDS:-3}"
WORK="$ROOT/target/bench-bm25"
mkdir -p "$WORK"
# One thread everywhere: numpy/BLAS must not fan out behind bm25s' back.
export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1 RAYON_NUM_THREADS=1

cargo build --release -p fundus-sparse --example bm25_bench -q
BENCH="${CARGO_TARGET_DIR:-$ROOT/target}/release/examples/bm25_bench"
bash scripts/setup-peers.sh >&2
PY="$ROOT/bench/.venv/bin/python"

ROUNDS="${ROUNDS:-3}"
for r in $(seq 1 "$ROUNDS"); do
  echo "round $r/$ROUNDS: fundus (k1=1.5) ..." >&2
  "$BENCH" "$DATA" --k1 1.5 --b 0.75 --min-seconds "$MIN_SECONDS" > "$WORK/fundus-k1.5-$r.json"
  echo "round $r/$ROUNDS: peers ..." >&2
  "$PY" bench/bm25/peers.py "$DATA" --k1 1.5 --b 0.75 --min-seconds "$MIN_SECONDS" --out "$WORK/peers-$r.json"
  echo "round $r/$ROUNDS: fundus (k1=1.2) ..." >&2
  "$BENCH" "$DATA" --k1 1.2 --b 0.75 --min-seconds "$MIN_SECONDS" > "$WORK/fundus-k1.2-$r.json"
done

"$PY" - "$WORK" "$ROUNDS" "$ROOT/bench/bm25/last-run.json" <<'PY'
import json, platform, statistics, sys
work, rounds, out_path = sys.argv[1], int(sys.argv[2]), sys.argv[3]
runs = []
for r in range(1, rounds + 1):
    peers = json.load(open(f"{work}/peers-{r}.json"))
    runs.append({
        "fundus_k1_1.5": json.load(open(f"{work}/fundus-k1.5-{r}.json")),
        "fundus_k1_1.2": json.load(open(f"{work}/fundus-k1.2-{r}.json")),
        "bm25s": peers["bm25s"], "tantivy": peers["tantivy"],
    })

def ratios(ours, peer):
    return {
        "queries_per_cpu_s": ours["queries_per_cpu_s"] / peer["queries_per_cpu_s"],
        "queries_per_s": ours["queries_per_s"] / peer["queries_per_s"],
        "index_build_cpu_s": peer["index_build_cpu_s"] / ours["index_build_cpu_s"],
        "index_build_s": peer["index_build_s"] / ours["index_build_s"],
        "ndcg_at_10_diff": ours["ndcg_at_10"] - peer["ndcg_at_10"],
    }

for run in runs:
    run["ratio_vs_bm25s"] = ratios(run["fundus_k1_1.5"], run["bm25s"])
    run["ratio_vs_tantivy"] = ratios(run["fundus_k1_1.2"], run["tantivy"])

def median(path):
    a, b = path
    return statistics.median(run[a][b] for run in runs)

engines = ("fundus_k1_1.5", "bm25s", "fundus_k1_1.2", "tantivy")
fields = ("index_build_s", "index_build_cpu_s", "queries_per_s", "queries_per_cpu_s", "ndcg_at_10")
summary = {e: {f: median((e, f)) for f in fields} for e in engines}
for name in ("ratio_vs_bm25s", "ratio_vs_tantivy"):
    summary[name] = {f: median((name, f)) for f in runs[0][name]}
bm = runs[0]["bm25s"]
out = {
    "dataset": "scifact test", "rounds": rounds,
    "n_docs": runs[0]["fundus_k1_1.5"]["n_docs"], "n_queries": runs[0]["fundus_k1_1.5"]["n_queries"],
    "machine": platform.processor() or platform.machine(),
    "bm25s_backend": bm["backend"], "bm25s_version": bm["version"],
    "tantivy_version": runs[0]["tantivy"]["version"],
    "median": summary, "runs": runs,
}
json.dump(out, open(out_path, "w"), indent=2)

print(f"SciFact test, {out['n_docs']} docs, {out['n_queries']} queries, top 10, one thread; "
      f"median of {rounds} rounds (ratios taken within each round)")
print(f"{'engine':<26}{'build s':>9}{'build cpu':>10}{'q/s':>10}{'q/cpu-s':>10}{'nDCG@10':>9}")
labels = {"fundus_k1_1.5": "fundus k1=1.5", "bm25s": f"bm25s k1=1.5 ({bm['backend']})",
          "fundus_k1_1.2": "fundus k1=1.2", "tantivy": "tantivy (k1=1.2 fixed)"}
for e in engines:
    r = summary[e]
    print(f"{labels[e]:<26}{r['index_build_s']:>9.3f}{r['index_build_cpu_s']:>10.3f}"
          f"{r['queries_per_s']:>10.0f}{r['queries_per_cpu_s']:>10.0f}{r['ndcg_at_10']:>9.4f}")
for name, peer in (("ratio_vs_bm25s", "bm25s"), ("ratio_vs_tantivy", "tantivy")):
    x = summary[name]
    per_round = ", ".join(f"{run[name]['queries_per_cpu_s']:.1f}x" for run in runs)
    print(f"vs {peer}: {x['queries_per_cpu_s']:.1f}x queries/s by CPU time ({per_round}), "
          f"{x['queries_per_s']:.1f}x by wall clock; build {x['index_build_cpu_s']:.1f}x faster; "
          f"nDCG@10 {x['ndcg_at_10_diff']:+.4f}")
print(f"bm25s retrieval alone (queries tokenized beforehand): "
      f"{statistics.median(run['bm25s']['retrieve_only_queries_per_cpu_s'] for run in runs):.0f} q/cpu-s")
PY
