//! Ensembles of real embedders: all-MiniLM-L6-v2 with mean pooling (its
//! own) and with CLS pooling, two different embedders of the same weights
//! (no second bi-encoder architecture is available to the tests).

mod common;

use fundus_core::distance::{cosine, dot};
use fundus_models::{BiEncoder, Combine, Embedder, Ensemble, InputKind, ModelFolder, Pooling};

fn minilm(pooling: Option<Pooling>) -> Box<dyn Embedder> {
    let mut folder = ModelFolder::open(common::minilm_dir()).unwrap();
    if let Some(p) = pooling {
        folder.pooling = p;
    }
    Box::new(BiEncoder::from_folder(folder).unwrap())
}

const TEXTS: [&str; 4] = [
    "A refrigerator for vaccines with a temperature alarm.",
    "Medikamentenkühlschrank nach DIN 13277 mit Alarm.",
    "Mitochondria are the powerhouse of the cell.",
    "The committee rejected the budget proposal.",
];

#[test]
fn the_cosine_of_a_weighted_concatenation_is_the_weighted_mean_of_cosines() {
    let (mean, cls) = (minilm(None), minilm(Some(Pooling::Cls)));
    let a = mean.embed(&TEXTS, InputKind::Passage).unwrap();
    let b = cls.embed(&TEXTS, InputKind::Passage).unwrap();
    // The two poolings are really different embedders.
    assert!(cosine(&a[0], &b[0]) < 0.99, "{}", cosine(&a[0], &b[0]));

    let (wa, wb) = (0.3f32, 0.7f32);
    let e = Ensemble::new(vec![(mean, wa), (cls, wb)], Combine::Concat).unwrap();
    assert_eq!(e.dim(), 768);
    let v = e.embed(&TEXTS, InputKind::Passage).unwrap();
    for x in &v {
        assert!((dot(x, x) - 1.0).abs() < 1e-5);
    }
    for i in 0..TEXTS.len() {
        for j in 0..TEXTS.len() {
            let want = wa * cosine(&a[i], &a[j]) + wb * cosine(&b[i], &b[j]);
            let got = dot(&v[i], &v[j]);
            assert!((got - want).abs() < 1e-5, "{i},{j}: {got} vs {want}");
        }
    }
    let id = e.identity().unwrap();
    assert_eq!(id.name, "all-minilm-l6-v2@0.3+all-minilm-l6-v2@0.7");
    assert_eq!(id.fingerprint.len(), 64);
}

#[test]
fn an_average_is_the_normalized_weighted_sum_and_identities_differ() {
    let (mean, cls) = (minilm(None), minilm(Some(Pooling::Cls)));
    let a = mean.embed(&TEXTS, InputKind::Query).unwrap();
    let b = cls.embed(&TEXTS, InputKind::Query).unwrap();
    let single = mean.identity().unwrap().fingerprint;
    let avg = Ensemble::new(vec![(mean, 1.0), (cls, 3.0)], Combine::Average).unwrap();
    assert_eq!(avg.dim(), 384);
    let v = avg.embed(&TEXTS, InputKind::Query).unwrap();
    for i in 0..TEXTS.len() {
        let sum: Vec<f32> = a[i]
            .iter()
            .zip(&b[i])
            .map(|(x, y)| 0.25 * x + 0.75 * y)
            .collect();
        assert!(cosine(&sum, &v[i]) > 0.99999);
        assert!((dot(&v[i], &v[i]) - 1.0).abs() < 1e-5);
    }
    // Same members, other combination or other pooling: other fingerprints.
    let concat = Ensemble::new(
        vec![(minilm(None), 1.0), (minilm(Some(Pooling::Cls)), 3.0)],
        Combine::Concat,
    )
    .unwrap();
    let twins = Ensemble::new(
        vec![(minilm(None), 1.0), (minilm(None), 3.0)],
        Combine::Average,
    )
    .unwrap();
    let fps = [
        single,
        avg.identity().unwrap().fingerprint,
        concat.identity().unwrap().fingerprint,
        twins.identity().unwrap().fingerprint,
    ];
    for i in 0..fps.len() {
        for j in (i + 1)..fps.len() {
            assert_ne!(fps[i], fps[j]);
        }
    }
    assert_eq!(
        avg.identity().unwrap().name,
        "avg:all-minilm-l6-v2@1+all-minilm-l6-v2@3"
    );
}

#[test]
fn an_ensemble_refuses_prefix_overrides_and_single_members() {
    let mut e = Ensemble::new(
        vec![(minilm(None), 1.0), (minilm(Some(Pooling::Cls)), 1.0)],
        Combine::Concat,
    )
    .unwrap();
    let err = e.set_prompts(Default::default()).unwrap_err().to_string();
    assert!(err.contains("each member"), "{err}");
    let err = Ensemble::new(vec![(minilm(None), 1.0)], Combine::Concat)
        .err()
        .unwrap()
        .to_string();
    assert!(err.contains("at least two"), "{err}");
}
