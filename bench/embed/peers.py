#!/usr/bin/env python3
"""Embedding throughput of the peers: sentence-transformers (torch) and onnxruntime.

    bench/.venv/bin/python bench/embed/peers.py \
        --model MODEL_DIR --onnx minilm.onnx \
        --corpus DATA/scifact/corpus.jsonl [--limit N] \
        [--batch-size 32] [--max-seq-length 256] [--threads N] \
        [--dump-embeddings emb.npy] --out results.json

Documents are read from a BEIR corpus.jsonl (fields _id, title, text) in file
order; each document's text is (title + " " + text).strip().

Both peers do the same work the way sentence-transformers does it: texts are
sorted by length (longest first), cut into batches, each batch tokenized with
truncation to --max-seq-length and padding to the longest text of the batch,
run through the transformer, mean-pooled over the attention mask and L2
normalized; results are put back in corpus order. The timed part covers
tokenization, inference, pooling and normalization; model loading and one
warm-up batch are excluded.

--dump-embeddings writes a float32 array of shape [engines, n_docs, dim]
(engines in the order of the "engines" list in the results, rows in corpus
order). The results also hold the cosine agreement between the two peers.
"""
import argparse
import json
import os
import sys
import time

import numpy as np

ENGINES = ("sentence_transformers", "onnxruntime")


def load_corpus(path: str, limit: int | None):
    ids, texts = [], []
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.strip()
            if not line:
                continue
            d = json.loads(line)
            ids.append(str(d["_id"]))
            texts.append((d.get("title", "") + " " + d.get("text", "")).strip())
            if limit is not None and len(texts) >= limit:
                break
    return ids, texts


def length_order(texts):
    # sentence-transformers sorts by -len(text) (characters) with a stable argsort.
    return np.argsort([-len(t) for t in texts], kind="stable")


def run_st(args, texts):
    import torch
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(args.model, device="cpu")
    model.max_seq_length = args.max_seq_length
    enc = lambda xs: model.encode(xs, batch_size=args.batch_size, convert_to_numpy=True,
                                  normalize_embeddings=False, show_progress_bar=False)
    enc(texts[: args.batch_size])  # warm-up
    t0 = time.perf_counter()
    emb = enc(texts)
    secs = time.perf_counter() - t0
    return emb.astype(np.float32), secs, {"torch_version": torch.__version__,
                                          "torch_threads": torch.get_num_threads()}


def run_ort(args, texts):
    import onnxruntime as ort
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(args.model)
    so = ort.SessionOptions()
    so.intra_op_num_threads = args.threads
    so.inter_op_num_threads = 1
    so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    sess = ort.InferenceSession(args.onnx, so, providers=["CPUExecutionProvider"])
    input_names = [i.name for i in sess.get_inputs()]

    def encode(xs):
        order = length_order(xs)
        out = None
        for start in range(0, len(xs), args.batch_size):
            idx = order[start : start + args.batch_size]
            batch = [xs[i] for i in idx]
            e = tok(batch, padding="longest", truncation=True, max_length=args.max_seq_length,
                    return_tensors="np")
            feeds = {}
            for n in input_names:
                feeds[n] = (e[n] if n in e else np.zeros_like(e["input_ids"])).astype(np.int64)
            (hidden,) = sess.run(None, feeds)
            mask = e["attention_mask"][..., None].astype(np.float32)
            pooled = (hidden * mask).sum(axis=1) / np.clip(mask.sum(axis=1), 1e-9, None)
            pooled /= np.clip(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12, None)
            if out is None:
                out = np.empty((len(xs), pooled.shape[1]), dtype=np.float32)
            out[idx] = pooled
        return out

    encode(texts[: args.batch_size])  # warm-up
    t0 = time.perf_counter()
    emb = encode(texts)
    secs = time.perf_counter() - t0
    return emb, secs, {"onnxruntime_version": ort.__version__}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", required=True, help="sentence-transformers model folder")
    ap.add_argument("--onnx", help="ONNX export of the transformer (bench/embed/export_onnx.py)")
    ap.add_argument("--corpus", required=True, help="BEIR corpus.jsonl")
    ap.add_argument("--limit", type=int, default=None, help="use only the first N documents")
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--max-seq-length", type=int, default=256)
    ap.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--engines", default=",".join(ENGINES),
                    help=f"comma-separated subset of {','.join(ENGINES)}")
    ap.add_argument("--dump-embeddings", metavar="FILE.npy")
    ap.add_argument("--out", required=True, help="results JSON")
    args = ap.parse_args()

    engines = [e.strip() for e in args.engines.split(",") if e.strip()]
    for e in engines:
        if e not in ENGINES:
            sys.exit(f"unknown engine {e!r}; choose from {ENGINES}")
    if "onnxruntime" in engines and not args.onnx:
        sys.exit("--onnx is required for the onnxruntime peer")

    import torch
    torch.set_num_threads(args.threads)

    ids, texts = load_corpus(args.corpus, args.limit)
    if not texts:
        sys.exit("no documents read")

    results = {"n_docs": len(texts), "batch_size": args.batch_size,
               "max_seq_length": args.max_seq_length, "threads": args.threads,
               "engines": engines}
    embs = {}
    runners = {"sentence_transformers": run_st, "onnxruntime": run_ort}
    for e in engines:
        emb, secs, extra = runners[e](args, texts)
        embs[e] = emb
        results[e] = {"docs_per_s": len(texts) / secs, "seconds": secs, **extra}
        print(f"{e:22s} {len(texts) / secs:9.1f} docs/s  ({secs:.2f} s for {len(texts)} docs)", flush=True)

    if len(embs) == 2:
        a, b = embs["sentence_transformers"], embs["onnxruntime"]
        cos = (a * b).sum(1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))
        results["agreement"] = {"min_cosine": float(cos.min()), "mean_cosine": float(cos.mean()),
                                "max_abs_diff": float(np.abs(a - b).max())}
        print(f"agreement: min cosine {cos.min():.8f}, mean {cos.mean():.8f}")

    if args.dump_embeddings:
        np.save(args.dump_embeddings, np.stack([embs[e] for e in engines]).astype(np.float32))
        with open(args.dump_embeddings + ".ids.json", "w", encoding="utf-8") as f:
            json.dump({"engines": engines, "ids": ids}, f)

    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with open(args.out, "w", encoding="utf-8") as f:
        json.dump(results, f, indent=2)
        f.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
