//! End-to-end: the `fundus` binary on the sample catalogue and on bad input.

mod common;

use common::{repo, write, Fundus};

fn sample() -> String {
    repo()
        .join("examples/products/corpus.jsonl")
        .to_string_lossy()
        .into_owned()
}

#[test]
fn ingest_search_info_and_analyze_the_sample_catalogue() {
    let f = Fundus::new();
    let out = f
        .run(&["ingest", "--collection", "products", "--input", &sample()])
        .success();
    assert!(
        out.stdout.contains("ingested 145 documents"),
        "{}",
        out.stdout
    );

    let out = f
        .run(&[
            "search",
            "--collection",
            "products",
            "--json",
            "-k",
            "3",
            "Ultratiefkühlschrank -86 °C mit CO2-Notkühlung",
        ])
        .success();
    let hits: Vec<serde_json::Value> = out
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(hits.len(), 3);
    assert_eq!(hits[0]["rank"], 1);
    assert_eq!(
        hits[0]["metadata"]["category"], "ultra_low_freezer",
        "{}",
        out.stdout
    );
    assert!(out.stderr.contains("embedding_ms") && out.stderr.contains("search_ms"));

    let out = f
        .run(&[
            "search",
            "--collection",
            "products",
            "DIN 13277 Medikamentenkühlschrank",
        ])
        .success();
    assert!(
        out.stdout.contains("rank")
            && out.stdout.contains("embedding")
            && out.stdout.contains("ms")
    );

    let filter = r#"manufacturer = "Nordkühl" AND volume_l >= 250"#;
    let out = f
        .run(&[
            "search",
            "-c",
            "products",
            "--json",
            "-k",
            "5",
            "--filter",
            filter,
            "Kühlschrank",
        ])
        .success();
    assert_eq!(out.stdout.lines().count(), 5, "{}", out.stdout);
    for line in out.stdout.lines() {
        let hit: serde_json::Value = serde_json::from_str(line).unwrap();
        assert_eq!(hit["metadata"]["manufacturer"], "Nordkühl");
        assert!(
            hit["metadata"]["volume_l"].as_f64().unwrap() >= 250.0,
            "{line}"
        );
    }
    let out = f
        .run(&[
            "search",
            "-c",
            "products",
            "--filter",
            "volume_l >> 3",
            "Kühlschrank",
        ])
        .failure();
    assert!(out.stderr.contains("position 10"), "{}", out.stderr);

    let out = f
        .run(&["collection", "info", "products", "--json"])
        .success();
    let info: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(info["config"]["dim"], 384);
    assert_eq!(info["config"]["model"]["name"], "all-minilm-l6-v2");
    assert_eq!(info["stats"]["documents"], 145);

    let svg = f.data.path().join("sim.svg");
    let out = f
        .run(&[
            "analyze",
            "similarity",
            "--collection",
            "products",
            "--output",
            svg.to_str().unwrap(),
        ])
        .success();
    assert!(out.stdout.contains("near-duplicates"), "{}", out.stdout);
    assert!(std::fs::read_to_string(&svg).unwrap().starts_with("<svg"));
}

