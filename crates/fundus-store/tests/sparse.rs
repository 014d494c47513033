//! Named sparse vectors on points: validated at upsert, searched by dot
//! product (best chunk per document, payload filters inside), and kept
//! through the WAL, flushes, merges, reopening and snapshots.

use std::collections::BTreeMap;

use fundus_core::{Filter, Hit, Metric};
use fundus_store::sparse_vectors::SparseVectorProblem;
use fundus_store::{
    Collection, CollectionConfig, DataDir, ModelInfo, Point, SparseModelInfo, SparseVectorConfig,
    StoreError,
};

const VOCAB: usize = 200;

fn splade_model(sha256: &str) -> SparseModelInfo {
    SparseModelInfo {
        name: "toy-splade".into(),
        source: "toy-splade".into(),
        sha256: sha256.into(),
        vocab_size: VOCAB,
        max_seq_length: 16,
    }
}

fn dense_model() -> ModelInfo {
    ModelInfo {
        name: "toy".into(),
        source: "toy".into(),
        sha256: "00".into(),
        dim: 2,
        max_seq_length: 16,
        query_prefix: None,
        passage_prefix: None,
    }
}

fn create(data: &DataDir, name: &str) -> Collection {
    let config = CollectionConfig::new(name, dense_model(), Metric::Cosine).with_sparse_vector(
        "splade",
        SparseVectorConfig {
            model: splade_model("aa"),
        },
    );
    data.create(config).unwrap()
}

/// xorshift: deterministic vectors without a dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    /// A valid sparse vector: sorted unique terms, positive weights.
    fn vector(&mut self, terms: usize) -> Vec<(u32, f32)> {
        let mut ids: Vec<u32> = (0..terms)
            .map(|_| (self.next() % VOCAB as u64) as u32)
            .collect();
        ids.sort_unstable();
        ids.dedup();
        ids.into_iter()
            .map(|t| (t, 0.05 + (self.next() % 1000) as f32 / 400.0))
            .collect()
    }
}

fn chunk(doc: &str, i: u32, group: u64, v: Vec<(u32, f32)>) -> Point {
    let mut p = Point {
        chunk: i,
        ..Point::whole(doc, &format!("{doc} chunk {i}"))
    };
    p.metadata = Some(serde_json::json!({ "group": group }));
    p.sparse.insert("splade".into(), v);
    p
}

/// `docs` documents of 1 to 3 chunks each, upserted in a few batches.
fn fill(c: &mut Collection, rng: &mut Rng, docs: usize, prefix: &str) {
    let mut batch = Vec::new();
    for d in 0..docs {
        let id = format!("{prefix}{d}");
        for i in 0..(1 + d % 3) as u32 {
            batch.push(chunk(&id, i, d as u64 % 4, rng.vector(12)));
        }
        if batch.len() > 40 {
            upsert(c, &batch);
            batch.clear();
        }
    }
    upsert(c, &batch);
}

fn upsert(c: &mut Collection, points: &[Point]) {
    let vectors = vec![vec![1.0, 0.0]; points.len()];
    c.upsert(points, &vectors).unwrap();
}

/// The truth: every live chunk scored by a plain dot product, best chunk
/// per document, filtered, sorted by score.
fn brute(
    c: &Collection,
    q: &[(u32, f32)],
    k: usize,
    filter: Option<&Filter>,
) -> Vec<(String, f32)> {
    let mut best: BTreeMap<String, f32> = BTreeMap::new();
    for (_, p) in c.points() {
        if filter.is_some_and(|f| !f.matches(p.metadata.as_ref())) {
            continue;
        }
        let Some(v) = p.sparse.get("splade") else {
            continue;
        };
        let s: f32 = v
            .iter()
            .filter_map(|(t, w)| q.iter().find(|(qt, _)| qt == t).map(|(_, qw)| qw * w))
            .sum();
        if s > 0.0 {
            let e = best.entry(p.doc_id.clone()).or_insert(s);
            *e = e.max(s);
        }
    }
    let mut v: Vec<(String, f32)> = best.into_iter().collect();
    v.sort_by(|a, b| b.1.total_cmp(&a.1));
    v.truncate(k);
    v
}

fn scored(hits: &[Hit]) -> Vec<(String, f32)> {
    hits.iter().map(|h| (h.id.clone(), h.score)).collect()
}

/// Same documents with the same scores (up to float summation order);
/// among near ties the order may differ.
fn assert_same(got: &[(String, f32)], want: &[(String, f32)], what: &str) {
    assert_eq!(got.len(), want.len(), "{what}: {got:?} vs {want:?}");
    for (g, w) in got.iter().zip(want) {
        assert!((g.1 - w.1).abs() < 1e-4, "{what}: {got:?} vs {want:?}");
        let tied = want
            .iter()
            .filter(|x| (x.1 - w.1).abs() < 1e-4)
            .any(|x| x.0 == g.0);
        assert!(tied, "{what}: {got:?} vs {want:?}");
    }
}

