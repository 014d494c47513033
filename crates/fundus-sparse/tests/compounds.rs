//! German compound splitting end to end on the sample catalogue
//! (`examples/products`, which ships with the repository): the query's
//! words find the sheets that only have them inside a compound, and a
//! compound query finds the sheets that have its parts.

use std::path::PathBuf;

use fundus_eval::BeirDataset;
use fundus_sparse::{Analyzer, Bm25Index, Bm25Params};

fn catalogue(analyzer: Analyzer) -> Bm25Index {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../examples/products");
    let data = BeirDataset::load(dir, "test").unwrap();
    Bm25Index::build(
        analyzer,
        Bm25Params::default(),
        data.corpus
            .iter()
            .map(|d| (d.id.clone(), format!("{} {}", d.title, d.text))),
    )
    .unwrap()
}

fn top(index: &Bm25Index, query: &str, k: usize) -> Vec<String> {
    index
        .search(query, k)
        .unwrap()
        .into_iter()
        .map(|h| h.key)
        .collect()
}

#[test]
fn words_of_a_compound_find_the_compound_sheets() {
    let plain = catalogue(Analyzer::German);
    let split = catalogue(Analyzer::GermanCompounds);
    let query = "Kühlschrank für Medikamente";
    let (p, s) = (top(&plain, query, 5), top(&split, query, 5));
    eprintln!("{query}: german {p:?}\n  german-compounds {s:?}");
    let medical = |hits: &[String]| hits.iter().filter(|k| k.starts_with("nmk-")).count();
    assert!(medical(&s) >= 3, "{s:?}");
    assert!(
        medical(&s) > medical(&p),
        "german {p:?} vs german-compounds {s:?}"
    );
}

#[test]
fn a_compound_query_finds_sheets_with_its_parts() {
    let plain = catalogue(Analyzer::German);
    let split = catalogue(Analyzer::GermanCompounds);
    // "Laborkühlschrank" shares "kuhlschrank" with every fridge sheet.
    let query = "Laborkühlschrank";
    let p = plain.search(query, 200).unwrap().len();
    let s = split.search(query, 200).unwrap().len();
    eprintln!("{query}: german matches {p} sheets, german-compounds {s}");
    assert!(s > p + 10, "german {p} vs german-compounds {s}");
    // The exact compound still ranks first: the whole term is kept.
    let hits = top(&split, "Laborkühlschrank mit Glastür", 3);
    eprintln!("Laborkühlschrank mit Glastür: {hits:?}");
    assert!(hits[0].starts_with("nlk-"), "{hits:?}");
}
