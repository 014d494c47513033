//! Crash test: a writer is killed with SIGKILL at random moments; after
//! every restart each acknowledged point is present with its payload and
//! the collection opens cleanly.
//!
//! The test binary re-runs itself as the writer (`FUNDUS_CRASH_WRITER` set):
//! it upserts batches and prints `ack <doc id>` after each `upsert` returns,
//! i.e. after the WAL fsync. The parent reads those lines, kills the child
//! after a random delay and checks the collection.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use fundus_core::Metric;
use fundus_store::{CollectionConfig, DataDir, IndexConfig, ModelInfo, Point, SearchOptions};

const DIM: usize = 16;
const ROUNDS: usize = 20;
/// Live points from which the collection searches an HNSW graph.
const GRAPH_FROM: usize = 2_000;

fn model() -> ModelInfo {
    ModelInfo {
        name: "crash-test".into(),
        source: "crash-test".into(),
        sha256: "0".into(),
        dim: DIM,
        max_seq_length: 8,
        query_prefix: None,
        passage_prefix: None,
    }
}

fn vector(seed: u64) -> Vec<f32> {
    let mut s = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    (0..DIM)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            (s % 1000) as f32 / 1000.0 - 0.5
        })
        .collect()
}

/// The writer side: runs until killed.
fn writer(dir: &str, round: u64) {
    let data = DataDir::new(dir);
    let mut c = if data.exists("c") {
        data.open_for_write("c").expect("open for write")
    } else {
        // A low threshold puts the HNSW graph under the crash too: built
        // mid-run, saved at flushes, rebuilt or loaded and replayed into.
        let index = IndexConfig {
            exact_threshold: GRAPH_FROM,
            ..IndexConfig::default()
        };
        data.create(CollectionConfig::new("c", model(), Metric::Cosine).with_index(index))
            .expect("create")
    };
    let out = std::io::stdout();
    // The test harness has printed "test <name> ... " without a newline;
    // the first acknowledgement must start a line of its own.
    println!();
    for batch in 0u64.. {
        let mut points = Vec::new();
        let mut vectors = Vec::new();
        for i in 0..8 {
            let id = format!("r{round}-b{batch}-{i}");
            let mut p = Point::whole(&id, &format!("text of {id}"));
            p.metadata = Some(serde_json::json!({ "round": round, "batch": batch, "i": i }));
            points.push(p);
            vectors.push(vector(round * 1_000_000 + batch * 8 + i));
        }
        c.upsert(&points, &vectors).expect("upsert");
        {
            let mut o = out.lock();
            for p in &points {
                writeln!(o, "ack {}", p.doc_id).expect("stdout");
            }
            o.flush().expect("stdout");
        }
        // Every few batches an earlier document is deleted, so replay
        // covers both operation kinds. The intent is announced first: a
        // delete that was not acknowledged may or may not have happened.
        // Flushes (segment + graph written, manifest switched, log reset)
        // get killed too.
        if batch % 40 == 39 {
            c.flush().expect("flush");
        }
        if batch % 5 == 4 {
            let id = format!("r{round}-b{}-0", batch - 1);
            let mut o = out.lock();
            writeln!(o, "deleting {id}").expect("stdout");
            o.flush().expect("stdout");
            c.delete(&[&id]).expect("delete");
            writeln!(o, "deleted {id}").expect("stdout");
            o.flush().expect("stdout");
        }
        // Now and then fold the log into a segment mid-stream.
        if batch % 23 == 22 {
            c.flush().expect("flush");
        }
    }
}

