#!/usr/bin/env python3
"""BM25 peers of Fundus: bm25s and tantivy (Python), same data, same protocol.

    bench/.venv/bin/python bench/bm25/peers.py DATASET_DIR \
        [--split test] [--k1 1.5] [--b 0.75] [--min-seconds 2] --out peers.json

What is measured, for each engine (as crates/fundus-sparse/examples/bm25_bench.rs
does for Fundus):

- Documents are (title + " " + text) from a BEIR corpus.jsonl, prepared
  before the clock starts. Index build time covers tokenization and indexing.
- Queries are the split's judged queries. Query time covers tokenization and
  retrieval of the top 10, on one thread; the query set is repeated (after
  one warm-up pass) until at least --min-seconds have passed.
- nDCG@10 with pytrec_eval (trec_eval definitions, as fundus-eval) on the
  top 10.

bm25s: method="lucene" with --k1/--b, English stop words ("en", the list
Fundus' English analyzer copies) and the Snowball English stemmer from
PyStemmer, tokenized with bm25s.tokenize; retrieve(..., n_threads=1). Its
numba backend is used when numba is installed, else numpy (reported).
Queries are tokenized in one batch call and retrieved in one batch call, the
way bm25s is meant to be used.

tantivy: a text field with the "en_stem" tokenizer (lower-casing and Porter
stemming, no stop words), one indexing thread. Its BM25 is fixed at k1=1.2,
b=0.75 with document lengths quantized to one byte, whatever --k1/--b say.
Queries are lower-cased and reduced to word characters before parsing, so
no query is read as query syntax; documents are searched one query at a
time with limit 10 (stored keys are fetched outside the timed loop).
"""
import argparse
import json
import os
import re
import shutil
import sys
import tempfile
import time


def load_beir(path, split):
    corpus = []
    with open(os.path.join(path, "corpus.jsonl"), encoding="utf-8") as f:
        for line in f:
            if line.strip():
                d = json.loads(line)
                corpus.append((str(d["_id"]), (d.get("title") or "") + " " + (d.get("text") or "")))
    qrels = {}
    with open(os.path.join(path, "qrels", f"{split}.tsv"), encoding="utf-8") as f:
        for i, line in enumerate(f):
            parts = line.rstrip("\n").split("\t")
            if i == 0 and parts[-1] == "score":
                continue
            if len(parts) >= 3:
                qrels.setdefault(parts[0], {})[parts[1]] = int(parts[2])
    queries = []
    with open(os.path.join(path, "queries.jsonl"), encoding="utf-8") as f:
        for line in f:
            if line.strip():
                q = json.loads(line)
                if str(q["_id"]) in qrels:
                    queries.append((str(q["_id"]), q.get("text") or ""))
    return corpus, queries, qrels


def ndcg_at_10(qrels, run):
    import pytrec_eval

    evaluator = pytrec_eval.RelevanceEvaluator(qrels, {"ndcg_cut.10"})
    scores = evaluator.evaluate(run)
    return sum(s["ndcg_cut_10"] for s in scores.values()) / max(1, len(scores))


class Clock:
    """Wall-clock and CPU time of the process (all threads: tantivy indexes
    in its own); on a shared machine the CPU
    time is the fair measure (another process stretches wall time)."""

    def __init__(self):
        self.wall = time.perf_counter()
        self.cpu = time.process_time()

    def elapsed(self):
        return time.perf_counter() - self.wall, time.process_time() - self.cpu


def timed_passes(one_pass, min_seconds):
    """Runs one_pass once to warm up, then until min_seconds have passed
    (at least 3 times). Returns (passes, wall seconds, CPU seconds)."""
    one_pass()
    passes = 0
    clock = Clock()
    while passes < 3 or clock.elapsed()[0] < min_seconds:
        one_pass()
        passes += 1
    return (passes, *clock.elapsed())


