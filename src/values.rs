//! Value inputs: graph inputs that tract needs as constants while typing the graph (a
//! Reshape's shape, a Reduce's axes, Resize's scales, Pad's pads). Such a graph cannot be
//! typed until the values are known, so it is typed once per set of values, with the values
//! made initializers, and the resulting models are kept by value, most recently used first,
//! as plans are kept by shape.
//!
//! Only inputs wired straight into such an operand count. An exporter that computes a shape
//! from other tensors (Shape, Gather, Concat) gives tract something it folds by itself.

use tract_onnx::pb;
use tract_onnx::prelude::*;

use crate::error::{Error, Result};
use crate::feeds::Feed;
use crate::model::{LoadOptions, Model};
use crate::tensor::HostTensor;

/// The operands, by operator, whose values tract's typing needs.
const VALUE_OPERANDS: &[(&str, &[usize])] = &[
    ("AffineGrid", &[1]),
    ("BatchNormalization", &[1, 2, 3, 4]),
    ("BlackmanWindow", &[0]),
    ("CenterCropPad", &[1]),
    ("Col2Im", &[1, 2]),
    ("ConstantOfShape", &[0]),
    ("CumProd", &[1]),
    ("CumSum", &[1]),
    ("DFT", &[1, 2]),
    ("DequantizeLinear", &[1, 2]),
    ("Expand", &[1]),
    ("HammingWindow", &[0]),
    ("HannWindow", &[0]),
    ("MelWeightMatrix", &[0, 1, 2, 3, 4]),
    ("OneHot", &[1, 2]),
    ("Pad", &[1, 2, 3]),
    ("QuantizeLinear", &[1, 2]),
    ("Range", &[0, 1, 2]),
    ("ReduceL1", &[1]),
    ("ReduceL2", &[1]),
    ("ReduceLogSum", &[1]),
    ("ReduceLogSumExp", &[1]),
    ("ReduceMax", &[1]),
    ("ReduceMean", &[1]),
    ("ReduceMin", &[1]),
    ("ReduceProd", &[1]),
    ("ReduceSum", &[1]),
    ("ReduceSumSquare", &[1]),
    ("Reshape", &[1]),
    ("Resize", &[1, 2, 3]),
    ("Slice", &[1, 2, 3, 4]),
    ("Split", &[1]),
    ("Squeeze", &[1]),
    ("Tile", &[1]),
    ("TopK", &[1]),
    ("Unsqueeze", &[1]),
    ("Upsample", &[1]),
];

/// The names of the graph inputs that feed a value operand, in graph order.
pub(crate) fn find(proto: &pb::ModelProto) -> Vec<String> {
    let Some(graph) = proto.graph.as_ref() else { return Vec::new() };
    let fed: Vec<&str> = graph
        .node
        .iter()
        .filter_map(|node| VALUE_OPERANDS.iter().find(|(op, _)| *op == node.op_type).map(|(_, slots)| (node, *slots)))
        .flat_map(|(node, slots)| slots.iter().filter_map(|&s| node.input.get(s).map(String::as_str)))
        .collect();
    graph
        .input
        .iter()
        .map(|i| i.name.as_str())
        .filter(|name| fed.contains(name) && !graph.initializer.iter().any(|t| t.name == *name))
        .map(str::to_owned)
        .collect()
}

/// The models of one graph, each typed with one set of values for its value inputs.
pub(crate) struct ValueInputs {
    /// The graph as loaded, before any rewrite: each set of values is loaded from it afresh.
    proto: pb::ModelProto,
    /// Positions of the value inputs among the model's inputs.
    positions: Vec<usize>,
    names: Vec<String>,
    options: LoadOptions,
    /// Most recently used last.
    models: Vec<(Vec<Tensor>, Model)>,
}

impl ValueInputs {
    pub fn new(proto: pb::ModelProto, names: Vec<String>, positions: Vec<usize>, options: &LoadOptions) -> Self {
        let mut options = options.clone();
        options.input_shapes.retain(|(name, _)| !names.contains(name));
        ValueInputs { proto, positions, names, options, models: Vec::new() }
    }

    pub fn is_value_input(&self, name: &str) -> bool {
        self.names.iter().any(|n| n == name)
    }

