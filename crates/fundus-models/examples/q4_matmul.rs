//! 4-bit kernels or dequantized f32? Times candle's Q4_0 matrix product
//! (activations quantized to Q8_0, integer dot products, as llama.cpp) against
//! Fundus' f32 GEMM on multilingual-e5-small's projection shapes, one thread
//! each (Fundus runs one batch per core), same weights, same inputs.
//!
//! ```text
//! RAYON_NUM_THREADS=1 cargo run --release -p fundus-models --example q4_matmul -- [ROWS]
//! ```
//!
//! ROWS is the number of tokens in a batch (default 4096: 32 texts of 128).

use std::time::Instant;

use candle_core::quantized::{GgmlDType, QMatMul, QTensor};
use candle_core::{Device, Module, Tensor};
use fundus_models::ops::matmul::Linear;

/// Deterministic pseudo-random values in [-1, 1).
fn values(n: usize, seed: u64) -> Vec<f32> {
    let mut s = seed.wrapping_mul(6364136223846793005).wrapping_add(1);
    (0..n)
        .map(|_| {
            s = s
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((s >> 40) as f32 / (1u64 << 23) as f32) - 1.0
        })
        .collect()
}

fn best_of(reps: usize, mut f: impl FnMut()) -> f64 {
    (0..reps)
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed().as_secs_f64()
        })
        .fold(f64::INFINITY, f64::min)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let rows: usize = std::env::args().nth(1).map_or(Ok(4096), |s| s.parse())?;
    println!("{rows} tokens, {} thread(s)", rayon::current_num_threads());
    println!(
        "{:<18}{:>12}{:>12}{:>10}",
        "shape (in->out)", "f32 ms", "Q4_0 ms", "Q4 / f32"
    );
    let (mut total_f32, mut total_q4) = (0.0, 0.0);
    // QKV fused, attention output, FFN in, FFN out.
    for (inp, out) in [(384, 1152), (384, 384), (384, 1536), (1536, 384)] {
        let w = values(inp * out, 1);
        let x = values(rows * inp, 2);
        let linear = Linear::from_torch(&w, vec![0.0; out], inp, out);
        let mut y = Vec::new();
        let f32_s = best_of(5, || linear.forward(&x, rows, &mut y, false));

        let wt = Tensor::from_vec(w, (out, inp), &Device::Cpu)?;
        let q4 = QMatMul::from_qtensor(QTensor::quantize(&wt, GgmlDType::Q4_0)?)?;
        let xt = Tensor::from_vec(x, (rows, inp), &Device::Cpu)?;
        let q4_s = best_of(5, || {
            q4.forward(&xt).expect("Q4_0 product");
        });
        total_f32 += f32_s;
        total_q4 += q4_s;
        println!(
            "{:<18}{:>12.2}{:>12.2}{:>10.2}",
            format!("{inp}->{out}"),
            f32_s * 1e3,
            q4_s * 1e3,
            q4_s / f32_s
        );
    }
    println!(
        "{:<18}{:>12.2}{:>12.2}{:>10.2}",
        "one layer",
        total_f32 * 1e3,
        total_q4 * 1e3,
        total_q4 / total_f32
    );
    Ok(())
}