#[test]
fn malformed_lines_name_file_and_line_and_can_be_skipped() {
    let f = Fundus::new();
    let input = write(
        f.data.path(),
        "docs.jsonl",
        b"{\"id\": \"a\", \"text\": \"Laborkuehlschrank mit Glastuer\"}\n\
          {\"id\": \"b\", \"text\": }\n\
          {\"id\": \"c\", \"text\": \"\"}\n\
          {\"id\": \"d\", \"text\": \"\xff\xfe\"}\n\
          {\"id\": \"a\", \"text\": \"duplicate id\"}\n\
          {\"id\": \"e\", \"text\": \"Ultra-low freezer\", \"metadata\": {\"volume_l\": 500}}\n",
    );
    let input = input.to_str().unwrap();
    let out = f.run(&["ingest", "-c", "docs", "-i", input]).failure();
    assert!(
        out.stderr.contains("docs.jsonl:2: invalid JSON"),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("--skip-invalid"), "{}", out.stderr);

    let f = Fundus::new();
    let input = write(f.data.path(), "docs.jsonl", &std::fs::read(input).unwrap());
    let out = f
        .run(&[
            "ingest",
            "-c",
            "docs",
            "-i",
            input.to_str().unwrap(),
            "--skip-invalid",
        ])
        .success();
    assert!(
        out.stdout.contains("ingested 2 documents"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.contains("skipped 4 invalid lines"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.contains(":3: document \"c\" has empty text"),
        "{}",
        out.stdout
    );
    assert!(out.stdout.contains(":4: invalid UTF-8"), "{}", out.stdout);
    assert!(
        out.stdout.contains("duplicate document id \"a\""),
        "{}",
        out.stdout
    );
}

#[test]
fn appending_uses_the_collections_model_and_replaces_existing_ids() {
    let f = Fundus::new();
    let a = write(
        f.data.path(),
        "a.jsonl",
        b"{\"id\": \"1\", \"text\": \"centrifuge with cooling\"}\n",
    );
    let b = write(
        f.data.path(),
        "b.jsonl",
        b"{\"id\": \"2\", \"text\": \"pipette calibration\"}\n",
    );
    f.run(&["ingest", "-c", "c", "-i", a.to_str().unwrap()])
        .success();
    f.run(&["ingest", "-c", "c", "-i", b.to_str().unwrap()])
        .success();
    // Re-ingesting document 1 with new text replaces it (upsert).
    let a2 = write(
        f.data.path(),
        "a2.jsonl",
        b"{\"id\": \"1\", \"text\": \"ultra-low freezer at -86 degrees\"}\n",
    );
    let out = f
        .run(&["ingest", "-c", "c", "-i", a2.to_str().unwrap()])
        .success();
    assert!(out.stdout.contains("1 of them replaced"), "{}", out.stdout);
    let out = f.run(&["collection", "info", "c", "--json"]).success();
    let info: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(info["stats"]["documents"], 2);
    assert_eq!(info["stats"]["points"], 2);
    let out = f
        .run(&["search", "-c", "c", "-k", "1", "--json", "deep freezer -86"])
        .success();
    assert!(out.stdout.contains("ultra-low freezer"), "{}", out.stdout);

    let out = f
        .run(&["collection", "delete-documents", "c", "1", "nope"])
        .success();
    assert!(out.stdout.contains("deleted 1 of 2"), "{}", out.stdout);
    let out = f.run(&["collection", "scroll", "c"]).success();
    assert_eq!(out.stdout.trim(), "2");
    let out = f.run(&["collection", "get", "c", "1"]).failure();
    assert!(out.stderr.contains("no document \"1\""), "{}", out.stderr);
    let out = f
        .run(&[
            "search",
            "-c",
            "c",
            "-k",
            "1",
            "--json",
            "how do I calibrate a pipette",
        ])
        .success();
    assert!(out.stdout.contains("\"id\":\"2\""), "{}", out.stdout);
}

#[test]
fn unknown_collection_and_empty_query_are_clear_errors() {
    let f = Fundus::new();
    let out = f.run(&["search", "-c", "nope", "kühlschrank"]).failure();
    assert!(
        out.stderr.contains("unknown collection \"nope\""),
        "{}",
        out.stderr
    );
    let out = f.run(&["collection", "info", "nope"]).failure();
    assert!(out.stderr.contains("unknown collection"), "{}", out.stderr);
    let a = write(
        f.data.path(),
        "a.jsonl",
        b"{\"id\": \"1\", \"text\": \"x\"}\n",
    );
    f.run(&["ingest", "-c", "c", "-i", a.to_str().unwrap()])
        .success();
    let out = f.run(&["search", "-c", "c", "  "]).failure();
    assert!(out.stderr.contains("query is empty"), "{}", out.stderr);
    let out = f
        .run(&["ingest", "-c", "d", "-i", "/does/not/exist.jsonl"])
        .failure();
    assert!(
        out.stderr.contains("/does/not/exist.jsonl"),
        "{}",
        out.stderr
    );
}

#[test]
fn a_query_longer_than_the_window_is_truncated_with_a_warning() {
    let f = Fundus::new();
    let a = write(
        f.data.path(),
        "a.jsonl",
        b"{\"id\": \"1\", \"text\": \"freezer\"}\n",
    );
    f.run(&["ingest", "-c", "c", "-i", a.to_str().unwrap()])
        .success();
    let long = "Kühlschrank ".repeat(400);
    let out = f.run(&["search", "-c", "c", &long]).success();
    assert!(
        out.stderr.contains("only the first 256 are used"),
        "{}",
        out.stderr
    );
}

#[test]
fn long_documents_are_chunked_with_offsets() {
    let f = Fundus::new();
    let body = (0..120)
        .map(|i| format!("Satz {i} über die Temperaturüberwachung."))
        .collect::<Vec<_>>()
        .join(" ");
    let doc = serde_json::json!({"id": "long", "text": body});
    let a = write(f.data.path(), "a.jsonl", format!("{doc}\n").as_bytes());
    let out = f
        .run(&[
            "ingest",
            "-c",
            "c",
            "-i",
            a.to_str().unwrap(),
            "--chunk-size",
            "64",
            "--chunk-overlap",
            "16",
        ])
        .success();
    assert!(
        out.stdout.contains("ingested 1 documents as"),
        "{}",
        out.stdout
    );
    let out = f.run(&["collection", "info", "c", "--json"]).success();
    let info: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert!(info["stats"]["points"].as_u64().unwrap() > 5, "{info}");
    let out = f.run(&["collection", "get", "c", "long"]).success();
    let chars: Vec<char> = body.chars().collect();
    assert!(out.stdout.lines().count() > 5);
    for line in out.stdout.lines() {
        let p: serde_json::Value = serde_json::from_str(line).unwrap();
        let (s, e) = (
            p["char_start"].as_u64().unwrap() as usize,
            p["char_end"].as_u64().unwrap() as usize,
        );
        let expect: String = chars[s..e].iter().collect();
        assert_eq!(
            p["text"],
            expect.as_str(),
            "offsets must point at the chunk text"
        );
        assert_eq!(p["doc_id"], "long");
        assert!(
            s == 0 || chars[s - 1].is_whitespace(),
            "chunk starts mid-word: {:?}",
            p["text"]
        );
    }
    let out = f
        .run(&[
            "search",
            "-c",
            "c",
            "-k",
            "5",
            "--json",
            "Temperaturüberwachung",
        ])
        .success();
    assert_eq!(
        out.stdout.lines().count(),
        1,
        "a document is returned once, by its best chunk"
    );
}

#[test]
fn missing_or_partial_model_folders_are_named() {
    let f = Fundus::new();
    let a = write(
        f.data.path(),
        "a.jsonl",
        b"{\"id\": \"1\", \"text\": \"x\"}\n",
    );
    let out = f
        .run(&[
            "ingest",
            "-c",
            "c",
            "-i",
            a.to_str().unwrap(),
            "--model",
            "no-such-model",
        ])
        .failure();
    assert!(
        out.stderr.contains("unknown model \"no-such-model\""),
        "{}",
        out.stderr
    );

    let partial = f.data.path().join("partial-model");
    std::fs::create_dir(&partial).unwrap();
    std::fs::write(
        partial.join("config.json"),
        r#"{"model_type":"bert","vocab_size":10,"hidden_size":4,"num_hidden_layers":1,"num_attention_heads":1,"intermediate_size":8,"max_position_embeddings":16}"#,
    )
    .unwrap();
    let out = f
        .run(&[
            "ingest",
            "-c",
            "c",
            "-i",
            a.to_str().unwrap(),
            "--model",
            partial.to_str().unwrap(),
        ])
        .failure();
    assert!(out.stderr.contains("tokenizer.json"), "{}", out.stderr);
    assert!(out.stderr.contains("partial-model"), "{}", out.stderr);
}

#[test]
fn eval_on_the_sample_catalogue_writes_run_and_report() {
    let f = Fundus::new();
    let out_dir = f.data.path().join("eval-out");
    let dataset = repo().join("examples/products");
    let out = f
        .run(&[
            "eval",
            "--dataset",
            dataset.to_str().unwrap(),
            "--k",
            "5,10",
            "--output",
            out_dir.to_str().unwrap(),
        ])
        .success();
    assert!(out.stdout.contains("NDCG"), "{}", out.stdout);
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out_dir.join("report.json")).unwrap())
            .unwrap();
    let ndcg = report["report"]["mean"]["NDCG@10"].as_f64().unwrap();
    assert!(ndcg > 0.5, "nDCG@10 on the sample catalogue is {ndcg}");
    let run = std::fs::read_to_string(out_dir.join("run.trec")).unwrap();
    assert_eq!(run.lines().next().unwrap().split_whitespace().count(), 6);

    // The corpus vectors are cached: a second run reads them back and
    // produces the same run file.
    let cached: Vec<_> = std::fs::read_dir(f.data.path().join("eval-cache"))
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.path().extension().is_some_and(|x| x == "f32"))
        .collect();
    assert_eq!(cached.len(), 1);
    let again = f.data.path().join("eval-again");
    f.run(&[
        "eval",
        "--dataset",
        dataset.to_str().unwrap(),
        "--k",
        "5,10",
        "--output",
        again.to_str().unwrap(),
    ])
    .success();
    assert_eq!(
        std::fs::read_to_string(again.join("run.trec")).unwrap(),
        run
    );
}

