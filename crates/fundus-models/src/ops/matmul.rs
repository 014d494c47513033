//! Matrix multiplication with fused bias, on row-major slices.

use gemm::Parallelism;

/// A row-major matrix view: `rows × cols` with `row_stride` between rows.
#[derive(Clone, Copy)]
pub struct View<'a> {
    pub data: &'a [f32],
    pub rows: usize,
    pub cols: usize,
    pub row_stride: usize,
}

impl<'a> View<'a> {
    pub fn new(data: &'a [f32], rows: usize, cols: usize) -> Self {
        View {
            data,
            rows,
            cols,
            row_stride: cols,
        }
    }

    fn check(&self) {
        if self.rows > 0 {
            assert!((self.rows - 1) * self.row_stride + self.cols <= self.data.len());
        }
    }
}

/// `out = a · b` where `b` may be read transposed (`b_transposed`: `b` is
/// `n × k` and is used as its transpose). `out` is `m × n` with row stride
/// `out_stride`. With `accumulate`, the product is added to what `out`
/// holds (used to fuse the bias: fill `out` with it first).
#[allow(clippy::too_many_arguments)]
pub fn matmul(
    a: View,
    b: View,
    b_transposed: bool,
    out: &mut [f32],
    out_stride: usize,
    accumulate: bool,
    parallel: bool,
) {
    a.check();
    b.check();
    let (m, k) = (a.rows, a.cols);
    let (kb, n) = if b_transposed {
        (b.cols, b.rows)
    } else {
        (b.rows, b.cols)
    };
    assert_eq!(k, kb, "inner dimensions differ");
    if m == 0 || n == 0 {
        return;
    }
    assert!((m - 1) * out_stride + n <= out.len(), "output too small");
    let (b_cs, b_rs) = if b_transposed {
        (b.row_stride as isize, 1)
    } else {
        (1, b.row_stride as isize)
    };
    let parallelism = if parallel {
        Parallelism::Rayon(rayon::current_num_threads())
    } else {
        Parallelism::None
    };
    // SAFETY: the asserts above keep every index the kernel touches inside
    // the three slices; `out` does not alias `a` or `b` (it is `&mut`).
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            out.as_mut_ptr(),
            1,
            out_stride as isize,
            accumulate,
            a.data.as_ptr(),
            1,
            a.row_stride as isize,
            b.data.as_ptr(),
            b_cs,
            b_rs,
            1.0,
            1.0,
            false,
            false,
            false,
            parallelism,
        )
    }
}

/// A linear layer `y = x · W + b` with `W` stored as `in × out`.
pub struct Linear {
    pub weight: Vec<f32>,
    pub bias: Vec<f32>,
    pub inputs: usize,
    pub outputs: usize,
}

impl Linear {
    /// Bytes of weights and bias held.
    pub fn weight_bytes(&self) -> usize {
        4 * (self.weight.len() + self.bias.len())
    }

    /// From PyTorch's layout (`weight` is `out × in`).
    pub fn from_torch(
        weight_out_in: &[f32],
        bias: Vec<f32>,
        inputs: usize,
        outputs: usize,
    ) -> Self {
        assert_eq!(weight_out_in.len(), inputs * outputs);
        assert_eq!(bias.len(), outputs);
        let mut weight = vec![0.0; inputs * outputs];
        for o in 0..outputs {
            for i in 0..inputs {
                weight[i * outputs + o] = weight_out_in[o * inputs + i];
            }
        }
        Linear {
            weight,
            bias,
            inputs,
            outputs,
        }
    }

    /// `out[rows × outputs] = x[rows × inputs] · W + b`.
    pub fn forward(&self, x: &[f32], rows: usize, out: &mut Vec<f32>, parallel: bool) {
        out.clear();
        out.reserve(rows * self.outputs);
        for _ in 0..rows {
            out.extend_from_slice(&self.bias);
        }
        matmul(
            View::new(x, rows, self.inputs),
            View::new(&self.weight, self.inputs, self.outputs),
            false,
            out,
            self.outputs,
            true,
            parallel,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_and_transposed_products() {
        // a = [[1,2],[3,4]], b = [[5,6],[7,8]]
        let a = [1.0, 2.0, 3.0, 4.0];
        let b = [5.0, 6.0, 7.0, 8.0];
        let mut out = vec![0.0; 4];
        matmul(
            View::new(&a, 2, 2),
            View::new(&b, 2, 2),
            false,
            &mut out,
            2,
            false,
            false,
        );
        assert_eq!(out, [19.0, 22.0, 43.0, 50.0]);
        matmul(
            View::new(&a, 2, 2),
            View::new(&b, 2, 2),
            true,
            &mut out,
            2,
            false,
            true,
        );
        assert_eq!(out, [17.0, 23.0, 39.0, 53.0]);
    }

    #[test]
    fn strided_views_and_linear_with_bias() {
        // Take columns 1..3 of a 2×4 matrix.
        let a = [0.0, 1.0, 2.0, 9.0, 0.0, 3.0, 4.0, 9.0];
        let view = View {
            data: &a[1..],
            rows: 2,
            cols: 2,
            row_stride: 4,
        };
        let lin = Linear::from_torch(&[1.0, 0.0, 0.0, 1.0, 1.0, 1.0], vec![0.5, 0.5, 0.5], 2, 3);
        let mut out = vec![0.0; 6];
        matmul(
            view,
            View::new(&lin.weight, 2, 3),
            false,
            &mut out,
            3,
            false,
            false,
        );
        assert_eq!(out, [1.0, 2.0, 3.0, 3.0, 4.0, 7.0]);
        let mut y = Vec::new();
        lin.forward(&[1.0, 2.0], 1, &mut y, false);
        assert_eq!(y, [1.5, 2.5, 3.5]);
    }
}