fn check_against_brute(c: &Collection, queries: &[Vec<(u32, f32)>], what: &str) {
    let f = Filter::parse("group = 2").unwrap();
    for (i, q) in queries.iter().enumerate() {
        for k in [1, 5, 20] {
            let got = c.search_sparse("splade", q, k, None).unwrap();
            assert_same(
                &scored(&got),
                &brute(c, q, k, None),
                &format!("{what} q{i} k{k}"),
            );
            let got = c.search_sparse("splade", q, k, Some(&f)).unwrap();
            assert!(got
                .iter()
                .all(|h| h.metadata.as_ref().unwrap()["group"] == 2));
            assert_same(
                &scored(&got),
                &brute(c, q, k, Some(&f)),
                &format!("{what} filtered q{i} k{k}"),
            );
        }
    }
}

fn results(c: &Collection, queries: &[Vec<(u32, f32)>]) -> Vec<Vec<(String, f32)>> {
    queries
        .iter()
        .map(|q| scored(&c.search_sparse("splade", q, 10, None).unwrap()))
        .collect()
}

#[test]
fn sparse_vectors_survive_wal_flush_merge_reopen_and_snapshot() {
    let tmp = tempfile::tempdir().unwrap();
    let data = DataDir::new(tmp.path().join("data"));
    let mut rng = Rng(0x5eed_1234_abcd_ef01);
    let queries: Vec<Vec<(u32, f32)>> = (0..8).map(|_| rng.vector(6)).collect();
    let mut c = create(&data, "s");
    fill(&mut c, &mut rng, 120, "d");
    check_against_brute(&c, &queries, "in memory");

    // Replace documents with fewer chunks, delete some: their old chunks
    // must not score any more.
    upsert(&mut c, &[chunk("d2", 0, 2, vec![(7, 1.0)])]);
    c.delete(&["d5", "d8"]).unwrap();
    let hits = c.search_sparse("splade", &[(7, 1.0)], 200, None).unwrap();
    assert!(hits.iter().all(|h| h.id != "d5" && h.id != "d8"));
    let d2 = hits.iter().find(|h| h.id == "d2").unwrap();
    assert_eq!((d2.score, d2.chunk), (1.0, Some(0)));
    check_against_brute(&c, &queries, "after replace and delete");

    c.flush().unwrap();
    fill(&mut c, &mut rng, 30, "e");
    c.flush().unwrap();
    fill(&mut c, &mut rng, 10, "f");
    let before = results(&c, &queries);
    drop(c);

    // Reopen: segments plus WAL replay rebuild the index.
    let c = data.open("s").unwrap();
    assert_eq!(results(&c, &queries), before, "reopened");
    assert_eq!(c.stats().sparse_vectors["splade"].chunks, c.len());
    drop(c);

    // Merge everything into one segment, reopen, same results.
    let mut c = data.open_for_write("s").unwrap();
    c.optimize().unwrap();
    assert_eq!(c.stats().segments, 1);
    assert_eq!(results(&c, &queries), before, "merged");
    drop(c);
    let c = data.open("s").unwrap();
    assert_eq!(results(&c, &queries), before, "merged and reopened");
    check_against_brute(&c, &queries, "merged and reopened");
    drop(c);

    // A snapshot restores the vectors and the sparse config.
    let zip = tmp.path().join("s.zip");
    data.snapshot("s", &zip).unwrap();
    data.restore(&zip, "copy").unwrap();
    let r = data.open("copy").unwrap();
    assert_eq!(
        r.config().sparse_vectors,
        data.open("s").unwrap().config().sparse_vectors
    );
    assert_eq!(results(&r, &queries), before, "restored");
}

