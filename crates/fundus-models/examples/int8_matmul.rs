//! Times one linear layer of all-MiniLM-L6-v2's shapes in f32 (the `gemm`
//! crate, bias fused) and int8 (`ops::qmatmul`, AVX-512 VNNI when the CPU
//! has it), single-threaded as a batch runs when every core has its own,
//! and prints the ratio. The int8 time includes quantizing the
//! activations.
//!
//! ```text
//! cargo run --release -p fundus-models --example int8_matmul -- [ROWS] [REPEATS]
//! ```

use std::time::Instant;

use fundus_models::ops::matmul::Linear;
use fundus_models::ops::qmatmul::{has_vnni, QLinear, QuantRows};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    // ~32 SciFact passages of ~210 tokens: one batch.
    let rows: usize = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(6720);
    let reps: usize = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(5);
    println!("rows {rows}, VNNI {}", has_vnni());
    println!(
        "{:<14}{:>10}{:>10}{:>8}",
        "k×n", "f32 ms", "int8 ms", "ratio"
    );
    let mut seed = 0x2545f4914f6cdd1du64;
    let mut rnd = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        (seed >> 40) as f32 / (1u64 << 24) as f32 - 0.5
    };
    let (mut tf, mut tq) = (0.0, 0.0);
    for (k, n) in [(384, 1152), (384, 384), (384, 1536), (1536, 384)] {
        let w: Vec<f32> = (0..k * n).map(|_| rnd() * 0.1).collect();
        let b: Vec<f32> = (0..n).map(|_| rnd()).collect();
        let lin = Linear::from_torch(&w, b, k, n);
        let q = QLinear::quantize(&lin);
        let x: Vec<f32> = (0..rows * k).map(|_| rnd()).collect();
        let (mut out, mut scratch) = (Vec::new(), QuantRows::default());
        let best = |f: &mut dyn FnMut()| {
            f();
            (0..reps)
                .map(|_| {
                    let t = Instant::now();
                    f();
                    t.elapsed().as_secs_f64() * 1e3
                })
                .fold(f64::INFINITY, f64::min)
        };
        let f = best(&mut || lin.forward(&x, rows, &mut out, false));
        let i = best(&mut || q.forward(&x, rows, &mut out, &mut scratch, false));
        tf += f;
        tq += i;
        println!(
            "{:<14}{f:>10.2}{i:>10.2}{:>7.2}x",
            format!("{k}×{n}"),
            f / i
        );
    }
    println!("{:<14}{tf:>10.2}{tq:>10.2}{:>7.2}x", "layer", tf / tq);
}
