//! The Fundus side of `bench/ann`: builds one index over `DIR/base.npy`,
//! searches `DIR/queries.npy` single-threaded for every `ef` and prints one
//! JSON line per `(engine, ef)` with recall@k against `DIR/gt.npy`, queries
//! per second, build time and memory.
//!
//! ```text
//! cargo run --release -p fundus-index --example ann_bench -- \
//!     --data DIR --variant f32|f16|int8|binary|binary2|flat-f32|flat-f16|flat-int8|flat-binary|flat-binary2|flat-pq \
//!     [--m 16] [--ef-construct 128] [--ef 16,32,64,128,256,512] [--k 10] \
//!     [--repeat 3] [--oversampling default,X,...] [--int8-quantile Q] [--no-raw] \
//!     [--dataset NAME] [--engine usearch|native] \
//!     [--scratch DIR] [--graph FILE] [--filter-every N]
//! ```
//!
//! Files: `base.npy` and `queries.npy` are float32 `[n, dim]` (C order,
//! little-endian, unit length); `gt.npy` is int32 `[queries, >= k]`, the
//! exact nearest rows by cosine, best first, and `gt_scores.npy` their
//! scores (`bench/ann/prepare.py truth`). The metric is cosine. `recall`
//! counts a returned row as found when it is in the true top-k or its
//! exact score ties the k-th true score (within 1e-5: identical vectors of
//! different texts exist in real data); `recall_ids` counts row numbers
//! only.
//!
//! * `f32`, `f16`, `int8`, `binary`, `binary2` (two bits per dimension,
//!   engine `fundus-binary2`): an [`HnswIndex`] (m, ef_construct)
//!   built with `add_batch` (parallel, on rayon's threads: all cores unless
//!   `RAYON_NUM_THREADS` says otherwise). Quantized graphs are searched with
//!   `search_with`: `ceil(k · oversampling)` candidates (`default`: the
//!   quantization's, 2 for f16/int8 and 4 for binary; each other value of
//!   the `--oversampling` list is a run of its own, named `-osX`) re-scored against a
//!   [`FlatIndex`] of the same vectors (row = key). Unless `--no-raw`, the
//!   codes-only ranking (no rescoring, oversampling 1) is measured too, as
//!   engine `fundus-<q>-raw`. The beam is `max(ef, candidates)`.
//! * `--engine native` (f32 only): the graph is Fundus' own
//!   [`NativeHnsw`] (what `HnswIndex` runs f32 graphs on), engine
//!   `fundus-f32-native`; `index_bytes` is its own count. The default,
//!   `--engine usearch`, builds f32 graphs on usearch
//!   (`HnswIndex::new_on_usearch`) as earlier versions did, engine
//!   `fundus-f32`.
//! * `flat-*`: a [`QuantizedFlatIndex`] (exact scan over codes, rescored
//!   with the default oversampling) for the memory-versus-recall table;
//!   `ef` does not apply. Scans run on a one-thread rayon pool.
//! * `--filter-every N`: graph searches only among rows `r % N == 0` (a
//!   payload filter of selectivity 1/N, applied inside the traversal with
//!   `search_filtered` / `search_with`), against the exact top-k among
//!   those rows (computed here with the flat index); engines are named
//!   `...-filterP` with P the allowed percentage.
//! * `--graph FILE`: the graph is loaded from FILE when it exists, else
//!   built and saved there; A/B runs of two builds (e.g. usearch's
//!   prefetch) then search the same graph. `build_s` is the load time then.
//!
//! Queries run one after the other on one thread, each a separate `search`
//! call, as an application would issue them. Each `ef` first waits for the
//! machine to be quiet (see [`wait_quiet`]; `cpu_busy_before` in the
//! output), then gets an untimed warm-up pass and `--repeat` timed passes
//! over all queries; the best pass counts (`qps`). `qps_cpu` counts the
//! searching thread's CPU time instead of wall time, and `runq_wait_share`
//! is the share of the best pass the thread waited for a CPU that another
//! process held (`/proc/thread-self/schedstat`): contention shows there. Memory: `index_bytes` is usearch's own count (graph, codes
//! and slack; its allocators reserve in arenas, so it is coarse) or the
//! flat index's codes; `file_bytes` is the size of the saved graph
//! (`HnswIndex::save` into `--scratch`, default the system temp folder; the
//! peers report their saved size the same way): exactly graph plus codes;
//! `rss_delta_bytes` is the growth of the process' resident set across the
//! build (comparable to the peers'); `code_bytes` and `f32_vector_bytes`
//! are `n` times the bytes of one code and of one `f32` vector.