/// Cross-lingual evaluation reads the documents of one folder and the
/// queries (or second sentences) of another, and refuses files whose ids
/// or rows do not line up, naming them.
#[test]
fn cross_lingual_eval_takes_the_other_folder_and_checks_alignment() {
    let f = Fundus::new();
    let products = repo().join("examples/products");
    // Queries and judgements only: the corpus must come from --corpus-from.
    let queries_only = f.data.path().join("queries-only");
    for file in ["queries.jsonl", "qrels/test.tsv"] {
        let bytes = std::fs::read(products.join(file)).unwrap();
        write(&queries_only, file, &bytes);
    }
    let out_dir = f.data.path().join("x-out");
    let args = |corpus: &std::path::Path| {
        vec![
            "eval".to_string(),
            "--dataset".into(),
            queries_only.to_string_lossy().into_owned(),
            "--corpus-from".into(),
            corpus.to_string_lossy().into_owned(),
            "--output".into(),
            out_dir.to_string_lossy().into_owned(),
        ]
    };
    let run = |a: Vec<String>| f.run(&a.iter().map(String::as_str).collect::<Vec<_>>());
    run(args(&products)).success();
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out_dir.join("report.json")).unwrap())
            .unwrap();
    assert_eq!(report["corpus_from"], "products");
    assert!(report["report"]["mean"]["NDCG@10"].as_f64().unwrap() > 0.5);

    // A corpus without one of the judged documents is not the same set.
    let corpus = std::fs::read_to_string(products.join("corpus.jsonl")).unwrap();
    let judged = std::fs::read_to_string(products.join("qrels/test.tsv")).unwrap();
    let doc = judged.lines().nth(1).unwrap().split('\t').nth(1).unwrap();
    let other = f.data.path().join("other");
    let kept: String = corpus
        .lines()
        .filter(|l| !l.contains(&format!("\"_id\": \"{doc}\"")))
        .map(|l| format!("{l}\n"))
        .collect();
    assert!(kept.len() < corpus.len(), "{doc} not found in the corpus");
    write(&other, "corpus.jsonl", kept.as_bytes());
    let err = run(args(&other)).failure();
    assert!(
        err.stderr.contains(&format!("`{doc}`")) && err.stderr.contains("other/corpus.jsonl"),
        "{}",
        err.stderr
    );

    // STS: the second sentence from a row-aligned translation.
    let (en, de) = (f.data.path().join("sts-en"), f.data.path().join("sts-de"));
    let head = "score\tsentence1\tsentence2\n";
    write(&en, "test.tsv", format!("{head}5\tA dog runs.\tA dog is running.\n0.5\tA man cooks.\tThe stock fell.\n2\tA girl sings.\tA girl dances.\n").as_bytes());
    write(&de, "test.tsv", format!("{head}5\tEin Hund rennt.\tEin Hund läuft.\n0.5\tEin Mann kocht.\tDie Aktie fiel.\n2\tEin Mädchen singt.\tEin Mädchen tanzt.\n").as_bytes());
    let sts = |second: &std::path::Path| {
        f.run(&[
            "eval",
            "--task",
            "sts",
            "--dataset",
            de.to_str().unwrap(),
            "--pair-with",
            second.to_str().unwrap(),
        ])
    };
    let out = sts(&en).success();
    assert!(out.stdout.contains("3 pairs | Spearman"), "{}", out.stdout);
    let shifted = f.data.path().join("sts-shifted");
    write(&shifted, "test.tsv", format!("{head}0.5\tA man cooks.\tThe stock fell.\n5\tA dog runs.\tA dog is running.\n2\tA girl sings.\tA girl dances.\n").as_bytes());
    let err = sts(&shifted).failure();
    assert!(
        err.stderr.contains("sts-shifted/test.tsv:2") && err.stderr.contains("not row-aligned"),
        "{}",
        err.stderr
    );
}