#[test]
fn acknowledged_writes_survive_kill_9() {
    if let Ok(spec) = std::env::var("FUNDUS_CRASH_WRITER") {
        let (dir, round) = spec.split_once('|').expect("dir|round");
        writer(dir, round.parse().expect("round"));
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().to_str().unwrap().to_string();
    // Expected state: doc id -> Some(present), or None while a delete was
    // started but not acknowledged (either outcome is correct).
    let mut expected: HashMap<String, Option<bool>> = HashMap::new();
    let mut rng = 0x9E37_79B9_7F4A_7C15u64;
    let mut total_acks = 0;
    let (mut searched, mut graph_rounds, mut graph_misses) = (0usize, 0usize, 0usize);
    for round in 0..ROUNDS as u64 {
        let mut child = Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "acknowledged_writes_survive_kill_9",
                "--nocapture",
                "--test-threads",
                "1",
            ])
            .env("FUNDUS_CRASH_WRITER", format!("{dir}|{round}"))
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = mpsc::channel();
        let reader = std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        let delay = Duration::from_millis(50 + rng % 400);
        let start = Instant::now();
        while start.elapsed() < delay {
            std::thread::sleep(Duration::from_millis(5));
        }
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        reader.join().unwrap();
        for line in rx.try_iter() {
            if let Some(id) = line.strip_prefix("ack ") {
                expected.insert(id.to_string(), Some(true));
                total_acks += 1;
            } else if let Some(id) = line.strip_prefix("deleting ") {
                expected.insert(id.to_string(), None);
            } else if let Some(id) = line.strip_prefix("deleted ") {
                expected.insert(id.to_string(), Some(false));
            }
        }

        let data = DataDir::new(&dir);
        if !data.exists("c") {
            assert!(
                expected.is_empty(),
                "round {round}: acknowledged writes but no collection"
            );
            continue;
        }
        let c = data
            .open("c")
            .unwrap_or_else(|e| panic!("round {round}: reopen failed: {e}"));
        graph_rounds += usize::from(c.has_graph());
        for (id, state) in &expected {
            let got = c.get(id);
            let Some(present) = state else {
                assert!(got.len() <= 1, "round {round}: {id} duplicated");
                continue;
            };
            if *present {
                assert_eq!(got.len(), 1, "round {round}: acknowledged {id} is missing");
                let p = got[0];
                assert_eq!(p.text, format!("text of {id}"));
                assert!(p.metadata.as_ref().is_some_and(|m| m["i"].is_u64()));
                searched += 1;
                if searched % 97 == 0 {
                    // Found by its own vector, through the graph once there is one.
                    let m = p.metadata.as_ref().unwrap();
                    let (r, b, i) = (
                        m["round"].as_u64().unwrap(),
                        m["batch"].as_u64().unwrap(),
                        m["i"].as_u64().unwrap(),
                    );
                    let q = vector(r * 1_000_000 + b * 8 + i);
                    let hits = c.search(&q, 1).unwrap();
                    let exact = c
                        .search_with(
                            &q,
                            1,
                            None,
                            &SearchOptions {
                                exact: true,
                                ..Default::default()
                            },
                        )
                        .unwrap();
                    // The graph is approximate and may miss (then its best
                    // hit scores below the point's own 1.0); a hit that
                    // scores 1.0 under another id would be a wrong key.
                    graph_misses += usize::from(hits[0].id != *id);
                    assert_eq!(
                        (&exact[0].id, hits[0].id == *id || hits[0].score < 0.9999),
                        (id, true),
                        "round {round}: {id}: graph {:?} {}, exact {:?} {}",
                        hits[0].id,
                        hits[0].score,
                        exact[0].id,
                        exact[0].score
                    );
                }
            } else {
                assert!(got.is_empty(), "round {round}: deleted {id} came back");
            }
        }
        drop(c);
        // The writer side must open cleanly too (cuts a torn tail if any).
        data.open_for_write("c")
            .unwrap_or_else(|e| panic!("round {round}: writer reopen failed: {e}"));
    }
    assert!(total_acks > 0, "the writer never acknowledged anything");
    assert!(graph_rounds > 0, "the collection never grew a graph");
    eprintln!(
        "{ROUNDS} kill -9 rounds, {total_acks} acknowledged points checked, {graph_rounds} rounds on the HNSW graph, {} searches by own vector ({graph_misses} approximate misses)",
        searched / 97
    );
}
