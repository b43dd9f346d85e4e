//! What a fused operator applies to its outputs last: ReLU, ReLU6 and the like, as a clamp.

use crate::simd::{self, F32x4};

/// `min(max(y, lo), hi)`, NaN kept (onnxruntime's Relu and Clip keep it).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Clamp {
    pub lo: f32,
    pub hi: f32,
}

impl Clamp {
    /// Nothing to apply.
    pub const NONE: Clamp = Clamp { lo: f32::NEG_INFINITY, hi: f32::INFINITY };
    pub const RELU: Clamp = Clamp { lo: 0.0, hi: f32::INFINITY };

    pub fn is_none(self) -> bool {
        self == Clamp::NONE
    }

    #[inline(always)]
    pub(crate) fn lanes(self, v: F32x4) -> F32x4 {
        let v = if self.lo > f32::NEG_INFINITY { v.max(F32x4::splat(self.lo)) } else { v };
        if self.hi < f32::INFINITY { v.min(F32x4::splat(self.hi)) } else { v }
    }

    #[inline(always)]
    pub(crate) fn one(self, v: f32) -> f32 {
        simd::min(simd::max(v, self.lo), self.hi)
    }

    /// Clamps every value of `ys`.
    pub(crate) fn apply(self, ys: &mut [f32]) {
        if self.is_none() {
            return;
        }
        let mut chunks = ys.chunks_exact_mut(4);
        for y in &mut chunks {
            self.lanes(F32x4::load(y)).store(y);
        }
        for y in chunks.into_remainder() {
            *y = self.one(*y);
        }
    }
}
