//! A limit on the tensors tract computes while it reads a file. tract's shape inference runs
//! every node whose inputs are all constants (so that shape subgraphs fold), and checks the
//! result's size only after computing it: a 200-byte file whose Range, Tile, Expand, Pad,
//! Resize or ConstantOfShape asks for terabytes aborted the load (natively; in wasm the
//! allocation failure is refused, but a result under 4 GiB would grow the instance's memory
//! for good). The load screen cannot see these sizes, which exist only once earlier nodes
//! have been folded.
//!
//! So each node with inputs is wrapped, for the inference pass only, in an operator that
//! infers its output facts first and refuses the node when an output it would compute has a
//! known size over `maxTensorBytes`, before tract computes it. It is transparent otherwise:
//! a search for an operator's type finds the wrapped one, and typing translates that.

use tract_onnx::ops::logic::If;
use tract_onnx::prelude::InferenceModel;
use tract_onnx::tract_hir::internal::*;
use tract_onnx::tract_hir::ops::scan::InferenceScan;

use crate::footprint::within_tensor_limit;

/// Wraps every node of `model` that has inputs (sources and constants compute nothing), and
/// those of the graphs its branches and scans hold (analysed with their parent).
pub(crate) fn bound(model: &mut InferenceModel, max_bytes: u64) {
    for node in model.nodes.iter_mut().filter(|n| !n.inputs.is_empty()) {
        let op = node.op.as_op_mut();
        if let Some(branches) = op.downcast_mut::<If>() {
            bound(&mut branches.then_body, max_bytes);
            bound(&mut branches.else_body, max_bytes);
        } else if let Some(scan) = op.downcast_mut::<InferenceScan>() {
            bound(&mut scan.body, max_bytes);
        }
        let label = format!("{} node '{}'", node.op.name(), node.name);
        node.op = Box::new(FoldLimit { label, inner: node.op.clone(), max_bytes });
    }
}

#[derive(Debug, Clone)]
struct FoldLimit {
    label: String,
    inner: Box<dyn InferenceOp>,
    max_bytes: u64,
}

/// Never merged with another node: the wrapper lives only through the inference pass.
impl PartialEq for FoldLimit {
    fn eq(&self, _: &Self) -> bool {
        false
    }
}
impl Eq for FoldLimit {}

impl FoldLimit {
    /// Refuses the node when tract would compute it now (every input a known value) and one
    /// of its outputs, as inferred, is larger than the limit.
    fn check(
        &mut self,
        inputs: &TVec<&InferenceFact>,
        outputs: &TVec<&InferenceFact>,
        observed: &TVec<&InferenceFact>,
    ) -> TractResult<()> {
        if inputs.is_empty() || !inputs.iter().all(|i| i.value.is_concrete()) {
            return Ok(());
        }
        let (_, facts, _) = self.inner.infer_facts(inputs.clone(), outputs.clone(), observed.clone())?;
        let name = self.inner.name();
        let operand_sized = OPERAND_SIZED.contains(&&*name).then(|| operand_sized(&name, inputs));
        for fact in &facts {
            let elements = operand_sized.unwrap_or_else(|| {
                let shape = fact.shape.concretize()?;
                shape.iter().try_fold(1u128, |n, d| d.to_i64().ok().map(|d| n.saturating_mul(d.max(0) as u128)))
            });
            let size = fact.datum_type.concretize().map_or(1, |dt| dt.size_of().max(1)) as u128;
            if let Some(elements) = elements {
                let what = format!("{} computes a constant while the model is read that", self.label);
                within_tensor_limit(&what, elements.saturating_mul(size), self.max_bytes)?;
            }
        }
        Ok(())
    }
}

/// Operators whose output size tract's shape rules leave open, or state wrongly (a Range of
/// 2^40 elements inferred as 0 long), while the operands that fix it are known.
const OPERAND_SIZED: [&str; 4] = ["Range", "Pad", "Resize", "Upsample"];