/// The ids `fundus search` returns, best first.
fn search_ids(f: &Fundus, collection: &str, query: &str) -> Vec<String> {
    let out = f
        .run(&["search", "-c", collection, "-k", "2", "--json", query])
        .success();
    out.stdout
        .lines()
        .map(|l| {
            let hit: serde_json::Value = serde_json::from_str(l).unwrap();
            hit["id"].as_str().unwrap().to_string()
        })
        .collect()
}

#[test]
fn an_alias_switches_collections_and_rolls_back() {
    let f = Fundus::new();
    let v1 = write(
        f.data.path(),
        "v1.jsonl",
        b"{\"id\": \"v1-freezer\", \"text\": \"ultra-low freezer at -86 degrees\"}\n\
          {\"id\": \"v1-pipette\", \"text\": \"pipette calibration service\"}\n",
    );
    let v2 = write(
        f.data.path(),
        "v2.jsonl",
        b"{\"id\": \"v2-freezer\", \"text\": \"deep freezer for vaccines, -80 degrees\"}\n\
          {\"id\": \"v2-centrifuge\", \"text\": \"refrigerated benchtop centrifuge\"}\n",
    );
    f.run(&["ingest", "-c", "products_v1", "-i", v1.to_str().unwrap()])
        .success();
    f.run(&["ingest", "-c", "products_v2", "-i", v2.to_str().unwrap()])
        .success();

    let out = f
        .run(&["collection", "alias", "set", "products", "products_v1"])
        .success();
    assert!(
        out.stdout.contains("products -> products_v1"),
        "{}",
        out.stdout
    );
    assert_eq!(search_ids(&f, "products", "freezer")[0], "v1-freezer");

    let out = f
        .run(&["collection", "alias", "set", "products", "products_v2"])
        .success();
    assert!(
        out.stdout.contains("products_v1 -> products_v2"),
        "{}",
        out.stdout
    );
    let ids = search_ids(&f, "products", "freezer");
    assert!(ids.iter().all(|id| id.starts_with("v2-")), "{ids:?}");

    let out = f.run(&["collection", "info", "products_v2"]).success();
    assert!(
        out.stdout.contains("aliases      products"),
        "{}",
        out.stdout
    );
    let out = f
        .run(&["collection", "info", "products", "--json"])
        .success();
    let info: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(info["config"]["name"], "products_v2");
    assert_eq!(info["aliases"], serde_json::json!(["products"]));

    // The collection behind the alias cannot be deleted; the message says why.
    let out = f.run(&["collection", "delete", "products_v2"]).failure();
    assert!(out.stderr.contains("alias \"products\""), "{}", out.stderr);
    // Ingesting through the alias appends to the collection behind it.
    f.run(&["ingest", "-c", "products", "-i", v1.to_str().unwrap()])
        .success();
    let out = f
        .run(&["collection", "info", "products_v2", "--json"])
        .success();
    let info: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(info["stats"]["documents"], 4);
    // An alias may not take a collection's name.
    let out = f
        .run(&["collection", "alias", "set", "products_v1", "products_v2"])
        .failure();
    assert!(
        out.stderr.contains("a collection has this name"),
        "{}",
        out.stderr
    );

    // Roll back.
    f.run(&["collection", "alias", "set", "products", "products_v1"])
        .success();
    assert_eq!(search_ids(&f, "products", "freezer")[0], "v1-freezer");
    let out = f.run(&["collection", "alias", "list"]).success();
    assert_eq!(out.stdout.trim(), "products -> products_v1");
    f.run(&["collection", "alias", "remove", "products"])
        .success();
    let out = f.run(&["search", "-c", "products", "freezer"]).failure();
    assert!(
        out.stderr.contains("unknown collection \"products\""),
        "{}",
        out.stderr
    );
    f.run(&["collection", "delete", "products_v2"]).success();
}

