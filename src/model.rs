//! A loaded model: ONNX bytes parsed, typed and optimised once, then run for any number of
//! predictions. Symbolic dimensions (batch, sequence) stay symbolic, so one loaded model
//! serves every batch size without reloading.

use tract_onnx::pb;
use tract_onnx::prelude::*;
use tract_onnx::tract_hir::infer::{DimFact, Factoid, ShapeFactoid};

use crate::dtype::DType;
use crate::error::{Error, Result, from_tract, guard};
use crate::feeds::{self, Feed, InputSpec};
use crate::footprint::Footprint;
use crate::ops::ml::ZipMap;
use crate::plans::{NodeTime, Plans};
use crate::schema::TensorInfo;
use crate::tensor::{HostTensor, MapKeys};
use crate::values::ValueInputs;

/// Bounds on what a model file, and then one prediction, may ask of the instance; each is
/// checked before what it bounds is allocated.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Limits {
    /// Elements in any one input.
    pub max_input_elements: usize,
    /// Bytes of any one tensor the model would hold or compute (weights, inputs,
    /// intermediates, outputs), as it declares them at load and as each call would make them.
    pub max_tensor_bytes: u64,
    /// Bytes of the ONNX file.
    pub max_model_bytes: u64,
    /// Nodes in the model, its nested graphs' included.
    pub max_nodes: usize,
    /// How deep graphs nest in one another (the main graph is 1, a Loop's body in it 2).
    pub max_graph_depth: usize,
}

impl Default for Limits {
    fn default() -> Self {
        // wasm32 has 4 GiB of address space; one 1 GiB tensor leaves room for its neighbours,
        // and a 2 GiB file is protobuf's own limit. Models of a million nodes or graphs nested
        // sixteen deep are far past any exported network.
        Limits {
            max_input_elements: 1 << 27,
            max_tensor_bytes: 1 << 30,
            max_model_bytes: 1 << 31,
            max_nodes: 1_000_000,
            max_graph_depth: 16,
        }
    }
}

#[derive(Debug, Clone)]
pub struct LoadOptions {
    /// Pins the shapes of these inputs at load (name, shape): the optimiser then works with
    /// concrete sizes, which is faster for models always called with the same shape.
    pub input_shapes: Vec<(String, Vec<usize>)>,
    pub limits: Limits,
    /// Shapes that get a plan of their own once seen twice (0: always the symbolic plan,
    /// and the decluttered model is not kept, which saves its memory).
    pub max_specialized_plans: usize,
    /// For bundles: the Ed25519 public key (SPKI PEM or 32 raw bytes) whose signature the
    /// bundle must carry. Without it, only the model's digest is checked.
    pub public_key: Option<Vec<u8>>,
}

impl Default for LoadOptions {
    fn default() -> Self {
        LoadOptions { input_shapes: Vec::new(), limits: Limits::default(), max_specialized_plans: 4, public_key: None }
    }
}

/// A model on its way to being loaded: decluttered, with what its ONNX file (or a bundle's
/// manifest) says about it.
#[derive(Clone)]
pub(crate) struct Graph {
    pub decluttered: TypedModel,
    pub input_names: Vec<String>,
    pub output_names: Vec<String>,
    pub metadata: Vec<(String, String)>,
}

pub struct Model {
    engine: Engine,
    /// The model's `metadata_props` and producer, in file order (feature names, labels, ...).
    metadata: Vec<(String, String)>,
    inputs: Vec<InputSpec>,
    outputs: Vec<TensorInfo>,
    limits: Limits,
}

enum Engine {
    /// A typed graph and its plans.
    Graph {
        plans: Plans,
        /// Per output: the keys of the map it becomes, for outputs made by a ZipMap.
        map_keys: Vec<Option<MapKeys>>,
        footprint: Footprint,
    },
    /// A graph that types only once its value inputs are known: one model per set of values.
    Values(ValueInputs),
}

impl std::fmt::Debug for Model {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Model").field("inputs", &self.inputs).field("outputs", &self.outputs).finish()
    }
}

