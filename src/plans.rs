//! Execution plans for one model. A plan optimised for concrete shapes runs faster than the
//! symbolic one (no per-call shape resolution, kernels picked for the sizes), so a shape
//! seen more than once gets its own plan, kept in a small most-recently-used cache. One-off
//! shapes (a batch job's last partial batch) keep using the symbolic plan. Plans are built
//! when the host says it is idle (`specialize_next`), so a new shape never waits for one.

use std::collections::HashMap;

use tract_onnx::prelude::*;

use crate::error::{Error, Result, chain};

/// Calls with the same shape before it gets a plan of its own.
const SPECIALIZE_AFTER: u32 = 2;

pub(crate) struct Plan {
    plan: Arc<TypedSimplePlan>,
    /// Reused between predictions; dropped after a failure so the next call starts clean.
    state: Option<TypedSimpleState>,
}

impl Plan {
    fn new(model: TypedModel) -> TractResult<Plan> {
        Ok(Plan { plan: model.into_runnable()?, state: None })
    }

    pub fn run(&mut self, inputs: TVec<TValue>) -> Result<TVec<TValue>> {
        self.run_with(|state| state.run(inputs))
    }

    /// Runs as `run` does, timing each node with `clock` (milliseconds).
    pub fn run_profiled(&mut self, inputs: TVec<TValue>, clock: &mut dyn FnMut() -> f64) -> Result<Vec<NodeTime>> {
        let mut times = Vec::new();
        self.run_with(|state| {
            state.run_plan_with_eval(inputs, |session, op_state, node, inputs| {
                let started = clock();
                let outputs = tract_onnx::tract_core::plan::eval(session, op_state, node, inputs);
                times.push(NodeTime { node: node.name.clone(), op: node.op.name().to_string(), ms: clock() - started });
                outputs
            })
        })?;
        Ok(times)
    }

    fn run_with(
        &mut self,
        run: impl FnOnce(&mut TypedSimpleState) -> TractResult<TVec<TValue>>,
    ) -> Result<TVec<TValue>> {
        let mut state = match self.state.take() {
            Some(state) => state,
            None => self.plan.spawn().map_err(|e| Error::Internal(chain(&e)))?,
        };
        let outputs =
            crate::error::guard(|| run(&mut state).map_err(|e| crate::error::from_tract(&e, Error::Runtime)))?;
        self.state = Some(state);
        Ok(outputs)
    }
}

/// How long one node of a plan took in a profiled run.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct NodeTime {
    pub node: String,
    pub op: String,
    pub ms: f64,
}

struct Specialized {
    symbols: Vec<(Symbol, i64)>,
    calls: u32,
    /// `None` until specialised, and for good if specialising failed.
    plan: Option<Plan>,
    failed: bool,
}

pub(crate) struct Plans {
    /// The decluttered model with symbolic dimensions, that specialised plans start from;
    /// `None` when specialising is off (or pointless: a model without symbols).
    source: Option<TypedModel>,
    generic: Plan,
    /// Most recently used last.
    specialized: Vec<Specialized>,
    capacity: usize,
}

impl Plans {
    pub fn new(decluttered: TypedModel, optimized: TypedModel, capacity: usize) -> TractResult<Plans> {
        let has_symbols = optimized
            .input_outlets()?
            .iter()
            .any(|o| optimized.outlet_fact(*o).map(|f| f.shape.iter().any(|d| d.to_i64().is_err())).unwrap_or(false));
        let source = (capacity > 0 && has_symbols).then_some(decluttered);
        Ok(Plans { source, generic: Plan::new(optimized)?, specialized: Vec::new(), capacity })
    }

    /// Keeps at most `capacity` specialised plans; 0 drops them and their source.
    pub fn set_capacity(&mut self, capacity: usize) {
        if capacity == 0 {
            self.source = None;
        }
        let excess = self.specialized.len().saturating_sub(capacity);
        self.specialized.drain(..excess);
        self.capacity = capacity;
    }

    /// How many plans specialised for concrete shapes are built and kept.
    pub fn specialized(&self) -> usize {
        self.specialized.iter().filter(|s| s.plan.is_some()).count()
    }

    /// The plan to run for inputs that bind `symbols`: the one specialised for them if it has
    /// been built, else the symbolic one. Building is left to `specialize_next`, off the
    /// prediction's path.
    pub fn for_symbols(&mut self, symbols: &[(Symbol, i64)]) -> &mut Plan {
        if self.source.is_none() {
            return &mut self.generic;
        }
        let index = match self.specialized.iter().position(|s| s.symbols == symbols) {
            Some(i) => {
                let entry = self.specialized.remove(i);
                self.specialized.push(entry);
                self.specialized.len() - 1
            }
            None => {
                if self.specialized.len() >= self.capacity {
                    self.specialized.remove(0);
                }
                self.specialized.push(Specialized { symbols: symbols.to_vec(), calls: 0, plan: None, failed: false });
                self.specialized.len() - 1
            }
        };
        let entry = &mut self.specialized[index];
        entry.calls = entry.calls.saturating_add(1);
        match &mut entry.plan {
            Some(plan) => plan,
            None => &mut self.generic,
        }
    }

    /// Whether a shape has been seen often enough to get a plan of its own, and has none yet.
    pub fn wants_specializing(&self) -> bool {
        self.source.is_some() && self.specialized.iter().any(Specialized::wanted)
    }

    /// Builds the plan of the most recently used shape that wants one; says whether another
    /// shape still does. Specialising runs tract's optimiser (milliseconds for a small graph,
    /// a tenth of a second for a CNN), so hosts call this when idle, never inside a prediction.
    pub fn specialize_next(&mut self) -> bool {
        let Some(source) = &self.source else { return false };
        if let Some(entry) = self.specialized.iter_mut().rev().find(|s| s.wanted()) {
            match specialize(source, &entry.symbols) {
                Ok(plan) => entry.plan = Some(plan),
                Err(_) => entry.failed = true,
            }
        }
        self.wants_specializing()
    }
}

impl Specialized {
    fn wanted(&self) -> bool {
        self.plan.is_none() && !self.failed && self.calls >= SPECIALIZE_AFTER
    }
}

fn specialize(source: &TypedModel, symbols: &[(Symbol, i64)]) -> TractResult<Plan> {
    let values: HashMap<Symbol, TDim> = symbols.iter().map(|(s, v)| (s.clone(), v.to_dim())).collect();
    // A panic here is a tract bug on an unusual graph: the symbolic plan still works.
    let model = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        source.set_symbols(&values).and_then(crate::ops::optimized)
    }))
    .map_err(|_| tract_onnx::prelude::TractError::msg("panic while specialising"))??;
    Plan::new(model)
}
