#!/usr/bin/env python3
"""ANN peers of bench/ann: hnswlib and faiss HNSW, one engine per process.

    bench/.venv/bin/python bench/ann/peers.py --data DIR --engine hnswlib|faiss \
        [--m 16] [--ef-construct 128] [--ef 16,32,64,128,256,512] [--k 10] \
        [--repeat 3] [--build-threads N] [--dataset NAME] [--scratch DIR] \
        [--graph FILE]

Reads DIR/base.npy and DIR/queries.npy (unit-length float32 rows) and
DIR/gt.npy and DIR/gt_scores.npy (exact top-k rows and scores, prepare.py
truth) and prints one JSON line per ef, with the same fields as the Fundus
side (crates/fundus-index/examples/ann_bench.rs), recall computed the same
way (tie-aware "recall", plain "recall_ids").

Both peers compare by inner product on the unit-length vectors, which is
cosine: hnswlib space 'ip' (distance 1 - dot), faiss IndexHNSWFlat with
METRIC_INNER_PRODUCT. M and efConstruction are the given ones (both
libraries, like usearch, keep 2*M links on the base layer). The build adds
all vectors in one call on --build-threads threads (default: all cores);
queries run on one thread (hnswlib num_threads=1, faiss
omp_set_num_threads(1)), all queries in one library call, which loops over
them in C++. Each ef first waits for the machine to be quiet (as
ann_bench.rs does; cpu_busy_before in the output), then gets an untimed
warm-up pass and --repeat timed passes; the best counts. Besides wall-clock
queries/s (qps) the results hold queries per second of the searching
thread's CPU time (qps_cpu) and the share of the best pass it spent waiting
for a CPU (runq_wait_share), from /proc/thread-self/schedstat. Memory: the growth of the process' resident set
across the build (neither library reports its own size; the input vectors
are loaded before), and the size of the saved index (hnswlib save_index,
faiss write_index into --scratch, default the system temp folder), which
is vectors plus graph. --graph FILE (hnswlib only): load the index from
FILE when it exists, else build it and save it there, so A/B runs on 1M
vectors build once (build_s is the load time then), as ann_bench.rs does.
"""
import argparse
import json
import os
import sys
import tempfile
import time

import numpy as np


def rss_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def schedstat():
    """On-CPU and run-queue nanoseconds of the calling thread (the one the
    libraries search on with one thread), from /proc/thread-self/schedstat."""
    try:
        with open("/proc/thread-self/schedstat") as f:
            cpu, wait = f.read().split()[:2]
        return int(cpu), int(wait)
    except OSError:
        return 0, 0


def cpu_busy(secs=1.0) -> float:
    """Share of all CPUs busy over secs seconds, from /proc/stat."""
    def sample():
        with open("/proc/stat") as f:
            v = [int(x) for x in f.readline().split()[1:]]
        return v[3] + v[4], sum(v)
    i0, t0 = sample()
    time.sleep(secs)
    i1, t1 = sample()
    return 1.0 - (i1 - i0) / (t1 - t0) if t1 > t0 else 0.0


def wait_quiet() -> float:
    """Waits (up to QUIET_MAX_WAIT_S, default 60) until the CPUs are mostly
    idle (under QUIET_BUSY, default 0.2 of all cores); as ann_bench.rs."""
    max_wait = float(os.environ.get("QUIET_MAX_WAIT_S", 60))
    limit = float(os.environ.get("QUIET_BUSY", 0.2))
    t = time.perf_counter()
    while True:
        busy = cpu_busy()
        if busy <= limit or time.perf_counter() - t >= max_wait:
            return busy
        time.sleep(4)


TIE_EPS = 1e-5


def recall(found, gt, gt_scores, queries, base, k):
    """(tie-aware, by id) recall@k, as ann_bench.rs: a returned row counts
    when it is in the true top-k, or (tie-aware) when its exact score ties
    the k-th true score within 1e-5."""
    by_id = tie_aware = 0
    for q, (row, truth) in enumerate(zip(found[:, :k], gt[:, :k])):
        truth = set(truth.tolist())
        for key in row.tolist():
            if key in truth:
                by_id += 1
                tie_aware += 1
            elif key >= 0:
                score = float(np.dot(queries[q].astype(np.float64), base[key].astype(np.float64)))
                tie_aware += score >= float(gt_scores[q, k - 1]) - TIE_EPS
    total = len(found) * k
    return tie_aware / total, by_id / total


