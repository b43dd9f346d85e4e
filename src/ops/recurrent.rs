//! LSTM, GRU and RNN (ONNX) on edgeinfer-kernels' `recurrent` loop: every direction, sequence
//! lengths, initial states, peepholes, clipping, `input_forget`, `linear_before_reset`, the
//! batch-first layout and the activations the standard names.
//!
//! tract lowers each layer to a Scan whose body runs as a small plan at every step (2.3x
//! onnxruntime-web's time on a small LSTM), uses Sigmoid and Tanh whatever `activations`
//! says, and a reverse direction gave wrong answers. tract's lowering is kept for what the
//! kernels do not compute: other element types than f32. Its typing rules are used as they
//! are, so a model types the same either way.

use std::sync::Arc;

use edgeinfer_kernels::recurrent::{self, Activation, Cell, DirectionWeights, Kind, Outputs, Sequence};
use tract_onnx::model::{OnnxOpRegister, optional_inputs, optional_outputs};
use tract_onnx::ops::rec::common::CommonRec;
use tract_onnx::ops::rec::{gru, lstm, rnn};
use tract_onnx::pb::NodeProto;
use tract_onnx::tract_hir::internal::*;
use tract_onnx::tract_hir::ops as hir;

/// Replaces tract's LSTM, GRU and RNN.
pub(crate) fn register(reg: &mut OnnxOpRegister) {
    reg.insert("LSTM", |_, node| {
        build(node, Kind::Lstm { input_forget: node.get_attr_opt::<i64>("input_forget")?.unwrap_or(0) != 0 })
    });
    reg.insert("GRU", |_, node| {
        build(
            node,
            Kind::Gru { linear_before_reset: node.get_attr_opt::<i64>("linear_before_reset")?.unwrap_or(0) != 0 },
        )
    });
    reg.insert("RNN", |_, node| build(node, Kind::Rnn));
}

/// tract's own lowering of the node, for the element types the kernels do not take.
fn tract_lowering(node: &NodeProto, kind: Kind) -> TractResult<CommonRec> {
    let body: Box<dyn tract_onnx::ops::rec::common::WireBody> = match kind {
        Kind::Lstm { .. } => Box::new(lstm::LSTM {
            f: Box::new(hir::nn::sigmoid()),
            g: Box::new(hir::math::tanh()),
            h: Box::new(hir::math::tanh()),
        }),
        Kind::Gru { linear_before_reset } => {
            Box::new(gru::GRU { f: Box::new(hir::nn::sigmoid()), g: Box::new(hir::math::tanh()), linear_before_reset })
        }
        Kind::Rnn => Box::new(rnn::RNN { fore: Box::new(hir::math::tanh()), back: Box::new(hir::math::tanh()) }),
    };
    CommonRec::from_node_and_options(node, 3, 0, body)
}

