#!/usr/bin/env python3
"""Offline check of two-bit estimators on a bench/ann data set: recall@10
after rescoring the top 10*oversampling candidates of each ranking with the
exact scores (what Fundus' binary search does), for the plain two-bit codes
of the vectors and for codes of the residual from the nearest of K coarse
k-means centroids (quantization/residual.rs), with and without the
per-vector correction |r|^2 / (r . r_hat).

    bench/.venv/bin/python bench/ann/residual_estimators.py [DIR] [--queries 300] [--k 64,256,1024]

Needs numpy and faiss (k-means). Centroids and levels are learned on an
even sample of 50,000 rows, as ann_bench trains Fundus' codecs.
"""
import argparse

import faiss
import numpy as np

p = argparse.ArgumentParser()
p.add_argument("dir", nargs="?", default="bench/ann/data/synth")
p.add_argument("--queries", type=int, default=300)
p.add_argument("--k", default="64,256,1024")
p.add_argument("--oversampling", type=int, default=4)
a = p.parse_args()

b = np.ascontiguousarray(np.load(f"{a.dir}/base.npy", mmap_mode="r"))
q = np.load(f"{a.dir}/queries.npy")[: a.queries]
gt = np.load(f"{a.dir}/gt.npy")[: a.queries, :10]
n, dim = b.shape
sample_rows = np.arange(0, n, max(1, n // 50_000))[:50_000]


def recall(scores):
    m = 10 * a.oversampling
    cands = np.argpartition(-scores, m, axis=1)[:, :m]
    hits = 0
    for i, c in enumerate(cands):
        top = c[np.argsort(-(b[c] @ q[i]))[:10]]
        hits += len(set(top) & set(gt[i]))
    return hits / (len(q) * 10)


def two_bit(x, sample):
    """Levels split at mean -/+ sd/2, each the mean of its sample values."""
    mean, sd = sample.mean(0), sample.std(0)
    lo, hi = mean - 0.5 * sd, mean + 0.5 * sd
    lv = (x >= lo).astype(np.int64) + (x > hi).astype(np.int64)
    slv = (sample >= lo).astype(np.int64) + (sample > hi).astype(np.int64)
    vals = np.stack([
        np.array([sample[slv[:, j] == l, j].mean() if (slv[:, j] == l).any() else mean[j]
                  for j in range(dim)]) for l in range(3)
    ]).astype(np.float32)
    return vals[lv, np.arange(dim)], mean


approx, mean = two_bit(b, b[sample_rows])
print(f"plain two-bit (centred)  os{a.oversampling}: "
      f"{recall(q @ mean[:, None] + (q - mean) @ (approx - mean).T):.4f}")
del approx
for k in map(int, a.k.split(",")):
    km = faiss.Kmeans(dim, k, niter=10, seed=1)
    km.train(b[sample_rows])
    _, assign = km.index.search(b, 1)
    c = km.centroids[assign[:, 0]]
    r = b - c
    approx, _ = two_bit(r, r[sample_rows])
    cr, ca = (c * r).sum(1), (c * approx).sum(1)
    corr = (r * r).sum(1) / (r * approx).sum(1)
    base = (q @ km.centroids.T)[:, assign[:, 0]] + cr[None]
    qa = q @ approx.T - ca[None]
    print(f"residual, K={k:5d}        os{a.oversampling}: uncorrected {recall(base + qa):.4f}, "
          f"corrected {recall(base + corr[None] * qa):.4f}", flush=True)
