//! Four f32 lanes: wasm's simd128 where the build has it, an array elsewhere (which LLVM
//! vectorises natively). The kernels are written once against this, so native tests run the
//! same lane logic as the shipped wasm.

#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
mod imp {
    use core::arch::wasm32::*;

    #[derive(Clone, Copy)]
    pub(crate) struct F32x4(v128);

    impl F32x4 {
        #[inline(always)]
        pub(crate) fn splat(x: f32) -> Self {
            F32x4(f32x4_splat(x))
        }
        #[inline(always)]
        pub(crate) fn load(xs: &[f32]) -> Self {
            assert!(xs.len() >= 4);
            // SAFETY: four f32s are in bounds (checked above); v128 loads need no alignment.
            F32x4(unsafe { v128_load(xs.as_ptr() as *const v128) })
        }
        #[inline(always)]
        pub(crate) fn store(self, xs: &mut [f32]) {
            assert!(xs.len() >= 4);
            // SAFETY: as in `load`.
            unsafe { v128_store(xs.as_mut_ptr() as *mut v128, self.0) }
        }
        #[inline(always)]
        pub(crate) fn add(self, o: Self) -> Self {
            F32x4(f32x4_add(self.0, o.0))
        }
        #[inline(always)]
        pub(crate) fn sub(self, o: Self) -> Self {
            F32x4(f32x4_sub(self.0, o.0))
        }
        #[inline(always)]
        pub(crate) fn mul(self, o: Self) -> Self {
            F32x4(f32x4_mul(self.0, o.0))
        }
        /// `self + a * b`. With relaxed SIMD, `f32x4.relaxed_madd` lets the engine fuse the
        /// two (one rounding, where the CPU has FMA); without, two roundings.
        #[inline(always)]
        pub(crate) fn mul_add(self, a: Self, b: Self) -> Self {
            #[cfg(target_feature = "relaxed-simd")]
            return F32x4(f32x4_relaxed_madd(a.0, b.0, self.0));
            #[cfg(not(target_feature = "relaxed-simd"))]
            self.add(a.mul(b))
        }
        #[inline(always)]
        pub(crate) fn div(self, o: Self) -> Self {
            F32x4(f32x4_div(self.0, o.0))
        }
        /// NaN if either lane is NaN (wasm's `f32x4.max`).
        #[inline(always)]
        pub(crate) fn max(self, o: Self) -> Self {
            F32x4(f32x4_max(self.0, o.0))
        }
        /// NaN if either lane is NaN (wasm's `f32x4.min`).
        #[inline(always)]
        pub(crate) fn min(self, o: Self) -> Self {
            F32x4(f32x4_min(self.0, o.0))
        }
        /// `o` where it is greater than `self`, else `self`: NaN in `o` never wins. This is
        /// wasm's `pmax`, one instruction on x86 where `max` is eight.
        #[cfg(not(target_feature = "relaxed-simd"))]
        #[inline(always)]
        pub(crate) fn keep_greater(self, o: Self) -> Self {
            F32x4(f32x4_pmax(self.0, o.0))
        }
        /// `o` where it is less than `self`, else `self`: NaN in `o` never wins (`pmin`).
        #[cfg(not(target_feature = "relaxed-simd"))]
        #[inline(always)]
        pub(crate) fn keep_less(self, o: Self) -> Self {
            F32x4(f32x4_pmin(self.0, o.0))
        }
        /// With relaxed SIMD on, LLVM selects `relaxed_max` for `pmax` (and any comparison and
        /// select of that shape), whose answer for NaN is the engine's to choose; V8's picks
        /// the other operand. `max` (NaN if either is) with `self` put back where `o` is NaN
        /// keeps the answer fixed.
        #[cfg(target_feature = "relaxed-simd")]
        #[inline(always)]
        pub(crate) fn keep_greater(self, o: Self) -> Self {
            F32x4(v128_bitselect(self.0, f32x4_max(self.0, o.0), f32x4_ne(o.0, o.0)))
        }
        /// As `keep_greater`, for `pmin`.
        #[cfg(target_feature = "relaxed-simd")]
        #[inline(always)]
        pub(crate) fn keep_less(self, o: Self) -> Self {
            F32x4(v128_bitselect(self.0, f32x4_min(self.0, o.0), f32x4_ne(o.0, o.0)))
        }
        /// Whether a lane is NaN or above `t` (`below`: under it).
        #[inline(always)]
        pub(crate) fn any_beyond_or_nan(self, t: f32, below: bool) -> bool {
            let t = f32x4_splat(t);
            let beyond = if below { f32x4_lt(self.0, t) } else { f32x4_gt(self.0, t) };
            v128_any_true(v128_or(beyond, f32x4_ne(self.0, self.0)))
        }
        /// All bits set in the lanes that are NaN, none in the others.
        #[inline(always)]
        pub(crate) fn nan_lanes(self) -> Self {
            F32x4(f32x4_ne(self.0, self.0))
        }
        /// The bits of either.
        #[inline(always)]
        pub(crate) fn or(self, o: Self) -> Self {
            F32x4(v128_or(self.0, o.0))
        }
        /// NaN in the lanes `mask` (from `nan_lanes`) has bits in, `self` elsewhere.
        #[inline(always)]
        pub(crate) fn nan_where(self, mask: Self) -> Self {
            F32x4(v128_bitselect(f32x4_splat(f32::NAN), self.0, mask.0))
        }
        #[inline(always)]
        pub(crate) fn any_nan(self) -> bool {
            !i32x4_all_true(f32x4_eq(self.0, self.0))
        }
        /// Lanes 0 and 2 of `self`, then of `o`: every other value of eight in a row.
        #[inline(always)]
        pub(crate) fn evens(self, o: Self) -> Self {
            F32x4(i32x4_shuffle::<0, 2, 4, 6>(self.0, o.0))
        }
    }
}

