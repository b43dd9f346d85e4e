//! Leaner stand-ins for three tract operators, swapped into optimised plans.
//!
//! tract-core is built for size (opt-level "z"), so its generic code runs unvectorised and
//! through ndarray's broadcasting, and a small prediction spends much of its time there: in
//! a transformer block at batch 1, the mean of LayerNorm (a sum, then a multiply by a
//! one-element constant that is too small for tract's fast binary kernels) and the exact
//! GELU took about a sixth of the time. Each stand-in computes the same values with
//! tract-linalg's kernels (built at opt-level 3) or a plain loop, in place where it can.

use tract_onnx::prelude::*;
use tract_onnx::tract_core::internal::*;
use tract_onnx::tract_core::ops::binary::TypedBinOp;
use tract_onnx::tract_core::ops::element_wise::ElementWiseOp;
use tract_onnx::tract_core::ops::math;
use tract_onnx::tract_core::ops::nn::{GeluExact, Reduce, Reducer};
use tract_onnx::tract_core::tract_linalg::routines::Func;

/// Replaces, in an optimised model, the nodes a stand-in below computes faster.
pub(crate) fn swap_in(model: &mut TypedModel) -> TractResult<()> {
    for id in 0..model.nodes().len() {
        if let Some(op) = stand_in(model, id)? {
            model.node_mut(id).op = op;
        }
    }
    Ok(())
}

fn stand_in(model: &TypedModel, id: usize) -> TractResult<Option<Box<dyn TypedOp>>> {
    let node = model.node(id);
    let inputs = model.node_input_facts(id)?;
    let all_f32 = inputs.iter().all(|f| f.datum_type == DatumType::F32)
        && node.outputs.iter().all(|o| o.fact.datum_type == DatumType::F32);
    if !all_f32 {
        return Ok(None);
    }
    if let Some(ElementWiseOp(mini, None)) = node.op_as::<ElementWiseOp>() {
        if mini.is::<GeluExact>() {
            return Ok(Some(Box::new(GeluF32)));
        }
    }
    if let Some(reduce) = node.op_as::<Reduce>() {
        let rank = inputs[0].rank();
        if reduce.reducer == Reducer::Sum && rank > 0 && *reduce.axes == [rank - 1] {
            return Ok(Some(Box::new(RowSumF32)));
        }
    }
    if let Some(TypedBinOp(mini, None)) = node.op_as::<TypedBinOp>() {
        let op = if mini.is::<math::Add>() {
            Arith::Add
        } else if mini.is::<math::Sub>() {
            Arith::Sub
        } else if mini.is::<math::Mul>() {
            Arith::Mul
        } else {
            return Ok(None);
        };
        // One operand a one-element constant, the other already the output's shape.
        let output = &node.outputs[0].fact.shape;
        for scalar in 0..2 {
            let (c, x) = (inputs[scalar], inputs[1 - scalar]);
            if c.konst.as_ref().is_some_and(|k| k.len() == 1) && x.shape == *output {
                return Ok(Some(Box::new(ScalarArithF32 { op, scalar })));
            }
        }
    }
    Ok(None)
}

/// GELU as ONNX defines it without approximation, `x / 2 * (1 + erf(x / sqrt 2))`, with
/// tract's own erf kernel, so the values are tract's.
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

fn gelu(xs: &mut [f32]) -> TractResult<()> {
    const CHUNK: usize = 1024;
    let erf = Func::Erf.ew_f32()?;
    let scale = Func::MulByScalar.ew_f32_param()?;
    let mut e = Vec::with_capacity(xs.len().min(CHUNK));
    for chunk in xs.chunks_mut(CHUNK) {
        e.clear();
        e.extend_from_slice(chunk);
        scale.run_with_params(&mut e, std::f32::consts::FRAC_1_SQRT_2)?;
        erf.run(&mut e)?;
        half_x_one_plus(chunk, &e);
    }
    Ok(())
}

/// The sum of each row (over the last axis), with the kernel tract's Reduce uses for it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct RowSumF32;

impl Op for RowSumF32 {
    fn name(&self) -> StaticName {
        "RowSumF32".into()
    }
    op_as_typed_op!();
}

impl EvalOp for RowSumF32 {
    op_out_of_plan!();

    fn eval(&self, _ctx: &EvalContext, inputs: TVec<TValue>) -> TractResult<TVec<TValue>> {
        let x = args_1!(inputs);
        let mut shape: TVec<usize> = x.shape().into();
        let row = std::mem::replace(shape.last_mut().context("RowSumF32 on a scalar")?, 1);
        let xs = x.try_as_plain_ram()?.as_slice::<f32>()?;
        let sum = Func::ReduceSum.reduce_f32()?;
        let mut y = Tensor::zero::<f32>(&shape)?;
        if row > 0 {
            let mut plain = y.try_as_plain_ram_mut()?;
            for (y, r) in plain.as_slice_mut::<f32>()?.iter_mut().zip(xs.chunks_exact(row)) {
                // Below four elements tract sums plainly, as its kernel's remainder does.
                *y = if row >= 4 { sum.run(r)? } else { r.iter().sum() };
            }
        }
        Ok(tvec!(y.into_tvalue()))
    }
}