impl Model {
    /// Loads an ONNX model, or a bundle made by `edgeinfer build` (checked before anything
    /// of it runs).
    pub fn load(bytes: &[u8], options: &LoadOptions) -> Result<Model> {
        guard(|| match crate::bundle::is_bundle(bytes) {
            true => Model::from_graph(crate::bundle::open(bytes, options)?.graph, options),
            false => Model::from_proto(decode_onnx(bytes, &options.limits)?, options),
        })
    }

    /// Loads as `load` does, from bytes it owns: an ONNX file's bytes are dropped once decoded,
    /// which lowers the memory a large model leaves the instance holding by its file's size.
    pub fn load_owned(bytes: Vec<u8>, options: &LoadOptions) -> Result<Model> {
        if crate::bundle::is_bundle(&bytes) {
            return Model::load(&bytes, options);
        }
        guard(|| {
            let proto = decode_onnx(&bytes, &options.limits)?;
            drop(bytes);
            Model::from_proto(proto, options)
        })
    }

    /// Loads a bundle from its sections (as JS reads them from a compiled module), returning
    /// its checked manifest too.
    pub fn load_bundle(
        parts: &crate::bundle::Parts,
        options: &LoadOptions,
    ) -> Result<(Model, crate::bundle::manifest::Manifest)> {
        guard(|| {
            let opened = crate::bundle::open_parts(parts, options)?;
            Ok((Model::from_graph(opened.graph, options)?, opened.manifest))
        })
    }

    /// A runnable model from a decoded ONNX file. A graph that does not type because it takes
    /// as inputs values tract needs as constants becomes a model typed per set of values.
    pub(crate) fn from_proto(proto: pb::ModelProto, options: &LoadOptions) -> Result<Model> {
        let value_inputs = crate::values::find(&proto);
        let kept = (!value_inputs.is_empty()).then(|| proto.clone());
        match (graph_from_proto(proto, options), kept) {
            (Ok(graph), _) => Model::from_graph(graph, options),
            (Err(first @ Error::ModelInvalid(_)), Some(proto)) => {
                Model::with_value_inputs(proto, value_inputs, options).map_err(|_| first)
            }
            (Err(e), _) => Err(e),
        }
    }

    /// The model of a graph with value inputs: its schema comes from the graph's declarations,
    /// as there is no typed graph to read it from until the values are known.
    fn with_value_inputs(proto: pb::ModelProto, value_inputs: Vec<String>, options: &LoadOptions) -> Result<Model> {
        let metadata = metadata(&proto);
        let mut rewritten = proto.clone();
        crate::rewrite::apply(&mut rewritten);
        let mut model = reading(|| {
            crate::ops::framework().model_for_proto_model(&rewritten).map_err(|e| from_tract(&e, Error::ModelInvalid))
        })?;
        drop(rewritten);
        let names = input_names(&model)?;
        name_unknown_dims(&mut model, &names, false)?;
        let inputs = names
            .iter()
            .enumerate()
            .map(|(i, name)| {
                let fact = model.input_fact(i).map_err(|e| from_tract(&e, Error::ModelInvalid))?;
                let info = TensorInfo::declared(name.clone(), fact)?;
                let dims = fact.shape.concretize().unwrap_or_default();
                Ok(InputSpec { info: TensorInfo { value: value_inputs.contains(name), ..info }, dims })
            })
            .collect::<Result<Vec<_>>>()?;
        let graph = proto.graph.as_ref().expect("decoded models have a graph");
        let outputs = graph.output.iter().map(TensorInfo::from_proto).collect::<Result<Vec<_>>>()?;
        let positions = names.iter().enumerate().filter(|(_, n)| value_inputs.contains(n)).map(|(i, _)| i).collect();
        let values = ValueInputs::new(proto, value_inputs, positions, options);
        Ok(Model { engine: Engine::Values(values), metadata, inputs, outputs, limits: options.limits })
    }

