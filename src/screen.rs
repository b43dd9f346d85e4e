//! What an ONNX file is checked for once decoded, before tract builds anything from it: what
//! this runtime cannot take (operators it lacks, inputs that are not tensors, weights in
//! external files), and what a file could make it allocate. WebAssembly memory never
//! shrinks, so a file that declares a huge constant would leave the instance holding it even
//! once refused: such files are refused from their declarations, each with E_RESOURCE_LIMIT
//! naming the limit, and bounded nesting keeps the checks' own recursion shallow.

use std::collections::HashSet;

use tract_onnx::pb;
use tract_onnx::pb::tensor_proto::DataLocation;

use crate::error::{Error, Result};
use crate::footprint::{human, within_tensor_limit};
use crate::model::Limits;

/// Refuses a model file larger than `maxModelBytes`, before it is decoded.
pub(crate) fn file_size(bytes: usize, limits: &Limits) -> Result<()> {
    if bytes as u64 > limits.max_model_bytes {
        return Err(Error::ResourceLimit(format!(
            "the model file is {}, more than the limit of {} (option maxModelBytes)",
            human(bytes as u128),
            human(limits.max_model_bytes as u128)
        )));
    }
    Ok(())
}

/// Checks a decoded model's graph, and every graph nested in it, against what the runtime
/// takes and `limits`.
pub(crate) fn graph(onnx: &tract_onnx::Onnx, graph: &pb::GraphProto, limits: &Limits) -> Result<()> {
    input_types(graph)?;
    let mut walk = Walk { onnx, limits, nodes: 0, missing: Vec::new() };
    walk.graph(graph, 1)?;
    missing_operators(walk.missing)
}

/// One pass over a graph tree: what it counts, and the operators the runtime lacks (each with
/// the first node using it), reported once the limits have all held.
struct Walk<'a> {
    onnx: &'a tract_onnx::Onnx,
    limits: &'a Limits,
    nodes: usize,
    missing: Vec<(String, String)>,
}

impl Walk<'_> {
    /// Counts the nodes of `graph` (at nesting `depth`), checks its tensors' declared sizes
    /// and its outputs, notes operators the runtime lacks, and recurses into the graphs its
    /// nodes hold.
    fn graph(&mut self, graph: &pb::GraphProto, depth: usize) -> Result<()> {
        let limits = self.limits;
        if depth > limits.max_graph_depth {
            return Err(Error::ResourceLimit(format!(
                "graph '{}' is nested {depth} deep, more than the limit of {} (option maxGraphDepth)",
                graph.name, limits.max_graph_depth
            )));
        }
        self.nodes += graph.node.len();
        if self.nodes > limits.max_nodes {
            return Err(Error::ResourceLimit(format!(
                "the model has more than {} nodes (option maxNodes)",
                limits.max_nodes
            )));
        }
        for t in &graph.initializer {
            stored(t, "initializer", limits)?;
        }
        for v in graph.input.iter().chain(&graph.output).chain(&graph.value_info) {
            declared(v, limits)?;
        }
        outputs_made(graph)?;
        let constants: std::collections::HashMap<&str, &pb::TensorProto> =
            graph.initializer.iter().map(|t| (t.name.as_str(), t)).collect();
        for node in &graph.node {
            self.note_operator(node);
            axes_in_range(node)?;
            for attr in &node.attribute {
                if let Some(t) = &attr.t {
                    stored(t, &format!("the '{}' of node '{}'", attr.name, node.name), limits)?;
                }
                for g in attr.g.iter().chain(&attr.graphs) {
                    self.graph(g, depth + 1)?;
                }
            }
            if node.op_type == "ConstantOfShape" && node.domain.is_empty() {
                filled(node, &constants, limits)?;
            }
        }
        Ok(())
    }

    fn note_operator(&mut self, node: &pb::NodeProto) {
        let op =
            if node.domain.is_empty() { node.op_type.clone() } else { format!("{}.{}", node.domain, node.op_type) };
        if !self.onnx.op_register.0.contains_key(&node.op_type) && !self.missing.iter().any(|(seen, _)| seen == &op) {
            self.missing.push((op, node.name.clone()));
        }
    }
}

