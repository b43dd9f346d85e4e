//! One ONNX node as a model, parsed by this crate's framework and run: the operators' tests
//! use it to check that the registry gives the op type to this crate's operator, and that
//! the ONNX attributes are read as the standard names them.

use tract_onnx::pb::tensor_proto::DataType;
use tract_onnx::pb::tensor_shape_proto::{Dimension, dimension};
use tract_onnx::pb::type_proto::{self, Value};
use tract_onnx::pb::{
    AttributeProto, GraphProto, ModelProto, NodeProto, OperatorSetIdProto, TensorProto, TensorShapeProto, TypeProto,
    ValueInfoProto,
};
use tract_onnx::tract_hir::internal::*;

/// A 1-D string tensor.
pub(crate) fn strings<const N: usize>(s: [&str; N]) -> Tensor {
    tensor1(&s.map(String::from))
}

pub(crate) enum Attr {
    Int(i64),
    Float(f32),
    Str(&'static str),
}

pub(crate) fn attr(name: &str, value: Attr) -> AttributeProto {
    let mut a = AttributeProto { name: name.into(), ..Default::default() };
    match value {
        Attr::Float(f) => (a.r#type, a.f) = (1, f),
        Attr::Int(i) => (a.r#type, a.i) = (2, i),
        Attr::Str(s) => (a.r#type, a.s) = (3, s.as_bytes().to_vec()),
    }
    a
}

/// Runs `op_type` on `inputs` (an input named "" is left out, as an omitted optional one)
/// and returns its `outputs` named outputs (one named "" is an omitted optional output).
pub(crate) fn run_node(
    op_type: &str,
    attributes: Vec<AttributeProto>,
    inputs: &[(&str, Tensor)],
    outputs: &[&str],
) -> TractResult<TVec<Tensor>> {
    run_node_with(op_type, attributes, inputs, &[], outputs)
}

/// As `run_node`, with `consts` more inputs given as initializers after `inputs` (the
/// operands tract needs as constants: an axis, a shape).
pub(crate) fn run_node_with(
    op_type: &str,
    attributes: Vec<AttributeProto>,
    inputs: &[(&str, Tensor)],
    consts: &[(&str, Tensor)],
    outputs: &[&str],
) -> TractResult<TVec<Tensor>> {
    let model = node_model(op_type, attributes, inputs, consts, outputs)?;
    let plan = model.into_typed()?.into_decluttered()?.into_runnable()?;
    let values = inputs.iter().filter(|(name, _)| !name.is_empty()).map(|(_, t)| t.clone().into_tvalue()).collect();
    Ok(plan.run(values)?.into_iter().map(|v| v.into_tensor()).collect())
}

/// The model of one node that `run_node_with` runs, as parsed.
pub(crate) fn node_model(
    op_type: &str,
    attributes: Vec<AttributeProto>,
    inputs: &[(&str, Tensor)],
    consts: &[(&str, Tensor)],
    outputs: &[&str],
) -> TractResult<InferenceModel> {
    let given: Vec<&(&str, Tensor)> = inputs.iter().filter(|(name, _)| !name.is_empty()).collect();
    let code = |dt: DatumType| {
        (0..=16).find(|&code| DataType::try_from(code).ok().and_then(|d| DatumType::try_from(d).ok()) == Some(dt))
    };
    let value = |name: &str| ValueInfoProto { name: name.into(), ..Default::default() };
    let typed = |name: &str, t: &Tensor| -> TractResult<ValueInfoProto> {
        let elem_type = code(t.datum_type()).context("no ONNX type")?;
        let dim = t
            .shape()
            .iter()
            .map(|&d| Dimension { value: Some(dimension::Value::DimValue(d as i64)), ..Default::default() });
        let shape = Some(TensorShapeProto { dim: dim.collect() });
        let tensor = type_proto::Tensor { elem_type, shape };
        let r#type = Some(TypeProto { value: Some(Value::TensorType(tensor)), ..Default::default() });
        Ok(ValueInfoProto { r#type, ..value(name) })
    };
    let initializer = consts.iter().map(|(name, t)| TensorProto {
        name: name.to_string(),
        dims: t.shape().iter().map(|&d| d as i64).collect(),
        data_type: code(t.datum_type()).unwrap_or(0),
        raw_data: t.as_bytes().to_vec(),
        ..Default::default()
    });
    let node = NodeProto {
        op_type: op_type.into(),
        name: "node".into(),
        input: inputs.iter().chain(consts).map(|(name, _)| name.to_string()).collect(),
        output: outputs.iter().map(|s| s.to_string()).collect(),
        attribute: attributes,
        ..Default::default()
    };
    let graph = GraphProto {
        node: vec![node],
        input: given.iter().map(|(name, t)| typed(name, t)).collect::<TractResult<_>>()?,
        output: outputs.iter().filter(|name| !name.is_empty()).map(|name| value(name)).collect(),
        initializer: initializer.collect(),
        ..Default::default()
    };
    let opset = OperatorSetIdProto { domain: String::new(), version: 24 };
    let proto = ModelProto { ir_version: 10, opset_import: vec![opset], graph: Some(graph), ..Default::default() };
    Ok(super::framework().parse(&proto, None)?.model)
}
