//! BitCast (ONNX, opset 26), which tract lacks: each element's bytes read as another type of
//! the same width. The standard refuses strings and types of differing widths; so does this
//! operator, at load. One byte copy serves every pair of types; a byte read as bool is
//! made 0 or 1 (it is true when not zero, as numpy reads it), so no bool holds another byte.

use tract_onnx::model::ParsingContext;
use tract_onnx::pb::NodeProto;
use tract_onnx::tract_hir::internal::*;

use super::ml::{Built, label, typed};

pub(super) fn build(_ctx: &ParsingContext, node: &NodeProto) -> Built {
    let to = node.get_attr::<DatumType>("to")?;
    let label = label(node);
    check_type(&label, to)?;
    typed(BitCast { label, to }, 1)
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct BitCast {
    label: String,
    to: DatumType,
}

fn check_type(label: &str, dt: DatumType) -> TractResult<()> {
    if !dt.is_copy() || dt.is_quantized() {
        bail!("{label}: cannot bitcast {dt:?}");
    }
    Ok(())
}

impl BitCast {
    fn check(&self, from: DatumType) -> TractResult<()> {
        check_type(&self.label, from)?;
        if from.size_of() != self.to.size_of() {
            bail!("{}: {from:?} and {:?} differ in width", self.label, self.to);
        }
        Ok(())
    }

    fn apply(&self, x: &Tensor) -> TractResult<Tensor> {
        self.check(x.datum_type())?;
        let mut y = Tensor::zero_dt(self.to, x.shape())?;
        let bytes = y.as_bytes_mut();
        bytes.copy_from_slice(x.as_bytes());
        if self.to == DatumType::Bool {
            bytes.iter_mut().for_each(|b| *b = (*b != 0) as u8);
        }
        Ok(y)
    }
}

crate::ops::one_input_eval!(BitCast, "BitCast");

impl TypedOp for BitCast {
    fn output_facts(&self, inputs: &[&TypedFact]) -> TractResult<TVec<TypedFact>> {
        self.check(inputs[0].datum_type)?;
        Ok(tvec!(self.to.fact(inputs[0].shape.clone())))
    }

    as_op!();
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::testing::{Attr, attr, run_node};

    fn op(to: DatumType) -> BitCast {
        BitCast { label: "b".into(), to }
    }

    /// As the onnx 1.23 cases test_bitcast_*.
    #[test]
    fn bits_are_kept_between_types_of_one_width() {
        let x = tensor1(&[1.0f32, -2.5, 3.75]);
        assert_eq!(op(DatumType::I32).apply(&x).unwrap(), tensor1(&[1065353216i32, -1071644672, 1081081856]));
        let x = tensor1(&[-1i8, -128, 127, 0]);
        assert_eq!(op(DatumType::U8).apply(&x).unwrap(), tensor1(&[255u8, 128, 127, 0]));
        let x = tensor0(1.0f64);
        assert_eq!(op(DatumType::U64).apply(&x).unwrap(), tensor0(0x3FF0_0000_0000_0000u64));
        let x = tensor2(&[[1u16, 32768], [65535, 0]]);
        assert_eq!(op(DatumType::I16).apply(&x).unwrap(), tensor2(&[[1i16, -32768], [-1, 0]]));
        let x = tensor1(&[true, false]);
        assert_eq!(op(DatumType::U8).apply(&x).unwrap(), tensor1(&[1u8, 0]));
        assert_eq!(op(DatumType::Bool).apply(&tensor1(&[2u8, 0, 255])).unwrap(), tensor1(&[true, false, true]));
    }

    #[test]
    fn widths_that_differ_and_strings_are_refused() {
        assert!(op(DatumType::I64).apply(&tensor1(&[1f32])).is_err());
        assert!(op(DatumType::U8).apply(&tensor1(&["a".to_string()])).is_err());
        let x = [("x", tensor1(&[1f32]))];
        let err = run_node("BitCast", vec![attr("to", Attr::Int(8))], &x, &["y"]).unwrap_err();
        assert!(format!("{err:?}").contains("cannot bitcast String"), "{err:?}");
        let err = run_node("BitCast", vec![attr("to", Attr::Int(11))], &x, &["y"]).unwrap_err();
        assert!(format!("{err:?}").contains("differ in width"), "{err:?}");
        let y = run_node("BitCast", vec![attr("to", Attr::Int(6))], &x, &["y"]).unwrap();
        assert_eq!(y[0], tensor1(&[1065353216i32]));
    }
}