    fn capacity(&self) -> usize {
        self.options.max_specialized_plans.max(1)
    }

    pub fn configure(&mut self, options: &LoadOptions) -> Result<()> {
        self.options.limits = options.limits;
        self.options.max_specialized_plans = options.max_specialized_plans;
        let excess = self.models.len().saturating_sub(self.capacity());
        self.models.drain(..excess);
        self.models.iter_mut().try_for_each(|(_, m)| m.configure(&self.options))
    }

    pub fn models(&self) -> impl Iterator<Item = &Model> {
        self.models.iter().map(|(_, m)| m)
    }

    /// Runs `run` on the model for the values in `tensors` (all of the outer model's inputs,
    /// checked and in its order), with `feeds` less the value inputs.
    pub fn with_model<T>(
        &mut self,
        tensors: &[TValue],
        feeds: Vec<(String, Feed)>,
        run: impl FnOnce(&mut Model, Vec<(String, Feed)>) -> Result<T>,
    ) -> Result<T> {
        let key: Vec<Tensor> = self.positions.iter().map(|&i| tensors[i].clone().into_tensor()).collect();
        let at = match self.models.iter().position(|(k, _)| *k == key) {
            Some(at) => at,
            None => {
                let model = self.load(&key)?;
                if self.models.len() == self.capacity() {
                    self.models.remove(0);
                }
                self.models.push((key, model));
                self.models.len() - 1
            }
        };
        let entry = self.models.remove(at);
        self.models.push(entry);
        let feeds = feeds.into_iter().filter(|(name, _)| !self.is_value_input(name)).collect();
        run(&mut self.models.last_mut().expect("just pushed").1, feeds)
    }

    /// Loads the graph with `values` as the value inputs' initializers. A failure names the
    /// value inputs: it is their values the graph cannot run with.
    fn load(&self, values: &[Tensor]) -> Result<Model> {
        let mut proto = self.proto.clone();
        let graph = proto.graph.as_mut().expect("checked at load");
        for (name, value) in self.names.iter().zip(values) {
            graph.input.retain(|i| &i.name != name);
            graph.initializer.push(tensor_proto(name, value)?);
        }
        // tract's typing rules can panic on values out of range (a Reduce axis past the rank).
        crate::error::guard(|| Model::from_proto(proto, &self.options)).map_err(|e| match e {
            Error::ModelInvalid(message) | Error::UnsupportedOp { op: message, .. } | Error::Internal(message) => {
                Error::InputValue {
                    name: self.names.join("', '"),
                    message: format!("the model cannot run with {}: {message}", describe(&self.names, values)),
                }
            }
            other => other,
        })
    }
}

/// `axes = [1]`, for error messages; long values are cut short.
fn describe(names: &[String], values: &[Tensor]) -> String {
    let parts: Vec<String> = names
        .iter()
        .zip(values)
        .map(|(name, value)| {
            let shown = HostTensor::from_tract(name, value).map(|t| t.values.describe()).unwrap_or_default();
            format!("{name} = {shown}")
        })
        .collect();
    parts.join(", ")
}

/// An initializer holding `value`, as raw little-endian data.
fn tensor_proto(name: &str, value: &Tensor) -> Result<pb::TensorProto> {
    use pb::tensor_proto::DataType as D;
    let data_type = match value.datum_type() {
        DatumType::F32 => D::Float,
        DatumType::F64 => D::Double,
        DatumType::F16 => D::Float16,
        DatumType::I8 => D::Int8,
        DatumType::I16 => D::Int16,
        DatumType::I32 => D::Int32,
        DatumType::I64 => D::Int64,
        DatumType::U8 => D::Uint8,
        DatumType::U16 => D::Uint16,
        DatumType::U32 => D::Uint32,
        DatumType::U64 => D::Uint64,
        DatumType::Bool => D::Bool,
        other => return Err(Error::value(name, format!("a value input cannot hold {other:?}"))),
    };
    let bytes = value.try_as_plain_ram().map_err(|e| Error::Internal(e.to_string()))?;
    Ok(pb::TensorProto {
        name: name.to_owned(),
        dims: value.shape().iter().map(|&d| d as i64).collect(),
        data_type: data_type as i32,
        raw_data: bytes.as_bytes().to_vec(),
        ..Default::default()
    })
}
