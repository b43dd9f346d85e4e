//! BitShift (ONNX). tract shifts with Rust's `<<` and `>>`, which panic on a count outside
//! `0..width` in a debug build and mask it in a release one (an int32 shifted by 33 moved by
//! 1). The standard gives such a count the full-width result instead: 0, or -1 for a right
//! shift of a negative signed value. Elements are widened to i64 from their bytes, so one
//! loop serves all eight integer types rather than a copy of it per type.

use tract_onnx::model::ParsingContext;
use tract_onnx::pb::NodeProto;
use tract_onnx::tract_core::broadcast::multi_broadcast;
use tract_onnx::tract_hir::internal::*;

use super::ml::{Built, label, typed};

pub(super) fn build(_ctx: &ParsingContext, node: &NodeProto) -> Built {
    let direction: String = node.get_attr("direction")?;
    let right = match direction.as_str() {
        "RIGHT" => true,
        "LEFT" => false,
        other => bail!("{}: direction is '{other}', expected LEFT or RIGHT", label(node)),
    };
    typed(BitShift { label: label(node), right }, 1)
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct BitShift {
    label: String,
    right: bool,
}

/// One element as the standard shifts it, `x` and `count` sign- or zero-extended from
/// `bits` wide; the caller keeps the low `bits` of the result.
fn shift(x: i64, count: i64, bits: i64, signed: bool, right: bool) -> i64 {
    if !(0..bits).contains(&count) {
        return if right && signed && x < 0 { -1 } else { 0 };
    }
    match (right, signed) {
        (true, true) => x >> count,
        (true, false) => ((x as u64) >> count) as i64,
        (false, _) => ((x as u64) << count) as i64,
    }
}

/// Tensors hold their elements in the host's byte order; this reads one `chunk.len()` wide.
fn load(chunk: &[u8], signed: bool) -> i64 {
    let n = chunk.len();
    let mut raw = [0u8; 8];
    if cfg!(target_endian = "little") {
        raw[..n].copy_from_slice(chunk);
    } else {
        raw[8 - n..].copy_from_slice(chunk);
    }
    let unused = 64 - 8 * n as u32;
    let v = u64::from_ne_bytes(raw);
    if signed { ((v << unused) as i64) >> unused } else { v as i64 }
}

fn store(chunk: &mut [u8], v: i64) {
    let n = chunk.len();
    let raw = v.to_ne_bytes();
    chunk.copy_from_slice(if cfg!(target_endian = "little") { &raw[..n] } else { &raw[8 - n..] });
}

fn check_type(label: &str, x: DatumType, y: DatumType) -> TractResult<()> {
    use DatumType::*;
    if !(matches!(x, I8 | I16 | I32 | I64 | U8 | U16 | U32 | U64) && x == y) {
        bail!("{label}: expected X and Y of one integer type, got {x:?} and {y:?}");
    }
    Ok(())
}

impl BitShift {
    fn apply(&self, x: &Tensor, y: &Tensor) -> TractResult<Tensor> {
        check_type(&self.label, x.datum_type(), y.datum_type())?;
        let shape = multi_broadcast(&[x.shape(), y.shape()])?;
        let mut z = x.broadcast_to_shape(&shape)?;
        let y = y.broadcast_to_shape(&shape)?;
        let dt = x.datum_type();
        let (size, signed) = (dt.size_of(), dt.is_signed());
        let bits = 8 * size as i64;
        for (out, count) in z.as_bytes_mut().chunks_exact_mut(size).zip(y.as_bytes().chunks_exact(size)) {
            let v = shift(load(out, signed), load(count, signed), bits, signed, self.right);
            store(out, v);
        }
        Ok(z)
    }
}

impl Op for BitShift {
    fn name(&self) -> StaticName {
        "BitShift".into()
    }

    op_as_typed_op!();
}

impl EvalOp for BitShift {
    op_out_of_plan!();

    fn eval(&self, _ctx: &EvalContext, inputs: TVec<TValue>) -> TractResult<TVec<TValue>> {
        let (x, y) = args_2!(inputs);
        Ok(tvec!(self.apply(&x, &y)?.into_tvalue()))
    }
}

impl TypedOp for BitShift {
    fn output_facts(&self, inputs: &[&TypedFact]) -> TractResult<TVec<TypedFact>> {
        let (x, y) = (inputs[0], inputs[1]);
        check_type(&self.label, x.datum_type, y.datum_type)?;
        let shape = multi_broadcast(&[x.shape.to_tvec(), y.shape.to_tvec()])?;
        Ok(tvec!(x.datum_type.fact(shape)))
    }

    as_op!();
}

#[cfg(test)]
mod tests {
    use super::*;

    fn op(right: bool) -> BitShift {
        BitShift { label: "s".into(), right }
    }

    /// The onnx 1.23 cases test_bitshift_*_shift_ge_width and *_negative_shift.
    #[test]
    fn counts_out_of_range_give_the_full_width_result() {
        let x = tensor1(&[-8i8, 4, -1]);
        for y in [tensor1(&[8i8, 9, 127]), tensor1(&[-1i8, -8, -16])] {
            assert_eq!(op(true).apply(&x, &y).unwrap(), tensor1(&[-1i8, 0, -1]));
            assert_eq!(op(false).apply(&x, &y).unwrap(), tensor1(&[0i8, 0, 0]));
        }
        let x = tensor1(&[-8i32, 4, -1]);
        for y in [tensor1(&[32i32, 33, 100]), tensor1(&[-1i32, -32, -64])] {
            assert_eq!(op(true).apply(&x, &y).unwrap(), tensor1(&[-1i32, 0, -1]));
            assert_eq!(op(false).apply(&x, &y).unwrap(), tensor1(&[0i32, 0, 0]));
        }
        let x = tensor1(&[u64::MAX, 1]);
        assert_eq!(op(true).apply(&x, &tensor1(&[64u64, u64::MAX])).unwrap(), tensor1(&[0u64, 0]));
    }

    #[test]
    fn counts_in_range_shift_at_the_types_width_and_broadcast() {
        let x = tensor2(&[[-128i8, 64], [16, -1]]);
        assert_eq!(op(false).apply(&x, &tensor1(&[1i8, 1])).unwrap(), tensor2(&[[0i8, -128], [32, -2]]));
        assert_eq!(op(true).apply(&x, &tensor0(7i8)).unwrap(), tensor2(&[[-1i8, 0], [0, -1]]));
        let x = tensor1(&[0xF0u8, 1]);
        assert_eq!(op(true).apply(&x, &tensor1(&[4u8, 0])).unwrap(), tensor1(&[0x0Fu8, 1]));
        assert_eq!(op(false).apply(&x, &tensor1(&[4u8, 7])).unwrap(), tensor1(&[0u8, 0x80]));
        let x = tensor1(&[u64::MAX, i64::MIN as u64]);
        assert_eq!(op(true).apply(&x, &tensor1(&[63u64, 1])).unwrap(), tensor1(&[1u64, 1 << 62]));
        assert_eq!(op(true).apply(&tensor1(&[i64::MIN]), &tensor1(&[63i64])).unwrap(), tensor1(&[-1i64]));
    }

    #[test]
    fn the_registry_gives_bitshift_to_this_operator() {
        use crate::ops::testing::{Attr, attr, run_node};
        let inputs = [("x", tensor1(&[-8i32, 4, -1])), ("y", tensor1(&[32i32, 33, 100]))];
        let z = run_node("BitShift", vec![attr("direction", Attr::Str("RIGHT"))], &inputs, &["z"]).unwrap();
        assert_eq!(z[0], tensor1(&[-1i32, 0, -1]));
        let err = run_node("BitShift", vec![attr("direction", Attr::Str("UP"))], &inputs, &["z"]).unwrap_err();
        assert!(format!("{err:?}").contains("direction is 'UP'"), "{err:?}");
    }

    #[test]
    fn mixed_types_are_refused() {
        assert!(op(true).apply(&tensor1(&[1i8]), &tensor1(&[1u8])).is_err());
        assert!(op(true).apply(&tensor1(&[1f32]), &tensor1(&[1f32])).is_err());
    }
}