#[test]
fn snapshot_and_restore_through_the_cli() {
    let f = Fundus::new();
    let docs = write(
        f.data.path(),
        "docs.jsonl",
        b"{\"id\": \"freezer\", \"text\": \"ultra-low freezer at -86 degrees\"}\n\
          {\"id\": \"pipette\", \"text\": \"pipette calibration service\"}\n",
    );
    f.run(&["ingest", "-c", "docs", "-i", docs.to_str().unwrap()])
        .success();
    let snap = f.data.path().join("docs.snapshot.zip");
    let out = f
        .run(&[
            "collection",
            "snapshot",
            "docs",
            "--output",
            snap.to_str().unwrap(),
        ])
        .success();
    assert!(out.stdout.contains("2 documents"), "{}", out.stdout);
    assert!(snap.is_file());

    // Later changes to the original do not reach the restored copy.
    f.run(&["collection", "delete-documents", "docs", "pipette"])
        .success();
    let out = f
        .run(&[
            "collection",
            "restore",
            snap.to_str().unwrap(),
            "--name",
            "docs_restored",
        ])
        .success();
    assert!(out.stdout.contains("2 documents"), "{}", out.stdout);
    assert_eq!(
        search_ids(&f, "docs_restored", "calibrating pipettes"),
        ["pipette", "freezer"]
    );
    assert_eq!(search_ids(&f, "docs", "calibrating pipettes"), ["freezer"]);

    let out = f
        .run(&[
            "collection",
            "restore",
            snap.to_str().unwrap(),
            "--name",
            "docs",
        ])
        .failure();
    assert!(out.stderr.contains("already exists"), "{}", out.stderr);
    let junk = write(f.data.path(), "junk.zip", b"not a snapshot");
    let out = f
        .run(&[
            "collection",
            "restore",
            junk.to_str().unwrap(),
            "--name",
            "x",
        ])
        .failure();
    assert!(out.stderr.contains("junk.zip"), "{}", out.stderr);
    let out = f.run(&["collection", "list"]).success();
    assert_eq!(out.stdout.trim(), "docs\ndocs_restored");
}

#[test]
fn binary_bits_choose_two_bit_codes_and_are_checked() {
    let f = Fundus::new();
    let create = |name: &str, extra: &[&str]| {
        let mut args = vec!["collection", "create", name];
        args.extend_from_slice(extra);
        f.run(&args)
    };
    let out = create("two", &["--quantization", "binary", "--binary-bits", "2"]).success();
    assert!(
        out.stdout.contains("quantization binary (2 bits)"),
        "{}",
        out.stdout
    );
    let out = create("one", &["--quantization", "binary"]).success();
    assert!(
        out.stdout.contains("quantization binary)"),
        "{}",
        out.stdout
    );
    let err = create("three", &["--quantization", "binary", "--binary-bits", "3"]).failure();
    assert!(err.stderr.contains("binary-bits"), "{}", err.stderr);
    let err = create("f32", &["--binary-bits", "2"]).failure();
    assert!(
        err.stderr
            .contains("--binary-bits needs --quantization binary"),
        "{}",
        err.stderr
    );
}