def run_bm25s(corpus, queries, qrels, args):
    import bm25s
    import Stemmer

    try:
        import numba  # noqa: F401

        backend = "numba"
    except ImportError:
        backend = "numpy"
    stemmer = Stemmer.Stemmer("english")
    texts = [t for _, t in corpus]
    ids = [k for k, _ in corpus]
    qtexts = [t for _, t in queries]

    clock = Clock()
    tokens = bm25s.tokenize(texts, stopwords="en", stemmer=stemmer, show_progress=False)
    retriever = bm25s.BM25(method="lucene", k1=args.k1, b=args.b, backend=backend)
    retriever.index(tokens, show_progress=False)
    build_s, build_cpu_s = clock.elapsed()

    def search():
        qt = bm25s.tokenize(qtexts, stopwords="en", stemmer=stemmer, show_progress=False)
        return retriever.retrieve(qt, k=10, n_threads=1, show_progress=False)

    docs, scores = search()
    run = {
        qid: {ids[int(d)]: float(s) for d, s in zip(docs[i], scores[i])}
        for i, (qid, _) in enumerate(queries)
    }
    ndcg = ndcg_at_10(qrels, run)
    passes, elapsed, cpu = timed_passes(search, args.min_seconds)

    # Retrieval alone, queries tokenized beforehand (bm25s' own benchmark).
    qt = bm25s.tokenize(qtexts, stopwords="en", stemmer=stemmer, show_progress=False)
    r_passes, r_elapsed, r_cpu = timed_passes(
        lambda: retriever.retrieve(qt, k=10, n_threads=1, show_progress=False), args.min_seconds
    )
    n = len(queries)
    return {
        "engine": "bm25s",
        "version": getattr(bm25s, "__version__", "?"),
        "backend": backend,
        "method": "lucene",
        "k1": args.k1,
        "b": args.b,
        "index_build_s": build_s,
        "index_build_cpu_s": build_cpu_s,
        "docs_per_s": len(texts) / build_s,
        "query_passes": passes,
        "queries_per_s": passes * n / elapsed,
        "queries_per_cpu_s": passes * n / cpu,
        "retrieve_only_queries_per_s": r_passes * n / r_elapsed,
        "retrieve_only_queries_per_cpu_s": r_passes * n / r_cpu,
        "ndcg_at_10": ndcg,
    }


def run_tantivy(corpus, queries, qrels, args):
    import tantivy

    tmp = tempfile.mkdtemp(prefix="bm25-tantivy-")
    try:
        clock = Clock()
        sb = tantivy.SchemaBuilder()
        sb.add_text_field("id", stored=True, tokenizer_name="raw")
        sb.add_text_field("body", stored=False, tokenizer_name="en_stem")
        schema = sb.build()
        index = tantivy.Index(schema, path=tmp)
        writer = index.writer(heap_size=256_000_000, num_threads=1)
        for key, text in corpus:
            writer.add_document(tantivy.Document(id=key, body=text))
        writer.commit()
        writer.wait_merging_threads()
        index.reload()
        searcher = index.searcher()
        build_s, build_cpu_s = clock.elapsed()

        clean = re.compile(r"\W+")

        def parse(text):
            return index.parse_query(clean.sub(" ", text).lower().strip() or "_", ["body"])

        def search():
            return [searcher.search(parse(t), 10).hits for _, t in queries]

        results = search()
        run = {}
        for (qid, _), hits in zip(queries, results):
            run[qid] = {searcher.doc(addr)["id"][0]: float(score) for score, addr in hits}
        ndcg = ndcg_at_10(qrels, run)
        passes, elapsed, cpu = timed_passes(search, args.min_seconds)
        return {
            "engine": "tantivy",
            "version": getattr(tantivy, "__version__", "?"),
            "tokenizer": "en_stem",
            "k1": 1.2,
            "b": 0.75,
            "segments": searcher.num_segments,
            "index_build_s": build_s,
            "index_build_cpu_s": build_cpu_s,
            "docs_per_s": len(corpus) / build_s,
            "query_passes": passes,
            "queries_per_s": passes * len(queries) / elapsed,
            "queries_per_cpu_s": passes * len(queries) / cpu,
            "ndcg_at_10": ndcg,
        }
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("dataset")
    ap.add_argument("--split", default="test")
    ap.add_argument("--k1", type=float, default=1.5)
    ap.add_argument("--b", type=float, default=0.75)
    ap.add_argument("--min-seconds", type=float, default=2.0)
    ap.add_argument("--engines", default="bm25s,tantivy")
    ap.add_argument("--out", required=True)
    args = ap.parse_args()

    os.environ.setdefault("DISABLE_TQDM", "1")
    corpus, queries, qrels = load_beir(args.dataset, args.split)
    out = {"n_docs": len(corpus), "n_queries": len(queries)}
    for engine in args.engines.split(","):
        print(f"  {engine} ...", file=sys.stderr)
        fn = {"bm25s": run_bm25s, "tantivy": run_tantivy}[engine]
        out[engine] = fn(corpus, queries, qrels, args)
    with open(args.out, "w") as f:
        json.dump(out, f, indent=2)


if __name__ == "__main__":
    main()