use std::path::{Path, PathBuf};
use std::time::Instant;

use fundus_core::Metric;
use fundus_index::{
    FlatIndex, HnswIndex, HnswParams, NativeHnsw, Quantization, QuantizedFlatIndex, SearchParams,
};
use serde_json::{json, Value};

type Res<T> = Result<T, Box<dyn std::error::Error + Send + Sync>>;

struct Args {
    data: PathBuf,
    variant: String,
    dataset: String,
    m: usize,
    ef_construct: usize,
    efs: Vec<usize>,
    k: usize,
    repeat: usize,
    /// Rescored runs to measure: `None` is the quantization's default.
    oversampling: Vec<Option<f32>>,
    int8_quantile: Option<f32>,
    raw: bool,
    scratch: PathBuf,
    graph: Option<PathBuf>,
    filter_every: Option<u64>,
    native: bool,
}

fn parse_args() -> Res<Args> {
    let argv: Vec<String> = std::env::args().skip(1).collect();
    let get = |name: &str| {
        argv.iter()
            .position(|a| a == name)
            .and_then(|i| argv.get(i + 1).cloned())
    };
    let data = PathBuf::from(get("--data").ok_or("--data DIR is required")?);
    let variant = get("--variant").ok_or("--variant is required")?;
    let dataset = get("--dataset").unwrap_or_else(|| {
        data.file_name()
            .map_or("data".into(), |s| s.to_string_lossy().to_string())
    });
    let efs = get("--ef")
        .unwrap_or_else(|| "16,32,64,128,256,512".into())
        .split(',')
        .map(|s| s.trim().parse::<usize>())
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Args {
        data,
        variant,
        dataset,
        m: get("--m").map_or(Ok(16), |s| s.parse())?,
        ef_construct: get("--ef-construct").map_or(Ok(128), |s| s.parse())?,
        efs,
        k: get("--k").map_or(Ok(10), |s| s.parse())?,
        repeat: get("--repeat").map_or(Ok(3), |s| s.parse())?,
        oversampling: get("--oversampling")
            .unwrap_or_else(|| "default".into())
            .split(',')
            .map(|s| match s.trim() {
                "default" => Ok(None),
                x => x.parse().map(Some),
            })
            .collect::<Result<_, _>>()?,
        int8_quantile: get("--int8-quantile").map(|s| s.parse()).transpose()?,
        raw: !argv.iter().any(|a| a == "--no-raw"),
        scratch: get("--scratch").map_or_else(std::env::temp_dir, PathBuf::from),
        graph: get("--graph").map(PathBuf::from),
        filter_every: get("--filter-every").map(|s| s.parse()).transpose()?,
        native: match get("--engine").as_deref() {
            None | Some("usearch") => false,
            Some("native") => true,
            Some(other) => return Err(format!("unknown --engine {other:?}").into()),
        },
    })
}