def build_hnswlib(args, base):
    import hnswlib

    index = hnswlib.Index(space="ip", dim=base.shape[1])
    if args.graph and os.path.isfile(args.graph):
        index.load_index(args.graph, max_elements=base.shape[0])
    else:
        index.init_index(max_elements=base.shape[0], ef_construction=args.ef_construct,
                         M=args.m, random_seed=100)
        index.add_items(base, np.arange(base.shape[0]), num_threads=args.build_threads)
        if args.graph:
            index.save_index(args.graph)

    def search(queries, ef):
        index.set_ef(ef)
        labels, _ = index.knn_query(queries, k=args.k, num_threads=1)
        return labels

    from importlib.metadata import version

    return search, index.save_index, {"hnswlib_version": version("hnswlib")}


def build_faiss(args, base):
    import faiss

    faiss.omp_set_num_threads(args.build_threads)
    index = faiss.IndexHNSWFlat(base.shape[1], args.m, faiss.METRIC_INNER_PRODUCT)
    index.hnsw.efConstruction = args.ef_construct
    index.add(base)
    faiss.omp_set_num_threads(1)

    def search(queries, ef):
        params = faiss.SearchParametersHNSW(efSearch=ef)
        _, labels = index.search(queries, args.k, params=params)
        return labels

    return search, lambda path: faiss.write_index(index, path), {"faiss_version": faiss.__version__}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", required=True)
    ap.add_argument("--engine", required=True, choices=("hnswlib", "faiss"))
    ap.add_argument("--dataset")
    ap.add_argument("--m", type=int, default=16)
    ap.add_argument("--ef-construct", type=int, default=128)
    ap.add_argument("--ef", default="16,32,64,128,256,512")
    ap.add_argument("--k", type=int, default=10)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--build-threads", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--scratch", default=tempfile.gettempdir())
    ap.add_argument("--graph", help="hnswlib: load the index from FILE, or build and save it there")
    args = ap.parse_args()

    base = np.load(os.path.join(args.data, "base.npy"))
    queries = np.load(os.path.join(args.data, "queries.npy"))
    gt = np.load(os.path.join(args.data, "gt.npy"))
    gt_scores = np.load(os.path.join(args.data, "gt_scores.npy"))
    assert base.dtype == np.float32 and base.flags["C_CONTIGUOUS"]
    n, dim = base.shape
    dataset = args.dataset or os.path.basename(os.path.normpath(args.data))

    busy_build = wait_quiet()
    rss0 = rss_bytes()
    t = time.perf_counter()
    search, save, extra = {"hnswlib": build_hnswlib, "faiss": build_faiss}[args.engine](args, base)
    build_s = time.perf_counter() - t
    rss_delta = rss_bytes() - rss0
    os.makedirs(args.scratch, exist_ok=True)
    path = os.path.join(args.scratch, f"ann-bench-{args.engine}-{os.getpid()}.index")
    save(path)
    file_bytes = os.path.getsize(path)
    os.remove(path)
    print(f"{args.engine}: built {n} vectors in {build_s:.1f} s on {args.build_threads} threads, "
          f"rss +{rss_delta} bytes", file=sys.stderr)

    for ef in [int(x) for x in args.ef.split(",")]:
        busy = wait_quiet()
        found = search(queries, ef)  # warm-up
        best = best_cpu = wait_share = 0.0
        for _ in range(max(1, args.repeat)):
            cpu0, wait0 = schedstat()
            t = time.perf_counter()
            found = search(queries, ef)
            wall = time.perf_counter() - t
            cpu1, wait1 = schedstat()
            if len(queries) / wall > best:
                best = len(queries) / wall
                wait_share = (wait1 - wait0) * 1e-9 / wall
            if cpu1 > cpu0:
                best_cpu = max(best_cpu, len(queries) / ((cpu1 - cpu0) * 1e-9))
        rec, rec_ids = recall(found, gt, gt_scores, queries, base, args.k)
        print(json.dumps({
            "dataset": dataset, "n": n, "dim": dim, "queries": len(queries), "k": args.k,
            "build_threads": args.build_threads, "query_threads": 1,
            "f32_vector_bytes": n * dim * 4,
            "engine": args.engine, "m": args.m, "ef_construct": args.ef_construct, "ef": ef,
            "recall": rec, "recall_ids": rec_ids, "qps": best, "qps_cpu": best_cpu,
            "runq_wait_share": wait_share, "build_s": build_s,
            "file_bytes": file_bytes, "rss_delta_bytes": rss_delta, "cpu_busy_before": busy,
            "cpu_busy_before_build": busy_build, **extra,
        }), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
