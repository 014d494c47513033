#!/usr/bin/env python3
"""Reference values for fundus-eval's metrics, computed with pytrec_eval.

Usage: pytrec_reference.py QRELS RUN OUT.json

Needs `pip install pytrec-eval-terrier numpy` (pytrec_eval wraps trec_eval
9; the -terrier build ships wheels). QRELS is a BEIR qrels TSV (header
optional), RUN a TREC run file (`qid Q0 docid rank score tag`).

Writes, per query and as the mean over the queries pytrec_eval returns
(which is how BEIR averages):
- ndcg_cut_{1,3,5,10,100}, map_cut_{10,100}, recall_{10,100}, P_{10,100},
  recip_rank: straight from pytrec_eval;
- MRR@{1,3,5,10,100}: BEIR's `custom_metrics.mrr` definition (first
  document with grade > 0 within the top k -> 1/rank, else 0) over the
  ranking trec_eval evaluates (score as float32 descending, ties by doc id
  descending). It is checked against pytrec_eval's recip_rank, which must
  agree whenever the first relevant rank is <= k.
- beir_literal_mrr: BEIR's code verbatim, for information only: it breaks
  ties by insertion order (Python's stable sort) and divides by the number
  of judged queries, so it can differ from MRR@k above.
"""

import json
import sys

import numpy as np
import pytrec_eval

CUTOFFS = [1, 3, 5, 10, 100]
MEASURES = {
    "ndcg_cut.1,3,5,10,100",
    "map_cut.10,100",
    "recall.10,100",
    "P.10,100",
    "recip_rank",
}


def read_qrels(path):
    """BEIR TSV, like BEIR's loader but keeping line 1 unless it is a header."""
    qrels = {}
    with open(path, encoding="utf-8") as f:
        for number, line in enumerate(f, 1):
            fields = line.rstrip("\r\n").split("\t")
            if not line.strip():
                continue
            qid, did, grade = fields
            try:
                grade = int(grade)
            except ValueError:
                if number == 1:
                    continue
                raise
            qrels.setdefault(qid, {})[did] = grade
    return qrels


def read_run(path):
    with open(path, encoding="utf-8") as f:
        return pytrec_eval.parse_run(f)  # asserts there are no duplicates


def trec_order(doc_scores):
    """trec_eval's order: float32 score descending, then doc id descending."""
    items = [(d, float(np.float32(s))) for d, s in doc_scores.items()]
    # Two stable sorts: secondary key first.
    items.sort(key=lambda x: x[0].encode("utf-8"), reverse=True)
    items.sort(key=lambda x: x[1], reverse=True)
    return [d for d, _ in items]


def mrr_at(qrels_q, ranked, k):
    relevant = {d for d, g in qrels_q.items() if g > 0}
    for rank, doc in enumerate(ranked[:k]):
        if doc in relevant:
            return 1.0 / (rank + 1)
    return 0.0


def beir_literal_mrr(qrels, results, k_values):
    """beir.retrieval.custom_metrics.mrr without rounding, skipping run
    queries that have no qrels (BEIR would raise KeyError on them)."""
    mrr = {f"MRR@{k}": 0.0 for k in k_values}
    k_max = max(k_values)
    top_hits = {
        q: sorted(s.items(), key=lambda item: item[1], reverse=True)[0:k_max]
        for q, s in results.items()
        if q in qrels
    }
    for q in top_hits:
        relevant = {d for d in qrels[q] if qrels[q][d] > 0}
        for k in k_values:
            for rank, hit in enumerate(top_hits[q][0:k]):
                if hit[0] in relevant:
                    mrr[f"MRR@{k}"] += 1.0 / (rank + 1)
                    break
    return {name: value / len(qrels) for name, value in mrr.items()}


def main():
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    qrels_path, run_path, out_path = sys.argv[1:]
    qrels = read_qrels(qrels_path)
    run = read_run(run_path)

    evaluator = pytrec_eval.RelevanceEvaluator(qrels, MEASURES)
    scores = evaluator.evaluate(run)

    per_query = {}
    for qid in sorted(scores):
        values = dict(sorted(scores[qid].items()))
        ranked = trec_order(run[qid])
        for k in CUTOFFS:
            mrr = mrr_at(qrels[qid], ranked, k)
            rr = values["recip_rank"]
            # Cross-check the re-implemented order against trec_eval's.
            expected = rr if rr > 0 and round(1 / rr) <= k else 0.0
            assert abs(mrr - expected) < 1e-12, (qid, k, mrr, rr)
            values[f"MRR@{k}"] = mrr
        per_query[qid] = values

    names = list(next(iter(per_query.values())))
    mean = {n: sum(v[n] for v in per_query.values()) / len(per_query) for n in names}

    out = {
        "generator": "scripts/reference/pytrec_reference.py",
        "pytrec_eval_version": getattr(pytrec_eval, "__version__", "unknown"),
        "measures": sorted(MEASURES),
        "num_queries": len(per_query),
        "qrels_queries": len(qrels),
        "run_queries": len(run),
        "mean": mean,
        "beir_literal_mrr": beir_literal_mrr(qrels, run, CUTOFFS),
        "per_query": per_query,
    }
    with open(out_path, "w", encoding="utf-8") as f:
        json.dump(out, f, indent=1, sort_keys=False)
        f.write("\n")


if __name__ == "__main__":
    main()