#[cfg(not(all(target_arch = "wasm32", target_feature = "simd128")))]
mod imp {
    #[derive(Clone, Copy)]
    pub(crate) struct F32x4([f32; 4]);

    impl F32x4 {
        #[inline(always)]
        fn zip(self, o: Self, f: impl Fn(f32, f32) -> f32) -> Self {
            F32x4([f(self.0[0], o.0[0]), f(self.0[1], o.0[1]), f(self.0[2], o.0[2]), f(self.0[3], o.0[3])])
        }
        #[inline(always)]
        pub(crate) fn splat(x: f32) -> Self {
            F32x4([x; 4])
        }
        #[inline(always)]
        pub(crate) fn load(xs: &[f32]) -> Self {
            F32x4([xs[0], xs[1], xs[2], xs[3]])
        }
        #[inline(always)]
        pub(crate) fn store(self, xs: &mut [f32]) {
            xs[..4].copy_from_slice(&self.0);
        }
        #[inline(always)]
        pub(crate) fn add(self, o: Self) -> Self {
            self.zip(o, |a, b| a + b)
        }
        #[inline(always)]
        pub(crate) fn sub(self, o: Self) -> Self {
            self.zip(o, |a, b| a - b)
        }
        #[inline(always)]
        pub(crate) fn mul(self, o: Self) -> Self {
            self.zip(o, |a, b| a * b)
        }
        #[inline(always)]
        pub(crate) fn mul_add(self, a: Self, b: Self) -> Self {
            self.add(a.mul(b))
        }
        #[inline(always)]
        pub(crate) fn div(self, o: Self) -> Self {
            self.zip(o, |a, b| a / b)
        }
        #[inline(always)]
        pub(crate) fn max(self, o: Self) -> Self {
            self.zip(o, super::max)
        }
        #[inline(always)]
        pub(crate) fn min(self, o: Self) -> Self {
            self.zip(o, super::min)
        }
        #[inline(always)]
        pub(crate) fn keep_greater(self, o: Self) -> Self {
            self.zip(o, |a, b| if b > a { b } else { a })
        }
        #[inline(always)]
        pub(crate) fn keep_less(self, o: Self) -> Self {
            self.zip(o, |a, b| if b < a { b } else { a })
        }
        #[inline(always)]
        pub(crate) fn any_nan(self) -> bool {
            self.0.iter().any(|x| x.is_nan())
        }
        #[inline(always)]
        pub(crate) fn any_beyond_or_nan(self, t: f32, below: bool) -> bool {
            self.0.iter().any(|&x| x.is_nan() || if below { x < t } else { x > t })
        }
        #[inline(always)]
        pub(crate) fn nan_lanes(self) -> Self {
            F32x4(self.0.map(|x| if x.is_nan() { f32::from_bits(u32::MAX) } else { 0.0 }))
        }
        #[inline(always)]
        pub(crate) fn or(self, o: Self) -> Self {
            self.zip(o, |a, b| f32::from_bits(a.to_bits() | b.to_bits()))
        }
        #[inline(always)]
        pub(crate) fn nan_where(self, mask: Self) -> Self {
            self.zip(mask, |a, m| if m.to_bits() != 0 { f32::NAN } else { a })
        }
        #[inline(always)]
        pub(crate) fn evens(self, o: Self) -> Self {
            F32x4([self.0[0], self.0[2], o.0[0], o.0[2]])
        }
    }
}

