#!/usr/bin/env python3
"""Reference embeddings from sentence-transformers, for Fundus' embedding tests.

    bench/.venv/bin/python scripts/reference/st_embeddings.py \
        --model MODEL_DIR \
        --texts crates/fundus-models/tests/fixtures/embedding_texts.json \
        --out crates/fundus-models/tests/fixtures/minilm_reference.json

and for all-mpnet-base-v2 (after `fundus models pull all-mpnet-base-v2`):

    bench/.venv/bin/python scripts/reference/st_embeddings.py \
        --model ~/.cache/fundus/models/all-mpnet-base-v2 --name all-mpnet-base-v2 \
        --texts crates/fundus-models/tests/fixtures/embedding_texts.json \
        --out crates/fundus-models/tests/fixtures/mpnet_reference.json

MODEL_DIR is a sentence-transformers folder (modules.json, 1_Pooling, ...).
The texts file is a JSON array of strings. The output records the
embeddings exactly as `SentenceTransformer.encode` produces them (the model's
own modules decide pooling and normalization) plus the number of tokens per
text after truncation, special tokens included.

Note: the tokenizer.json shipped with some copies of all-MiniLM-L6-v2 (and
all-mpnet-base-v2) has a fixed truncation/padding of 128; sentence-transformers
overrides that with the model's max_seq_length (256, 384), and this script's
output follows sentence-transformers.
"""
import argparse
import json
import os
import sys


def round_sig(x: float, sig: int) -> float:
    return float(f"{x:.{sig - 1}e}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", required=True, help="sentence-transformers model folder")
    ap.add_argument("--texts", required=True, help="JSON array of texts")
    ap.add_argument("--out", required=True, help="output JSON file")
    ap.add_argument("--name", default="all-MiniLM-L6-v2", help="model name recorded in the output")
    ap.add_argument("--batch-size", type=int, default=8)
    ap.add_argument("--digits", type=int, default=7, help="significant digits kept per float")
    ap.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    args = ap.parse_args()

    import torch
    import sentence_transformers
    from sentence_transformers import SentenceTransformer

    torch.set_num_threads(args.threads)

    with open(args.texts, encoding="utf-8") as f:
        texts = json.load(f)
    if not isinstance(texts, list) or not all(isinstance(t, str) for t in texts):
        sys.exit("--texts must be a JSON array of strings")

    model = SentenceTransformer(args.model, device="cpu")
    emb = model.encode(texts, batch_size=args.batch_size, convert_to_numpy=True, show_progress_bar=False)

    # Token counts after truncation, special tokens included, computed with the
    # same tokenization ST uses internally.
    preprocess = getattr(model, "preprocess", None) or model.tokenize  # ST >= 6 renamed it
    feats = preprocess(texts)
    token_counts = [int(n) for n in feats["attention_mask"].sum(dim=1).tolist()]

    out = {
        "model": args.name,
        "max_seq_length": int(model.max_seq_length),
        "sentence_transformers_version": sentence_transformers.__version__,
        "torch_version": torch.__version__,
        "texts": texts,
        "embeddings": [[round_sig(float(v), args.digits) for v in row] for row in emb.tolist()],
        "token_counts": token_counts,
    }
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with open(args.out, "w", encoding="utf-8") as f:
        json.dump(out, f, ensure_ascii=False)
        f.write("\n")
    truncated = sum(1 for n in token_counts if n >= model.max_seq_length)
    print(f"wrote {len(texts)} embeddings of dim {emb.shape[1]} to {args.out} "
          f"(max_seq_length {model.max_seq_length}, {truncated} texts truncated)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
