//! The monitor's random choices: prediction-id tokens, which must be unguessable, and which
//! predictions a sampled log keeps. ChaCha12 (a CSPRNG, from the RustCrypto `chacha20`
//! crate) seeded once with 32 bytes of the host's entropy, so the core needs no source of
//! randomness of its own and tests can fix the seed.

use chacha20::ChaCha12Rng;
use rand_core::{Rng, SeedableRng};

#[derive(Debug)]
pub struct Random(ChaCha12Rng);

impl Random {
    pub fn new(seed: [u8; 32]) -> Self {
        Random(ChaCha12Rng::from_seed(seed))
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0.next_u64()
    }

    /// 96 uniformly random bits.
    pub fn next_u96(&mut self) -> u128 {
        (u128::from(self.0.next_u64()) << 32) | u128::from(self.0.next_u32())
    }

    /// Uniform in [0, 1).
    pub fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uniform_and_reproducible() {
        let mut a = Random::new([7; 32]);
        let mut b = Random::new([7; 32]);
        let xs: Vec<f64> = (0..10_000).map(|_| a.next_f64()).collect();
        assert!(xs.iter().zip((0..10_000).map(|_| b.next_f64())).all(|(x, y)| *x == y));
        let mean = xs.iter().sum::<f64>() / xs.len() as f64;
        assert!((mean - 0.5).abs() < 0.01, "{mean}");
        assert!(xs.iter().all(|x| (0.0..1.0).contains(x)));
        let tokens: Vec<u128> = (0..1000).map(|_| a.next_u96()).collect();
        assert!(tokens.iter().all(|&t| t <= crate::monitor::PredictionId::TOKEN_MAX));
        assert!(tokens.iter().any(|&t| t >> 95 == 1), "the top bit is used");
        assert_ne!(Random::new([8; 32]).next_u64(), Random::new([7; 32]).next_u64());
    }
}