#[test]
fn a_collection_created_with_an_int8_graph_searches_like_exact() {
    let f = Fundus::new();
    let out = f
        .run(&[
            "collection",
            "create",
            "graph",
            "--exact-threshold",
            "50",
            "--quantization",
            "int8",
            "--hnsw-m",
            "12",
        ])
        .success();
    assert!(out.stdout.contains("quantization int8"), "{}", out.stdout);
    f.run(&["ingest", "-c", "graph", "-i", &sample()]).success();
    let info = f.run(&["collection", "info", "graph"]).success().stdout;
    assert!(info.contains("in use     hnsw (int8)"), "{info}");
    assert!(info.contains("graph") && info.contains("m 12"), "{info}");

    let query = "Blutkühlschrank nach DIN 58371";
    let search = |extra: &[&str]| -> Vec<String> {
        let mut args = vec!["search", "-c", "graph", "--json", "-k", "5", query];
        args.extend_from_slice(extra);
        f.run(&args)
            .success()
            .stdout
            .lines()
            .map(|l| {
                let v: serde_json::Value = serde_json::from_str(l).unwrap();
                v["id"].as_str().unwrap().to_string()
            })
            .collect()
    };
    let exact = search(&["--exact"]);
    assert_eq!(exact.len(), 5);
    assert_eq!(
        search(&["--ef", "200"]),
        exact,
        "a wide beam finds the exact top 5"
    );

    let err = f
        .run(&["search", "-c", "graph", "--ef", "0", query])
        .failure();
    assert!(err.stderr.contains("ef_search"), "{}", err.stderr);
    let err = f
        .run(&["search", "-c", "graph", "--oversampling", "0.5", query])
        .failure();
    assert!(err.stderr.contains("oversampling"), "{}", err.stderr);
    // Appending twice more leaves three segments; optimize folds them.
    f.run(&["ingest", "-c", "graph", "-i", &sample()]).success();
    f.run(&["ingest", "-c", "graph", "-i", &sample()]).success();
    let out = f.run(&["collection", "optimize", "graph"]).success();
    assert!(out.stdout.contains("-> 1,"), "{}", out.stdout);
    assert_eq!(search(&["--exact"]), exact, "same documents after merging");

    let err = f
        .run(&["collection", "create", "bad", "--hnsw-m", "1"])
        .failure();
    assert!(err.stderr.contains("m = 1"), "{}", err.stderr);
}

#[test]
fn a_query_embedded_by_another_model_is_refused() {
    let f = Fundus::new();
    f.run(&["ingest", "-c", "products", "-i", &sample(), "--no-chunking"])
        .success();
    // A copy of the model with one weight changed: same architecture and
    // dimension, different weights.
    let copy = f.data.path().join("other-model");
    common::copy_model(&common::minilm_folder(), &copy);
    let weights = copy.join("model.safetensors");
    let mut bytes = std::fs::read(&weights).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 1;
    std::fs::write(&weights, bytes).unwrap();

    let err = f
        .run(&[
            "search",
            "-c",
            "products",
            "--model",
            copy.to_str().unwrap(),
            "Laborkühlschrank",
        ])
        .failure();
    assert!(
        err.stderr
            .contains("holds vectors of model all-minilm-l6-v2")
            && err.stderr.contains("other-model"),
        "{}",
        err.stderr
    );
    // The collection's own model is accepted, also when named explicitly.
    f.run(&[
        "search",
        "-c",
        "products",
        "--model",
        "all-minilm-l6-v2",
        "Laborkühlschrank",
    ])
    .success();
}

/// The int8 variant is its own model: a collection it filled searches
/// with it (found from the collection's record) and refuses f32 queries,
/// whose vectors are close but not the same.
#[test]
fn the_int8_variant_is_a_model_of_its_own() {
    let f = Fundus::new();
    let list = f.run(&["models", "list"]).success();
    assert!(
        list.stdout.contains("all-minilm-l6-v2-int8"),
        "{}",
        list.stdout
    );
    f.run(&[
        "ingest",
        "-c",
        "products",
        "-i",
        &sample(),
        "--model",
        "all-minilm-l6-v2-int8",
    ])
    .success();
    let info = f
        .run(&["collection", "info", "products", "--json"])
        .success();
    assert!(
        info.stdout.contains("all-minilm-l6-v2-int8"),
        "{}",
        info.stdout
    );
    let hits = search_ids(&f, "products", "Laborkühlschrank");
    assert!(!hits.is_empty());
    let err = f
        .run(&[
            "search",
            "-c",
            "products",
            "--model",
            "all-minilm-l6-v2",
            "Laborkühlschrank",
        ])
        .failure();
    assert!(
        err.stderr
            .contains("holds vectors of model all-minilm-l6-v2-int8"),
        "{}",
        err.stderr
    );
}