impl TypedOp for RowSumF32 {
    fn output_facts(&self, inputs: &[&TypedFact]) -> TractResult<TVec<TypedFact>> {
        let mut shape: TVec<TDim> = inputs[0].shape.iter().cloned().collect();
        if let Some(last) = shape.last_mut() {
            *last = 1.to_dim();
        }
        Ok(tvec!(f32::fact(shape)))
    }
    as_op!();
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Arith {
    Add,
    Sub,
    Mul,
}

/// `x op c` or `c op x` for a one-element constant `c`, in place.
#[derive(Debug, Clone, PartialEq, Eq)]
struct ScalarArithF32 {
    op: Arith,
    /// Which input is the constant.
    scalar: usize,
}

impl Op for ScalarArithF32 {
    fn name(&self) -> StaticName {
        format!("ScalarArithF32<{:?}>", self.op).into()
    }
    op_as_typed_op!();
}

impl EvalOp for ScalarArithF32 {
    op_out_of_plan!();

    fn eval(&self, _ctx: &EvalContext, mut inputs: TVec<TValue>) -> TractResult<TVec<TValue>> {
        let c = inputs[self.scalar].try_as_plain_ram()?.as_slice::<f32>()?[0];
        let mut x = inputs.remove(1 - self.scalar).into_tensor();
        let mut plain = x.try_as_plain_ram_mut()?;
        let xs = plain.as_slice_mut::<f32>()?;
        let c_first = self.scalar == 0;
        match (self.op, c_first) {
            (Arith::Add, _) => xs.iter_mut().for_each(|v| *v += c),
            (Arith::Mul, _) => xs.iter_mut().for_each(|v| *v *= c),
            (Arith::Sub, false) => xs.iter_mut().for_each(|v| *v -= c),
            (Arith::Sub, true) => xs.iter_mut().for_each(|v| *v = c - *v),
        }
        Ok(tvec!(x.into_tvalue()))
    }
}

impl TypedOp for ScalarArithF32 {
    fn output_facts(&self, inputs: &[&TypedFact]) -> TractResult<TVec<TypedFact>> {
        Ok(tvec!(f32::fact(inputs[1 - self.scalar].shape.iter())))
    }
    as_op!();
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
    use tract_onnx::tract_core::ops::binary::BinMiniOp;
    use tract_onnx::tract_core::ops::element_wise::ElementWiseMiniOp;

    /// A LayerNorm-like chain and every scalar arithmetic form, each output kept (tract
    /// declutters a division by a constant into a multiplication).
    fn model() -> TypedModel {
        let mut m = TypedModel::default();
        let x = m.add_source("x", f32::fact([1, 16, 37])).unwrap();
        let sum = m.wire_node("sum", Reduce::new(tvec![2], Reducer::Sum), &[x]).unwrap()[0];
        // Rows shorter than four are summed plainly, not by the kernel.
        let narrow = m.wire_node("narrow", tract_onnx::tract_core::ops::array::Slice::new(2, 0, 3), &[x]).unwrap()[0];
        let small = m.wire_node("small", Reduce::new(tvec![2], Reducer::Sum), &[narrow]).unwrap()[0];
        let c = m.add_const("c", tensor3(&[[[0.37f32]]])).unwrap();
        let mut outputs = vec![small];
        for (name, mini, c_first) in [
            ("mul", Box::new(math::Mul) as Box<dyn BinMiniOp>, false),
            ("add", Box::new(math::Add), true),
            ("sub", Box::new(math::Sub), false),
            ("rsub", Box::new(math::Sub), true),
            ("div", Box::new(math::Div), false),
            ("rdiv", Box::new(math::Div), true),
        ] {
            let inputs = if c_first { [c, sum] } else { [sum, c] };
            outputs.push(m.wire_node(name, TypedBinOp(mini, None), &inputs).unwrap()[0]);
        }
        outputs.push(m.wire_node("gelu", ElementWiseOp(Box::new(GeluExact {}), None), &[x]).unwrap()[0]);
        m.select_output_outlets(&outputs).unwrap();
        m
    }

    fn f32s(t: &Tensor) -> &[f32] {
        t.try_as_plain_ram().unwrap().as_slice::<f32>().unwrap()
    }

    fn run(model: TypedModel, x: &Tensor) -> TVec<TValue> {
        model.into_runnable().unwrap().run(tvec!(x.clone().into_tvalue())).unwrap()
    }

    #[test]
    fn stand_ins_compute_what_tract_computes() {
        let x: Vec<f32> = (0..16 * 37).map(|i| ((i * 7919) % 1000) as f32 / 97.0 - 5.0).collect();
        let x = Tensor::from_shape(&[1, 16, 37], &x).unwrap();
        let lean = super::super::optimized(model()).unwrap();
        let names: Vec<String> = lean.nodes().iter().map(|n| n.op.name().to_string()).collect();
        for op in ["GeluF32", "RowSumF32", "ScalarArithF32<Mul>", "ScalarArithF32<Add>", "ScalarArithF32<Sub>"] {
            assert!(names.iter().any(|n| n == op), "{op} not swapped in: {names:?}");
        }
        assert!(!names.iter().any(|n| n.contains("GeluExact") || n.starts_with("Reduce")), "{names:?}");
        let ours = run(lean, &x);
        let tracts = run(model().into_optimized().unwrap(), &x);
        assert_eq!(ours.len(), tracts.len());
        for (i, (a, b)) in ours.iter().zip(&tracts).enumerate() {
            assert_eq!(a.shape(), b.shape(), "output {i}");
            assert_eq!(f32s(a), f32s(b), "output {i}");
        }
    }

    #[test]
    fn gelu_in_chunks_and_tails() {
        for len in [0, 3, 1024, 2500] {
            let xs: Vec<f32> = (0..len).map(|i| (i as f32 - len as f32 / 2.0) / 150.0).collect();
            let mut ours = xs.clone();
            gelu(&mut ours).unwrap();
            let mut theirs = tensor1(&xs);
            GeluExact {}.eval_in_place(&mut theirs, None).unwrap();
            assert_eq!(ours, f32s(&theirs), "length {len}");
        }
    }
}
