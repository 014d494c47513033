//! The numeric kernels of the transformer forward pass, on plain `f32`
//! slices.
//!
//! candle's CPU ops allocate a fresh tensor per op and run element-wise
//! functions through scalar libm calls (`erff`, `expf`); on a 6-layer
//! MiniLM that overhead was larger than the matrix multiplications. These
//! kernels work in place on reused buffers, fuse what belongs together
//! (bias into the GEMM, residual into the layer norm) and are written so
//! LLVM vectorizes them; the GEMM itself is the `gemm` crate, which picks
//! AVX-512 or AVX2 kernels at run time. [`qmatmul`] is the int8 variant
//! of a linear layer (AVX-512 VNNI), for quantized models.

pub mod activation;
pub mod layer_norm;
pub mod matmul;
pub mod qmatmul;
pub mod softmax;