    /// A runnable model from a decluttered graph. Its plans are built by `Plans`: none yet
    /// for a model with symbolic dimensions, so the schema is read off the decluttered graph.
    pub(crate) fn from_graph(graph: Graph, options: &LoadOptions) -> Result<Model> {
        let Graph { decluttered, input_names, output_names, metadata } = graph;
        let inputs = input_names
            .into_iter()
            .enumerate()
            .map(|(i, name)| {
                let fact = decluttered.input_fact(i).map_err(|e| from_tract(&e, Error::ModelInvalid))?;
                let dims = fact.shape.iter().cloned().collect();
                Ok(InputSpec { info: TensorInfo::from_fact(name, fact)?, dims })
            })
            .collect::<Result<Vec<_>>>()?;
        let map_keys = map_keys(&decluttered)?;
        let outputs = output_names
            .into_iter()
            .enumerate()
            .map(|(i, name)| {
                let fact = decluttered.output_fact(i).map_err(|e| from_tract(&e, Error::ModelInvalid))?;
                let info = TensorInfo::from_fact(name, fact)?;
                Ok(match map_keys.get(i) {
                    Some(Some(_)) => {
                        TensorInfo { dtype: DType::Map, shape: info.shape.into_iter().take(1).collect(), ..info }
                    }
                    _ => info,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        let mut footprint = Footprint::of(&decluttered);
        footprint.check_fixed(options.limits.max_tensor_bytes)?;
        let plans =
            Plans::new(decluttered, options.max_specialized_plans).map_err(|e| from_tract(&e, Error::ModelInvalid))?;
        Ok(Model {
            engine: Engine::Graph { plans, map_keys, footprint },
            metadata,
            inputs,
            outputs,
            limits: options.limits,
        })
    }

    /// Gives a model loaded with the default options (a bundle's snapshot, see `snapshot`)
    /// the caller's limits and plan cache. Pinned input shapes change the optimised graph,
    /// so they need a load of their own.
    pub fn configure(&mut self, options: &LoadOptions) -> Result<()> {
        if !options.input_shapes.is_empty() {
            return Err(Error::InvalidOption(
                "inputShapes cannot be applied to a loaded model; load the model with them".into(),
            ));
        }
        self.limits = options.limits;
        match &mut self.engine {
            Engine::Graph { plans, footprint, .. } => {
                footprint.check_fixed(options.limits.max_tensor_bytes)?;
                plans.set_capacity(options.max_specialized_plans).map_err(|e| from_tract(&e, Error::ModelInvalid))
            }
            Engine::Values(values) => values.configure(options),
        }
    }

    /// How many plans specialised for concrete input shapes the model holds now.
    pub fn specialized_plans(&self) -> usize {
        match &self.engine {
            Engine::Graph { plans, .. } => plans.specialized(),
            Engine::Values(values) => values.models().map(Model::specialized_plans).sum(),
        }
    }

    /// For a model with value inputs, how many sets of their values it holds a typed graph
    /// for (at most `max_specialized_plans`, and at least one); 0 for any other model.
    pub fn value_sets(&self) -> usize {
        match &self.engine {
            Engine::Graph { .. } => 0,
            Engine::Values(values) => values.models().count(),
        }
    }

    /// Whether an input shape seen more than once waits for a plan of its own (see
    /// `specialize_next`).
    pub fn wants_specializing(&self) -> bool {
        matches!(&self.engine, Engine::Graph { plans, .. } if plans.wants_specializing())
    }

    /// Builds one waiting specialised plan, outside any prediction (a host calls it when
    /// idle); says whether another still waits. Failing to specialise is not an error: that
    /// shape keeps the symbolic plan.
    pub fn specialize_next(&mut self) -> bool {
        match &mut self.engine {
            Engine::Graph { plans, .. } => guard(|| Ok(plans.specialize_next())).unwrap_or(false),
            Engine::Values(_) => false,
        }
    }

    pub fn inputs(&self) -> impl Iterator<Item = &TensorInfo> {
        self.inputs.iter().map(|s| &s.info)
    }

    pub fn outputs(&self) -> &[TensorInfo] {
        &self.outputs
    }

    pub fn metadata(&self) -> &[(String, String)] {
        &self.metadata
    }

    /// Runs the model on `feeds` as `predict` does, and says how long each node of the plan
    /// that ran took, by `clock` (milliseconds), in the order they ran.
    pub fn profile(&mut self, feeds: Vec<(String, Feed)>, clock: &mut dyn FnMut() -> f64) -> Result<Vec<NodeTime>> {
        let (plans, footprint) = match &mut self.engine {
            Engine::Graph { plans, footprint, .. } => (plans, footprint),
            Engine::Values(values) => {
                let bound = feeds::bind(&self.inputs, feeds.clone(), self.limits.max_input_elements)?;
                return values.with_model(&bound.tensors, feeds, |model, feeds| model.profile(feeds, clock));
            }
        };
        let bound = feeds::bind(&self.inputs, feeds, self.limits.max_input_elements)?;
        footprint.check(&bound.symbols, self.limits.max_tensor_bytes)?;
        plans.for_symbols(&bound.symbols)?.run_profiled(bound.tensors, clock)
    }

    /// Runs the model. Inputs are checked first; a failure of any kind leaves the model
    /// ready for the next call.
    pub fn predict(&mut self, feeds: Vec<(String, Feed)>) -> Result<Vec<(String, HostTensor)>> {
        let (plans, map_keys, footprint) = match &mut self.engine {
            Engine::Graph { plans, map_keys, footprint } => (plans, map_keys, footprint),
            Engine::Values(values) => {
                let bound = feeds::bind(&self.inputs, feeds.clone(), self.limits.max_input_elements)?;
                return values.with_model(&bound.tensors, feeds, |model, feeds| model.predict(feeds));
            }
        };
        let bound = feeds::bind(&self.inputs, feeds, self.limits.max_input_elements)?;
        footprint.check(&bound.symbols, self.limits.max_tensor_bytes)?;
        let outputs = plans.for_symbols(&bound.symbols)?.run(bound.tensors)?;
        self.outputs
            .iter()
            .zip(outputs.iter())
            .zip(map_keys.iter())
            .map(|((info, t), keys)| {
                let host = HostTensor::from_tract(&info.name, t)?;
                let host = match keys {
                    Some(keys) => host.into_map(&info.name, keys.clone())?,
                    None => host,
                };
                Ok((info.name.clone(), host))
            })
            .collect()
    }
}

/// Parses ONNX bytes as far as a decluttered graph.
pub(crate) fn parse_onnx(bytes: &[u8], options: &LoadOptions) -> Result<Graph> {
    graph_from_proto(decode_onnx(bytes, &options.limits)?, options)
}

/// The protobuf of an ONNX file. It holds a copy of every weight: callers that own the bytes
/// drop them once this returns, so that the two are not held at once (see `Model::load_owned`).
/// Decoded from the bytes in place, not through tract's `proto_model_for_read`, which reads
/// them into a copy first: a third copy of the weights at the load's peak.
fn decode_onnx(bytes: &[u8], limits: &Limits) -> Result<pb::ModelProto> {
    if bytes.is_empty() {
        return Err(Error::ModelParse("the model is empty (0 bytes), expected the bytes of an .onnx file".into()));
    }
    crate::screen::file_size(bytes.len(), limits)?;
    <pb::ModelProto as prost::Message>::decode(bytes)
        .map_err(|e| Error::ModelParse(format!("not an ONNX protobuf ({} bytes): {e}", bytes.len())))
}

/// Types and declutters a decoded model. The protobuf is dropped as soon as tract has made
/// its tensors from it: WebAssembly memory never shrinks, so what is held at once while
/// loading is what a model costs for the life of the instance.
fn graph_from_proto(mut proto: pb::ModelProto, options: &LoadOptions) -> Result<Graph> {
    let onnx = crate::ops::framework();
    let graph = proto.graph.as_ref().ok_or_else(|| Error::ModelParse("not an ONNX model: it has no graph".into()))?;
    if graph.output.is_empty() {
        return Err(Error::ModelParse("not an ONNX model: its graph has no outputs".into()));
    }
    crate::screen::graph(&onnx, graph, &options.limits)?;
    let output_names: Vec<String> = graph.output.iter().map(|o| o.name.clone()).collect();
    let metadata = metadata(&proto);
    crate::rewrite::apply(&mut proto);
    // Inputs whose unnamed first axes the graph combines (skl2onnx's one input per column,
    // concatenated) only type with one batch symbol for all of them: a second try.
    let retry = unnamed_batch_inputs(&proto) > 1;
    let (input_names, typed) = reading(|| {
        let model = onnx.model_for_proto_model(&proto).map_err(|e| from_tract(&e, Error::ModelInvalid))?;
        drop(proto);
        let (input_names, mut typed) = match retry {
            false => typed_model(model, options, false)?,
            true => typed_model(model.clone(), options, false)
                .or_else(|first| typed_model(model, options, true).map_err(|_| first))?,
        };
        crate::ops::declutter(&mut typed).map_err(|e| from_tract(&e, Error::ModelInvalid))?;
        Ok((input_names, typed))
    })?;
    Ok(Graph { decluttered: typed, input_names, output_names, metadata })
}

/// Runs tract's reading of a file (parse, shape inference, typing, decluttering), whose
/// panics are the file refused: see `error::guard_as`.
fn reading<T>(f: impl FnOnce() -> Result<T>) -> Result<T> {
    crate::error::guard_as(|message| Error::ModelInvalid(format!("the model could not be read: {message}")), f)
}

fn metadata(proto: &pb::ModelProto) -> Vec<(String, String)> {
    let producer = [("producer_name", &proto.producer_name), ("producer_version", &proto.producer_version)];
    producer
        .into_iter()
        .filter(|(_, v)| !v.is_empty())
        .map(|(k, v)| (k.to_string(), v.clone()))
        .chain(proto.metadata_props.iter().map(|p| (p.key.clone(), p.value.clone())))
        .collect()
}

/// The map keys of each graph output a ZipMap makes: a sequence of maps has no tensor form,
/// so the ZipMap passes its probabilities through and the output is rebuilt as maps here.
fn map_keys(model: &TypedModel) -> Result<Vec<Option<MapKeys>>> {
    let outlets = model.output_outlets().map_err(|e| from_tract(&e, Error::ModelInvalid))?;
    Ok(outlets.iter().map(|o| model.node(o.node).op_as::<ZipMap>().map(|z| z.keys().clone())).collect())
}

/// Types the model, each unnamed input dimension its own symbol, except that with
/// `share_batch` every unnamed first axis is the one symbol `dim0`.
fn typed_model(
    mut model: InferenceModel,
    options: &LoadOptions,
    share_batch: bool,
) -> Result<(Vec<String>, TypedModel)> {
    let input_names = input_names(&model)?;
    name_unknown_dims(&mut model, &input_names, share_batch)?;
    pin_input_shapes(&mut model, &input_names, &options.input_shapes)?;
    crate::ops::fold_limit::bound(&mut model, options.limits.max_tensor_bytes);
    let mut typed = model.into_typed().map_err(|e| from_tract(&e, Error::ModelInvalid))?;
    crate::ops::index_checks::guard(&mut typed).map_err(|e| from_tract(&e, Error::ModelInvalid))?;
    crate::ops::bool_reduce::retarget(&mut typed).map_err(|e| from_tract(&e, Error::ModelInvalid))?;
    reset_scans_every_call(&mut typed);
    Ok((input_names, typed))
}

/// Makes every Scan (recurrent layers become Scans) start from its initial state at each
/// prediction. tract carries a Scan's hidden state from one run to the next, for streaming;
/// a plan reused across predictions then gave an LSTM a different answer at each call.
fn reset_scans_every_call(model: &mut TypedModel) {
    for node in model.nodes_mut() {
        if let Some(scan) = node.op_as_mut::<tract_onnx::tract_core::ops::scan::Scan>() {
            scan.reset_every_turn = true;
            reset_scans_every_call(&mut scan.body);
        }
    }
}

/// Graph inputs (initializers aside) whose first dimension has neither a size nor a name.
fn unnamed_batch_inputs(proto: &pb::ModelProto) -> usize {
    let Some(graph) = proto.graph.as_ref() else { return 0 };
    graph
        .input
        .iter()
        .filter(|i| !graph.initializer.iter().any(|t| t.name == i.name))
        .filter(|i| {
            let Some(pb::type_proto::Value::TensorType(t)) = i.r#type.as_ref().and_then(|t| t.value.as_ref()) else {
                return false;
            };
            t.shape.as_ref().and_then(|s| s.dim.first()).is_some_and(|d| match &d.value {
                None => true,
                Some(pb::tensor_shape_proto::dimension::Value::DimParam(name)) => name.is_empty(),
                Some(_) => false,
            })
        })
        .count()
}

fn input_names(model: &InferenceModel) -> Result<Vec<String>> {
    model
        .input_outlets()
        .map_err(|e| from_tract(&e, Error::ModelInvalid))?
        .iter()
        .map(|o| Ok(model.node(o.node).name.clone()))
        .collect()
}

/// Exporters often leave a dimension unnamed (skl2onnx's `None`); tract needs every input
/// dimension known or symbolic, so each unnamed one becomes its own symbol, or, with
/// `share_batch`, every unnamed first axis the one symbol `dim0` (exporters then mean one
/// batch size).
fn name_unknown_dims(model: &mut InferenceModel, names: &[String], share_batch: bool) -> Result<()> {
    for (i, name) in names.iter().enumerate() {
        let mut fact = model.input_fact(i).map_err(|e| from_tract(&e, Error::ModelInvalid))?.clone();
        let unknown: Vec<usize> =
            fact.shape.dims().enumerate().filter(|(_, d)| d.concretize().is_none()).map(|(axis, _)| axis).collect();
        if unknown.is_empty() {
            continue;
        }
        for axis in unknown {
            let sym = if axis == 0 && share_batch {
                model.symbols.sym("dim0")
            } else {
                model.symbols.sym(&format!("{name}_dim{axis}"))
            };
            fact.shape.set_dim(axis, sym.into());
        }
        model.set_input_fact(i, fact).map_err(|e| from_tract(&e, Error::ModelInvalid))?;
    }
    Ok(())
}

/// Checks a pinned shape against the declared one (`None` for a symbolic dimension).
fn check_pin(name: &str, declared: &[Option<i64>], shape: &[usize]) -> Result<()> {
    if declared.len() != shape.len() {
        return Err(Error::InvalidOption(format!(
            "inputShapes gives '{name}' rank {}, but the model declares rank {}",
            shape.len(),
            declared.len()
        )));
    }
    for (axis, (d, &size)) in declared.iter().zip(shape).enumerate() {
        if let Some(fixed) = d
            && *fixed != size as i64
        {
            return Err(Error::InvalidOption(format!(
                "inputShapes gives '{name}' dimension {axis} = {size}, but the model fixes it to {fixed}"
            )));
        }
    }
    Ok(())
}

fn pin_input_shapes(model: &mut InferenceModel, names: &[String], pins: &[(String, Vec<usize>)]) -> Result<()> {
    for (name, shape) in pins {
        let i = names.iter().position(|n| n == name).ok_or_else(|| {
            Error::InvalidOption(format!("inputShapes names '{name}', but the model's inputs are {}", names.join(", ")))
        })?;
        let fact = model.input_fact(i).map_err(|e| from_tract(&e, Error::ModelInvalid))?.clone();
        let declared: Vec<Option<i64>> =
            fact.shape.dims().map(|d| d.concretize().and_then(|d| d.to_i64().ok())).collect();
        check_pin(name, &declared, shape)?;
        let dims: TVec<TDim> = shape.iter().map(|&s| s.to_dim()).collect();
        let pinned = fact.with_shape(ShapeFactoid::closed(dims.into_iter().map(DimFact::from).collect()));
        model.set_input_fact(i, pinned).map_err(|e| from_tract(&e, Error::ModelInvalid))?;
    }
    Ok(())
}