/// No tensor has this many dimensions (ONNX sets no limit). Found by fuzzing: a OneHot with
/// an axis of -2^46 kept tract's shape inference busy past any timeout.
const MAX_AXIS: u64 = 1024;

/// Refuses an `axis` or `axes` attribute past any tensor's rank.
fn axes_in_range(node: &pb::NodeProto) -> Result<()> {
    let axes = node.attribute.iter().filter(|a| a.name == "axis" || a.name == "axes");
    match axes.flat_map(|a| std::iter::once(a.i).chain(a.ints.iter().copied())).find(|a| a.unsigned_abs() > MAX_AXIS) {
        None => Ok(()),
        Some(axis) => Err(Error::ModelInvalid(format!(
            "node '{}' ({}) has axis {axis}, past any tensor's rank (at most {MAX_AXIS} here)",
            node.name, node.op_type
        ))),
    }
}

/// Refuses a graph output that no node, input or initializer of its graph makes: tract looks
/// each output up by name and panics on one it never saw.
fn outputs_made(graph: &pb::GraphProto) -> Result<()> {
    let values = graph.node.iter().flat_map(|n| n.output.iter().chain(&n.input));
    let named: HashSet<&str> = graph
        .input
        .iter()
        .map(|v| v.name.as_str())
        .chain(graph.initializer.iter().map(|t| t.name.as_str()))
        .chain(values.map(String::as_str))
        .collect();
    match graph.output.iter().find(|o| !named.contains(o.name.as_str())) {
        None => Ok(()),
        Some(output) => Err(Error::ModelInvalid(format!(
            "graph '{}' has output '{}', which none of its nodes, inputs or initializers makes",
            graph.name, output.name
        ))),
    }
}

/// Bytes of a tensor of `dims` of ONNX element type `elem_type`, saturating; None for an
/// element type without a fixed size (strings).
fn bytes_of(dims: impl IntoIterator<Item = i64>, elem_type: i32) -> Option<u128> {
    let size = match pb::tensor_proto::DataType::try_from(elem_type).ok()? {
        pb::tensor_proto::DataType::Bool
        | pb::tensor_proto::DataType::Int8
        | pb::tensor_proto::DataType::Uint8
        | pb::tensor_proto::DataType::Float8e4m3fn
        | pb::tensor_proto::DataType::Float8e4m3fnuz
        | pb::tensor_proto::DataType::Float8e5m2
        | pb::tensor_proto::DataType::Float8e5m2fnuz => 1,
        pb::tensor_proto::DataType::Int16
        | pb::tensor_proto::DataType::Uint16
        | pb::tensor_proto::DataType::Float16
        | pb::tensor_proto::DataType::Bfloat16 => 2,
        pb::tensor_proto::DataType::Int32 | pb::tensor_proto::DataType::Uint32 | pb::tensor_proto::DataType::Float => 4,
        pb::tensor_proto::DataType::Int64
        | pb::tensor_proto::DataType::Uint64
        | pb::tensor_proto::DataType::Double
        | pb::tensor_proto::DataType::Complex64 => 8,
        pb::tensor_proto::DataType::Complex128 => 16,
        _ => return None,
    };
    Some(dims.into_iter().fold(size as u128, |n, d| n.saturating_mul(d.max(0) as u128)))
}

/// Refuses a stored tensor (an initializer, a Constant's value) kept in an external file, or
/// declared larger than `maxTensorBytes` (its data, when present, is checked against its
/// declaration by tract).
fn stored(t: &pb::TensorProto, what: &str, limits: &Limits) -> Result<()> {
    if t.data_location == Some(DataLocation::External as i32) {
        let file = t.external_data.iter().find(|e| e.key == "location").map_or("", |e| e.value.as_str());
        return Err(Error::Unsupported(format!(
            "{what} '{}' keeps its data in an external file ('{file}'): models load from one file's bytes here, so save it with its weights inside (onnx.save(model, path, save_as_external_data=False))",
            t.name
        )));
    }
    too_large(bytes_of(t.dims.iter().copied(), t.data_type), &format!("{what} '{}'", t.name), limits)
}

