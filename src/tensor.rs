//! Host-side tensors: what callers hand in and get back, independent of tract's storage.
//!
//! `Values` keeps each element type in its own vector so that a binding can fill it with one
//! copy from a typed array. Two extra variants hold the untyped values of plain JS arrays
//! (numbers, bigints) until the model says which element type they must become.

use tract_onnx::prelude::tract_ndarray::{ArrayD, IxDyn};
use tract_onnx::prelude::*;

use crate::dtype::DType;
use crate::error::{Error, Result};

#[derive(Debug, Clone, PartialEq)]
pub enum Values {
    Float32(Vec<f32>),
    Float64(Vec<f64>),
    /// IEEE half floats as their bit patterns, as JS holds them in a Uint16Array.
    Float16(Vec<u16>),
    Int8(Vec<i8>),
    Int16(Vec<i16>),
    Int32(Vec<i32>),
    Int64(Vec<i64>),
    Uint8(Vec<u8>),
    Uint16(Vec<u16>),
    Uint32(Vec<u32>),
    Uint64(Vec<u64>),
    Bool(Vec<bool>),
    String(Vec<String>),
    /// Plain numbers whose element type is decided by the model's input.
    Numbers(Vec<f64>),
    /// Plain big integers (JS BigInt) whose element type is decided by the model's input.
    BigInts(Vec<i128>),
    /// One map per row, all with the same keys: `probabilities` is [rows, keys] row-major.
    /// Only a ZipMap output has this form; the tensor's shape is [rows].
    Map {
        keys: MapKeys,
        probabilities: Vec<f32>,
    },
}

/// The keys of a map output, in the order of its probabilities' columns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MapKeys {
    String(Vec<String>),
    Int64(Vec<i64>),
}

