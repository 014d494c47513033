//! all-MiniLM-L6-v2 with int8 projections (`Precision::Int8`, the
//! `all-minilm-l6-v2-int8` model) stays close to the f32 model on the
//! parity fixture, and is a different model as far as fingerprints go.

mod common;

use common::Reference;
use fundus_models::{BiEncoder, Embedder, InputKind, Precision};

#[test]
fn int8_vectors_stay_close_to_f32() {
    let reference = Reference::load("minilm_reference.json");
    let texts = reference.texts();
    let f32_model = BiEncoder::load(common::minilm_dir()).unwrap();
    let mut int8_model = BiEncoder::load(common::minilm_dir()).unwrap();
    int8_model.set_precision(Precision::Int8).unwrap();
    assert_eq!(int8_model.precision(), Precision::Int8);
    let a = f32_model.embed(&texts, InputKind::Passage).unwrap();
    let b = int8_model.embed(&texts, InputKind::Passage).unwrap();
    let mut min = f32::INFINITY;
    for (x, y) in a.iter().zip(&b) {
        let cos: f32 = x.iter().zip(y).map(|(p, q)| p * q).sum();
        min = min.min(cos);
    }
    eprintln!(
        "int8 vs f32: min cosine {min:.5} over {} texts",
        texts.len()
    );
    // Measured: 0.99764 (bench/RESULTS.md). The kernels give the same
    // integers on every CPU, so the bar is about the scheme, not the
    // machine.
    assert!(min >= 0.99, "int8 vectors drifted: min cosine {min}");
    // Quantization changes the vectors: they must not pass for f32 ones.
    assert!(min < 0.99999, "int8 gave f32's vectors: min cosine {min}");

    // A query of one text runs the multithreaded path: same vectors.
    let one = int8_model
        .embed(&texts[..1], InputKind::Passage)
        .unwrap()
        .remove(0);
    let cos: f32 = one.iter().zip(&b[0]).map(|(p, q)| p * q).sum();
    assert!(cos > 0.99999, "batch of one differs: cosine {cos}");
}

#[test]
fn int8_is_another_model_for_collections() {
    let f32_model = BiEncoder::load(common::minilm_dir()).unwrap();
    let mut int8_model = BiEncoder::load(common::minilm_dir()).unwrap();
    int8_model.set_precision(Precision::Int8).unwrap();
    let (a, b) = (
        f32_model.identity().unwrap(),
        int8_model.identity().unwrap(),
    );
    assert_ne!(a.fingerprint, b.fingerprint);
    assert_eq!(b.fingerprint.len(), 64);
    assert_ne!(f32_model.settings(), int8_model.settings());
    // No way back from int8 short of loading again.
    assert!(int8_model.set_precision(Precision::F32).is_err());
    assert!(int8_model.set_precision(Precision::Int8).is_ok());
}

/// `compare-models` reports this figure as the model's memory: the f32
/// model holds about its file (less the unused pooler), the int8 variant
/// a quarter of the projections' bytes.
#[test]
fn weight_bytes_count_what_is_held() {
    let f32_model = BiEncoder::load(common::minilm_dir()).unwrap();
    let mut int8_model = BiEncoder::load(common::minilm_dir()).unwrap();
    int8_model.set_precision(Precision::Int8).unwrap();
    let file = std::fs::metadata(&f32_model.folder().weights_path)
        .unwrap()
        .len() as f64;
    let (f, q) = (
        f32_model.weights_bytes() as f64,
        int8_model.weights_bytes() as f64,
    );
    eprintln!("file {file:.0}, f32 {f:.0}, int8 {q:.0} bytes");
    assert!((0.95 * file..=file).contains(&f), "f32 {f} vs file {file}");
    // 6 layers × 1.77M projection weights lose 3 of 4 bytes each.
    let saved = f - q;
    assert!(
        (0.9 * 3.0 * 6.0 * 1.77e6..=1.1 * 3.0 * 6.0 * 1.77e6).contains(&saved),
        "int8 saves {saved} bytes"
    );
}
