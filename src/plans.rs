//! Execution plans for one model. A plan optimised for concrete shapes runs faster than the
//! symbolic one (no per-call shape resolution, kernels picked for the sizes), and is quicker
//! to make: tract's optimiser does far less symbolic algebra. So a model with symbolic
//! dimensions makes no plan at load. Its first prediction gets a plan for its shapes, on its
//! path; the symbolic plan, which serves every other shape at once, is built next, when the
//! host says it is idle (`specialize_next`), as are plans for shapes seen more than once
//! after it, kept in a small most-recently-used cache. One-off shapes (a batch job's last
//! partial batch) keep using the symbolic plan.

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
    /// The decluttered model with symbolic dimensions, that plans start from; `None` when
    /// specialising is off (or pointless: a model without symbols).
    source: Option<TypedModel>,
    /// The symbolic plan, `None` until built: always built at once without a source.
    generic: Option<Plan>,
    /// Building the symbolic plan failed when idle: it is not tried again off a prediction.
    generic_failed: bool,
    /// Most recently used last.
    specialized: Vec<Specialized>,
    capacity: usize,
}

impl Plans {
    pub fn new(decluttered: TypedModel, capacity: usize) -> TractResult<Plans> {
        let has_symbols = decluttered
            .input_outlets()?
            .iter()
            .any(|o| decluttered.outlet_fact(*o).map(|f| f.shape.iter().any(|d| d.to_i64().is_err())).unwrap_or(false));
        let mut plans = Plans {
            source: Some(decluttered),
            generic: None,
            generic_failed: false,
            specialized: Vec::new(),
            capacity,
        };
        if capacity == 0 || !has_symbols {
            plans.build_generic()?;
            plans.source = None;
        }
        Ok(plans)
    }

    fn build_generic(&mut self) -> TractResult<()> {
        if self.generic.is_none() {
            let source = self.source.clone().ok_or_else(|| TractError::msg("no source to build a plan from"))?;
            self.generic = Some(Plan::new(crate::ops::optimized(source)?)?);
        }
        Ok(())
    }

    /// Keeps at most `capacity` specialised plans; 0 drops them and their source, once the
    /// symbolic plan is built.
    pub fn set_capacity(&mut self, capacity: usize) -> TractResult<()> {
        if capacity == 0 {
            self.build_generic()?;
            self.source = None;
        }
        let excess = self.specialized.len().saturating_sub(capacity);
        self.specialized.drain(..excess);
        self.capacity = capacity;
        Ok(())
    }

    /// How many plans specialised for concrete shapes are built and kept.
    pub fn specialized(&self) -> usize {
        self.specialized.iter().filter(|s| s.plan.is_some()).count()
    }

    /// The plan to run for inputs that bind `symbols`: the one specialised for them if it has
    /// been built, else the symbolic one. Building is left to `specialize_next`, off the
    /// prediction's path, except before the symbolic plan exists: then these shapes get
    /// their plan now (the symbolic plan if theirs cannot be made).
    pub fn for_symbols(&mut self, symbols: &[(Symbol, i64)]) -> Result<&mut Plan> {
        let Some(source) = &self.source else {
            return self.generic.as_mut().ok_or_else(|| Error::Internal("a model without plans".into()));
        };
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
        if entry.plan.is_none() && !entry.failed && self.generic.is_none() {
            match specialize(source, &entry.symbols) {
                Ok(plan) => entry.plan = Some(plan),
                Err(_) => entry.failed = true,
            }
        }
        if self.specialized[index].plan.is_none() {
            self.build_generic().map_err(|e| crate::error::from_tract(&e, Error::ModelInvalid))?;
        }
        match &mut self.specialized[index].plan {
            Some(plan) => Ok(plan),
            None => self.generic.as_mut().ok_or_else(|| Error::Internal("no symbolic plan".into())),
        }
    }

    /// Whether a plan waits to be built: the symbolic one, or one for a shape seen often
    /// enough to get its own.
    pub fn wants_specializing(&self) -> bool {
        self.source.is_some()
            && ((self.generic.is_none() && !self.generic_failed) || self.specialized.iter().any(Specialized::wanted))
    }

    /// Builds the symbolic plan if it is not yet, else the plan of the most recently used
    /// shape that wants one; says whether another still waits. Building runs tract's
    /// optimiser (milliseconds for a small graph, a tenth of a second for a CNN), so hosts
    /// call this when idle, never inside a prediction.
    pub fn specialize_next(&mut self) -> bool {
        if self.source.is_none() {
            return false;
        }
        if self.generic.is_none() && !self.generic_failed {
            // Should the symbolic plan fail where a specialised one did not, shapes without a
            // plan of their own report it when they run.
            self.generic_failed = self.build_generic().is_err();
            return self.wants_specializing();
        }
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
