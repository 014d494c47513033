#!/usr/bin/env python3
"""Data for bench/ann: the synthetic set and the exact ground truth.

    bench/.venv/bin/python bench/ann/prepare.py synth DIR [--n 1000000] [--queries 1000]
    bench/.venv/bin/python bench/ann/prepare.py truth DIR [--k 10]

`synth` writes DIR/base.npy and DIR/queries.npy: clustered 384-d vectors,
deterministic (numpy's PCG64 with a fixed seed). There are 1000 clusters
with unit-length centres drawn at random; a point is its cluster's centre
plus anisotropic gaussian noise (per-direction standard deviations falling
as 1/sqrt(i+1), in a random orthonormal basis, scaled so that the noise has
norm --sigma on average), normalized to unit length. Clusters are picked
uniformly. Queries come from the same distribution (fresh draws). The
decaying spectrum imitates real sentence embeddings, whose variance sits in
a few directions; isotropic noise in 384 dimensions makes every
within-cluster distance the same and a graph search a random walk.

`truth` reads DIR/base.npy and DIR/queries.npy (any unit-length float32
rows) and writes DIR/gt.npy: the row numbers of each query's exact top-k
by inner product (= cosine), best first, int32, computed by numpy matrix
products in blocks; DIR/gt_scores.npy holds the scores.
"""
import argparse
import json
import os
import sys
import time

import numpy as np

SEED = 20240603
DIM = 384
CLUSTERS = 1000


def synth(args) -> int:
    rng = np.random.default_rng(SEED)
    centres = rng.standard_normal((CLUSTERS, DIM)).astype(np.float32)
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    spectrum = 1.0 / np.sqrt(np.arange(1, DIM + 1, dtype=np.float64))
    spectrum *= args.sigma / np.sqrt((spectrum**2).sum())
    basis, _ = np.linalg.qr(rng.standard_normal((DIM, DIM)))
    # Rows of `mix` are basis directions scaled by their deviation.
    mix = (spectrum[:, None] * basis.T).astype(np.float32)

    def draw(n, out):
        step = 100_000
        for s in range(0, n, step):
            m = min(step, n - s)
            labels = rng.integers(0, CLUSTERS, size=m)
            x = centres[labels] + rng.standard_normal((m, DIM), dtype=np.float32) @ mix
            x /= np.linalg.norm(x, axis=1, keepdims=True)
            out[s : s + m] = x

    os.makedirs(args.dir, exist_ok=True)
    t = time.perf_counter()
    base = np.lib.format.open_memmap(os.path.join(args.dir, "base.npy"), mode="w+",
                                     dtype="<f4", shape=(args.n, DIM))
    draw(args.n, base)
    base.flush()
    del base
    queries = np.empty((args.queries, DIM), dtype=np.float32)
    draw(args.queries, queries)
    np.save(os.path.join(args.dir, "queries.npy"), queries)
    meta = {"kind": "synthetic", "seed": SEED, "dim": DIM, "clusters": CLUSTERS,
            "sigma": args.sigma, "base": args.n, "queries": args.queries}
    with open(os.path.join(args.dir, "meta.json"), "w") as f:
        json.dump(meta, f, indent=2)
        f.write("\n")
    print(f"synth: {args.n} + {args.queries} vectors in {time.perf_counter() - t:.1f} s",
          file=sys.stderr)
    return 0


def truth(args) -> int:
    base = np.load(os.path.join(args.dir, "base.npy"), mmap_mode="r")
    queries = np.load(os.path.join(args.dir, "queries.npy"))
    n, k = base.shape[0], args.k
    best_s = np.full((queries.shape[0], k), -np.inf, dtype=np.float32)
    best_i = np.zeros((queries.shape[0], k), dtype=np.int64)
    t = time.perf_counter()
    step = 200_000
    for s in range(0, n, step):
        block = np.ascontiguousarray(base[s : s + step])
        scores = queries @ block.T
        kk = min(k, scores.shape[1])
        top = np.argpartition(-scores, kk - 1, axis=1)[:, :kk]
        cand_s = np.concatenate([best_s, np.take_along_axis(scores, top, 1)], axis=1)
        cand_i = np.concatenate([best_i, top + s], axis=1)
        # Best score first; equal scores by lower row number.
        order = np.lexsort((cand_i, -cand_s), axis=1)[:, :k]
        best_s = np.take_along_axis(cand_s, order, 1)
        best_i = np.take_along_axis(cand_i, order, 1)
    np.save(os.path.join(args.dir, "gt.npy"), best_i.astype(np.int32))
    np.save(os.path.join(args.dir, "gt_scores.npy"), best_s)
    print(f"truth: top-{k} of {queries.shape[0]} queries over {n} vectors in "
          f"{time.perf_counter() - t:.1f} s", file=sys.stderr)
    return 0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("synth")
    s.add_argument("dir")
    s.add_argument("--n", type=int, default=1_000_000)
    s.add_argument("--queries", type=int, default=1000)
    s.add_argument("--sigma", type=float, default=0.8,
                   help="average norm of the noise around a unit-length centre")
    g = sub.add_parser("truth")
    g.add_argument("dir")
    g.add_argument("--k", type=int, default=10)
    args = ap.parse_args()
    return synth(args) if args.cmd == "synth" else truth(args)


if __name__ == "__main__":
    sys.exit(main())