/// The elements such an operator makes, from its operands (none when they are not known).
fn operand_sized(op: &str, inputs: &[&InferenceFact]) -> Option<u128> {
    let value = |i: usize| inputs.get(i)?.value.concretize();
    let floats = |i: usize| -> Option<Vec<f64>> {
        super::ml::plain::<f64>(&*value(i)?.cast_to::<f64>().ok()?).ok().map(<[f64]>::to_vec)
    };
    let shape = || -> Option<Vec<f64>> {
        let shape = inputs.first()?.shape.concretize()?;
        shape.iter().map(|d| d.to_i64().ok().map(|d| d as f64)).collect()
    };
    let count = |dims: Vec<f64>| {
        let n = dims.iter().fold(1.0, |n, d| n * d.max(0.0));
        if n.is_finite() { n as u128 } else { u128::MAX }
    };
    match op {
        // ceil((limit - start) / delta)
        "Range" => Some(count(vec![((floats(1)?[0] - floats(0)?[0]) / floats(2)?[0]).ceil()])),
        // Each padded axis grows by its two pads (the axes operand names them, else all).
        "Pad" => {
            let (mut dims, pads) = (shape()?, floats(1)?);
            let axes = floats(3).unwrap_or_else(|| (0..dims.len()).map(|a| a as f64).collect());
            for (k, axis) in axes.iter().enumerate() {
                let axis = if *axis < 0.0 { axis + dims.len() as f64 } else { *axis } as usize;
                *dims.get_mut(axis)? += pads.get(k)? + pads.get(k + axes.len())?;
            }
            Some(count(dims))
        }
        // The sizes operand, else each axis times its scale (the scales are the second operand
        // before opset 11 and of Upsample, the third after).
        _ => {
            let sizes = floats(3).filter(|s| !s.is_empty());
            let scales = || floats(if inputs.len() == 2 { 1 } else { 2 }).filter(|s| !s.is_empty());
            match sizes {
                Some(sizes) => Some(count(sizes)),
                None => Some(count(shape()?.iter().zip(scales()?).map(|(d, s)| (d * s).floor()).collect())),
            }
        }
    }
}

impl Op for FoldLimit {
    fn name(&self) -> StaticName {
        self.inner.name()
    }

    fn info(&self) -> TractResult<Vec<String>> {
        self.inner.info()
    }

    fn validation(&self) -> Validation {
        self.inner.validation()
    }

    not_a_typed_op!();
}

impl EvalOp for FoldLimit {
    fn eval(&self, ctx: &EvalContext, inputs: TVec<TValue>) -> TractResult<TVec<TValue>> {
        self.inner.eval(ctx, inputs)
    }

    fn forwards_input(&self) -> Option<usize> {
        self.inner.forwards_input()
    }

    fn eval_out_of_plan(&self, inputs: TVec<TValue>) -> TractResult<Option<TVec<TValue>>> {
        self.inner.eval_out_of_plan(inputs)
    }

    fn state(&self, ctx: &EvalContext) -> TractResult<Option<Box<dyn OpState>>> {
        self.inner.state(ctx)
    }
}

impl InferenceOp for FoldLimit {
    fn infer(
        &mut self,
        inputs: TVec<&InferenceFact>,
        outputs: TVec<&InferenceFact>,
        observed: TVec<&InferenceFact>,
    ) -> TractResult<(TVec<InferenceFact>, TVec<InferenceFact>, TVec<InferenceFact>)> {
        self.check(&inputs, &outputs, &observed)?;
        self.inner.infer(inputs, outputs, observed)
    }

    fn infer_facts(
        &mut self,
        inputs: TVec<&InferenceFact>,
        outputs: TVec<&InferenceFact>,
        observed: TVec<&InferenceFact>,
    ) -> TractResult<(TVec<InferenceFact>, TVec<InferenceFact>, TVec<InferenceFact>)> {
        self.inner.infer_facts(inputs, outputs, observed)
    }

    fn observe_outlets(&self, model: &InferenceModel, node: &InferenceNode) -> TractResult<Vec<OutletId>> {
        self.inner.observe_outlets(model, node)
    }

    fn incorporate(&self, model: &InferenceModel, node: &InferenceNode) -> TractResult<Option<InferenceModelPatch>> {
        self.inner.incorporate(model, node)
    }

    fn nboutputs(&self) -> TractResult<usize> {
        self.inner.nboutputs()
    }

    /// The wrapped operator, so that what looks for an operator's type finds it.
    fn as_op(&self) -> &dyn Op {
        self.inner.as_op()
    }

    fn as_op_mut(&mut self) -> &mut dyn Op {
        self.inner.as_op_mut()
    }

    fn to_typed(
        &self,
        source: &InferenceModel,
        node: &InferenceNode,
        target: &mut TypedModel,
        mapping: &HashMap<OutletId, OutletId>,
    ) -> TractResult<TVec<OutletId>> {
        self.inner.to_typed(source, node, target, mapping)
    }
}
