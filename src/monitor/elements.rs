//! Reading any host tensor element by element as a number or a text, which is all that
//! monitoring needs from inputs and outputs of every element type.

use tract_onnx::prelude::f16;

use crate::tensor::Values;

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Element<'a> {
    Number(f64),
    Text(&'a str),
    /// Out of range, or a kind with no single element (a map row).
    Missing,
}

/// Element `i` of `values` (flat, row-major). `half_floats` says a Uint16 buffer holds
/// float16 bit patterns, as a feed with `dtype: 'float16'` does.
pub fn element(values: &Values, i: usize, half_floats: bool) -> Element<'_> {
    let n = |v: Option<f64>| v.map_or(Element::Missing, Element::Number);
    match values {
        Values::Float32(v) => n(v.get(i).map(|&x| x as f64)),
        Values::Float64(v) | Values::Numbers(v) => n(v.get(i).copied()),
        Values::Float16(v) => n(v.get(i).map(|&x| f16::from_bits(x).to_f64())),
        Values::Uint16(v) if half_floats => n(v.get(i).map(|&x| f16::from_bits(x).to_f64())),
        Values::Uint16(v) => n(v.get(i).map(|&x| x as f64)),
        Values::Int8(v) => n(v.get(i).map(|&x| x as f64)),
        Values::Int16(v) => n(v.get(i).map(|&x| x as f64)),
        Values::Int32(v) => n(v.get(i).map(|&x| x as f64)),
        Values::Int64(v) => n(v.get(i).map(|&x| x as f64)),
        Values::Uint8(v) => n(v.get(i).map(|&x| x as f64)),
        Values::Uint32(v) => n(v.get(i).map(|&x| x as f64)),
        Values::Uint64(v) => n(v.get(i).map(|&x| x as f64)),
        Values::Bool(v) => n(v.get(i).map(|&x| if x { 1.0 } else { 0.0 })),
        Values::BigInts(v) => n(v.get(i).map(|&x| x as f64)),
        Values::String(v) => v.get(i).map_or(Element::Missing, |s| Element::Text(s)),
        Values::Map { .. } => Element::Missing,
    }
}

/// Element `i` as an exact integer, where the element type holds integers.
pub fn integer(values: &Values, i: usize) -> Option<i64> {
    match values {
        Values::Int8(v) => v.get(i).map(|&x| x as i64),
        Values::Int16(v) => v.get(i).map(|&x| x as i64),
        Values::Int32(v) => v.get(i).map(|&x| x as i64),
        Values::Int64(v) => v.get(i).copied(),
        Values::Uint8(v) => v.get(i).map(|&x| x as i64),
        Values::Uint16(v) => v.get(i).map(|&x| x as i64),
        Values::Uint32(v) => v.get(i).map(|&x| x as i64),
        Values::Uint64(v) => v.get(i).and_then(|&x| i64::try_from(x).ok()),
        Values::Bool(v) => v.get(i).map(|&x| x as i64),
        Values::BigInts(v) => v.get(i).and_then(|&x| i64::try_from(x).ok()),
        _ => None,
    }
}

/// Moves element `i` into `[lo, hi]`, in its own type: integers to the nearest integer inside
/// the range. Returns whether it moved. Booleans, texts and maps are left as they are.
pub fn clamp(values: &mut Values, i: usize, lo: f64, hi: f64, half_floats: bool) -> bool {
    fn set<T: Copy + PartialEq>(v: &mut [T], i: usize, f: impl FnOnce(T) -> T) -> bool {
        let Some(x) = v.get_mut(i) else { return false };
        let new = f(*x);
        let moved = new != *x;
        *x = new;
        moved
    }
    let (ilo, ihi) = (lo.ceil(), hi.floor());
    let int = |x: f64| x.clamp(ilo, ihi.max(ilo));
    let half = |x: u16| f16::from_f64(f16::from_bits(x).to_f64().clamp(lo, hi)).to_bits();
    match values {
        Values::Float32(v) => set(v, i, |x| x.clamp(lo as f32, hi as f32)),
        Values::Float64(v) | Values::Numbers(v) => set(v, i, |x| x.clamp(lo, hi)),
        Values::Float16(v) => set(v, i, half),
        Values::Uint16(v) if half_floats => set(v, i, half),
        Values::Uint16(v) => set(v, i, |x| int(x as f64) as u16),
        Values::Int8(v) => set(v, i, |x| int(x as f64) as i8),
        Values::Int16(v) => set(v, i, |x| int(x as f64) as i16),
        Values::Int32(v) => set(v, i, |x| int(x as f64) as i32),
        Values::Int64(v) => set(v, i, |x| int(x as f64) as i64),
        Values::Uint8(v) => set(v, i, |x| int(x as f64) as u8),
        Values::Uint32(v) => set(v, i, |x| int(x as f64) as u32),
        Values::Uint64(v) => set(v, i, |x| int(x as f64) as u64),
        Values::BigInts(v) => set(v, i, |x| int(x as f64) as i128),
        Values::Bool(_) | Values::String(_) | Values::Map { .. } => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_reads_as_a_number_or_text() {
        assert_eq!(element(&Values::Float32(vec![1.5]), 0, false), Element::Number(1.5));
        assert_eq!(element(&Values::Float16(vec![0x3c00]), 0, false), Element::Number(1.0));
        assert_eq!(element(&Values::Uint16(vec![0x3c00]), 0, true), Element::Number(1.0));
        assert_eq!(element(&Values::Uint16(vec![7]), 0, false), Element::Number(7.0));
        assert_eq!(element(&Values::Bool(vec![true]), 0, false), Element::Number(1.0));
        assert_eq!(element(&Values::String(vec!["a".into()]), 0, false), Element::Text("a"));
        assert_eq!(element(&Values::Int64(vec![1]), 5, false), Element::Missing);
        assert_eq!(integer(&Values::Uint64(vec![u64::MAX]), 0), None);
        assert_eq!(integer(&Values::Int32(vec![-3]), 0), Some(-3));
        assert_eq!(integer(&Values::Float32(vec![1.0]), 0), None);
    }
}