/// A little-endian `.npy` array of 2 dimensions: its shape and raw bytes.
fn read_npy(path: &Path, descr: &str) -> Res<(usize, usize, Vec<u8>)> {
    let bytes = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let bad = |why: &str| format!("{}: {why}", path.display());
    if bytes.len() < 10 || &bytes[..6] != b"\x93NUMPY" {
        return Err(bad("not an .npy file").into());
    }
    let (header_len, start) = match bytes[6] {
        1 => (u16::from_le_bytes([bytes[8], bytes[9]]) as usize, 10),
        _ => (u32::from_le_bytes(bytes[8..12].try_into()?) as usize, 12),
    };
    let header = std::str::from_utf8(&bytes[start..start + header_len])?;
    if !header.contains(&format!("'descr': '{descr}'")) {
        return Err(bad(&format!("expected dtype {descr}, header {header}")).into());
    }
    if header.contains("'fortran_order': True") {
        return Err(bad("Fortran order is not supported").into());
    }
    let shape = header
        .split("'shape': (")
        .nth(1)
        .and_then(|s| s.split(')').next())
        .ok_or_else(|| bad("no shape"))?;
    let dims: Vec<usize> = shape
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::parse)
        .collect::<Result<_, _>>()?;
    let [rows, cols] = dims[..] else {
        return Err(bad("expected a 2-dimensional array").into());
    };
    let mut data = bytes;
    data.drain(..start + header_len);
    if data.len() != rows * cols * 4 {
        return Err(bad("size does not match the shape").into());
    }
    Ok((rows, cols, data))
}

fn read_f32(path: &Path) -> Res<(usize, usize, Vec<f32>)> {
    let (r, c, b) = read_npy(path, "<f4")?;
    let v = b
        .chunks_exact(4)
        .map(|x| f32::from_le_bytes([x[0], x[1], x[2], x[3]]))
        .collect();
    Ok((r, c, v))
}

fn read_i32(path: &Path) -> Res<(usize, usize, Vec<i32>)> {
    let (r, c, b) = read_npy(path, "<i4")?;
    let v = b
        .chunks_exact(4)
        .map(|x| i32::from_le_bytes([x[0], x[1], x[2], x[3]]))
        .collect();
    Ok((r, c, v))
}

/// Resident set size of this process, in bytes.
fn rss_bytes() -> usize {
    std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| s.split_whitespace().nth(1)?.parse::<usize>().ok())
        .map_or(0, |pages| pages * 4096)
}

/// Share of all CPUs busy over `secs` seconds, from `/proc/stat` (0 to 1).
fn cpu_busy(secs: f64) -> f64 {
    fn sample() -> Option<(u64, u64)> {
        let stat = std::fs::read_to_string("/proc/stat").ok()?;
        let v: Vec<u64> = stat
            .lines()
            .next()?
            .split_whitespace()
            .skip(1)
            .filter_map(|x| x.parse().ok())
            .collect();
        // idle + iowait, total
        Some((v.get(3)? + v.get(4)?, v.iter().sum()))
    }
    let a = sample();
    std::thread::sleep(std::time::Duration::from_secs_f64(secs));
    match (a, sample()) {
        (Some((i0, t0)), Some((i1, t1))) if t1 > t0 => 1.0 - (i1 - i0) as f64 / (t1 - t0) as f64,
        _ => 0.0,
    }
}

/// Waits (up to `QUIET_MAX_WAIT_S`, default 60 s) until other processes
/// leave the CPUs mostly idle (under `QUIET_BUSY`, default 0.2 of all
/// cores), so that a timed pass is not shared with someone's compile on a
/// small machine. Returns the busy share seen last; the results carry it.
fn wait_quiet() -> f64 {
    let env = |k: &str, d: f64| {
        std::env::var(k)
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(d)
    };
    let (max_wait, limit) = (env("QUIET_MAX_WAIT_S", 60.0), env("QUIET_BUSY", 0.2));
    let t = Instant::now();
    loop {
        let busy = cpu_busy(1.0);
        if busy <= limit || t.elapsed().as_secs_f64() >= max_wait {
            return busy;
        }
        std::thread::sleep(std::time::Duration::from_secs(4));
    }
}

/// The exact answers: row numbers and scores of each query's true top-k.
struct Truth {
    ids: Vec<i32>,
    scores: Vec<f32>,
    cols: usize,
}

/// Score differences below this count as ties (float rounding between
/// numpy's matrix product and a dot product; identical vectors of
/// different texts).
const TIE_EPS: f64 = 1e-5;

