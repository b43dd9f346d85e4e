//! Shared by the integration tests: where the acceptance corpus is and how to read a case, and
//! the pieces of ONNX graphs the tests build.

use std::path::PathBuf;

use base64::Engine;
use edgeinfer::{DType, HostTensor, MapKeys, Values};
use serde_json::Value;
use tract_onnx::pb;

/// The acceptance corpus: the project's copy (tests/fixtures/corpus, cases made by the team's
/// make_corpus.py with onnxruntime's answers), or `$EDGEINFER_SHARED/corpus` where that is
/// set, to run the tests against another corpus.
pub fn corpus_dir() -> PathBuf {
    match std::env::var_os("EDGEINFER_SHARED") {
        Some(shared) => PathBuf::from(shared).join("corpus"),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/corpus"),
    }
}

#[derive(Clone)]
pub struct Case {
    pub name: String,
    pub model: Vec<u8>,
    pub rtol: f64,
    pub atol: f64,
    pub inputs: Vec<(String, HostTensor)>,
    pub outputs: Vec<(String, HostTensor)>,
}

pub fn cases() -> Vec<Case> {
    cases_in(&corpus_dir())
}

/// The cases of any directory in the corpus format (`bad_*.json` lists are not cases).
pub fn cases_in(dir: &std::path::Path) -> Vec<Case> {
    let dir = dir.to_path_buf();
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .filter(|p| !p.file_name().unwrap().to_string_lossy().starts_with("bad_"))
        .collect();
    files.sort();
    files
        .into_iter()
        .map(|p| {
            let c: Value = serde_json::from_str(&std::fs::read_to_string(&p).unwrap()).unwrap();
            let tensors = |v: &Value| -> Vec<(String, HostTensor)> {
                v.as_object().unwrap().iter().map(|(k, t)| (k.clone(), decode(t))).collect()
            };
            Case {
                name: c["name"].as_str().unwrap().to_string(),
                model: std::fs::read(dir.join(c["model"].as_str().unwrap())).unwrap(),
                rtol: c["rtol"].as_f64().unwrap_or(1e-4),
                atol: c["atol"].as_f64().unwrap_or(1e-5),
                inputs: tensors(&c["inputs"]),
                outputs: tensors(&c["outputs"]),
            }
        })
        .collect()
}

pub fn decode(t: &Value) -> HostTensor {
    let shape: Vec<usize> = t["shape"].as_array().unwrap().iter().map(|d| d.as_u64().unwrap() as usize).collect();
    let dtype: DType = t["dtype"].as_str().unwrap().parse().unwrap();
    if dtype == DType::String {
        let s = t["strings"].as_array().unwrap().iter().map(|s| s.as_str().unwrap().to_string()).collect();
        return HostTensor::new(shape, Values::String(s));
    }
    let bytes = base64::engine::general_purpose::STANDARD.decode(t["b64"].as_str().unwrap()).unwrap();
    if dtype == DType::Map {
        // A list of maps: "keys" (strings or int64s) and the row-major float32 probabilities.
        let keys = t["keys"].as_array().unwrap();
        let keys = match keys.first().map(|k| k.is_string()) {
            Some(true) => MapKeys::String(keys.iter().map(|k| k.as_str().unwrap().to_string()).collect()),
            _ => MapKeys::Int64(keys.iter().map(|k| k.as_i64().unwrap()).collect()),
        };
        let probabilities = bytes.chunks_exact(4).map(|c| f32::from_le_bytes(c.try_into().unwrap())).collect();
        return HostTensor::new(shape, Values::Map { keys, probabilities });
    }
    macro_rules! le {
        ($t:ty, $n:expr) => {
            bytes.chunks_exact($n).map(|c| <$t>::from_le_bytes(c.try_into().unwrap())).collect::<Vec<$t>>()
        };
    }
    let values = match dtype {
        DType::Float32 => Values::Float32(le!(f32, 4)),
        DType::Float64 => Values::Float64(le!(f64, 8)),
        DType::Float16 => Values::Float16(le!(u16, 2)),
        DType::Int8 => Values::Int8(le!(i8, 1)),
        DType::Int16 => Values::Int16(le!(i16, 2)),
        DType::Int32 => Values::Int32(le!(i32, 4)),
        DType::Int64 => Values::Int64(le!(i64, 8)),
        DType::Uint8 => Values::Uint8(bytes.clone()),
        DType::Uint16 => Values::Uint16(le!(u16, 2)),
        DType::Uint32 => Values::Uint32(le!(u32, 4)),
        DType::Uint64 => Values::Uint64(le!(u64, 8)),
        DType::Bool => Values::Bool(bytes.iter().map(|&b| b != 0).collect()),
        DType::String | DType::Map => unreachable!(),
    };
    HostTensor::new(shape, values)
}

