//! Flushing subnormal floats to zero while training: x86-64's FTZ and DAZ bits, as PyTorch's
//! `torch.set_flush_denormal(True)`.
//!
//! With τ = 1e-3 the dense teacher's and the sparse student's score distributions are sharply
//! peaked, so the softmax gradients hold many subnormal values (below f32's smallest normal,
//! 1.2e-38), and every multiply-add on one costs an Intel core a microcode assist. Measured on
//! a 2-core Intel Xeon VM (`cargo run --release -p mmlsr-benches --example denormal_probe`): an
//! unrestricted D2S step at |V| = 30,522 took 6.9–7.9 s, and 2.3–3.1 s with flushing, with the
//! same losses. Flushing changes only values that f32 cannot hold at full precision anyway.

/// While alive, subnormal inputs and results count as zero on the calling thread and on every
/// thread of rayon's global pool (where Burn's Flex and NdArray backends compute). Dropping it
/// restores the previous setting. A no-op on other architectures.
#[must_use = "flushing stops when the guard is dropped"]
pub struct FlushDenormals {
    #[cfg(target_arch = "x86_64")]
    previous: u32,
}

/// MXCSR's flush-to-zero (bit 15) and denormals-are-zero (bit 6) bits.
#[cfg(target_arch = "x86_64")]
const FTZ_DAZ: u32 = 0x8040;

#[cfg(target_arch = "x86_64")]
fn set_ftz_daz(bits: u32) {
    // SAFETY: MXCSR only controls SSE rounding, exception masks and subnormal handling of the
    // calling thread; FTZ and DAZ are supported by every x86-64 CPU with SSE3 (all of them
    // since 2006), and no other bit is changed.
    #[allow(deprecated)]
    unsafe {
        use std::arch::x86_64::{_mm_getcsr, _mm_setcsr};
        _mm_setcsr((_mm_getcsr() & !FTZ_DAZ) | (bits & FTZ_DAZ));
    }
}

impl FlushDenormals {
    /// Start flushing.
    pub fn new() -> Self {
        #[cfg(target_arch = "x86_64")]
        {
            // SAFETY: reading MXCSR has no effect.
            #[allow(deprecated)]
            let previous = unsafe { std::arch::x86_64::_mm_getcsr() } & FTZ_DAZ;
            set_ftz_daz(FTZ_DAZ);
            rayon::broadcast(|_| set_ftz_daz(FTZ_DAZ));
            Self { previous }
        }
        #[cfg(not(target_arch = "x86_64"))]
        Self {}
    }
}

impl Default for FlushDenormals {
    fn default() -> Self {
        Self::new()
    }
}

impl Drop for FlushDenormals {
    fn drop(&mut self) {
        #[cfg(target_arch = "x86_64")]
        {
            let previous = self.previous;
            set_ftz_daz(previous);
            rayon::broadcast(|_| set_ftz_daz(previous));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The smallest normal f32 halved is subnormal: kept without the guard, zero with it, kept
    /// again after it, on the calling thread and on rayon's threads.
    #[test]
    fn subnormals_flush_while_the_guard_lives() {
        let half = |x: f32| std::hint::black_box(x) * std::hint::black_box(0.5f32);
        let on_pool = || rayon::broadcast(|_| half(f32::MIN_POSITIVE));
        assert!(half(f32::MIN_POSITIVE) > 0.0);
        assert!(on_pool().iter().all(|&v| v > 0.0));
        {
            let _guard = FlushDenormals::new();
            if cfg!(target_arch = "x86_64") {
                assert_eq!(half(f32::MIN_POSITIVE), 0.0);
                assert!(on_pool().iter().all(|&v| v == 0.0));
            }
            // Normal values are untouched.
            assert_eq!(half(1.0), 0.5);
        }
        assert!(half(f32::MIN_POSITIVE) > 0.0);
        assert!(on_pool().iter().all(|&v| v > 0.0));
    }
}
