//! Layer normalization with the residual add fused in.

use super::activation::{dispatch_rows, sum};

/// Weight, bias and epsilon of one layer norm.
pub struct LayerNorm {
    pub weight: Vec<f32>,
    pub bias: Vec<f32>,
    pub eps: f32,
}

impl LayerNorm {
    /// Bytes of scale and shift held.
    pub fn weight_bytes(&self) -> usize {
        4 * (self.weight.len() + self.bias.len())
    }

    /// `x = LayerNorm(x + residual)` row by row (`residual` may be empty to
    /// normalize `x` alone).
    pub fn forward_residual(&self, x: &mut [f32], residual: &[f32]) {
        let h = self.weight.len();
        if !residual.is_empty() {
            assert_eq!(x.len(), residual.len());
            x.iter_mut().zip(residual).for_each(|(a, b)| *a += b);
        }
        let (w, b, eps) = (&self.weight, &self.bias, self.eps);
        dispatch_rows(x, h, |row| {
            let n = row.len() as f32;
            let mean = sum(row) / n;
            row.iter_mut().for_each(|v| *v -= mean);
            let mut sq = [0.0f32; 16];
            let mut chunks = row.chunks_exact(16);
            for c in &mut chunks {
                for i in 0..16 {
                    sq[i] += c[i] * c[i];
                }
            }
            let var = (sq.iter().sum::<f32>()
                + chunks.remainder().iter().map(|v| v * v).sum::<f32>())
                / n;
            let inv = 1.0 / (var + eps).sqrt();
            for ((v, g), bb) in row.iter_mut().zip(w).zip(b) {
                *v = *v * inv * g + bb;
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalizes_each_row() {
        let ln = LayerNorm {
            weight: vec![1.0, 2.0],
            bias: vec![0.0, 1.0],
            eps: 0.0,
        };
        let mut x = vec![1.0, 3.0, 5.0, 5.0];
        ln.forward_residual(&mut x, &[1.0, 1.0, 0.0, 2.0]);
        // Row 1: [2, 4] -> [-1, 1] -> [-1, 3]; row 2: [5, 7] -> [-1, 1] -> [-1, 3].
        assert_eq!(x, vec![-1.0, 3.0, -1.0, 3.0]);
    }
}
