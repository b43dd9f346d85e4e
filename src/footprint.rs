//! Refuses a prediction whose tensors would not fit, before it runs. In WebAssembly a
//! failed allocation aborts the instance, so a batch that would make a multi-gigabyte
//! intermediate (scores for a million users, say) must be caught from the shapes alone.

use tract_onnx::prelude::*;

use crate::error::{Error, Result};

/// The symbolic output shapes of every node, kept from the optimised model.
#[derive(Debug, Clone)]
pub(crate) struct Footprint {
    /// Outputs whose size depends on symbols, checked at each new binding of them.
    tensors: Vec<Tracked>,
    /// Outputs of a fixed size, checked once per limit (`check_fixed`).
    fixed: Vec<Tracked>,
    /// The last symbol values checked, so a stream of same-shaped predictions costs nothing.
    last_ok: Option<Vec<(Symbol, i64)>>,
}

#[derive(Debug, Clone)]
struct Tracked {
    label: String,
    bytes_per_element: usize,
    dims: TVec<TDim>,
}

impl Footprint {
    /// Tracks every node output but constants', split by whether its size depends on symbols.
    pub fn of(model: &TypedModel) -> Footprint {
        let (mut tensors, mut fixed) = (Vec::new(), Vec::new());
        for node in model.nodes() {
            if node.op_is::<tract_onnx::tract_core::ops::konst::Const>() {
                continue;
            }
            for (ix, out) in node.outputs.iter().enumerate() {
                let Some(bytes_per_element) = element_bytes(out.fact.datum_type) else { continue };
                let tracked = Tracked {
                    label: model.outlet_label(OutletId::new(node.id, ix)).unwrap_or(&node.name).to_string(),
                    bytes_per_element,
                    dims: out.fact.shape.iter().cloned().collect(),
                };
                match tracked.dims.iter().all(|d| d.to_i64().is_ok()) {
                    true => fixed.push(tracked),
                    false => tensors.push(tracked),
                }
            }
        }
        Footprint { tensors, fixed, last_ok: None }
    }

    /// Refuses a model whose fixed-size tensors alone exceed `max_tensor_bytes`, the limit
    /// that later `check`s hold bindings to (so those are checked afresh).
    pub fn check_fixed(&mut self, max_tensor_bytes: u64) -> Result<()> {
        self.last_ok = None;
        for t in &self.fixed {
            t.check(&SymbolValues::default(), max_tensor_bytes)
                .map_err(|e| Error::ResourceLimit(format!("the model itself exceeds it: {e}")))?;
        }
        Ok(())
    }

    pub fn check(&mut self, bound: &[(Symbol, i64)], max_tensor_bytes: u64) -> Result<()> {
        if self.last_ok.as_deref() == Some(bound) {
            return Ok(());
        }
        let mut symbols = SymbolValues::default();
        for (sym, value) in bound {
            symbols.set(sym, *value);
        }
        for t in &self.tensors {
            t.check(&symbols, max_tensor_bytes)?;
        }
        self.last_ok = Some(bound.to_vec());
        Ok(())
    }
}

impl Tracked {
    fn check(&self, symbols: &SymbolValues, max_tensor_bytes: u64) -> Result<()> {
        let mut bytes = self.bytes_per_element as u128;
        for d in &self.dims {
            // Sizes that depend on data (NonZero, a shape computed from values) are unknown
            // here; tract checks those as they come.
            let Ok(n) = d.eval(symbols).to_i64() else { return Ok(()) };
            bytes = bytes.saturating_mul(n.max(0) as u128);
        }
        within_tensor_limit(&format!("tensor '{}'", self.label), bytes, max_tensor_bytes)
    }
}

/// Refuses `bytes` of one tensor over `maxTensorBytes`, `what` naming it: the one wording of
/// that limit, whether a file declares the tensor, computes it while it is read, or a call
/// would make it.
pub(crate) fn within_tensor_limit(what: &str, bytes: u128, max_tensor_bytes: u64) -> Result<()> {
    if bytes > max_tensor_bytes as u128 {
        return Err(Error::ResourceLimit(format!(
            "{what} would need {}, more than the limit of {} (option maxTensorBytes)",
            human(bytes),
            human(max_tensor_bytes as u128)
        )));
    }
    Ok(())
}

fn element_bytes(dt: DatumType) -> Option<usize> {
    // A blob's size is in its content, not its type.
    (dt != DatumType::Blob).then(|| dt.size_of())
}

pub(crate) fn human(bytes: u128) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    format!("{value:.1} {}", UNITS[unit])
}
