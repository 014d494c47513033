#!/usr/bin/env python3
"""Builds the pytrec_eval parity fixture of fundus-eval.

Usage: pytrec_make_fixture.py GRADED_QRELS OUT_DIR

GRADED_QRELS is Cranfield's `qrels/test_graded_inverted.tsv` (BEIR layout,
grades 0..4, higher = more relevant). Writes OUT_DIR/qrels.tsv and
OUT_DIR/run.trec; OUT_DIR/reference.json then comes from
pytrec_reference.py. Only the standard library is used and the output is
deterministic (fixed seed), so the fixture can be rebuilt and diffed.

The run is built to hit the places where an evaluator can silently differ
from trec_eval:
- score ties (scores rounded to 1-2 decimals, whole lists with one score),
  with numeric doc ids so that byte order ("9" > "10") matters;
- scores that differ as f64 but are equal as f32 (trec_eval stores `float`);
- a rank column that contradicts the scores (trec_eval ignores it);
- judged queries missing from the run, run queries missing from the qrels;
- a query judged all 0, a query with negative grades (one ranked first),
  lists shorter than the cutoffs, relevant documents beyond rank 100.
Duplicate doc ids are left out: pytrec_eval only takes a dict, its
`parse_run` and trec_eval both reject them.
"""

import os
import random
import struct
import sys

SEED = 20240601
NUM_QUERIES = 40
NUM_DOCS = 1400  # Cranfield doc ids are 1..1400


def read_qrels(path):
    qrels = {}
    with open(path, encoding="utf-8") as f:
        for number, line in enumerate(f, 1):
            fields = line.rstrip("\n").split("\t")
            if number == 1 and not fields[2].lstrip("-").isdigit():
                continue
            qid, did, grade = fields
            qrels.setdefault(qid, {})[did] = int(grade)
    return qrels


def f32(x):
    return struct.unpack("f", struct.pack("f", x))[0]


def make_scores(rng, n, style):
    if style == "tied":  # whole list one score
        return [0.5] * n
    if style == "coarse":  # many ties
        return [round(rng.random(), 1) for _ in range(n)]
    if style == "f32":  # distinct as f64, pairs equal as f32
        out = []
        for _ in range(n):
            base = f32(round(rng.uniform(5, 15), 2))
            out.append(base + rng.choice([0.0, 1e-9, 3e-9, -2e-9]))
        return out
    if style == "negative":
        return [round(rng.uniform(-3, 1), 2) for _ in range(n)]
    return [round(rng.random(), 2) for _ in range(n)]


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    graded, out_dir = sys.argv[1], sys.argv[2]
    rng = random.Random(SEED)
    cran = read_qrels(graded)

    chosen = sorted(rng.sample(sorted(cran, key=int), NUM_QUERIES), key=int)
    qrels = {q: dict(cran[q]) for q in chosen}
    # Synthetic queries for the cases the real qrels do not have.
    qrels["syn-zero"] = {"11": 0, "12": 0, "13": 0}
    qrels["syn-neg"] = {"20": -1, "21": 3, "22": 0, "23": -2, "24": 1, "25": 2}
    qrels["syn-one"] = {"1400": 1}

    run = {}
    styles = ["fine", "coarse", "f32", "negative", "tied"]
    for i, q in enumerate(chosen):
        if i % 9 == 4:  # judged but not retrieved
            continue
        judged = sorted(qrels[q], key=int)
        relevant = [d for d in judged if qrels[q][d] > 0]
        n = rng.choice([3, 8, 40, 99, 100, 101, 120, 120])
        picked = set(rng.sample(relevant, max(1, int(len(relevant) * 0.7))))
        picked.update(rng.sample(judged, min(len(judged), 2)))
        while len(picked) < n:
            picked.add(str(rng.randint(1, NUM_DOCS)))
        docs = sorted(picked, key=int)[:n] if len(picked) > n else sorted(picked, key=int)
        rng.shuffle(docs)
        style = styles[i % len(styles)]
        run[q] = list(zip(docs, make_scores(rng, len(docs), style)))
        if i % 7 == 3 and relevant:
            # Push a relevant document just below rank 100.
            lowest = min(s for _, s in run[q]) - 1.0
            extra = [(d, lowest) for d in relevant if d not in picked][:1]
            run[q].extend(extra)

    run["syn-zero"] = [("11", 0.9), ("99", 0.8), ("12", 0.8), ("13", 0.1)]
    # The grade -1 document is ranked first; -2 third.
    run["syn-neg"] = [("20", 2.0), ("24", 1.5), ("23", 1.5), ("21", 1.0), ("30", 1.0), ("25", 0.2)]
    # All tied: byte order ranks "999" > "98" > "1400" > "1000", so the
    # relevant "1400" is third (numeric order would make it first).
    run["syn-one"] = [("1400", 1.0), ("1000", 1.0), ("999", 1.0), ("98", 1.0)]
    # Retrieved but never judged: must be ignored.
    run["ghost"] = [("1", 1.0), ("2", 0.5)]
    run["999"] = [("5", 0.3)]

    os.makedirs(out_dir, exist_ok=True)
    with open(os.path.join(out_dir, "qrels.tsv"), "w", encoding="utf-8") as f:
        f.write("query-id\tcorpus-id\tscore\n")
        for q in qrels:
            for d in sorted(qrels[q], key=lambda d: (len(d), d)):
                f.write(f"{q}\t{d}\t{qrels[q][d]}\n")
    with open(os.path.join(out_dir, "run.trec"), "w", encoding="utf-8") as f:
        for q, hits in run.items():
            # Ranks in file order, which is not score order: trec_eval
            # must re-sort.
            for rank, (d, s) in enumerate(hits, 1):
                f.write(f"{q} Q0 {d} {rank} {s!r} fixture\n")


if __name__ == "__main__":
    main()
