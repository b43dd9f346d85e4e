//! StringConcat (ONNX, opset 20), which tract lacks: `X + Y` for each pair of strings, the
//! two broadcast together as numpy broadcasts.

use tract_onnx::model::ParsingContext;
use tract_onnx::pb::NodeProto;
use tract_onnx::tract_core::broadcast::multi_broadcast;
use tract_onnx::tract_hir::internal::*;

use super::ml::{Built, label, plain, typed};

pub(super) fn build(_ctx: &ParsingContext, node: &NodeProto) -> Built {
    typed(StringConcat { label: label(node) }, 1)
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct StringConcat {
    label: String,
}

impl StringConcat {
    fn apply(&self, x: &Tensor, y: &Tensor) -> TractResult<Tensor> {
        let shape = multi_broadcast(&[x.shape(), y.shape()])?;
        let mut z = x.broadcast_to_shape(&shape)?;
        let y = y.broadcast_to_shape(&shape)?;
        let y = plain::<String>(&y)?;
        let mut z_ram = z.try_as_plain_ram_mut()?;
        z_ram.as_slice_mut::<String>()?.iter_mut().zip(y).for_each(|(z, y)| z.push_str(y));
        Ok(z)
    }
}

impl Op for StringConcat {
    fn name(&self) -> StaticName {
        "StringConcat".into()
    }

    op_as_typed_op!();
}

impl EvalOp for StringConcat {
    op_out_of_plan!();

    fn eval(&self, _ctx: &EvalContext, inputs: TVec<TValue>) -> TractResult<TVec<TValue>> {
        Ok(tvec!(self.apply(&inputs[0], &inputs[1])?.into_tvalue()))
    }
}

impl TypedOp for StringConcat {
    fn output_facts(&self, inputs: &[&TypedFact]) -> TractResult<TVec<TypedFact>> {
        let (x, y) = (inputs[0], inputs[1]);
        if x.datum_type != DatumType::String || y.datum_type != DatumType::String {
            bail!("{}: expected strings, got {:?} and {:?}", self.label, x.datum_type, y.datum_type);
        }
        let shape = multi_broadcast(&[x.shape.to_tvec(), y.shape.to_tvec()])?;
        Ok(tvec!(DatumType::String.fact(shape)))
    }

    as_op!();
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::testing::{run_node, strings};

    /// As the onnx 1.23 cases test_string_concat*.
    #[test]
    fn pairs_concatenate_with_broadcasting() {
        let op = StringConcat { label: "s".into() };
        let z = op.apply(&strings(["abc", "", "é"]), &strings(["d", "e", "ü"])).unwrap();
        assert_eq!(z, strings(["abcd", "e", "éü"]));
        let z = op.apply(&strings(["a", "b"]), &tensor0(String::from("!"))).unwrap();
        assert_eq!(z, strings(["a!", "b!"]));
        let x = tensor2(&[[String::from("a")], [String::from("b")]]);
        let z = op.apply(&x, &strings(["1", "2"])).unwrap();
        assert_eq!(z, tensor2(&[["a1", "a2"], ["b1", "b2"]].map(|r| r.map(String::from))));
        let z = op.apply(&tensor0(String::from("x")), &tensor0(String::from("y"))).unwrap();
        assert_eq!(z, tensor0(String::from("xy")));
        assert!(op.apply(&strings(["a", "b"]), &strings(["a", "b", "c"])).is_err());
    }

    #[test]
    fn the_registry_gives_stringconcat_to_this_operator() {
        let inputs = [("x", strings(["a", "b"])), ("y", strings(["c", "d"]))];
        let z = run_node("StringConcat", vec![], &inputs, &["z"]).unwrap();
        assert_eq!(z[0], strings(["ac", "bd"]));
        let inputs = [("x", strings(["a", "b"])), ("y", tensor1(&[1f32, 2.]))];
        let err = run_node("StringConcat", vec![], &inputs, &["z"]).unwrap_err();
        assert!(format!("{err:?}").contains("expected strings"), "{err:?}");
    }
}