/// Recall@k two ways, averaged over queries: the share of returned rows
/// that are in the true top-k (`ids`), and the same counting a row whose
/// exact score ties the k-th true score as found (`tie_aware`, as
/// ann-benchmarks does; the headline number).
fn recall(
    found: &[Vec<u64>],
    truth: &Truth,
    k: usize,
    queries: &[f32],
    base: &[f32],
    dim: usize,
) -> (f64, f64) {
    let (mut by_id, mut tie_aware) = (0usize, 0usize);
    for (q, keys) in found.iter().enumerate() {
        let ids = &truth.ids[q * truth.cols..q * truth.cols + k];
        let kth = truth.scores[q * truth.cols + k - 1] as f64;
        let query = &queries[q * dim..(q + 1) * dim];
        for &key in keys.iter().take(k) {
            if ids.contains(&(key as i32)) {
                by_id += 1;
                tie_aware += 1;
            } else {
                let row = &base[key as usize * dim..(key as usize + 1) * dim];
                let score: f64 = query
                    .iter()
                    .zip(row)
                    .map(|(&a, &b)| a as f64 * b as f64)
                    .sum();
                tie_aware += (score >= kth - TIE_EPS) as usize;
            }
        }
    }
    let total = (found.len() * k) as f64;
    (tie_aware as f64 / total, by_id as f64 / total)
}

/// On-CPU and run-queue nanoseconds of the calling thread so far
/// (`/proc/thread-self/schedstat`); zeros where the kernel has none.
fn schedstat() -> (u64, u64) {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| {
            let mut it = s.split_whitespace().map(|x| x.parse::<u64>().ok());
            Some((it.next()??, it.next()??))
        })
        .unwrap_or((0, 0))
}

/// Speed of the timed passes over all queries.
struct Timing {
    /// Queries per wall-clock second of the fastest pass.
    qps: f64,
    /// Queries per second of the calling thread's CPU time, best pass: the
    /// speed with other processes' share of the CPU taken out.
    qps_cpu: f64,
    /// Share of the fastest pass' wall time the thread spent runnable but
    /// waiting for a CPU (another process had it).
    runq_wait_share: f64,
}

/// Runs `search` over all queries on the calling thread: one warm-up pass,
/// then `repeat` timed passes; returns the results of the last pass.
fn timed<F>(
    queries: &[f32],
    dim: usize,
    repeat: usize,
    mut search: F,
) -> Res<(Vec<Vec<u64>>, Timing)>
where
    F: FnMut(&[f32]) -> Res<Vec<u64>>,
{
    let nq = queries.len() / dim;
    let mut found = Vec::with_capacity(nq);
    for q in queries.chunks_exact(dim) {
        found.push(search(q)?);
    }
    let mut timing = Timing {
        qps: 0.0,
        qps_cpu: 0.0,
        runq_wait_share: 0.0,
    };
    for _ in 0..repeat.max(1) {
        found.clear();
        let (cpu0, wait0) = schedstat();
        let t = Instant::now();
        for q in queries.chunks_exact(dim) {
            found.push(search(q)?);
        }
        let wall = t.elapsed().as_secs_f64();
        let (cpu1, wait1) = schedstat();
        let qps = nq as f64 / wall;
        if qps > timing.qps {
            timing.qps = qps;
            timing.runq_wait_share = (wait1 - wait0) as f64 * 1e-9 / wall;
        }
        if cpu1 > cpu0 {
            timing.qps_cpu = timing
                .qps_cpu
                .max(nq as f64 / ((cpu1 - cpu0) as f64 * 1e-9));
        }
    }
    Ok((found, timing))
}

fn quantization(name: &str, quantile: Option<f32>) -> Res<Quantization> {
    Ok(match name {
        "f32" => Quantization::None,
        "f16" => Quantization::Float16,
        "int8" => Quantization::Int8 {
            per_dimension: true,
            quantile,
        },
        "binary" => Quantization::BINARY,
        "binary2" => Quantization::BINARY2,
        "pq" => Quantization::Product { subvectors: None },
        other => return Err(format!("unknown quantization {other:?}").into()),
    })
}

