#!/usr/bin/env python3
"""Offline check of 1-bit estimators on bench/ann's real vectors: recall@10
after rescoring the top 10*oversampling candidates of each ranking with the
exact scores (what Fundus' binary search does).

    bench/.venv/bin/python bench/ann/binary_estimators.py [bench/ann/data/real]

Rankings: Hamming of centred sign bits; asymmetric (float query, centred,
times the signs: what Fundus uses); RaBitQ-style (random rotation,
per-vector correction and mean term); and, for comparison, two bits per
dimension with the same asymmetric scoring.
"""
import sys

import numpy as np

d = sys.argv[1] if len(sys.argv) > 1 else "bench/ann/data/real"
b = np.load(f"{d}/base.npy")
q = np.load(f"{d}/queries.npy")
gt = np.load(f"{d}/gt.npy")[:, :10]
mean = b.mean(0)
dim = b.shape[1]


def recall(scores, oversampling):
    n = 10 * oversampling
    cands = np.argpartition(-scores, n, axis=1)[:, :n]
    hits = 0
    for i, c in enumerate(cands):
        top = c[np.argsort(-(b[c] @ q[i]))[:10]]
        hits += len(set(top) & set(gt[i]))
    return hits / (len(q) * 10)


signs = np.where(b > mean, 1.0, -1.0).astype(np.float32)
qbits = np.where(q > mean, 1.0, -1.0).astype(np.float32)
rot, _ = np.linalg.qr(np.random.default_rng(0).standard_normal((dim, dim)))
rot = rot.astype(np.float32)
xc, qc = (b - mean) @ rot.T, (q - mean) @ rot.T
rs = np.where(xc > 0, 1.0, -1.0).astype(np.float32)
norms = np.linalg.norm(xc, axis=1)
o_xbar = (np.abs(xc).sum(1) / np.sqrt(dim)) / norms
rabitq = (qc @ rs.T / np.sqrt(dim)) * (norms / o_xbar)[None, :] + ((b - mean) @ mean)[None, :]

rankings = {
    "hamming": qbits @ signs.T,
    "asymmetric": (q - mean) @ signs.T,
    "rabitq": rabitq,
}
for name, scores in rankings.items():
    print(name, " ".join(f"os{o}={recall(scores, o):.4f}" for o in (4, 8, 16)))

# Two bits per dimension (Qdrant's `two_bits` idea): three levels split at
# mean -/+ 0.5 standard deviations, each level stored as the mean of the
# base values that fall in it; query float, asymmetric as above.
sd = b.std(0)
lo, hi = mean - 0.5 * sd, mean + 0.5 * sd
level = (b > lo).astype(np.int64) + (b > hi).astype(np.int64)
centre = np.stack(
    [np.where((level == j).any(0), (b * (level == j)).sum(0) / np.maximum((level == j).sum(0), 1), 0) for j in range(3)]
)
approx = centre[level, np.arange(dim)]
print(
    "two-bit asymmetric",
    " ".join(f"os{o}={recall((q - mean) @ (approx - mean).T, o):.4f}" for o in (4, 8, 16)),
)