fn build(node: &NodeProto, kind: Kind) -> TractResult<(Box<dyn InferenceOp>, Vec<String>)> {
    let label = format!("{} node '{}'", node.op_type, node.name);
    let direction: String = node.get_attr_opt("direction")?.unwrap_or_else(|| "forward".to_string());
    let reverse = match direction.as_str() {
        "forward" => vec![false],
        "reverse" => vec![true],
        "bidirectional" => vec![false, true],
        other => bail!("{label}: direction is '{other}', expected forward, reverse or bidirectional"),
    };
    let per_direction = match kind {
        Kind::Lstm { .. } => 3,
        Kind::Gru { .. } => 2,
        Kind::Rnn => 1,
    };
    let defaults = ["Sigmoid", "Tanh", "Tanh"];
    let names: Vec<String> = match node.get_attr_opt_vec::<String>("activations")? {
        Some(names) => names,
        None if kind == Kind::Rnn => vec!["Tanh".to_string(); reverse.len()],
        None => defaults[..per_direction]
            .iter()
            .cycle()
            .take(per_direction * reverse.len())
            .map(|s| s.to_string())
            .collect(),
    };
    if names.len() != per_direction * reverse.len() {
        bail!(
            "{label}: {} activations, expected {} ({per_direction} per direction)",
            names.len(),
            per_direction * reverse.len()
        );
    }
    let alphas: Vec<f32> = node.get_attr_opt_vec("activation_alpha")?.unwrap_or_default();
    let betas: Vec<f32> = node.get_attr_opt_vec("activation_beta")?.unwrap_or_default();
    let (mut alpha, mut beta) = (alphas.into_iter(), betas.into_iter());
    let mut activations = Vec::new();
    for name in &names {
        let (takes_alpha, takes_beta) = Activation::parameters(name);
        let a = if takes_alpha { alpha.next() } else { None };
        let b = if takes_beta { beta.next() } else { None };
        activations
            .push(Activation::named(name, a, b).ok_or_else(|| format_err!("{label}: unknown activation '{name}'"))?);
    }
    // Directions share the kernels' activations: two different sets are left to tract, as
    // are activations past the first direction's that differ.
    let first = &activations[..per_direction];
    let same_sets = activations.chunks(per_direction).all(|set| set == first);
    let mut set = [Activation::Sigmoid, Activation::Tanh, Activation::Tanh];
    set[..per_direction].copy_from_slice(first);
    let clip: Option<f32> = node.get_attr_opt("clip")?;
    let layout: i64 = node.get_attr_opt("layout")?.unwrap_or(0);
    let hidden: Option<i64> = node.get_attr_opt("hidden_size")?;
    let mut slots = [None; 8];
    for (slot, position) in slots.iter_mut().zip(optional_inputs(node)) {
        *slot = position;
    }
    let mut outputs = [None; 3];
    for (slot, position) in outputs.iter_mut().zip(optional_outputs(node)) {
        *slot = position;
    }
    let ours = Recurrent {
        label,
        kind,
        reverse,
        activations: set,
        clip,
        batch_first: layout == 1,
        hidden: hidden.map(|h| h as usize),
        slots,
        outputs,
        packed: None,
    };
    let op = Lowering { ours: same_sets.then_some(ours), tract: tract_lowering(node, kind)? };
    Ok((expand(op), vec![]))
}

/// The layer as the inference model holds it: tract's typing rules, then this crate's
/// operator where it computes the layer, else tract's lowering.
#[derive(Debug, Clone)]
struct Lowering {
    ours: Option<Recurrent>,
    tract: CommonRec,
}

impl Expansion for Lowering {
    fn name(&self) -> StaticName {
        self.tract.name()
    }

    fn nboutputs(&self) -> TractResult<usize> {
        self.tract.nboutputs()
    }

    fn rules<'r, 'p: 'r, 's: 'r>(
        &'s self,
        s: &mut Solver<'r>,
        inputs: &'p [TensorProxy],
        outputs: &'p [TensorProxy],
    ) -> InferenceResult {
        self.tract.rules(s, inputs, outputs)
    }

    fn wire(&self, prefix: &str, model: &mut TypedModel, inputs: &[OutletId]) -> TractResult<TVec<OutletId>> {
        let f32s = [0, 1, 2, 3, 6, 7].iter().all(|&slot| {
            let Some(Some(at)) = self.ours.as_ref().map(|o| o.slots[slot]) else { return true };
            model.outlet_fact(inputs[at]).is_ok_and(|f| f.datum_type == DatumType::F32)
        });
        let Some(ours) = self.ours.as_ref().filter(|_| f32s) else { return self.tract.wire(prefix, model, inputs) };
        let mut op = ours.clone();
        // Constant weights are packed once, here.
        let constant = |slot: usize| -> Option<Arc<Tensor>> {
            op.slots[slot].and_then(|at| model.outlet_fact(inputs[at]).ok()?.konst.clone())
        };
        let weights = [1, 2].iter().map(|&s| constant(s)).collect::<Option<Vec<_>>>();
        let optional_constant = |slot: usize| match op.slots[slot] {
            None => Some(None),
            Some(_) => constant(slot).map(Some),
        };
        if let (Some(w), Some(b), Some(p)) = (weights, optional_constant(3), optional_constant(7)) {
            op.packed = Some(Arc::new(op.pack(&w[0], &w[1], b.as_deref(), p.as_deref())?));
        }
        model.wire_node(prefix, op, inputs)
    }
}