#[test]
fn pipelines_explain_and_bad_pipelines_are_named() {
    let f = Fundus::new();
    f.run(&["ingest", "-c", "products", "-i", &sample()])
        .success();
    let out = f
        .run(&[
            "search",
            "-c",
            "products",
            "--json",
            "-k",
            "3",
            "--pipeline",
            "(dense(50) + bm25(50)) -> rrf(k=10)",
            "DIN 13277 Medikamentenkühlschrank",
        ])
        .success();
    let first: serde_json::Value =
        serde_json::from_str(out.stdout.lines().next().unwrap()).unwrap();
    let stages: Vec<&str> = first["stages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["stage"].as_str().unwrap())
        .collect();
    assert!(stages.contains(&"rrf"), "{stages:?}");
    assert!(out.stderr.contains("embedding_ms"), "{}", out.stderr);
    let out = f
        .run(&[
            "search",
            "-c",
            "products",
            "--explain",
            "-k",
            "2",
            "NMK 3910",
        ])
        .success();
    assert!(out.stdout.contains("why: dense #"), "{}", out.stdout);

    let err = f
        .run(&[
            "search",
            "-c",
            "products",
            "-p",
            "(dense(10) + bm25(10) -> rrf",
            "x",
        ])
        .failure();
    assert!(err.stderr.contains("position 25"), "{}", err.stderr);
    let err = f
        .run(&["search", "-c", "products", "-p", "colbert(10) -> 5", "x"])
        .failure();
    assert!(
        err.stderr.contains("unknown stage `colbert`") && err.stderr.contains("bm25, dense"),
        "{}",
        err.stderr
    );
    let err = f
        .run(&["search", "-c", "products", "-p", "bm25", "the and of"])
        .failure();
    assert!(err.stderr.contains("no searchable terms"), "{}", err.stderr);
    let err = f
        .run(&["collection", "create", "x", "--analyzer", "klingon"])
        .failure();
    assert!(
        err.stderr.contains("unknown analyzer \"klingon\""),
        "{}",
        err.stderr
    );
}

#[test]
fn compare_models_reports_quality_speed_and_memory_as_json() {
    let f = Fundus::new();
    let cls = common::minilm_cls(f.data.path());
    let ensemble = format!("all-minilm-l6-v2+{}", cls.display());
    let json_path = f.data.path().join("compare.json");
    let dataset = repo().join("examples/products");
    let out = f
        .run(&[
            "compare-models",
            "--dataset",
            dataset.to_str().unwrap(),
            "--models",
            &format!("all-minilm-l6-v2,{ensemble}"),
            "--output",
            json_path.to_str().unwrap(),
        ])
        .success();
    assert!(
        out.stdout.contains("nDCG@10") && out.stdout.contains("all-minilm-l6-v2+minilm-cls"),
        "{}",
        out.stdout
    );
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json_path).unwrap()).unwrap();
    assert_eq!(v["dataset"], "products");
    let docs = v["documents"].as_u64().unwrap();
    assert_eq!(docs, 145);
    let rows = v["models"].as_array().unwrap();
    assert_eq!(rows.len(), 2);
    for (row, dim) in rows.iter().zip([384u64, 768]) {
        let num = |k: &str| {
            row[k]
                .as_f64()
                .unwrap_or_else(|| panic!("{k} missing in {row}"))
        };
        assert_eq!(row["dim"].as_u64(), Some(dim), "{row}");
        for k in ["ndcg_at_10", "mrr_at_10", "recall_at_100"] {
            assert!(num(k) > 0.5 && num(k) <= 1.0, "{k} = {} in {row}", num(k));
        }
        assert!(num("docs_per_second") > 0.0, "{row}");
        assert!(num("query_ms_mean") > 0.0 && num("query_ms_p95") >= num("query_ms_mean") * 0.5);
        // Index: one f32 vector per chunk.
        assert_eq!(
            num("index_bytes") as u64,
            row["chunks"].as_u64().unwrap() * dim * 4,
            "{row}"
        );
        assert_eq!(row["sha256"].as_str().unwrap().len(), 64);
    }
    // all-MiniLM-L6-v2 is 90.9 MB of f32 weights; the ensemble holds it twice.
    let bytes: Vec<f64> = rows
        .iter()
        .map(|r| r["model_bytes"].as_f64().unwrap())
        .collect();
    assert!((80e6..100e6).contains(&bytes[0]), "{bytes:?}");
    assert_eq!(bytes[1], 2.0 * bytes[0]);
    assert_ne!(rows[0]["sha256"], rows[1]["sha256"]);
}

