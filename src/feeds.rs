//! Checks a prediction's inputs against the model's declared inputs before anything runs:
//! names, element types, ranks, fixed dimensions, symbolic dimensions that must agree
//! across inputs, and data lengths. All of it happens before any large allocation, so a
//! shape that would need gigabytes is refused from its numbers alone.

use tract_onnx::prelude::*;

use crate::dtype::DType;
use crate::error::{Error, Result};
use crate::schema::{TensorInfo, describe_all};
use crate::tensor::HostTensor;

/// One input as the caller gives it. `dtype` is what the caller says the data is; when it
/// is absent the data's own type (or the model's, for plain numbers) is used.
#[derive(Debug, Clone)]
pub struct Feed {
    pub dtype: Option<DType>,
    pub tensor: HostTensor,
}

impl Feed {
    pub fn new(tensor: HostTensor) -> Self {
        Feed { dtype: None, tensor }
    }
}

/// A model input: its public description and tract's dimensions (to bind symbols).
#[derive(Debug, Clone)]
pub(crate) struct InputSpec {
    pub info: TensorInfo,
    pub dims: TVec<TDim>,
}

/// Feeds checked and converted, in the model's input order, with the symbol values they bind.
pub(crate) struct Bound {
    pub tensors: TVec<TValue>,
    pub symbols: Vec<(Symbol, i64)>,
}

pub(crate) fn bind(specs: &[InputSpec], mut feeds: Vec<(String, Feed)>, max_input_elements: usize) -> Result<Bound> {
    let expected = || describe_all(specs.iter().map(|s| &s.info));
    for (name, _) in &feeds {
        if !specs.iter().any(|s| &s.info.name == name) {
            return Err(Error::InputUnknown { name: name.clone(), expected: expected() });
        }
    }
    // Which input bound each symbol first, to name both sides of a disagreement.
    let mut bound_by: Vec<(Symbol, String, i64)> = Vec::new();
    let mut tensors = TVec::new();
    for spec in specs {
        let name = &spec.info.name;
        let position = feeds
            .iter()
            .position(|(n, _)| n == name)
            .ok_or_else(|| Error::InputMissing { name: name.clone(), expected: expected() })?;
        let (_, feed) = feeds.swap_remove(position);
        let declared = spec.info.dtype;
        if feed.dtype == Some(DType::Map) || feed.tensor.dtype() == Some(DType::Map) {
            return Err(Error::dtype(
                name,
                format!("'map' is an output-only dtype (ZipMap); expected {declared} data"),
            ));
        }
        if let Some(given) = feed.dtype
            && given != declared
        {
            return Err(Error::dtype(name, format!("expected {declared}, got dtype '{given}'")));
        }
        check_shape(spec, &feed.tensor, max_input_elements)?;
        for (axis, (dim, &size)) in spec.dims.iter().zip(&feed.tensor.shape).enumerate() {
            if let TDim::Sym(sym) = dim {
                match bound_by.iter().find(|(s, _, _)| s == sym) {
                    Some((_, other, value)) if *value != size as i64 => {
                        return Err(Error::shape(
                            name,
                            format!("dimension {axis} ('{sym}') is {size}, but input '{other}' set '{sym}' to {value}"),
                        ));
                    }
                    Some(_) => {}
                    None => bound_by.push((sym.clone(), name.clone(), size as i64)),
                }
            }
        }
        tensors.push(feed.tensor.into_tract(name, declared)?.into_tvalue());
    }
    let symbols = bound_by.into_iter().map(|(sym, _, value)| (sym, value)).collect();
    Ok(Bound { tensors, symbols })
}

fn check_shape(spec: &InputSpec, t: &HostTensor, max_input_elements: usize) -> Result<()> {
    let name = &spec.info.name;
    let expected = || spec.info.signature();
    if t.shape.len() != spec.dims.len() {
        return Err(Error::shape(
            name,
            format!(
                "shape [{}] has rank {}, expected rank {} ({})",
                join(&t.shape),
                t.shape.len(),
                spec.dims.len(),
                expected()
            ),
        ));
    }
    for (axis, (dim, &size)) in spec.dims.iter().zip(&t.shape).enumerate() {
        if let Ok(fixed) = dim.to_i64()
            && fixed != size as i64
        {
            return Err(Error::shape(name, format!("dimension {axis} is {size}, expected {fixed} ({})", expected())));
        }
    }
    let elements = t.shape.iter().try_fold(1usize, |acc, &d| acc.checked_mul(d));
    match elements {
        None => Err(Error::shape(name, format!("shape [{}] has too many elements", join(&t.shape)))),
        Some(n) if n != t.values.len() => {
            Err(Error::shape(name, format!("shape [{}] needs {n} values, got {}", join(&t.shape), t.values.len())))
        }
        Some(n) if n > max_input_elements => Err(Error::ResourceLimit(format!(
            "input '{name}' has {n} elements, more than the limit of {max_input_elements} (option maxInputElements)"
        ))),
        Some(_) => Ok(()),
    }
}

fn join(shape: &[usize]) -> String {
    shape.iter().map(usize::to_string).collect::<Vec<_>>().join(",")
}
