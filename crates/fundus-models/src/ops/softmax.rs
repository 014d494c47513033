//! Row-wise softmax, in place.

use super::activation::{exp, max, multiversion, sum};

multiversion! {
    /// Softmax over each row of a `rows × cols` row-major matrix.
    pub fn softmax_rows(xs: &mut [f32], cols: usize) {
        for row in xs.chunks_exact_mut(cols) {
            // Separate passes, so each one vectorizes.
            let m = max(row);
            for x in row.iter_mut() {
                *x = exp(*x - m);
            }
            let inv = 1.0 / sum(row);
            for x in row.iter_mut() {
                *x *= inv;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_sum_to_one_and_match_the_definition() {
        let mut xs = vec![1.0, 2.0, 3.0, 1000.0, 1000.0, -1000.0];
        softmax_rows(&mut xs, 3);
        let e: Vec<f64> = [1.0f64, 2.0, 3.0].iter().map(|x| x.exp()).collect();
        let s: f64 = e.iter().sum();
        for (a, b) in xs[..3].iter().zip(&e) {
            assert!((*a as f64 - b / s).abs() < 1e-6);
        }
        assert!(
            (xs[3] - 0.5).abs() < 1e-6 && xs[5] < 1e-30,
            "large values stay finite"
        );
    }
}
