//! Run-time selection of SIMD code paths.
//!
//! Fundus ships one portable binary (no `target-cpu=native`), so every hot
//! loop is compiled several times and the widest version the CPU supports
//! is picked when called. [`multiversion!`](crate::multiversion) is the one
//! mechanism for that, used by the distance kernels, the quantizers and the
//! transformer's element-wise ops.

use std::sync::OnceLock;

/// AVX-512F (with AVX2 and FMA) is available.
pub fn has_avx512() -> bool {
    static F: OnceLock<bool> = OnceLock::new();
    *F.get_or_init(|| {
        #[cfg(target_arch = "x86_64")]
        {
            is_x86_feature_detected!("avx512f")
                && is_x86_feature_detected!("avx2")
                && is_x86_feature_detected!("fma")
        }
        #[cfg(not(target_arch = "x86_64"))]
        {
            false
        }
    })
}

/// AVX2 and FMA are available.
pub fn has_avx2() -> bool {
    static F: OnceLock<bool> = OnceLock::new();
    *F.get_or_init(|| {
        #[cfg(target_arch = "x86_64")]
        {
            is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma")
        }
        #[cfg(not(target_arch = "x86_64"))]
        {
            false
        }
    })
}

/// The widest kernel flavour [`multiversion!`] picks on this CPU:
/// `"avx512"`, `"avx2"` or `"portable"`.
pub fn level() -> &'static str {
    if has_avx512() {
        "avx512"
    } else if has_avx2() {
        "avx2"
    } else {
        "portable"
    }
}

/// Defines `pub fn NAME(args) -> R` compiled three times — AVX-512, AVX2+FMA
/// and baseline — and picks one at run time.
///
/// The body must be plain loops over `#[inline(always)]` helpers: anything
/// LLVM does not inline into the target-feature copy (an
/// `Iterator::for_each` taking a closure, say) runs as baseline code. Avoid
/// `f32::mul_add` and `round` in bodies: in the baseline copy they become
/// libm calls.
#[macro_export]
macro_rules! multiversion {
    ($(#[$meta:meta])* pub fn $name:ident($($arg:ident: $ty:ty),* $(,)?) $(-> $ret:ty)? $body:block) => {
        $(#[$meta])*
        pub fn $name($($arg: $ty),*) $(-> $ret)? {
            #[inline(always)]
            fn imp($($arg: $ty),*) $(-> $ret)? $body
            #[cfg(target_arch = "x86_64")]
            {
                #[target_feature(enable = "avx512f,avx2,fma")]
                unsafe fn v4($($arg: $ty),*) $(-> $ret)? {
                    imp($($arg),*)
                }
                #[target_feature(enable = "avx2,fma")]
                unsafe fn v3($($arg: $ty),*) $(-> $ret)? {
                    imp($($arg),*)
                }
                if $crate::simd::has_avx512() {
                    // SAFETY: the CPU has the features v4 is compiled for.
                    return unsafe { v4($($arg),*) };
                }
                if $crate::simd::has_avx2() {
                    // SAFETY: as above.
                    return unsafe { v3($($arg),*) };
                }
            }
            imp($($arg),*)
        }
    };
}