impl MapKeys {
    pub fn len(&self) -> usize {
        match self {
            MapKeys::String(v) => v.len(),
            MapKeys::Int64(v) => v.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Calls `$m!(Variant, rust_type, DType)` for every variant stored natively by tract.
macro_rules! for_each_plain {
    ($m:ident) => {
        $m!(Float32, f32);
        $m!(Float64, f64);
        $m!(Int8, i8);
        $m!(Int16, i16);
        $m!(Int32, i32);
        $m!(Int64, i64);
        $m!(Uint8, u8);
        $m!(Uint16, u16);
        $m!(Uint32, u32);
        $m!(Uint64, u64);
        $m!(Bool, bool);
    };
}

impl Values {
    /// Values of `dtype` from a typed array's little-endian bytes, or None when the bytes are
    /// not a whole number of elements or no typed array holds that dtype as it is.
    pub fn from_le_bytes(dtype: DType, bytes: Vec<u8>) -> Option<Values> {
        macro_rules! decode {
            ($t:ty, $variant:ident) => {{
                const N: usize = std::mem::size_of::<$t>();
                if !bytes.len().is_multiple_of(N) {
                    return None;
                }
                // wasm and the hosts tests run on are little-endian, where the bytes are the
                // values as they lie; a byte-by-byte decode took most of a large feed's copy.
                #[cfg(target_endian = "little")]
                let values = bytemuck::allocation::pod_collect_to_vec::<u8, $t>(&bytes);
                #[cfg(target_endian = "big")]
                let values = bytes.chunks_exact(N).map(|c| <$t>::from_le_bytes(c.try_into().unwrap())).collect();
                Values::$variant(values)
            }};
        }
        Some(match dtype {
            DType::Float32 => decode!(f32, Float32),
            DType::Float64 => decode!(f64, Float64),
            DType::Int8 => decode!(i8, Int8),
            DType::Int16 => decode!(i16, Int16),
            DType::Int32 => decode!(i32, Int32),
            DType::Int64 => decode!(i64, Int64),
            DType::Uint8 => Values::Uint8(bytes),
            DType::Uint16 => decode!(u16, Uint16),
            DType::Uint32 => decode!(u32, Uint32),
            DType::Uint64 => decode!(u64, Uint64),
            _ => return None,
        })
    }

    pub fn len(&self) -> usize {
        match self {
            Values::Float32(v) => v.len(),
            Values::Float64(v) => v.len(),
            Values::Float16(v) => v.len(),
            Values::Int8(v) => v.len(),
            Values::Int16(v) => v.len(),
            Values::Int32(v) => v.len(),
            Values::Int64(v) => v.len(),
            Values::Uint8(v) => v.len(),
            Values::Uint16(v) => v.len(),
            Values::Uint32(v) => v.len(),
            Values::Uint64(v) => v.len(),
            Values::Bool(v) => v.len(),
            Values::String(v) => v.len(),
            Values::Numbers(v) => v.len(),
            Values::BigInts(v) => v.len(),
            Values::Map { keys, probabilities } => probabilities.len().checked_div(keys.len()).unwrap_or(0),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The element type these values carry on their own, `None` for untyped numbers.
    pub fn dtype(&self) -> Option<DType> {
        Some(match self {
            Values::Float32(_) => DType::Float32,
            Values::Float64(_) => DType::Float64,
            Values::Float16(_) => DType::Float16,
            Values::Int8(_) => DType::Int8,
            Values::Int16(_) => DType::Int16,
            Values::Int32(_) => DType::Int32,
            Values::Int64(_) => DType::Int64,
            Values::Uint8(_) => DType::Uint8,
            Values::Uint16(_) => DType::Uint16,
            Values::Uint32(_) => DType::Uint32,
            Values::Uint64(_) => DType::Uint64,
            Values::Bool(_) => DType::Bool,
            Values::String(_) => DType::String,
            Values::Map { .. } => DType::Map,
            Values::Numbers(_) | Values::BigInts(_) => return None,
        })
    }

    /// What the values are, for error messages.
    pub fn describe(&self) -> String {
        match self {
            Values::Numbers(_) => "plain numbers".into(),
            Values::BigInts(_) => "plain bigints".into(),
            other => format!("{} data", other.dtype().map(DType::name).unwrap_or("?")),
        }
    }
}

/// A dense tensor in row-major order.
#[derive(Debug, Clone, PartialEq)]
pub struct HostTensor {
    pub shape: Vec<usize>,
    pub values: Values,
}

impl HostTensor {
    pub fn new(shape: Vec<usize>, values: Values) -> Self {
        HostTensor { shape, values }
    }

    /// The element type; untyped values report `None`.
    pub fn dtype(&self) -> Option<DType> {
        self.values.dtype()
    }

    /// Builds the tract tensor of element type `dtype`, converting untyped values and
    /// reinterpreting the two ambiguous typed arrays (Uint8Array for bool, Uint16Array for
    /// float16). `name` is the input's name for error messages. The shape must already have
    /// been checked against the number of values.
    pub fn into_tract(self, name: &str, dtype: DType) -> Result<Tensor> {
        let shape = IxDyn(&self.shape);
        let described = self.values.describe();
        let mismatch = || Error::dtype(name, format!("expected {dtype} data, got {described}{}", hint(dtype)));
        macro_rules! plain {
            ($v:expr) => {
                ArrayD::from_shape_vec(shape.clone(), $v)
                    .map(|a| a.into_tensor())
                    .map_err(|e| Error::shape(name, e.to_string()))
            };
        }
        match (self.values, dtype) {
            (Values::Float32(v), DType::Float32) => plain!(v),
            (Values::Float64(v), DType::Float64) => plain!(v),
            (Values::Int8(v), DType::Int8) => plain!(v),
            (Values::Int16(v), DType::Int16) => plain!(v),
            (Values::Int32(v), DType::Int32) => plain!(v),
            (Values::Int64(v), DType::Int64) => plain!(v),
            (Values::Uint8(v), DType::Uint8) => plain!(v),
            (Values::Uint16(v), DType::Uint16) => plain!(v),
            (Values::Uint32(v), DType::Uint32) => plain!(v),
            (Values::Uint64(v), DType::Uint64) => plain!(v),
            (Values::Bool(v), DType::Bool) => plain!(v),
            (Values::String(v), DType::String) => plain!(v),
            (Values::Float16(v) | Values::Uint16(v), DType::Float16) => {
                plain!(v.into_iter().map(f16::from_bits).collect::<Vec<_>>())
            }
            (Values::Uint8(v), DType::Bool) => {
                plain!(v.into_iter().map(|b| b != 0).collect::<Vec<_>>())
            }
            (Values::Numbers(v), d) => numbers_to_tensor(name, &self.shape, &v, d),
            (Values::BigInts(v), d) if d.is_integer() => bigints_to_tensor(name, &self.shape, &v, d),
            _ => Err(mismatch()),
        }
    }

    /// The map form of a [rows, keys] float32 tensor (a ZipMap's probabilities): shape [rows].
    pub fn into_map(self, name: &str, keys: MapKeys) -> Result<HostTensor> {
        match (self.values, self.shape.as_slice()) {
            (Values::Float32(probabilities), &[rows, width]) if width == keys.len() => {
                Ok(HostTensor::new(vec![rows], Values::Map { keys, probabilities }))
            }
            (values, shape) => Err(Error::Internal(format!(
                "output '{name}': expected [rows, {}] float32 probabilities for its map, got {} of shape {shape:?}",
                keys.len(),
                values.describe()
            ))),
        }
    }

    /// Reads a tract tensor back into host form.
    pub fn from_tract(name: &str, t: &Tensor) -> Result<HostTensor> {
        let shape = t.shape().to_vec();
        let view = t.try_as_plain_ram().map_err(|e| Error::Runtime(format!("output '{name}' is not readable: {e}")))?;
        macro_rules! read {
            ($variant:ident, $t:ty) => {
                if t.datum_type() == <$t>::datum_type() {
                    let s = view.as_slice::<$t>().map_err(|e| Error::Internal(e.to_string()))?;
                    return Ok(HostTensor::new(shape, Values::$variant(s.to_vec())));
                }
            };
        }
        for_each_plain!(read);
        let values = match t.datum_type().unquantized() {
            DatumType::F16 => {
                let s = view.as_slice::<f16>().map_err(|e| Error::Internal(e.to_string()))?;
                Values::Float16(s.iter().map(|h| h.to_bits()).collect())
            }
            DatumType::String => {
                let s = view.as_slice::<String>().map_err(|e| Error::Internal(e.to_string()))?;
                Values::String(s.to_vec())
            }
            DatumType::TDim => {
                let s = view.as_slice::<TDim>().map_err(|e| Error::Internal(e.to_string()))?;
                let ints = s
                    .iter()
                    .map(|d| d.to_i64())
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(|_| Error::Runtime(format!("output '{name}' holds unresolved dimensions")))?;
                Values::Int64(ints)
            }
            other => {
                return Err(Error::Runtime(format!(
                    "output '{name}' has element type {other:?}, which cannot be returned"
                )));
            }
        };
        Ok(HostTensor::new(shape, values))
    }
}

/// Which JS containers hold `dtype`, for error messages.
fn hint(dtype: DType) -> &'static str {
    match dtype {
        DType::Float32 => " (Float32Array or an array of numbers)",
        DType::Float64 => " (Float64Array or an array of numbers)",
        DType::Float16 => " (Uint16Array of half-float bits or an array of numbers)",
        DType::Int8 => " (Int8Array or an array of numbers)",
        DType::Int16 => " (Int16Array or an array of numbers)",
        DType::Int32 => " (Int32Array or an array of numbers)",
        DType::Int64 => " (BigInt64Array or an array of numbers or bigints)",
        DType::Uint8 => " (Uint8Array or an array of numbers)",
        DType::Uint16 => " (Uint16Array or an array of numbers)",
        DType::Uint32 => " (Uint32Array or an array of numbers)",
        DType::Uint64 => " (BigUint64Array or an array of numbers or bigints)",
        DType::Bool => " (Uint8Array or an array of booleans)",
        DType::String => " (an array of strings)",
        DType::Map => " (map is an output-only type)",
    }
}

fn numbers_to_tensor(name: &str, shape: &[usize], v: &[f64], dtype: DType) -> Result<Tensor> {
    fn build<T: Datum>(shape: &[usize], v: Vec<T>) -> Result<Tensor> {
        ArrayD::from_shape_vec(IxDyn(shape), v).map(|a| a.into_tensor()).map_err(|e| Error::Internal(e.to_string()))
    }
    macro_rules! ints {
        ($t:ty) => {{
            let out = v
                .iter()
                .enumerate()
                .map(|(i, &x)| {
                    let ok = x.fract() == 0.0 && x >= <$t>::MIN as f64 && x <= <$t>::MAX as f64;
                    if ok {
                        Ok(x as $t)
                    } else {
                        Err(Error::value(name, format!("element {i} is {x}, expected an integer in {}'s range", dtype)))
                    }
                })
                .collect::<Result<Vec<$t>>>()?;
            build(shape, out)
        }};
    }
    match dtype {
        // NaN and infinities pass through floats unchanged, as onnxruntime does.
        DType::Float32 => build(shape, v.iter().map(|&x| x as f32).collect()),
        DType::Float64 => build(shape, v.to_vec()),
        DType::Float16 => build(shape, v.iter().map(|&x| f16::from_f64(x)).collect()),
        DType::Int8 => ints!(i8),
        DType::Int16 => ints!(i16),
        DType::Int32 => ints!(i32),
        DType::Int64 => ints!(i64),
        DType::Uint8 => ints!(u8),
        DType::Uint16 => ints!(u16),
        DType::Uint32 => ints!(u32),
        DType::Uint64 => ints!(u64),
        DType::Bool => {
            let out = v
                .iter()
                .enumerate()
                .map(|(i, &x)| match x {
                    0.0 => Ok(false),
                    1.0 => Ok(true),
                    _ => Err(Error::value(name, format!("element {i} is {x}, expected 0, 1, true or false"))),
                })
                .collect::<Result<Vec<bool>>>()?;
            build(shape, out)
        }
        // An empty JS array has no element to say it holds strings.
        DType::String if v.is_empty() => build(shape, Vec::<String>::new()),
        DType::String => Err(Error::dtype(name, "expected string data (an array of strings), got plain numbers")),
        DType::Map => Err(Error::dtype(name, "map is an output-only type")),
    }
}

fn bigints_to_tensor(name: &str, shape: &[usize], v: &[i128], dtype: DType) -> Result<Tensor> {
    macro_rules! ints {
        ($t:ty) => {{
            let out = v
                .iter()
                .enumerate()
                .map(|(i, &x)| {
                    <$t>::try_from(x)
                        .map_err(|_| Error::value(name, format!("element {i} is {x}, outside {}'s range", dtype)))
                })
                .collect::<Result<Vec<$t>>>()?;
            ArrayD::from_shape_vec(IxDyn(shape), out)
                .map(|a| a.into_tensor())
                .map_err(|e| Error::Internal(e.to_string()))
        }};
    }
    match dtype {
        DType::Int8 => ints!(i8),
        DType::Int16 => ints!(i16),
        DType::Int32 => ints!(i32),
        DType::Int64 => ints!(i64),
        DType::Uint8 => ints!(u8),
        DType::Uint16 => ints!(u16),
        DType::Uint32 => ints!(u32),
        DType::Uint64 => ints!(u64),
        _ => Err(Error::dtype(name, format!("expected {dtype} data, got plain bigints"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_empty_plain_array_is_an_empty_tensor_of_any_type() {
        let empty = HostTensor::new(vec![0], Values::Numbers(vec![]));
        let t = empty.clone().into_tract("x", DType::String).unwrap();
        assert_eq!((t.datum_type(), t.shape()), (DatumType::String, &[0][..]));
        let t = empty.into_tract("x", DType::Bool).unwrap();
        assert_eq!((t.datum_type(), t.shape()), (DatumType::Bool, &[0][..]));
        let one = HostTensor::new(vec![1], Values::Numbers(vec![1.0]));
        assert_eq!(one.into_tract("x", DType::String).unwrap_err().code(), "E_INPUT_DTYPE");
    }

    fn round_trip(values: Values, dtype: DType) -> HostTensor {
        let t = HostTensor::new(vec![values.len()], values).into_tract("x", dtype).unwrap();
        HostTensor::from_tract("y", &t).unwrap()
    }

    #[test]
    fn typed_array_bytes_decode_to_their_values() {
        let cases = [
            (
                DType::Float32,
                [1.5f32.to_le_bytes(), f32::NAN.to_le_bytes()].concat(),
                Values::Float32(vec![1.5, f32::NAN]),
            ),
            (DType::Float64, (-2.25f64).to_le_bytes().to_vec(), Values::Float64(vec![-2.25])),
            (DType::Int8, vec![0x80, 0x7f], Values::Int8(vec![-128, 127])),
            (DType::Int16, (-3i16).to_le_bytes().to_vec(), Values::Int16(vec![-3])),
            (DType::Int32, i32::MIN.to_le_bytes().to_vec(), Values::Int32(vec![i32::MIN])),
            (DType::Int64, (-1i64).to_le_bytes().to_vec(), Values::Int64(vec![-1])),
            (DType::Uint8, vec![0, 255], Values::Uint8(vec![0, 255])),
            (DType::Uint16, 65535u16.to_le_bytes().to_vec(), Values::Uint16(vec![65535])),
            (DType::Uint32, u32::MAX.to_le_bytes().to_vec(), Values::Uint32(vec![u32::MAX])),
            (DType::Uint64, u64::MAX.to_le_bytes().to_vec(), Values::Uint64(vec![u64::MAX])),
        ];
        for (dtype, bytes, expected) in cases {
            let got = Values::from_le_bytes(dtype, bytes).unwrap();
            // NaN != NaN: compare the debug forms.
            assert_eq!(format!("{got:?}"), format!("{expected:?}"), "{dtype:?}");
        }
        assert!(Values::from_le_bytes(DType::Float32, vec![0; 6]).is_none(), "a partial element");
        for dtype in [DType::Float16, DType::Bool, DType::String, DType::Map] {
            assert!(Values::from_le_bytes(dtype, vec![0; 8]).is_none(), "{dtype:?} is not staged as bytes");
        }
        assert!(matches!(Values::from_le_bytes(DType::Int64, Vec::new()), Some(Values::Int64(v)) if v.is_empty()));
    }

    #[test]
    fn every_typed_variant_round_trips() {
        let cases = vec![
            (Values::Float32(vec![1.5, f32::NAN]), DType::Float32),
            (Values::Float64(vec![-2.25, f64::INFINITY]), DType::Float64),
            (Values::Float16(vec![0x3c00, 0x7c00]), DType::Float16),
            (Values::Int8(vec![-128, 127]), DType::Int8),
            (Values::Int16(vec![-3, 4]), DType::Int16),
            (Values::Int32(vec![i32::MIN, 7]), DType::Int32),
            (Values::Int64(vec![i64::MAX, -1]), DType::Int64),
            (Values::Uint8(vec![0, 255]), DType::Uint8),
            (Values::Uint16(vec![65535, 1]), DType::Uint16),
            (Values::Uint32(vec![u32::MAX, 2]), DType::Uint32),
            (Values::Uint64(vec![u64::MAX, 3]), DType::Uint64),
            (Values::Bool(vec![true, false]), DType::Bool),
            (Values::String(vec!["a".into(), "ü".into()]), DType::String),
        ];
        for (values, dtype) in cases {
            let back = round_trip(values.clone(), dtype);
            assert_eq!(back.dtype(), Some(dtype));
            match (&values, &back.values) {
                (Values::Float32(a), Values::Float32(b)) => {
                    assert_eq!(a[0], b[0]);
                    assert!(b[1].is_nan())
                }
                _ => assert_eq!(back.values, values, "{dtype}"),
            }
        }
    }

    #[test]
    fn ambiguous_typed_arrays_are_reinterpreted() {
        let b = round_trip(Values::Uint8(vec![0, 1, 2]), DType::Bool);
        assert_eq!(b.values, Values::Bool(vec![false, true, true]));
        let h = round_trip(Values::Uint16(vec![0x3c00]), DType::Float16);
        assert_eq!(h.values, Values::Float16(vec![0x3c00]));
    }

    #[test]
    fn plain_numbers_become_the_model_type() {
        assert_eq!(round_trip(Values::Numbers(vec![1.0, -2.0]), DType::Int64).values, Values::Int64(vec![1, -2]));
        assert_eq!(round_trip(Values::Numbers(vec![0.0, 1.0]), DType::Bool).values, Values::Bool(vec![false, true]));
        assert_eq!(round_trip(Values::Numbers(vec![1.0]), DType::Float16).values, Values::Float16(vec![0x3c00]));
        let big = round_trip(Values::BigInts(vec![u64::MAX as i128]), DType::Uint64);
        assert_eq!(big.values, Values::Uint64(vec![u64::MAX]));
    }

    #[test]
    fn unrepresentable_numbers_are_refused_by_index() {
        let e = HostTensor::new(vec![2], Values::Numbers(vec![1.0, 1.5])).into_tract("ids", DType::Int64).unwrap_err();
        assert_eq!(e.code(), "E_INPUT_VALUE");
        assert!(e.to_string().contains("'ids'") && e.to_string().contains("element 1 is 1.5"), "{e}");
        let e = HostTensor::new(vec![1], Values::Numbers(vec![300.0])).into_tract("p", DType::Uint8).unwrap_err();
        assert_eq!(e.code(), "E_INPUT_VALUE");
        let e = HostTensor::new(vec![1], Values::BigInts(vec![-1])).into_tract("p", DType::Uint64).unwrap_err();
        assert_eq!(e.code(), "E_INPUT_VALUE");
        let e = HostTensor::new(vec![1], Values::Numbers(vec![f64::NAN])).into_tract("p", DType::Int32).unwrap_err();
        assert_eq!(e.code(), "E_INPUT_VALUE");
    }

    #[test]
    fn probabilities_become_one_map_per_row() {
        let t = HostTensor::new(vec![2, 2], Values::Float32(vec![0.1, 0.9, 0.6, 0.4]));
        let keys = MapKeys::Int64(vec![3, 7]);
        let m = t.clone().into_map("p", keys.clone()).unwrap();
        assert_eq!(m.shape, vec![2]);
        assert_eq!((m.dtype(), m.values.len()), (Some(DType::Map), 2));
        assert_eq!(t.into_map("p", MapKeys::Int64(vec![1])).unwrap_err().code(), "E_INTERNAL");
        let e = m.into_tract("x", DType::Map).unwrap_err();
        assert_eq!(e.code(), "E_INPUT_DTYPE");
    }

    #[test]
    fn wrong_typed_data_names_what_was_expected() {
        let e = HostTensor::new(vec![1], Values::Float64(vec![1.0])).into_tract("x", DType::Float32).unwrap_err();
        assert_eq!(e.code(), "E_INPUT_DTYPE");
        let msg = e.to_string();
        assert!(msg.contains("expected float32 data, got float64 data") && msg.contains("Float32Array"), "{msg}");
        let e = HostTensor::new(vec![1], Values::String(vec!["a".into()])).into_tract("x", DType::Int64).unwrap_err();
        assert_eq!(e.code(), "E_INPUT_DTYPE");
    }
}
