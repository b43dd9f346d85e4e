//! ReduceMax and ReduceMin of bools, which the standard allows since opset 20: the maximum of
//! bools is whether any is true, the minimum whether all are. tract types them with its Max
//! and Min reducers, which take numbers only, so every prediction failed ("Bool is not a
//! number"); [`retarget`] gives such nodes of a typed model tract's Any and All reducers,
//! which compute exactly that on bools (over no elements, false and true: the least and
//! the greatest bool, as the standard asks of an empty reduction).

use tract_onnx::prelude::*;
use tract_onnx::tract_core::ops::logic::IfThenElse;
use tract_onnx::tract_core::ops::nn::{Reduce, Reducer};
use tract_onnx::tract_core::ops::scan::Scan;

/// Gives the Max and Min reductions of bools in `model`, and in its nested bodies, the
/// Any and All reducers.
pub(crate) fn retarget(model: &mut TypedModel) -> TractResult<()> {
    for id in 0..model.nodes().len() {
        if let Some(scan) = model.node_mut(id).op_as_mut::<Scan>() {
            retarget(&mut scan.body)?;
            continue;
        }
        if let Some(ite) = model.node_mut(id).op_as_mut::<IfThenElse>() {
            retarget(&mut ite.then_body)?;
            retarget(&mut ite.else_body)?;
            continue;
        }
        let of_bools = model.node_input_facts(id)?.first().is_some_and(|f| f.datum_type == DatumType::Bool);
        if let Some(reduce) = model.node_mut(id).op_as_mut::<Reduce>()
            && of_bools
        {
            reduce.reducer = match reduce.reducer {
                Reducer::Max => Reducer::Any,
                Reducer::Min => Reducer::All,
                other => other,
            };
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `reducer` over `axis` of `x`, as typed by tract then retargeted.
    fn reduce(reducer: Reducer, axis: usize, x: Tensor) -> TractResult<Tensor> {
        let mut model = TypedModel::default();
        let source = model.add_source("x", TypedFact::shape_and_dt_of(&x))?;
        let y = model.wire_node("y", Reduce::new(tvec!(axis), reducer), &[source])?;
        model.select_output_outlets(&y)?;
        retarget(&mut model)?;
        Ok(model.into_runnable()?.run(tvec!(x.into_tvalue()))?.remove(0).into_tensor())
    }

    #[test]
    fn max_is_any_and_min_is_all() {
        let x = tensor2(&[[true, true], [true, false], [false, false]]);
        assert_eq!(reduce(Reducer::Max, 1, x.clone()).unwrap(), tensor2(&[[true], [true], [false]]));
        assert_eq!(reduce(Reducer::Min, 1, x.clone()).unwrap(), tensor2(&[[true], [false], [false]]));
        assert_eq!(reduce(Reducer::Min, 0, x).unwrap(), tensor2(&[[false, false]]));
        let empty = tract_ndarray::ArrayD::<bool>::default(vec![0, 2]).into_tensor();
        assert_eq!(reduce(Reducer::Max, 0, empty.clone()).unwrap(), tensor2(&[[false, false]]));
        assert_eq!(reduce(Reducer::Min, 0, empty).unwrap(), tensor2(&[[true, true]]));
        // Numbers keep tract's Max.
        assert_eq!(reduce(Reducer::Max, 0, tensor1(&[1i32, 3, 2])).unwrap(), tensor1(&[3i32]));
    }
}
