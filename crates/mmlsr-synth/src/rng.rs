//! Deterministic random streams: every entity (image, caption, backbone, …) gets its own
//! ChaCha8 stream derived from the run seed and a tag, so that results do not depend on the
//! order or parallelism in which entities are generated.

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};

/// SplitMix64 finaliser: a well-mixed 64-bit hash.
fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// The stream for `(seed, tag, index)`.
pub fn stream(seed: u64, tag: &str, index: u64) -> ChaCha8Rng {
    let mut h = mix(seed);
    for b in tag.bytes() {
        h = mix(h ^ b as u64);
    }
    ChaCha8Rng::seed_from_u64(mix(h ^ index))
}

/// Fill `out` with independent standard normal draws times `scale`.
pub fn fill_normal(rng: &mut ChaCha8Rng, out: &mut [f32], scale: f32) {
    for v in out {
        let x: f32 = StandardNormal.sample(rng);
        *v = x * scale;
    }
}

/// Scale `v` to unit L2 norm (left unchanged if zero).
pub fn normalize(v: &mut [f32]) {
    let n = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    if n > 0.0 {
        v.iter_mut().for_each(|x| *x /= n);
    }
}