pub(crate) use imp::F32x4;

/// The larger of two floats, NaN if either is (as wasm's `f32.max` and onnxruntime's Max).
#[inline(always)]
pub(crate) fn max(a: f32, b: f32) -> f32 {
    if a.is_nan() || b.is_nan() {
        f32::NAN
    } else if a > b || (a == b && b.is_sign_negative()) {
        a
    } else {
        b
    }
}

/// The smaller of two floats, NaN if either is.
#[inline(always)]
pub(crate) fn min(a: f32, b: f32) -> f32 {
    if a.is_nan() || b.is_nan() {
        f32::NAN
    } else if a < b || (a == b && a.is_sign_negative()) {
        a
    } else {
        b
    }
}

/// tanh, four lanes at a time: a rational approximation (Eigen's, which onnxruntime's MLAS
/// uses too) on [-9, 9], where tanh is ±1 to f32 precision beyond. NaN stays NaN.
#[inline(always)]
pub(crate) fn tanh4(x: F32x4) -> F32x4 {
    let x = x.max(F32x4::splat(-9.0)).min(F32x4::splat(9.0));
    let x2 = x.mul(x);
    let p =
        [-2.760_768_4e-16, 2.000_188e-13, -8.604_672e-11, 5.122_297e-8, 1.485_722_4e-5, 6.372_619_3e-4, 4.893_524_6e-3];
    let q = [1.198_258_4e-6, 1.185_347_1e-4, 2.268_434_6e-3, 4.893_525e-3];
    let mut num = F32x4::splat(p[0]);
    for c in &p[1..] {
        num = num.mul(x2).add(F32x4::splat(*c));
    }
    let mut den = F32x4::splat(q[0]);
    for c in &q[1..] {
        den = den.mul(x2).add(F32x4::splat(*c));
    }
    // The approximation overshoots ±1 by an ulp near the clamp.
    x.mul(num).div(den).max(F32x4::splat(-1.0)).min(F32x4::splat(1.0))
}

/// The logistic function, `(1 + tanh(x / 2)) / 2`.
#[inline(always)]
pub(crate) fn sigmoid4(x: F32x4) -> F32x4 {
    let half = F32x4::splat(0.5);
    tanh4(x.mul(half)).mul(half).add(half)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tanh_and_sigmoid_within_a_few_ulps() {
        let mut worst: f32 = 0.0;
        for i in -2000..=2000 {
            let x = i as f32 / 100.0;
            let mut t = [0.0; 4];
            tanh4(F32x4::splat(x)).store(&mut t);
            worst = worst.max((t[0] - x.tanh()).abs());
            sigmoid4(F32x4::splat(x)).store(&mut t);
            worst = worst.max((t[0] - 1.0 / (1.0 + (-x).exp())).abs());
        }
        assert!(worst < 2e-6, "{worst}");
        let mut t = [0.0; 4];
        tanh4(F32x4::splat(f32::NAN)).store(&mut t);
        assert!(t[0].is_nan());
        tanh4(F32x4::splat(f32::INFINITY)).store(&mut t);
        assert_eq!(t[0], 1.0);
        sigmoid4(F32x4::splat(f32::NEG_INFINITY)).store(&mut t);
        assert_eq!(t[0], 0.0);
    }
}