#[test]
fn an_ensemble_with_pca_ingests_appends_and_searches() {
    let f = Fundus::new();
    let cls = common::minilm_cls(f.data.path());
    let ensemble = format!("all-minilm-l6-v2@0.7+{}@0.3", cls.display());
    let corpus = std::fs::read_to_string(sample()).unwrap();
    let lines: Vec<&str> = corpus.lines().collect();
    let first = write(
        f.data.path(),
        "first.jsonl",
        lines[..100].join("\n").as_bytes(),
    );
    let rest = write(
        f.data.path(),
        "rest.jsonl",
        lines[100..].join("\n").as_bytes(),
    );
    f.run(&[
        "ingest",
        "-c",
        "ens",
        "-i",
        first.to_str().unwrap(),
        "--model",
        &ensemble,
        "--dims",
        "64",
    ])
    .success();
    // Appending loads the ensemble again from the collection's record.
    f.run(&["ingest", "-c", "ens", "-i", rest.to_str().unwrap()])
        .success();
    let info = f.run(&["collection", "info", "ens"]).success();
    assert!(
        info.stdout.contains("64 (pca64 of the model's 768)")
            && info.stdout.contains("all-minilm-l6-v2@0.7+minilm-cls@0.3"),
        "{}",
        info.stdout
    );
    assert!(
        info.stdout
            .contains(&format!("documents    {}", lines.len())),
        "{}",
        info.stdout
    );
    let hits = search_ids(&f, "ens", "DIN 13277 Medikamentenkühlschrank");
    assert_eq!(hits.len(), 2);
    // Prefix overrides would apply to every member: refused.
    let err = f
        .run(&[
            "ingest",
            "-c",
            "other",
            "-i",
            first.to_str().unwrap(),
            "--model",
            &ensemble,
            "--query-prefix",
            "query: ",
        ])
        .failure();
    assert!(err.stderr.contains("each member"), "{}", err.stderr);
    // Truncation needs no fit; dimensions beyond the model's are refused.
    let err = f
        .run(&[
            "ingest",
            "-c",
            "big",
            "-i",
            first.to_str().unwrap(),
            "--dims",
            "500",
            "--reduction",
            "truncate",
        ])
        .failure();
    assert!(err.stderr.contains("between 1 and 384"), "{}", err.stderr);
}

#[test]
fn a_collection_with_splade_vectors_finds_product_codes_and_explains_the_score() {
    let f = Fundus::new();
    let out = f
        .run(&[
            "collection",
            "create",
            "products",
            "--splade-model",
            "splade-tiny",
        ])
        .success();
    assert!(
        out.stdout.contains("sparse vector \"splade\": splade-tiny"),
        "{}",
        out.stdout
    );
    let out = f
        .run(&["ingest", "-c", "products", "-i", &sample()])
        .success();
    assert!(out.stdout.contains("SPLADE splade-tiny"), "{}", out.stdout);

    // An exact product code: the SPLADE stage alone finds the product.
    let out = f
        .run(&[
            "search",
            "-c",
            "products",
            "--json",
            "-k",
            "2",
            "--pipeline",
            "splade",
            "NLK 3910 G",
        ])
        .success();
    let hits: Vec<serde_json::Value> = out
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(hits.len(), 2, "{}", out.stdout);
    assert_eq!(
        hits[0]["metadata"]["product_code"], "NLK 3910 G",
        "{}",
        out.stdout
    );
    assert_eq!(hits[0]["stages"][0]["stage"], "splade");
    // Filters apply inside the sparse search.
    let out = f
        .run(&[
            "search",
            "-c",
            "products",
            "--json",
            "-k",
            "3",
            "-p",
            "splade",
            "-f",
            r#"lang = "de""#,
            "NMK 3910",
        ])
        .success();
    assert_eq!(out.stdout.lines().count(), 3, "{}", out.stdout);
    assert!(
        out.stdout.lines().all(|l| l.contains(r#""lang":"de""#)),
        "{}",
        out.stdout
    );

    // In a fusion, --explain shows the SPLADE score beside the others.
    let out = f
        .run(&[
            "search",
            "-c",
            "products",
            "--explain",
            "-k",
            "3",
            "-p",
            "(dense(100) + splade(100)) -> rrf",
            "NLK 3910 G",
        ])
        .success();
    let why: Vec<&str> = out.stdout.lines().filter(|l| l.contains("why:")).collect();
    assert_eq!(why.len(), 3, "{}", out.stdout);
    assert!(
        why[0].contains("splade #") && why[0].contains("rrf #1"),
        "{}",
        out.stdout
    );
    // SPLADE re-ranks candidates of another stage too.
    let out = f
        .run(&[
            "search",
            "-c",
            "products",
            "--explain",
            "-k",
            "1",
            "-p",
            "bm25(50) -> splade(5)",
            "KVF 50",
        ])
        .success();
    assert!(
        out.stdout.contains("kvf-50") && out.stdout.contains("| splade #1"),
        "{}",
        out.stdout
    );

    // Appending keeps the collection's SPLADE model; another one is refused.
    let err = f
        .run(&[
            "ingest",
            "-c",
            "products",
            "-i",
            &sample(),
            "--splade-model",
            "all-minilm-l6-v2",
        ])
        .failure();
    assert!(err.stderr.contains("not a SPLADE model"), "{}", err.stderr);

    // Without SPLADE vectors the error says how to get them.
    f.run(&["collection", "create", "plain"]).success();
    let err = f
        .run(&["search", "-c", "plain", "-p", "splade", "NLK 3910 G"])
        .failure();
    assert!(
        err.stderr.contains("has no SPLADE vectors")
            && err.stderr.contains("--splade-model splade-tiny"),
        "{}",
        err.stderr
    );
    let err = f
        .run(&[
            "ingest",
            "-c",
            "plain",
            "-i",
            &sample(),
            "--splade-model",
            "splade-tiny",
        ])
        .failure();
    assert!(
        err.stderr.contains("created without SPLADE vectors"),
        "{}",
        err.stderr
    );
}