#[test]
fn bad_sparse_vectors_are_refused_naming_document_and_vector() {
    let tmp = tempfile::tempdir().unwrap();
    let data = DataDir::new(tmp.path());
    let mut c = create(&data, "s");
    let v = vec![vec![1.0, 0.0]];
    let try_upsert = |c: &mut Collection, vector: Vec<(u32, f32)>| {
        c.upsert(&[chunk("doc-7", 3, 0, vector)], &v).unwrap_err()
    };
    let cases = [
        (
            vec![(1, f32::NAN)],
            SparseVectorProblem::NotFinite {
                term: 1,
                value: f32::NAN,
            },
        ),
        (
            vec![(1, 0.5), (2, -0.5)],
            SparseVectorProblem::Negative {
                term: 2,
                value: -0.5,
            },
        ),
        (
            vec![(4, 0.5), (4, 0.5)],
            SparseVectorProblem::Unsorted {
                previous: 4,
                term: 4,
            },
        ),
        (
            vec![(9, 0.5), (3, 0.5)],
            SparseVectorProblem::Unsorted {
                previous: 9,
                term: 3,
            },
        ),
        (
            vec![(VOCAB as u32, 0.5)],
            SparseVectorProblem::OutOfVocabulary {
                term: VOCAB as u32,
                vocab_size: VOCAB,
            },
        ),
    ];
    for (vector, want) in cases {
        let err = try_upsert(&mut c, vector);
        let msg = err.to_string();
        assert!(
            msg.contains("\"doc-7\"") && msg.contains("\"splade\"") && msg.contains("chunk 3"),
            "{msg}"
        );
        match err {
            StoreError::BadSparseVector {
                doc_id,
                chunk,
                vector,
                problem,
            } => {
                assert_eq!(
                    (doc_id.as_str(), chunk, vector.as_str()),
                    ("doc-7", 3, "splade")
                );
                // NaN != NaN: compare the messages.
                assert_eq!(problem.to_string(), want.to_string());
            }
            other => panic!("{other}"),
        }
    }
    let mut p = chunk("doc-8", 0, 0, vec![(1, 1.0)]);
    p.sparse.insert("colbert".into(), vec![(1, 1.0)]);
    let err = c.upsert(&[p], &v).unwrap_err();
    assert!(
        matches!(&err, StoreError::UnknownSparseVector { doc_id, vector, .. } if doc_id == "doc-8" && vector == "colbert"),
        "{err}"
    );
    assert!(err.to_string().contains("sparse vectors: splade"), "{err}");
    assert_eq!(c.len(), 0, "nothing of a refused upsert is stored");

    // A point without the vector is stored and simply not found by it.
    c.upsert(&[Point::whole("plain", "no sparse vector")], &v)
        .unwrap();
    assert!(c
        .search_sparse("splade", &[(1, 1.0)], 5, None)
        .unwrap()
        .is_empty());
}

#[test]
fn queries_need_the_collections_sparse_vector_and_model() {
    let tmp = tempfile::tempdir().unwrap();
    let data = DataDir::new(tmp.path());
    let c = create(&data, "s");
    assert!(c
        .check_sparse_query_model("splade", &splade_model("aa"))
        .is_ok());
    let err = c
        .check_sparse_query_model(
            "splade",
            &SparseModelInfo {
                name: "other".into(),
                ..splade_model("ff")
            },
        )
        .unwrap_err();
    assert!(matches!(err, StoreError::ModelMismatch { .. }), "{err}");
    assert!(
        err.to_string().contains("toy-splade") && err.to_string().contains("sha256 ff"),
        "{err}"
    );
    let err = c.search_sparse("bm42", &[(1, 1.0)], 5, None).unwrap_err();
    assert!(
        err.to_string()
            .contains("no sparse vector \"bm42\" (it has sparse vectors: splade)"),
        "{err}"
    );

    // A collection created without sparse vectors: the error says how to
    // get one, and its manifest does not mention them (older builds read it).
    let plain = data
        .create(CollectionConfig::new(
            "plain",
            dense_model(),
            Metric::Cosine,
        ))
        .unwrap();
    let err = plain
        .search_sparse("splade", &[(1, 1.0)], 5, None)
        .unwrap_err();
    assert!(matches!(err, StoreError::NoSparseVector { .. }));
    assert!(err.to_string().contains("--splade-model"), "{err}");
    let manifest = std::fs::read_to_string(plain.dir().join("collection.json")).unwrap();
    assert!(!manifest.contains("sparse"), "{manifest}");
    let manifest = std::fs::read_to_string(c.dir().join("collection.json")).unwrap();
    assert!(manifest.contains("\"sparse_vectors\""), "{manifest}");
}

#[test]
fn sparse_rescoring_takes_the_best_chunk() {
    let tmp = tempfile::tempdir().unwrap();
    let data = DataDir::new(tmp.path());
    let mut c = create(&data, "s");
    upsert(
        &mut c,
        &[
            chunk("a", 0, 0, vec![(1, 1.0)]),
            chunk("a", 1, 0, vec![(1, 0.5), (2, 3.0)]),
            chunk("b", 0, 0, vec![(5, 1.0)]),
        ],
    );
    let ids = ["b".to_string(), "a".to_string(), "zzz".to_string()];
    let s = c
        .score_documents_sparse("splade", &[(2, 1.0), (1, 2.0)], &ids)
        .unwrap();
    assert_eq!(s, vec![("b".to_string(), 0.0), ("a".to_string(), 4.0)]);
}