/// The searches measured on one index: rescored with each `--oversampling`
/// (one run for f32, which has nothing to rescore), then the codes alone
/// (`-raw`) unless `--no-raw`. Engine names are `{base}[-osX]{suffix}`.
fn runs(a: &Args, quant: Quantization, base: &str, suffix: &str) -> Vec<(String, SearchParams)> {
    let mut runs: Vec<(String, SearchParams)> = a
        .oversampling
        .iter()
        .map(|&o| {
            let os = o.map_or(String::new(), |o| format!("-os{o}"));
            let params = SearchParams {
                oversampling: o,
                rescore: true,
            };
            (format!("{base}{os}{suffix}"), params)
        })
        .collect();
    if quant == Quantization::None {
        runs.truncate(1);
    } else if a.raw {
        runs.push((
            format!("{base}-raw{suffix}"),
            SearchParams {
                oversampling: Some(1.0),
                rescore: false,
            },
        ));
    }
    runs
}

/// The exact top-k of every query among the rows `allow` accepts (the
/// ground truth of a filtered run), from an exact scan of the floats.
fn filtered_truth(
    flat: &FlatIndex,
    queries: &[f32],
    dim: usize,
    k: usize,
    allow: &(dyn Fn(u32) -> bool + Sync),
) -> Res<Truth> {
    let (mut ids, mut scores) = (Vec::new(), Vec::new());
    for q in queries.chunks_exact(dim) {
        let hits = flat.search_filtered(q, k, allow)?;
        if hits.len() < k {
            return Err(format!("the filter leaves fewer than {k} rows").into());
        }
        ids.extend(hits.iter().map(|&(row, _)| row as i32));
        scores.extend(hits.iter().map(|&(_, score)| score));
    }
    Ok(Truth {
        ids,
        scores,
        cols: k,
    })
}

/// The graph under test: usearch's (any quantization) or the native f32 one.
enum Graph {
    Usearch(HnswIndex),
    Native(NativeHnsw),
}

impl Graph {
    /// Bytes of one vector's code in the graph.
    fn code_bytes(&self, dim: usize) -> usize {
        match self {
            Graph::Usearch(h) => h.code_bytes(),
            Graph::Native(_) => 4 * dim,
        }
    }

    fn save(&self, path: &Path) -> Res<()> {
        match self {
            Graph::Usearch(h) => h.save(path)?,
            Graph::Native(h) => h.save(path)?,
        }
        Ok(())
    }

    fn memory_usage(&self) -> usize {
        match self {
            Graph::Usearch(h) => h.memory_usage(),
            Graph::Native(h) => h.memory_usage(),
        }
    }

    fn distance_isa(&self) -> String {
        match self {
            Graph::Usearch(h) => h.distance_isa(),
            Graph::Native(_) => format!("native, fundus-{}", fundus_core::simd::level()),
        }
    }
}