/// A recurrent layer over f32, on the kernels.
#[derive(Debug, Clone, PartialEq)]
struct Recurrent {
    label: String,
    kind: Kind,
    /// Per direction, whether it runs backwards.
    reverse: Vec<bool>,
    activations: [Activation; 3],
    clip: Option<f32>,
    batch_first: bool,
    hidden: Option<usize>,
    /// Where each ONNX input (X, W, R, B, sequence_lens, initial_h, initial_c, P) is among
    /// the node's inputs, if given.
    slots: [Option<usize>; 8],
    /// Where each ONNX output (Y, Y_h, Y_c) is among the node's outputs, if asked for.
    outputs: [Option<usize>; 3],
    /// Each direction's weights, packed at load when they are constants.
    packed: Option<Arc<Vec<DirectionWeights>>>,
}

impl Eq for Recurrent {}

impl Recurrent {
    /// (input, hidden) from W's shape `[dirs, gates * hidden, input]`.
    fn sizes<D: DimLike>(&self, w: &[D]) -> TractResult<(D, D)> {
        let gates = self.kind.gates();
        if w.len() != 3 {
            bail!("{}: W has rank {}, expected 3", self.label, w.len());
        }
        Ok((w[2].clone(), w[1].clone() / gates))
    }

    fn cell(&self, input: usize, hidden: usize) -> Cell {
        Cell { kind: self.kind, input, hidden, activations: self.activations, clip: self.clip }
    }

    fn pack(
        &self,
        w: &Tensor,
        r: &Tensor,
        b: Option<&Tensor>,
        p: Option<&Tensor>,
    ) -> TractResult<Vec<DirectionWeights>> {
        let (input, hidden) = self.sizes(w.shape())?;
        if self.hidden.is_some_and(|h| h != hidden) {
            bail!("{}: hidden_size is {:?}, but W has {} rows a gate", self.label, self.hidden, hidden);
        }
        let cell = self.cell(input, hidden);
        let dirs = self.reverse.len();
        let f32s = |t: &Tensor| -> TractResult<Vec<f32>> {
            Ok(t.cast_to::<f32>()?.try_as_plain_ram()?.as_slice::<f32>()?.to_vec())
        };
        let (w, r) = (f32s(w)?, f32s(r)?);
        let (b, p) = (b.map(f32s).transpose()?, p.map(f32s).transpose()?);
        let part = |all: &[f32], d: usize| all.chunks(all.len() / dirs.max(1)).nth(d).unwrap_or(&[]).to_vec();
        (0..dirs)
            .map(|d| {
                let (bd, pd) = (b.as_deref().map(|b| part(b, d)), p.as_deref().map(|p| part(p, d)));
                DirectionWeights::new(&cell, &part(&w, d), &part(&r, d), bd.as_deref(), pd.as_deref())
                    .map_err(|e| format_err!("{}: {e}", self.label))
            })
            .collect()
    }

    fn input<'t>(&self, inputs: &'t [TValue], slot: usize) -> Option<&'t TValue> {
        self.slots[slot].map(|at| &inputs[at])
    }
}

impl Op for Recurrent {
    fn name(&self) -> StaticName {
        match self.kind {
            Kind::Lstm { .. } => "LstmF32",
            Kind::Gru { .. } => "GruF32",
            Kind::Rnn => "RnnF32",
        }
        .into()
    }
    op_as_typed_op!();
}

impl EvalOp for Recurrent {
    op_out_of_plan!();