/// Refuses a graph input, output or intermediate declared with fixed dimensions whose size
/// is over `maxTensorBytes`: no call could compute it.
fn declared(v: &pb::ValueInfoProto, limits: &Limits) -> Result<()> {
    let Some(pb::type_proto::Value::TensorType(t)) = v.r#type.as_ref().and_then(|t| t.value.as_ref()) else {
        return Ok(());
    };
    let Some(shape) = &t.shape else { return Ok(()) };
    let fixed: Option<Vec<i64>> = shape
        .dim
        .iter()
        .map(|d| match d.value {
            Some(pb::tensor_shape_proto::dimension::Value::DimValue(n)) => Some(n),
            _ => None,
        })
        .collect();
    match fixed {
        Some(dims) => too_large(bytes_of(dims, t.elem_type), &format!("tensor '{}' as declared", v.name), limits),
        None => Ok(()),
    }
}

/// Refuses a ConstantOfShape whose shape is an initializer asking for a tensor over
/// `maxTensorBytes`: tract makes constants while it analyses the graph, at load.
fn filled(
    node: &pb::NodeProto,
    constants: &std::collections::HashMap<&str, &pb::TensorProto>,
    limits: &Limits,
) -> Result<()> {
    let Some(shape) = node.input.first().and_then(|i| constants.get(i.as_str())) else { return Ok(()) };
    let dims: Vec<i64> = if shape.int64_data.is_empty() {
        shape.raw_data.chunks_exact(8).map(|b| i64::from_le_bytes(b.try_into().expect("8 bytes"))).collect()
    } else {
        shape.int64_data.clone()
    };
    let elem_type = node
        .attribute
        .iter()
        .find(|a| a.name == "value")
        .and_then(|a| a.t.as_ref())
        .map_or(pb::tensor_proto::DataType::Float as i32, |t| t.data_type);
    let what = format!("the output of ConstantOfShape node '{}'", node.name);
    too_large(bytes_of(dims, elem_type), &what, limits)
}

fn too_large(bytes: Option<u128>, what: &str, limits: &Limits) -> Result<()> {
    bytes.map_or(Ok(()), |bytes| within_tensor_limit(what, bytes, limits.max_tensor_bytes))
}

/// Refuses a graph input that is not a tensor. tract's protobuf knows only tensor types, so a
/// map, sequence, optional or sparse input decodes as a type with no value, which tract would
/// report as an invalid model: the model is valid, and what is missing is support for it.
fn input_types(graph: &pb::GraphProto) -> Result<()> {
    let initializers: HashSet<&str> = graph.initializer.iter().map(|t| t.name.as_str()).collect();
    let other = graph
        .input
        .iter()
        .find(|i| !initializers.contains(i.name.as_str()) && i.r#type.as_ref().is_some_and(|t| t.value.is_none()));
    match other {
        None => Ok(()),
        Some(input) => Err(Error::Unsupported(format!(
            "graph input '{}' is a map, sequence, optional or sparse tensor; inputs here are tensors",
            input.name
        ))),
    }
}

/// Names every operator the runtime lacks before parsing, so the error is about the model
/// and not about whichever node the parser happened to reach.
fn missing_operators(missing: Vec<(String, String)>) -> Result<()> {
    match missing.first() {
        None => Ok(()),
        Some((op, node)) => {
            let mut op = op.clone();
            if missing.len() > 1 {
                let others: Vec<&str> = missing[1..].iter().map(|(o, _)| o.as_str()).collect();
                op = format!("{op} (also unsupported: {})", others.join(", "));
            }
            Err(Error::UnsupportedOp { op, node: (!node.is_empty()).then(|| node.clone()) })
        }
    }
}