fn main() -> Res<()> {
    let a = parse_args()?;
    let (n, dim, base) = read_f32(&a.data.join("base.npy"))?;
    let (nq, qdim, queries) = read_f32(&a.data.join("queries.npy"))?;
    let (gq, gt_cols, gt) = read_i32(&a.data.join("gt.npy"))?;
    let (sq, score_cols, gt_scores) = read_f32(&a.data.join("gt_scores.npy"))?;
    if (sq, score_cols) != (gq, gt_cols) {
        return Err("gt.npy and gt_scores.npy disagree in shape".into());
    }
    let mut truth = Truth {
        ids: gt,
        scores: gt_scores,
        cols: gt_cols,
    };
    if qdim != dim || gq != nq || gt_cols < a.k {
        return Err(format!(
            "shapes disagree: base {n}x{dim}, queries {nq}x{qdim}, gt {gq}x{gt_cols} (k = {})",
            a.k
        )
        .into());
    }
    let build_threads = rayon::current_num_threads();
    let common = json!({
        "dataset": a.dataset,
        "n": n,
        "dim": dim,
        "queries": nq,
        "k": a.k,
        "simd": cfg!(feature = "simd"),
        "build_threads": build_threads,
        "query_threads": 1,
        "f32_vector_bytes": n * dim * 4,
    });
    let emit = |fields: Value| {
        let mut line = common.clone();
        line.as_object_mut()
            .unwrap()
            .extend(fields.as_object().unwrap().clone());
        println!("{line}");
    };

    if let Some(q) = a.variant.strip_prefix("flat-") {
        let quant = quantization(q, a.int8_quantile)?;
        let rss0 = rss_bytes();
        let t = Instant::now();
        let index = QuantizedFlatIndex::build(&base, dim, Metric::Cosine, quant)?;
        let build_s = t.elapsed().as_secs_f64();
        let rss_delta = rss_bytes().saturating_sub(rss0);
        let mem = index.memory_bytes();
        let pool = rayon::ThreadPoolBuilder::new().num_threads(1).build()?;
        let runs = runs(&a, quant, &format!("fundus-flat-{q}"), "");
        for (engine, params) in runs {
            let busy = wait_quiet();
            let (found, timing) = pool.install(|| {
                timed(&queries, dim, a.repeat, |v| {
                    Ok(index
                        .search(v, a.k, &params)?
                        .iter()
                        .map(|&(r, _)| r as u64)
                        .collect())
                })
            })?;
            let (rec, rec_ids) = recall(&found, &truth, a.k, &queries, &base, dim);
            emit(json!({
                "engine": engine,
                "quantization": index.quantization(),
                "rescore": params.rescore,
                "oversampling": params.oversampling_for(&index.quantization())?,
                "recall": rec,
                "recall_ids": rec_ids,
                "qps": timing.qps,
                "qps_cpu": timing.qps_cpu,
                "runq_wait_share": timing.runq_wait_share,
                "build_s": build_s,
                "code_bytes": mem.codes,
                "index_bytes": mem.codes,
                "originals_bytes": mem.floats,
                "rss_delta_bytes": rss_delta,
                "cpu_busy_before": busy,
            }));
        }
        return Ok(());
    }

    let quant = quantization(&a.variant, a.int8_quantile)?;
    let params = HnswParams {
        m: a.m,
        ef_construct: a.ef_construct,
        ef_search: 64,
    };
    // The originals, for rescoring (and the source of the inserts). The
    // vectors are unit length already; `from_prepared` keeps them as given.
    let flat = FlatIndex::from_prepared(dim, Metric::Cosine, base)?;
    let every = a.filter_every.unwrap_or(1).max(1);
    let allowed = move |row: u64| row.is_multiple_of(every);
    if a.filter_every.is_some() {
        truth = filtered_truth(&flat, &queries, dim, a.k, &|r| allowed(r as u64))?;
    }
    let busy_build = wait_quiet();
    let rss0 = rss_bytes();
    let t = Instant::now();
    if a.native && quant != Quantization::None {
        return Err("--engine native serves --variant f32 only".into());
    }
    // `--graph FILE`: reuse a saved graph (built and saved there on the
    // first run), so runs of differently built binaries compare query
    // speed on the same graph rather than on two random builds.
    let reuse = a.graph.as_ref().filter(|g| g.is_file());
    let keys: Vec<u64> = (0..n as u64).collect();
    let hnsw = if a.native {
        let h = match reuse {
            Some(graph) => NativeHnsw::load(graph, dim, Metric::Cosine)?,
            None => {
                let mut h = NativeHnsw::new(dim, Metric::Cosine, a.m, a.ef_construct)?;
                h.add_batch(&keys, flat.as_slice())?;
                h
            }
        };
        Graph::Native(h)
    } else if let Some(graph) = reuse {
        Graph::Usearch(HnswIndex::load(graph, dim, Metric::Cosine, params)?)
    } else {
        let mut h = if quant == Quantization::None {
            // `HnswIndex::new` would pick the native engine for f32.
            HnswIndex::new_on_usearch(dim, Metric::Cosine, params)?
        } else {
            // An even sample of at most 50 000 rows trains int8's scale and
            // binary's thresholds, as a collection would.
            let step = n.div_ceil(50_000).max(1);
            let sample: Vec<f32> = (0..n)
                .step_by(step)
                .flat_map(|r| flat.vector(r).iter().copied())
                .collect();
            HnswIndex::new_quantized(dim, Metric::Cosine, params, quant, &sample)?
        };
        h.add_batch(&keys, flat.as_slice())?;
        Graph::Usearch(h)
    };
    if let (None, Some(graph)) = (reuse, &a.graph) {
        hnsw.save(graph)?;
    }
    let build_s = t.elapsed().as_secs_f64();
    let rss_delta = rss_bytes().saturating_sub(rss0);
    let index_bytes = hnsw.memory_usage();
    let code_bytes = n * hnsw.code_bytes(dim);
    std::fs::create_dir_all(&a.scratch)?;
    let file = a.scratch.join(format!(
        "ann-bench-{}-{}.usearch",
        a.variant,
        std::process::id()
    ));
    hnsw.save(&file)?;
    let file_bytes = std::fs::metadata(&file)?.len() as usize;
    std::fs::remove_file(&file)?;
    eprintln!(
        "fundus {} ({}): built {n} vectors in {build_s:.1} s on {build_threads} threads, \
         {index_bytes} bytes",
        a.variant,
        hnsw.distance_isa()
    );

    let simd = if cfg!(feature = "simd") {
        ""
    } else {
        "-portable"
    };
    let filtered = match a.filter_every {
        Some(n) => format!("-filter{}", 100 / n.max(1)),
        None => String::new(),
    };
    let native = if a.native { "-native" } else { "" };
    let runs = runs(
        &a,
        quant,
        &format!("fundus-{}{native}{filtered}", a.variant),
        simd,
    );
    let allow: Option<&dyn Fn(u64) -> bool> = match a.filter_every {
        Some(_) => Some(&allowed),
        None => None,
    };
    for &ef in &a.efs {
        for (engine, sp) in &runs {
            let busy = wait_quiet();
            let (found, timing) = timed(&queries, dim, a.repeat, |v| {
                let hits = match (&hnsw, quant, allow) {
                    (Graph::Native(h), _, allow) => h.search(v, a.k, ef, allow)?,
                    (Graph::Usearch(h), Quantization::None, None) => h.search(v, a.k, Some(ef))?,
                    (Graph::Usearch(h), Quantization::None, Some(allow)) => {
                        h.search_filtered(v, a.k, Some(ef), allow)?
                    }
                    (Graph::Usearch(h), _, _) => {
                        h.search_with(v, a.k, Some(ef), sp, allow, Some(&flat))?
                    }
                };
                Ok(hits.iter().map(|&(key, _)| key).collect())
            })?;
            let oversampling = sp.oversampling_for(&quant)?;
            if allow.is_some() && !found.iter().flatten().all(|&key| allowed(key)) {
                return Err(format!(
                    "{engine}: a filtered search returned a row the filter rejects"
                )
                .into());
            }
            let (rec, rec_ids) = recall(&found, &truth, a.k, &queries, flat.as_slice(), dim);
            emit(json!({
                "engine": engine,
                "quantization": quant,
                "m": a.m,
                "ef_construct": a.ef_construct,
                "ef": ef,
                "rescore": sp.rescore && quant != Quantization::None,
                "oversampling": oversampling,
                "recall": rec,
                "recall_ids": rec_ids,
                "qps": timing.qps,
                "qps_cpu": timing.qps_cpu,
                "runq_wait_share": timing.runq_wait_share,
                "build_s": build_s,
                "index_bytes": index_bytes,
                "code_bytes": code_bytes,
                "file_bytes": file_bytes,
                "graph_bytes": file_bytes.saturating_sub(code_bytes),
                "rss_delta_bytes": rss_delta,
                "cpu_busy_before": busy,
                "cpu_busy_before_build": busy_build,
            }));
        }
    }
    Ok(())
}
