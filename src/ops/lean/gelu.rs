//! Exact GELU, `x / 2 * (1 + erf(x / sqrt 2))`, on tract's own erf kernel (built for speed),
//! so the values are tract's; tract's GeluExact runs in its size-optimised generic code.

use edgeinfer_kernels::parts;
use tract_onnx::prelude::*;
use tract_onnx::tract_core::internal::*;
use tract_onnx::tract_core::ops::element_wise::ElementWiseOp;
use tract_onnx::tract_core::ops::nn::GeluExact;
use tract_onnx::tract_core::tract_linalg::routines::Func;

pub(super) fn stand_in(
    _: &TypedModel,
    node: &TypedNode,
    inputs: &[&TypedFact],
) -> TractResult<Option<Box<dyn TypedOp>>> {
    Ok(match node.op_as::<ElementWiseOp>() {
        Some(ElementWiseOp(mini, None)) if mini.is::<GeluExact>() && super::all_f32(node, inputs) => {
            Some(Box::new(GeluF32))
        }
        _ => None,
    })
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct GeluF32;

impl Op for GeluF32 {
    fn name(&self) -> StaticName {
        "GeluF32".into()
    }
    op_as_typed_op!();
}

impl EvalOp for GeluF32 {
    op_out_of_plan!();

    fn eval(&self, _ctx: &EvalContext, inputs: TVec<TValue>) -> TractResult<TVec<TValue>> {
        let mut x = args_1!(inputs).into_tensor();
        gelu(x.try_as_plain_ram_mut()?.as_slice_mut::<f32>()?)?;
        Ok(tvec!(x.into_tvalue()))
    }
}

impl TypedOp for GeluF32 {
    fn output_facts(&self, inputs: &[&TypedFact]) -> TractResult<TVec<TypedFact>> {
        Ok(tvec!(f32::fact(inputs[0].shape.iter())))
    }
    as_op!();
}

/// GELU of `xs` in place, a chunk at a time, in parts of whole chunks across the threads the
/// host gave the engine (`edgeinfer_kernels::parts`): each value's arithmetic is the same on
/// any number of threads.
fn gelu(xs: &mut [f32]) -> TractResult<()> {
    const CHUNK: usize = 1024;
    let erf = Func::Erf.ew_f32()?;
    let scale = Func::MulByScalar.ew_f32_param()?;
    // An erf is about twenty operations.
    let per = parts::per_part(xs.len() * 20, xs.len().div_ceil(CHUNK)) * CHUNK;
    // Each part's scratch is made here: a part never allocates.
    let mut pieces: Vec<_> = xs.chunks_mut(per).map(|p| (Vec::with_capacity(p.len().min(CHUNK)), p, Ok(()))).collect();
    parts::for_each_mut(&mut pieces, |_, (e, piece, done)| {
        *done = piece.chunks_mut(CHUNK).try_for_each(|chunk| {
            e.clear();
            e.extend_from_slice(chunk);
            scale.run_with_params(e, std::f32::consts::FRAC_1_SQRT_2)?;
            erf.run(e)?;
            half_x_one_plus(chunk, e);
            Ok(())
        });
    });
    pieces.into_iter().try_for_each(|(_, _, done)| done)
}

/// `x = x / 2 * (1 + e)`, four lanes at a time where wasm has SIMD: this crate is built
/// for size, which leaves loops unvectorised.
fn half_x_one_plus(x: &mut [f32], e: &[f32]) {
    #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
    let done = {
        use core::arch::wasm32::*;
        let (half, one) = (f32x4_splat(0.5), f32x4_splat(1.0));
        for (xs, es) in x.chunks_exact_mut(4).zip(e.chunks_exact(4)) {
            // SAFETY: both chunks are four f32s; v128 loads and stores need no alignment.
            unsafe {
                let xv = v128_load(xs.as_ptr() as *const v128);
                let ev = v128_load(es.as_ptr() as *const v128);
                v128_store(xs.as_mut_ptr() as *mut v128, f32x4_mul(f32x4_mul(xv, half), f32x4_add(ev, one)));
            }
        }
        x.len() / 4 * 4
    };
    #[cfg(not(all(target_arch = "wasm32", target_feature = "simd128")))]
    let done = 0;
    for (x, e) in x[done..].iter_mut().zip(&e[done..]) {
        *x = (*x * 0.5) * (*e + 1.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tract_onnx::tract_core::ops::element_wise::ElementWiseMiniOp;

    #[test]
    fn gelu_in_chunks_and_tails() {
        for len in [0, 3, 1024, 2500] {
            let xs: Vec<f32> = (0..len).map(|i| (i as f32 - len as f32 / 2.0) / 150.0).collect();
            let mut ours = xs.clone();
            gelu(&mut ours).unwrap();
            let mut theirs = tensor1(&xs);
            GeluExact {}.eval_in_place(&mut theirs, None).unwrap();
            assert_eq!(ours, theirs.try_as_plain_ram().unwrap().as_slice::<f32>().unwrap(), "length {len}");
        }
    }
}
