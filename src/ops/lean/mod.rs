//! Leaner stand-ins for tract operators, swapped into optimised plans.
//!
//! tract-core is built for size (opt-level "z"), so its generic code runs unvectorised and
//! through ndarray's broadcasting and indexing, and predictions spend much of their time
//! there. Each stand-in computes what the operator it replaces computes, on tract-linalg's
//! kernels or edgeinfer-kernels' loops (both built for speed), in place where it can; where
//! tract's answer departs from onnxruntime's (NaN in Max, Min and reductions), it gives
//! onnxruntime's. One file per stand-in, each with the `stand_in` that says which nodes it
//! takes.

use edgeinfer_kernels::broadcast::{Values, ValuesMut};
use edgeinfer_kernels::window::Axis;
use tract_onnx::prelude::*;
use tract_onnx::tract_core::internal::bail;
use tract_onnx::tract_core::ops::cnn::PoolSpec;
use tract_onnx::tract_core::ops::scan::OptScan;

pub(crate) use fuse::{fuse, fuse_convolutions};

mod bin_chain;
mod broadcast;
mod cast;
mod conv;
mod dense;
mod fuse;
mod gather;
mod gelu;
mod matmul;
mod nan_safe;
mod pool;
mod reduce;
mod row_sum;
mod softmax;
mod topk;

/// Says whether a stand-in takes a node (given its input facts), and with which operator.
type StandIn = fn(&TypedModel, &TypedNode, &[&TypedFact]) -> TractResult<Option<Box<dyn TypedOp>>>;

/// Tried in order; the first that takes a node replaces its operator.
const STAND_INS: [StandIn; 11] = [
    gelu::stand_in,
    softmax::stand_in,
    broadcast::stand_in,
    cast::stand_in,
    nan_safe::stand_in,
    row_sum::stand_in,
    bin_chain::stand_in,
    reduce::stand_in,
    pool::stand_in,
    topk::stand_in,
    gather::stand_in,
];

/// Replaces, in an optimised model, the nodes a stand-in computes faster, in the bodies of
/// loops (recurrent layers) too.
pub(crate) fn swap_in(model: &mut TypedModel) -> TractResult<()> {
    for id in 0..model.nodes().len() {
        if let Some(scan) = model.node(id).op_as::<OptScan>() {
            let mut body = scan.plan.model().clone();
            swap_in(&mut body)?;
            let mut params = (**scan).clone();
            params.plan = body.into_runnable()?;
            model.node_mut(id).op = Box::new(OptScan::new(Arc::new(params)));
            continue;
        }
        let found = {
            let inputs = model.node_input_facts(id)?;
            let node = model.node(id);
            let mut found = None;
            for stand_in in STAND_INS {
                found = stand_in(model, node, &inputs)?;
                if found.is_some() {
                    break;
                }
            }
            found
        };
        if let Some(op) = found {
            model.node_mut(id).op = op;
        }
    }
    Ok(())
}

/// The two spatial axes of a 2-D window (convolution, pooling) over an input of `shape`
/// (its last two dimensions), with the padding `spec` computes for it.
fn window_axes(spec: &PoolSpec, shape: &[usize]) -> (Axis, Axis) {
    let hw = &shape[shape.len() - 2..];
    let padding = spec.computed_padding(hw);
    let axis = |i: usize| Axis {
        input: hw[i],
        output: padding[i].convoluted,
        kernel: spec.kernel_shape[i],
        stride: spec.stride(i),
        pad_before: padding[i].pad_before,
    };
    (axis(0), axis(1))
}

/// Whether every input and output of the node is f32.
fn all_f32(node: &TypedNode, inputs: &[&TypedFact]) -> bool {
    inputs.iter().all(|f| f.datum_type == DatumType::F32)
        && node.outputs.iter().all(|o| o.fact.datum_type == DatumType::F32)
}

/// The element types the kernels' `Values` and `ValuesMut` carry.
const KERNEL_TYPES: [DatumType; 4] = [DatumType::Bool, DatumType::I32, DatumType::I64, DatumType::F32];

/// A tensor's values as the kernels take them (one of `KERNEL_TYPES`).
fn values(t: &Tensor) -> TractResult<Values<'_>> {
    let plain = t.try_as_plain_ram()?;
    Ok(match t.datum_type() {
        DatumType::Bool => Values::Bool(plain.as_slice::<bool>()?),
        DatumType::I32 => Values::I32(plain.as_slice::<i32>()?),
        DatumType::I64 => Values::I64(plain.as_slice::<i64>()?),
        DatumType::F32 => Values::F32(plain.as_slice::<f32>()?),
        dt => bail!("the kernels take no {dt:?}"),
    })
}