fn as_f64(v: &Values) -> Vec<f64> {
    match v {
        Values::Float32(v) => v.iter().map(|&x| x as f64).collect(),
        Values::Float64(v) => v.clone(),
        Values::Float16(v) => v.iter().map(|&b| half_to_f64(b)).collect(),
        Values::Int8(v) => v.iter().map(|&x| x as f64).collect(),
        Values::Int16(v) => v.iter().map(|&x| x as f64).collect(),
        Values::Int32(v) => v.iter().map(|&x| x as f64).collect(),
        Values::Int64(v) => v.iter().map(|&x| x as f64).collect(),
        Values::Uint8(v) => v.iter().map(|&x| x as f64).collect(),
        Values::Uint16(v) => v.iter().map(|&x| x as f64).collect(),
        Values::Uint32(v) => v.iter().map(|&x| x as f64).collect(),
        Values::Uint64(v) => v.iter().map(|&x| x as f64).collect(),
        Values::Bool(v) => v.iter().map(|&x| x as u8 as f64).collect(),
        Values::Map { probabilities, .. } => probabilities.iter().map(|&x| x as f64).collect(),
        other => panic!("not numeric: {other:?}"),
    }
}

fn half_to_f64(h: u16) -> f64 {
    let s = if h & 0x8000 != 0 { -1.0 } else { 1.0 };
    let e = ((h >> 10) & 0x1f) as i32;
    let m = (h & 0x3ff) as f64;
    match e {
        0 => s * m * 2f64.powi(-24),
        31 => {
            if m == 0.0 {
                s * f64::INFINITY
            } else {
                f64::NAN
            }
        }
        _ => s * (1.0 + m / 1024.0) * 2f64.powi(e - 15),
    }
}

/// Compares like the acceptance runner: same dtype and shape, |a - e| <= atol + rtol * |e|.
pub fn compare(name: &str, expected: &HostTensor, actual: &HostTensor, rtol: f64, atol: f64) -> Result<(), String> {
    if actual.dtype() != expected.dtype() {
        return Err(format!("{name}: dtype {:?}, expected {:?}", actual.dtype(), expected.dtype()));
    }
    if actual.shape != expected.shape {
        return Err(format!("{name}: shape {:?}, expected {:?}", actual.shape, expected.shape));
    }
    if let (Values::String(a), Values::String(e)) = (&actual.values, &expected.values) {
        return if a == e { Ok(()) } else { Err(format!("{name}: {a:?}, expected {e:?}")) };
    }
    if let (Values::Map { keys: a, .. }, Values::Map { keys: e, .. }) = (&actual.values, &expected.values)
        && a != e
    {
        return Err(format!("{name}: map keys {a:?}, expected {e:?}"));
    }
    if let (Values::Int64(a), Values::Int64(e)) = (&actual.values, &expected.values) {
        return if a == e { Ok(()) } else { Err(format!("{name}: {a:?}, expected {e:?}")) };
    }
    let (a, e) = (as_f64(&actual.values), as_f64(&expected.values));
    for (i, (a, e)) in a.iter().zip(&e).enumerate() {
        let same = (a.is_nan() && e.is_nan()) || a == e || (a - e).abs() <= atol + rtol * e.abs();
        if !same {
            return Err(format!("{name}[{i}] = {a}, expected {e}"));
        }
    }
    Ok(())
}

/// The case at `times` its batch: float32 inputs and outputs, rows independent, repeated.
pub fn repeat_batch(case: &mut Case, times: usize) {
    for (_, t) in case.inputs.iter_mut().chain(case.outputs.iter_mut()) {
        let Values::Float32(v) = &t.values else { panic!("repeat_batch takes float32 tensors") };
        t.values = Values::Float32(v.repeat(times));
        t.shape[0] *= times;
    }
}

/// A graph input or output: a tensor of ONNX element type `elem_type` and fixed `dims`.
pub fn value_info(name: &str, elem_type: i32, dims: &[i64]) -> pb::ValueInfoProto {
    use pb::tensor_shape_proto::{Dimension, dimension::Value};
    let dim = dims.iter().map(|&d| Dimension { value: Some(Value::DimValue(d)), ..Default::default() }).collect();
    let tensor = pb::type_proto::Tensor { elem_type, shape: Some(pb::TensorShapeProto { dim }) };
    pb::ValueInfoProto {
        name: name.into(),
        r#type: Some(pb::TypeProto { value: Some(pb::type_proto::Value::TensorType(tensor)), ..Default::default() }),
        ..Default::default()
    }
}

/// A node of the default domain, with one output.
pub fn node(op: &str, inputs: &[&str], output: &str) -> pb::NodeProto {
    pb::NodeProto {
        op_type: op.into(),
        input: inputs.iter().map(|s| s.to_string()).collect(),
        output: vec![output.into()],
        ..Default::default()
    }
}