    fn eval(&self, _ctx: &EvalContext, inputs: TVec<TValue>) -> TractResult<TVec<TValue>> {
        let inputs: Vec<TValue> = inputs.into_iter().map(super::lean::natural).collect::<TractResult<_>>()?;
        let x = self.input(&inputs, 0).context("no X")?;
        let packed = match &self.packed {
            Some(p) => p.clone(),
            None => {
                let w = self.input(&inputs, 1).context("no W")?;
                let r = self.input(&inputs, 2).context("no R")?;
                Arc::new(self.pack(w, r, self.input(&inputs, 3).map(|t| &**t), self.input(&inputs, 7).map(|t| &**t))?)
            }
        };
        let w_shape = self.input(&inputs, 1).context("no W")?.shape();
        let (input, hidden) = self.sizes(w_shape)?;
        let shape = x.shape();
        ensure!(
            shape.len() == 3 && shape[2] == input,
            "{}: X has shape {shape:?}, expected 3 axes and {input} inputs",
            self.label
        );
        let (seq, batch) = if self.batch_first { (shape[1], shape[0]) } else { (shape[0], shape[1]) };
        let dirs = self.reverse.len();
        let lengths: Option<Vec<i32>> = match self.input(&inputs, 4) {
            Some(l) => Some(l.cast_to::<i32>()?.try_as_plain_ram()?.as_slice::<i32>()?.to_vec()),
            None => None,
        };
        let state = |slot: usize| -> TractResult<Option<Vec<f32>>> {
            match self.input(&inputs, slot) {
                Some(s) => Ok(Some(s.cast_to::<f32>()?.try_as_plain_ram()?.as_slice::<f32>()?.to_vec())),
                None => Ok(None),
            }
        };
        let (h0, c0) = (state(5)?, state(6)?);
        let seq_shape: TVec<usize> =
            if self.batch_first { tvec![batch, seq, dirs, hidden] } else { tvec![seq, dirs, batch, hidden] };
        let state_shape: TVec<usize> =
            if self.batch_first { tvec![batch, dirs, hidden] } else { tvec![dirs, batch, hidden] };
        let (mut y, mut y_h, mut y_c) =
            (Tensor::zero::<f32>(&seq_shape)?, Tensor::zero::<f32>(&state_shape)?, Tensor::zero::<f32>(&state_shape)?);
        {
            let (mut ys, mut hs, mut cs) =
                (y.try_as_plain_ram_mut()?, y_h.try_as_plain_ram_mut()?, y_c.try_as_plain_ram_mut()?);
            let directions: Vec<(DirectionWeights, bool)> =
                packed.iter().cloned().zip(self.reverse.iter().copied()).collect();
            let sequence = Sequence {
                x: x.try_as_plain_ram()?.as_slice::<f32>()?,
                seq,
                batch,
                batch_first: self.batch_first,
                lengths: lengths.as_deref(),
            };
            let out = Outputs {
                y: self.outputs[0].map(|_| ys.as_slice_mut::<f32>()).transpose()?,
                y_h: self.outputs[1].map(|_| hs.as_slice_mut::<f32>()).transpose()?,
                y_c: self.outputs[2].map(|_| cs.as_slice_mut::<f32>()).transpose()?,
            };
            recurrent::run(&self.cell(input, hidden), &directions, sequence, h0.as_deref(), c0.as_deref(), out)
                .map_err(|e| crate::error::Error::InputValue { name: self.label.clone(), message: e })?;
        }
        let mut results = tvec!();
        for (slot, t) in [y, y_h, y_c].into_iter().enumerate() {
            if self.outputs[slot].is_some() {
                results.push(t.into_tvalue());
            }
        }
        Ok(results)
    }
}

impl TypedOp for Recurrent {
    fn output_facts(&self, inputs: &[&TypedFact]) -> TractResult<TVec<TypedFact>> {
        let x = &inputs[self.slots[0].context("no X")?].shape;
        let w = &inputs[self.slots[1].context("no W")?].shape;
        let (_, hidden) = self.sizes(&w.to_tvec())?;
        let dirs = self.reverse.len().to_dim();
        ensure!(x.rank() == 3, "{}: X has rank {}, expected 3", self.label, x.rank());
        let (seq, batch) = if self.batch_first { (x[1].clone(), x[0].clone()) } else { (x[0].clone(), x[1].clone()) };
        let shapes: [TVec<TDim>; 3] = if self.batch_first {
            let state = tvec![batch.clone(), dirs.clone(), hidden.clone()];
            [tvec![batch, seq, dirs, hidden], state.clone(), state]
        } else {
            let state = tvec![dirs.clone(), batch.clone(), hidden.clone()];
            [tvec![seq, dirs, batch, hidden], state.clone(), state]
        };
        Ok(shapes
            .into_iter()
            .enumerate()
            .filter(|(slot, _)| self.outputs[*slot].is_some())
            .map(|(_, s)| f32::fact(s))
            .collect())
    }
    as_op!();
}