/// A tensor of zeros of `dt` (bool, i32, i64 or f32) and `shape`, for a kernel to write.
/// tract's `Tensor::zero` fills it a value at a time in its size-optimised code, at about
/// 2 ns a value: longer than most of the kernels that then write over it took.
fn zeros(dt: DatumType, shape: &[usize]) -> TractResult<Tensor> {
    if !KERNEL_TYPES.contains(&dt) {
        bail!("the kernels make no {dt:?}");
    }
    // SAFETY: the storage is allocated for `shape` values of `dt`; zero bytes over all of it
    // make every value valid (false, 0 or 0.0) before anything reads one.
    unsafe {
        let mut t = Tensor::uninitialized_dt(dt, shape)?;
        let bytes = t.len() * dt.size_of();
        if bytes > 0 {
            std::ptr::write_bytes(t.as_ptr_mut_unchecked::<u8>(), 0, bytes);
        }
        Ok(t)
    }
}

/// A new tensor of `dt` and `shape`, filled by `fill` through the kernels' typed slice.
fn filled(dt: DatumType, shape: &[usize], fill: impl FnOnce(ValuesMut) -> Result<(), String>) -> TractResult<Tensor> {
    let mut t = zeros(dt, shape)?;
    let mut plain = t.try_as_plain_ram_mut()?;
    let out = match dt {
        DatumType::Bool => ValuesMut::Bool(plain.as_slice_mut::<bool>()?),
        DatumType::I32 => ValuesMut::I32(plain.as_slice_mut::<i32>()?),
        DatumType::I64 => ValuesMut::I64(plain.as_slice_mut::<i64>()?),
        DatumType::F32 => ValuesMut::F32(plain.as_slice_mut::<f32>()?),
        dt => bail!("the kernels make no {dt:?}"),
    };
    fill(out).map_err(TractError::msg)?;
    Ok(t)
}

/// A new tensor of `T` (f32, or i64 for indices) and `shape`, written by `fill` (a kernel),
/// whose refusal becomes tract's error.
fn filled_as<T: Datum>(shape: &[usize], fill: impl FnOnce(&mut [T]) -> Result<(), String>) -> TractResult<Tensor> {
    let mut t = zeros(T::datum_type(), shape)?;
    fill(t.try_as_plain_ram_mut()?.as_slice_mut::<T>()?).map_err(TractError::msg)?;
    Ok(t)
}

/// Whether the tensor's strides are row-major, checked without allocating (this runs for
/// every input of every stand-in).
fn is_natural(t: &Tensor) -> bool {
    let mut expected = 1isize;
    for (&d, &s) in t.shape().iter().zip(t.strides()).rev() {
        if d != 1 && s != expected {
            return false;
        }
        expected *= d as isize;
    }
    t.strides().len() == t.shape().len() && t.len() as isize == expected
}

/// The value with natural (row-major) strides, as the loops here index memory: tract leaves
/// some tensors with others (after `insert_axis`), which are copied.
pub(crate) fn natural(t: TValue) -> TractResult<TValue> {
    if is_natural(&t) {
        return Ok(t);
    }
    fn copy<T: Datum + Copy>(t: &Tensor) -> TractResult<Tensor> {
        let values: Vec<T> = t.to_plain_array_view::<T>()?.iter().copied().collect();
        Tensor::from_shape(t.shape(), &values)
    }
    Ok(match t.datum_type() {
        DatumType::F32 => copy::<f32>(&t)?,
        DatumType::I64 => copy::<i64>(&t)?,
        DatumType::I32 => copy::<i32>(&t)?,
        DatumType::Bool => copy::<bool>(&t)?,
        dt => bail!("no natural copy of a {dt:?} tensor"),
    }
    .into_tvalue())
}

#[cfg(test)]
mod tests {
    use super::*;
    use tract_onnx::tract_core::ops::binary::{BinMiniOp, TypedBinOp};
    use tract_onnx::tract_core::ops::element_wise::ElementWiseOp;
    use tract_onnx::tract_core::ops::math;
    use tract_onnx::tract_core::ops::nn::{GeluExact, Reduce, Reducer, Softmax};

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
        let softmax = Softmax { axes: tvec!(2), ..Softmax::default() };
        outputs.push(m.wire_node("softmax", softmax, &[x]).unwrap()[0]);
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
        for op in [
            "GeluF32",
            "SoftmaxRowsF32",
            "RowSumF32",
            "BinChainF32(Mul)",
            "BinChainF32(Add)",
            "BinChainF32(Sub)",
            "BinChainF32(SubFlipped)",
        ] {
            assert!(names.iter().any(|n| n == op), "{op} not swapped in: {names:?}");
        }
        assert!(
            !names.iter().any(|n| n.contains("GeluExact") || n.starts_with("Reduce") || n == "Softmax"),
            "{names:?}"
        );
        let ours = run(lean, &x);
        let tracts = run(model().into_optimized().unwrap(), &x);
        assert_eq!(ours.len(), tracts.len());
        for (i, (a, b)) in ours.iter().zip(&tracts).enumerate() {
            assert_eq!(a.shape(), b.shape(), "output {i}");
            assert_eq!(f32s(a), f32s(b), "output {i}");
        }
    }
}
