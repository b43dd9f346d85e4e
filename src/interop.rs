//! Every conversion between JS values and core types, in one place. JS inputs arrive as
//! typed arrays or plain arrays; each is copied once into a core `Values`.

use js_sys::{
    Array, BigInt64Array, BigUint64Array, Float32Array, Float64Array, Int8Array, Int16Array, Int32Array, Object,
    Reflect, Uint8Array, Uint16Array, Uint32Array,
};
use wasm_bindgen::prelude::wasm_bindgen;
use wasm_bindgen::{JsCast, JsValue};

use crate::error::Error;
use crate::feeds::Feed;
use crate::schema::{Dim, TensorInfo};
use crate::tensor::{HostTensor, MapKeys, Values};
use crate::{DType, LoadOptions};

/// The one conversion of a core error to JS: an `Error` with a stable `code`.
pub fn to_js_error(err: Error) -> JsValue {
    let js = js_sys::Error::new(&err.to_string());
    js.set_name("EdgeInferError");
    // Setting a property on a fresh Error object cannot fail.
    let _ = Reflect::set(&js, &"code".into(), &err.code().into());
    js.into()
}

fn get(obj: &JsValue, key: &str) -> JsValue {
    Reflect::get(obj, &key.into()).unwrap_or(JsValue::UNDEFINED)
}

#[wasm_bindgen]
extern "C" {
    /// A feed object, read through plain property accesses: `Reflect.get` goes through a
    /// try/catch wrapper per call, which small models feel.
    type FeedLike;
    #[wasm_bindgen(method, getter, structural)]
    fn data(this: &FeedLike) -> JsValue;
    #[wasm_bindgen(method, getter, structural)]
    fn shape(this: &FeedLike) -> JsValue;
    #[wasm_bindgen(method, getter, structural)]
    fn dims(this: &FeedLike) -> JsValue;
    #[wasm_bindgen(method, getter, structural)]
    fn dtype(this: &FeedLike) -> JsValue;
    #[wasm_bindgen(method, getter = type, structural)]
    fn type_(this: &FeedLike) -> JsValue;
}

// Output tensors are instances of one class so that `toJSON` sits on their prototype: defining
// it on each tensor at every prediction cost a few percent of a small model's time. JSON has
// no 64-bit integers, so int64 values are numbers while they are safe and decimal strings beyond.
#[wasm_bindgen(inline_js = "const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);
const exact = (v) => (v >= -MAX_SAFE && v <= MAX_SAFE ? Number(v) : String(v));
class Tensor {
  constructor(data, shape, dtype) { this.data = data; this.shape = shape; this.dtype = dtype; }
  toJSON() {
    const { data, shape, dtype } = this;
    const wide = data instanceof BigInt64Array || data instanceof BigUint64Array;
    return { data: Array.isArray(data) ? data : Array.from(data, wide ? exact : undefined), shape, dtype };
  }
}
export function putTensor(target, key, data, shape, dtype) { target[key] = new Tensor(data, Array.from(shape), dtype); }
export function putFloat32(target, key, data, shape, dtype) { target[key] = new Tensor(data.slice(), Array.from(shape), dtype); }
export function put(target, key, value) { target[key] = value; }")]
extern "C" {
    /// `target[key] = { data, shape, dtype }` in one call.
    #[wasm_bindgen(js_name = putTensor)]
    fn put_tensor(target: &Object, key: &JsValue, data: JsValue, shape: &[f64], dtype: &JsValue);
    /// The same for float32 data, copied out of wasm memory in the same call (the commonest
    /// output, where a call saved is a few percent of a small model's prediction).
    #[wasm_bindgen(js_name = putFloat32)]
    fn put_float32(target: &Object, key: &JsValue, data: &[f32], shape: &[f64], dtype: &JsValue);
    fn put(target: &Object, key: &JsValue, value: JsValue);
}

// The dtype names as JS strings, made once: decoding them from UTF-8 on every prediction
// costs more than running a small model.
thread_local! {
    static DTYPE_NAMES: Vec<JsValue> = DType::ALL.iter().map(|d| JsValue::from(d.name())).collect();
}

fn dtype_js(d: DType) -> JsValue {
    DTYPE_NAMES.with(|names| names[DType::ALL.iter().position(|x| *x == d).unwrap_or(0)].clone())
}

fn describe(v: &JsValue) -> String {
    if v.is_null() {
        return "null".into();
    }
    if let Some(ctor) = v.dyn_ref::<Object>().map(|o| o.constructor().name()) {
        if v.is_array() {
            return "an Array".into();
        }
        if !ctor.is_undefined() && ctor != "Object" {
            return format!("a {}", String::from(ctor));
        }
    }
    v.js_typeof().as_string().unwrap_or_else(|| "a value".into())
}

/// `{ inputShapes: { name: [dims] }, maxInputElements, maxTensorBytes, ... }`; unknown keys are
/// refused so that a misspelt option does not silently do nothing.
pub fn load_options(options: &JsValue) -> Result<LoadOptions, Error> {
    let mut out = LoadOptions::default();
    if options.is_undefined() || options.is_null() {
        return Ok(out);
    }
    if !options.is_object() {
        return Err(Error::InvalidOption(format!("options must be an object, got {}", describe(options))));
    }
    for key in Object::keys(options.unchecked_ref::<Object>()).iter() {
        let key = key.as_string().unwrap_or_default();
        let value = get(options, &key);
        match key.as_str() {
            "inputShapes" => {
                if value.is_undefined() {
                    continue;
                }
                if !value.is_object() {
                    return Err(Error::InvalidOption("inputShapes must map input names to shapes".into()));
                }
                for name in Object::keys(value.unchecked_ref::<Object>()).iter() {
                    let name = name.as_string().unwrap_or_default();
                    let shape = shape(&get(&value, &name))
                        .map_err(|why| Error::InvalidOption(format!("inputShapes.{name}: {why}")))?;
                    out.input_shapes.push((name, shape));
                }
            }
            "maxInputElements" => {
                out.limits.max_input_elements = positive(&value, &key)? as usize;
            }
            "maxTensorBytes" => out.limits.max_tensor_bytes = positive(&value, &key)?,
            "maxModelBytes" => out.limits.max_model_bytes = positive(&value, &key)?,
            "maxNodes" => out.limits.max_nodes = usize::try_from(positive(&value, &key)?).unwrap_or(usize::MAX),
            "maxGraphDepth" => {
                out.limits.max_graph_depth = usize::try_from(positive(&value, &key)?).unwrap_or(usize::MAX)
            }
            "publicKey" => out.public_key = public_key(&value)?,
            "maxSpecializedPlans" => {
                out.max_specialized_plans =
                    if value.as_f64() == Some(0.0) { 0 } else { positive(&value, &key)? as usize };
            }
            // Options of the JS layer, handled before the model reaches the core.
            "wasm" | "simd" | "threads" | "fetch" | "signal" => {}
            // Read by `monitor_options`.
            "monitoring" | "reference" | "guard" => {}
            other => {
                return Err(Error::InvalidOption(format!(
                    "unknown option '{other}', expected inputShapes, maxInputElements, maxTensorBytes, maxModelBytes, maxNodes, maxGraphDepth, maxSpecializedPlans, publicKey, monitoring, reference or guard"
                )));
            }
        }
    }
    Ok(out)
}

/// The `publicKey` option: SPKI PEM text or 32 raw bytes; undefined or null for none.
pub fn public_key(value: &JsValue) -> Result<Option<Vec<u8>>, Error> {
    if value.is_undefined() || value.is_null() {
        return Ok(None);
    }
    if let Some(text) = value.as_string() {
        return Ok(Some(text.into_bytes()));
    }
    match value.dyn_ref::<Uint8Array>() {
        Some(bytes) => Ok(Some(bytes.to_vec())),
        None => Err(Error::InvalidOption(format!(
            "publicKey must be an SPKI PEM string or 32 bytes, got {}",
            describe(value)
        ))),
    }
}

fn positive(value: &JsValue, key: &str) -> Result<u64, Error> {
    match value.as_f64() {
        Some(n) if n >= 1.0 && n.fract() == 0.0 && n <= 2f64.powi(53) => Ok(n as u64),
        _ => Err(Error::InvalidOption(format!("{key} must be a positive integer, got {}", describe(value)))),
    }
}

/// A shape: an array of non-negative integers (numbers or bigints).
fn shape(v: &JsValue) -> Result<Vec<usize>, String> {
    let items: Vec<JsValue> = if v.is_array() {
        Array::from(v).iter().collect()
    } else if let Some(a) = v.dyn_ref::<BigInt64Array>() {
        a.to_vec().into_iter().map(JsValue::from).collect()
    } else if let Some(a) = v.dyn_ref::<Int32Array>() {
        a.to_vec().into_iter().map(JsValue::from).collect()
    } else {
        return Err(format!("shape must be an array of non-negative integers, got {}", describe(v)));
    };
    items
        .iter()
        .enumerate()
        .map(|(axis, d)| match d.as_f64().or_else(|| i128::try_from(d.clone()).ok().map(|i| i as f64)) {
            Some(n) => dim(axis, n),
            None => Err(format!("shape[{axis}] is {}, expected a non-negative integer", display(d))),
        })
        .collect()
}

/// A shape's size on `axis`, given as a JS number.
pub fn dim(axis: usize, n: f64) -> Result<usize, String> {
    match n {
        n if n >= 0.0 && n.fract() == 0.0 && n <= usize::MAX as f64 => Ok(n as usize),
        n if n >= 0.0 && n.fract() == 0.0 => {
            Err(format!("shape[{axis}] is {n}, more than the {} a dimension can hold in WebAssembly", usize::MAX))
        }
        n => Err(format!("shape[{axis}] is {n}, expected a non-negative integer")),
    }
}

fn display(v: &JsValue) -> String {
    v.as_string().map(|s| format!("'{s}'")).or_else(|| v.as_f64().map(|n| n.to_string())).unwrap_or_else(|| describe(v))
}

/// `{ name: { data, shape, dtype? } }`; `dims` and `type` are accepted too, so that
/// onnxruntime-web tensors can be passed as they are.
pub fn feeds(feeds: &JsValue) -> Result<Vec<(String, Feed)>, Error> {
    if !feeds.is_object() || feeds.is_array() {
        return Err(Error::InvalidOption(format!(
            "feeds must be an object mapping input names to {{ data, shape }}, got {}",
            describe(feeds)
        )));
    }
    Object::entries(feeds.unchecked_ref::<Object>())
        .iter()
        .map(|entry| {
            let entry = Array::from(&entry);
            let name = entry.get(0).as_string().unwrap_or_default();
            let feed = feed(&name, &entry.get(1))?;
            Ok((name, feed))
        })
        .collect()
}

fn feed(name: &str, v: &JsValue) -> Result<Feed, Error> {
    if !v.is_object() {
        return Err(Error::shape(name, format!("expected {{ data, shape }}, got {}", describe(v))));
    }
    let f: &FeedLike = v.unchecked_ref();
    let or = |x: JsValue, y: fn(&FeedLike) -> JsValue| if x.is_undefined() { y(f) } else { x };
    let (dtype_value, shape_value, data) = (or(f.dtype(), FeedLike::type_), or(f.shape(), FeedLike::dims), f.data());
    let dtype = if dtype_value.is_undefined() {
        None
    } else {
        let s = dtype_value
            .as_string()
            .ok_or_else(|| Error::dtype(name, format!("dtype must be a string, got {}", describe(&dtype_value))))?;
        Some(s.parse::<DType>().map_err(|why| Error::dtype(name, why))?)
    };
    if shape_value.is_undefined() {
        return Err(Error::shape(name, "missing shape: expected { data, shape }"));
    }
    let shape = shape(&shape_value).map_err(|why| Error::shape(name, why))?;
    let values = values(name, &data)?;
    Ok(Feed { dtype, tensor: HostTensor::new(shape, values) })
}

fn values(name: &str, data: &JsValue) -> Result<Values, Error> {
    macro_rules! typed {
        ($array:ty, $variant:ident) => {
            if let Some(a) = data.dyn_ref::<$array>() {
                return Ok(Values::$variant(a.to_vec()));
            }
        };
    }
    typed!(Float32Array, Float32);
    typed!(Float64Array, Float64);
    typed!(Int8Array, Int8);
    typed!(Int16Array, Int16);
    typed!(Int32Array, Int32);
    typed!(BigInt64Array, Int64);
    typed!(Uint8Array, Uint8);
    typed!(Uint16Array, Uint16);
    typed!(Uint32Array, Uint32);
    typed!(BigUint64Array, Uint64);
    if data.is_instance_of::<js_sys::Uint8ClampedArray>() {
        return Ok(Values::Uint8(js_sys::Uint8ClampedArray::from(data.clone()).to_vec()));
    }
    if !data.is_array() {
        return Err(Error::dtype(
            name,
            format!(
                "data must be a typed array or an array of numbers, bigints, booleans or strings, got {}",
                describe(data)
            ),
        ));
    }
    let items = Array::from(data);
    let first = items.get(0);
    let kind = first.js_typeof().as_string().unwrap_or_default();
    let wrong = |i: u32, v: &JsValue| {
        Error::dtype(
            name,
            format!("data[{i}] is {}, but data[0] is a {kind}; all elements must have one type", describe(v)),
        )
    };
    let n = items.length();
    Ok(match kind.as_str() {
        "undefined" if n == 0 => Values::Numbers(Vec::new()),
        "number" => Values::Numbers(
            (0..n)
                .map(|i| {
                    let v = items.get(i);
                    v.as_f64().ok_or_else(|| wrong(i, &v))
                })
                .collect::<Result<_, _>>()?,
        ),
        "bigint" => Values::BigInts(
            (0..n)
                .map(|i| {
                    let v = items.get(i);
                    i128::try_from(v.clone()).map_err(|_| wrong(i, &v))
                })
                .collect::<Result<_, _>>()?,
        ),
        "boolean" => Values::Bool(
            (0..n)
                .map(|i| {
                    let v = items.get(i);
                    v.as_bool().ok_or_else(|| wrong(i, &v))
                })
                .collect::<Result<_, _>>()?,
        ),
        "string" => Values::String(
            (0..n)
                .map(|i| {
                    let v = items.get(i);
                    v.as_string().ok_or_else(|| wrong(i, &v))
                })
                .collect::<Result<_, _>>()?,
        ),
        _ => {
            return Err(Error::dtype(
                name,
                format!("data[0] is {}, expected a number, bigint, boolean or string", describe(&first)),
            ));
        }
    })
}

/// `{ name: { data, shape, dtype } }` with int64 as BigInt64Array, bool as Uint8Array,
/// float16 as Uint16Array (bit patterns) and strings as string[]. `names` are the output
/// names as JS strings, in the order of `outputs`.
pub fn outputs(outputs: Vec<(String, HostTensor)>, names: &[JsValue]) -> JsValue {
    let result = Object::new();
    for ((name, t), key) in outputs.into_iter().zip(names.iter().map(Some).chain(std::iter::repeat(None))) {
        let dtype = dtype_js(t.dtype().unwrap_or(DType::Float64));
        let shape: Vec<f64> = t.shape.iter().map(|&d| d as f64).collect();
        let key = key.cloned().unwrap_or_else(|| JsValue::from(name));
        match t.values {
            Values::Float32(v) => put_float32(&result, &key, &v, &shape, &dtype),
            values => put_tensor(&result, &key, output_data(values), &shape, &dtype),
        }
    }
    result.into()
}

fn output_data(values: Values) -> JsValue {
    match values {
        Values::Float32(v) => Float32Array::from(&v[..]).into(),
        Values::Float64(v) | Values::Numbers(v) => Float64Array::from(&v[..]).into(),
        Values::Float16(v) | Values::Uint16(v) => Uint16Array::from(&v[..]).into(),
        Values::Int8(v) => Int8Array::from(&v[..]).into(),
        Values::Int16(v) => Int16Array::from(&v[..]).into(),
        Values::Int32(v) => Int32Array::from(&v[..]).into(),
        Values::Int64(v) => BigInt64Array::from(&v[..]).into(),
        Values::Uint8(v) => Uint8Array::from(&v[..]).into(),
        Values::Uint32(v) => Uint32Array::from(&v[..]).into(),
        Values::Uint64(v) => BigUint64Array::from(&v[..]).into(),
        Values::Bool(v) => Uint8Array::from(&v.iter().map(|&b| b as u8).collect::<Vec<_>>()[..]).into(),
        Values::String(v) => v.into_iter().map(JsValue::from).collect::<Array>().into(),
        Values::BigInts(v) => v.into_iter().map(JsValue::from).collect::<Array>().into(),
        Values::Map { keys, probabilities } => map_rows(&keys, &probabilities).into(),
    }
}

/// A ZipMap output: one plain object `{ label: probability }` per row. JS object keys are
/// strings, so int64 labels become their decimal strings (`{ "0": 0.9, "1": 0.1 }`).
fn map_rows(keys: &MapKeys, probabilities: &[f32]) -> Array {
    let names: Vec<JsValue> = match keys {
        MapKeys::String(v) => v.iter().map(|s| JsValue::from(s.as_str())).collect(),
        MapKeys::Int64(v) => v.iter().map(|i| JsValue::from(i.to_string())).collect(),
    };
    let rows = Array::new();
    if names.is_empty() {
        return rows;
    }
    for row in probabilities.chunks(names.len()) {
        let object = Object::new();
        for (key, &p) in names.iter().zip(row) {
            put(&object, key, JsValue::from(p as f64));
        }
        rows.push(&object);
    }
    rows
}

/// `[{ name, dtype, shape, valueInput? }]` with symbolic dimensions as strings.
pub fn tensor_infos<'a>(infos: impl Iterator<Item = &'a TensorInfo>) -> JsValue {
    infos
        .map(|info| {
            let o = Object::new();
            let shape: Array = info
                .shape
                .iter()
                .map(|d| match d {
                    Dim::Fixed(n) => JsValue::from(*n as f64),
                    Dim::Symbolic(s) => JsValue::from(s.as_str()),
                })
                .collect();
            let _ = Reflect::set(&o, &"name".into(), &info.name.as_str().into());
            let _ = Reflect::set(&o, &"dtype".into(), &info.dtype.name().into());
            let _ = Reflect::set(&o, &"shape".into(), &shape);
            if info.value {
                let _ = Reflect::set(&o, &"valueInput".into(), &true.into());
            }
            JsValue::from(o)
        })
        .collect::<Array>()
        .into()
}

/// `{ key: value }` from ordered pairs (a later duplicate key wins).
pub fn string_map(pairs: &[(String, String)]) -> JsValue {
    let o = Object::new();
    for (k, v) in pairs {
        let _ = Reflect::set(&o, &k.as_str().into(), &v.as_str().into());
    }
    o.into()
}

/// `{ name, version, created, features?, signingKey?, reference? }` for
/// `buildBundle`; `reference` is JSON text.
pub fn build_options(options: &JsValue) -> Result<crate::bundle::BuildOptions, Error> {
    let text = |key: &str| -> Result<Option<String>, Error> {
        let v = get(options, key);
        if v.is_undefined() || v.is_null() {
            return Ok(None);
        }
        v.as_string()
            .map(Some)
            .ok_or_else(|| Error::InvalidOption(format!("{key} must be a string, got {}", describe(&v))))
    };
    let required = |key: &str| text(key)?.ok_or_else(|| Error::InvalidOption(format!("{key} is required")));
    let features = get(options, "features");
    let features = if features.is_undefined() || features.is_null() {
        None
    } else if features.is_array() {
        Some(
            Array::from(&features)
                .iter()
                .map(|f| f.as_string().ok_or_else(|| Error::InvalidOption("features must be strings".into())))
                .collect::<Result<Vec<_>, _>>()?,
        )
    } else {
        return Err(Error::InvalidOption("features must be an array of strings".into()));
    };
    let reference = text("reference")?
        .map(|r| serde_json::from_str(&r).map_err(|e| Error::InvalidOption(format!("reference is not JSON: {e}"))))
        .transpose()?;
    Ok(crate::bundle::BuildOptions {
        name: required("name")?,
        version: required("version")?,
        created: required("created")?,
        features,
        signing_key_pem: text("signingKey")?,
        reference,
        guard: guard_option(&get(options, "guard"))?,
        snapshot: get(options, "snapshot").dyn_ref::<Uint8Array>().map(Uint8Array::to_vec),
    })
}

// Monitoring: its options, feedback labels, training samples for references, the host's
// clocks, and the prediction id put on the outputs object.

use crate::monitor::guard::{GuardMode, GuardOptions, MissingPolicy};
use crate::monitor::logs::LogOptions;
use crate::monitor::target::Task;
use crate::monitor::{Column, Host, Label, MonitorOptions, PredictionId};

#[wasm_bindgen(inline_js = "const PREDICTION_ID = Symbol.for('edgeinfer.predictionId');
export function tag(target, instance, high, middle, low) { target[PREDICTION_ID] = [instance, high, middle, low]; }")]
extern "C" {
    /// The id's parts under the registered symbol `edgeinfer.predictionId`, spelled out by
    /// `predictionId` in js/core.js only when asked for: most predictions never get feedback,
    /// and passing the id as a string cost a third of monitoring's time at batch 1. The symbol
    /// is invisible to `Object.keys`, `Object.entries`, `for...in` and `JSON.stringify`, so code
    /// that iterates the outputs sees only outputs, and no output name can clash with it. (A
    /// non-enumerable `id` would need `Object.defineProperty`, which cost about 0.5 µs a call.)
    fn tag(target: &JsValue, instance: u32, high: u32, middle: u32, low: u32);
}

/// Puts `id` on the outputs object; js/core.js renders it as `PredictionId::render` does.
pub fn attach_id(target: &JsValue, id: PredictionId) {
    let part = |shift: u32| (id.token >> shift) as u32;
    tag(target, id.instance, part(64), part(32), part(0));
}

#[wasm_bindgen]
extern "C" {
    #[wasm_bindgen(js_namespace = performance, js_name = now)]
    pub fn performance_now() -> f64;
}

/// The JS host's clocks: `performance.now()` (monotonic; in deployed Workers it only moves
/// between I/O, so latencies read 0 there) and `Date.now()`; the seed from
/// `crypto.getRandomValues` (through getrandom), which Workers refuse at module scope.
pub struct JsHost;

impl Host for JsHost {
    fn monotonic_ms(&mut self) -> f64 {
        performance_now()
    }

    fn unix_ms(&mut self) -> f64 {
        js_sys::Date::now()
    }

    fn seed(&mut self) -> Option<[u8; 32]> {
        crate::monitor::host::entropy()
    }
}

fn keys_of(v: &JsValue) -> Vec<String> {
    Object::keys(v.unchecked_ref::<Object>()).iter().filter_map(|k| k.as_string()).collect()
}

fn string_option(v: &JsValue, key: &str) -> Result<String, Error> {
    v.as_string().ok_or_else(|| Error::InvalidOption(format!("{key} must be a string, got {}", describe(v))))
}

fn number_option(v: &JsValue, key: &str) -> Result<f64, Error> {
    v.as_f64().ok_or_else(|| Error::InvalidOption(format!("{key} must be a number, got {}", describe(v))))
}

fn bool_option(v: &JsValue, key: &str) -> Result<bool, Error> {
    v.as_bool().ok_or_else(|| Error::InvalidOption(format!("{key} must be true or false, got {}", describe(v))))
}

fn strings_option(v: &JsValue, key: &str) -> Result<Vec<String>, Error> {
    if !v.is_array() {
        return Err(Error::InvalidOption(format!("{key} must be an array of strings, got {}", describe(v))));
    }
    Array::from(v).iter().enumerate().map(|(i, s)| string_option(&s, &format!("{key}[{i}]"))).collect()
}

fn count_option(v: &JsValue, key: &str) -> Result<usize, Error> {
    Ok(positive(v, key)? as usize)
}

/// The core's monitoring options from the load options' `monitoring` (an object, or `false`
/// for none) and `reference` (the JSON of `edgeinfer reference`, as text or parsed).
pub fn monitor_options(options: &JsValue) -> Result<MonitorOptions, Error> {
    let mut out = MonitorOptions::default();
    if !options.is_object() {
        return Ok(out);
    }
    let reference = get(options, "reference");
    if !reference.is_undefined() && !reference.is_null() {
        let text = match reference.as_string() {
            Some(text) => text,
            None if reference.is_object() => js_sys::JSON::stringify(&reference)
                .ok()
                .and_then(|s| s.as_string())
                .ok_or_else(|| Error::InvalidOption("reference cannot be turned into JSON".into()))?,
            None => {
                return Err(Error::InvalidOption(format!(
                    "reference must be JSON text or an object, got {}",
                    describe(&reference)
                )));
            }
        };
        out.reference = Some(crate::monitor::Reference::from_json(&text)?);
    }
    out.guard = guard_option(&get(options, "guard"))?;
    let m = get(options, "monitoring");
    if out.guard.is_some_and(|g| g.mode != GuardMode::Off) && m.as_bool() == Some(false) {
        return Err(Error::InvalidOption(
            "guard checks inputs as monitoring sees them, and monitoring is false: turn monitoring on or leave guard out"
                .into(),
        ));
    }
    if m.is_undefined() || m.is_null() || m.as_bool() == Some(true) {
        return Ok(out);
    }
    if m.as_bool() == Some(false) {
        out.enabled = false;
        return Ok(out);
    }
    if !m.is_object() {
        return Err(Error::InvalidOption(format!("monitoring must be an object or false, got {}", describe(&m))));
    }
    for key in keys_of(&m) {
        let v = get(&m, &key);
        if v.is_undefined() {
            continue;
        }
        let name = format!("monitoring.{key}");
        match key.as_str() {
            "enabled" => out.enabled = bool_option(&v, &name)?,
            "name" => out.name = string_option(&v, &name)?,
            "version" => out.version = string_option(&v, &name)?,
            "task" => {
                out.target.task = Some(match string_option(&v, &name)?.as_str() {
                    "classification" => Task::Classification,
                    "regression" => Task::Regression,
                    other => {
                        return Err(Error::InvalidOption(format!(
                            "{name} is '{other}', expected 'classification' or 'regression'"
                        )));
                    }
                })
            }
            "labelOutput" => out.target.label_output = Some(string_option(&v, &name)?),
            "scoreOutput" => out.target.score_output = Some(string_option(&v, &name)?),
            "threshold" => out.target.threshold = Some(number_option(&v, &name)?),
            "features" => out.features = Some(strings_option(&v, &name)?),
            "window" => out.drift.window = count_option(&v, &name)?,
            "minRows" => out.drift.min_rows = count_option(&v, &name)?,
            "alpha" => out.drift.alpha = number_option(&v, &name)?,
            "qualityWindow" => out.quality_window = count_option(&v, &name)?,
            "feedbackCapacity" => out.feedback_capacity = count_option(&v, &name)?,
            "maxClasses" => out.max_classes = count_option(&v, &name)?,
            "log" => out.log = log_options(&v)?,
            "exportFeedback" => out.export_feedback = bool_option(&v, &name)?,
            other => {
                return Err(Error::InvalidOption(format!(
                    "unknown option monitoring.{other}, expected enabled, name, version, task, labelOutput, scoreOutput, threshold, features, window, minRows, alpha, qualityWindow, feedbackCapacity, maxClasses, log or exportFeedback"
                )));
            }
        }
    }
    Ok(out)
}

/// `guard`: a mode ('flag', 'clip', 'refuse', or 'off', which `false` also means) or
/// `{ mode, margin, missing }`; `None` when not given (a bundle's own guard then applies).
pub fn guard_option(v: &JsValue) -> Result<Option<GuardOptions>, Error> {
    if v.is_undefined() || v.is_null() {
        return Ok(None);
    }
    let mode = |v: &JsValue, name: &str| -> Result<GuardMode, Error> {
        let given = string_option(v, name)?;
        GuardMode::from_name(&given).ok_or_else(|| {
            Error::InvalidOption(format!("{name} is '{given}', expected 'flag', 'clip', 'refuse' or 'off'"))
        })
    };
    let mut out = GuardOptions::default();
    if v.as_bool() == Some(false) {
        out.mode = GuardMode::Off;
        return Ok(Some(out));
    }
    if v.as_string().is_some() {
        out.mode = mode(v, "guard")?;
        return Ok(Some(out));
    }
    if !v.is_object() || v.is_array() {
        return Err(Error::InvalidOption(format!(
            "guard must be 'flag', 'clip', 'refuse', false or {{ mode, margin, missing }}, got {}",
            describe(v)
        )));
    }
    let mut given = false;
    for key in keys_of(v) {
        let value = get(v, &key);
        if value.is_undefined() {
            continue;
        }
        let name = format!("guard.{key}");
        match key.as_str() {
            "mode" => {
                out.mode = mode(&value, &name)?;
                given = true;
            }
            "margin" => out.margin = number_option(&value, &name)?,
            "missing" => {
                let given = string_option(&value, &name)?;
                out.missing = MissingPolicy::from_name(&given).ok_or_else(|| {
                    Error::InvalidOption(format!("{name} is '{given}', expected 'reference', 'allow' or 'refuse'"))
                })?;
            }
            other => {
                return Err(Error::InvalidOption(format!(
                    "unknown option guard.{other}, expected mode, margin or missing"
                )));
            }
        }
    }
    if !given {
        return Err(Error::InvalidOption("guard.mode is required: 'flag', 'clip', 'refuse' or 'off'".into()));
    }
    out.check()?;
    Ok(Some(out))
}

/// `monitoring.log`: `false` for none, else an object; lines are kept for the sink (or for
/// `takeLogs()` when there is none).
pub fn log_options(v: &JsValue) -> Result<LogOptions, Error> {
    let mut out = LogOptions::default();
    if v.is_undefined() || v.is_null() || v.as_bool() == Some(false) {
        return Ok(out);
    }
    if !v.is_object() || v.is_array() {
        return Err(Error::InvalidOption(format!("monitoring.log must be an object or false, got {}", describe(v))));
    }
    out.enabled = true;
    for key in keys_of(v) {
        let value = get(v, &key);
        if value.is_undefined() {
            continue;
        }
        let name = format!("monitoring.log.{key}");
        match key.as_str() {
            "sink" => {
                let console = value.as_string().as_deref() == Some("console");
                if !console && !value.is_function() {
                    return Err(Error::InvalidOption(format!(
                        "{name} must be 'console' or a function, got {}",
                        describe(&value)
                    )));
                }
            }
            "enabled" => out.enabled = bool_option(&value, &name)?,
            "sampleRate" => out.sample_rate = number_option(&value, &name)?,
            "includeInputs" => out.include_inputs = bool_option(&value, &name)?,
            "redact" => out.redact = strings_option(&value, &name)?,
            "maxLines" => out.max_lines = count_option(&value, &name)?,
            "maxBytes" => out.max_bytes = count_option(&value, &name)?,
            "maxValues" => out.max_values = count_option(&value, &name)?,
            other => {
                return Err(Error::InvalidOption(format!(
                    "unknown option monitoring.log.{other}, expected sink, sampleRate, includeInputs, redact, maxLines, maxBytes or maxValues"
                )));
            }
        }
    }
    if !(0.0..=1.0).contains(&out.sample_rate) {
        return Err(Error::InvalidOption(format!(
            "monitoring.log.sampleRate must be between 0 and 1, got {}",
            out.sample_rate
        )));
    }
    Ok(out)
}

/// A feedback id: a string.
pub fn prediction_id(v: &JsValue) -> Result<String, Error> {
    v.as_string().ok_or_else(|| Error::PredictionUnknown(format!("the id must be a string, got {}", describe(v))))
}

fn label(v: &JsValue) -> Result<Label, Error> {
    if v.is_undefined() || v.is_null() {
        return Ok(Label::Missing);
    }
    if let Some(x) = v.as_f64() {
        return Ok(Label::Number(x));
    }
    if let Some(s) = v.as_string() {
        return Ok(Label::Text(s));
    }
    if let Some(b) = v.as_bool() {
        return Ok(Label::Number(if b { 1.0 } else { 0.0 }));
    }
    if let Ok(i) = i128::try_from(v.clone()) {
        // Integer labels beyond 2^53 stay exact as their decimal text.
        return Ok(if i.unsigned_abs() < 1 << 53 { Label::Number(i as f64) } else { Label::Text(i.to_string()) });
    }
    Err(Error::FeedbackInvalid(format!(
        "a label must be a number, bigint, string, boolean or null, got {}",
        describe(v)
    )))
}

/// Feedback labels: one value for a one-row prediction, or an array (or typed array) with
/// one per row, `null` for rows without one.
pub fn labels(v: &JsValue) -> Result<Vec<Label>, Error> {
    if v.is_array() || js_sys::ArrayBuffer::is_view(v) {
        return Array::from(v).iter().map(|x| label(&x)).collect();
    }
    Ok(vec![label(v)?])
}

/// `{ name: value }` labels for a Prometheus exposition; `undefined` for the defaults.
pub fn metric_labels(v: &JsValue) -> Result<Option<Vec<(String, String)>>, Error> {
    if v.is_undefined() || v.is_null() {
        return Ok(None);
    }
    if !v.is_object() || v.is_array() {
        return Err(Error::InvalidOption(format!("labels must be an object of strings, got {}", describe(v))));
    }
    keys_of(v)
        .into_iter()
        .map(|k| {
            let value = get(v, &k);
            let text = value.as_string().or_else(|| value.as_f64().map(|n| n.to_string()));
            text.map(|t| (k.clone(), t))
                .ok_or_else(|| Error::InvalidOption(format!("label '{k}' must be a string, got {}", describe(&value))))
        })
        .collect::<Result<Vec<_>, _>>()
        .map(Some)
}

/// `{ categorical: [names] }`, the options of building a reference.
pub fn categorical(options: &JsValue) -> Result<Vec<String>, Error> {
    if !options.is_object() {
        return Ok(Vec::new());
    }
    for key in keys_of(options) {
        if key != "categorical" && key != "wasm" {
            return Err(Error::InvalidOption(format!("unknown option '{key}', expected categorical")));
        }
    }
    let v = get(options, "categorical");
    if v.is_undefined() { Ok(Vec::new()) } else { strings_option(&v, "categorical") }
}

/// A training sample as named columns: CSV text (with a header row), or an array of records
/// (`[{ age: 41, country: 'FR' }, ...]`). A column is numeric when all its values are numbers
/// (or missing: `null`, `undefined`, NaN), unless named in `categorical`.
pub fn sample_columns(source: &JsValue, categorical: &[String]) -> Result<Option<Vec<(String, Column)>>, Error> {
    if let Some(text) = source.as_string() {
        return crate::monitor::csv::columns(&text, categorical).map(Some);
    }
    if !source.is_array() {
        return Ok(None);
    }
    let records = Array::from(source);
    let mut names: Vec<String> = Vec::new();
    for (i, r) in records.iter().enumerate() {
        if !r.is_object() || r.is_array() {
            return Err(Error::InvalidOption(format!(
                "record {i} must be an object of feature values, got {}",
                describe(&r)
            )));
        }
        for k in keys_of(&r) {
            if !names.contains(&k) {
                names.push(k);
            }
        }
    }
    let columns = names
        .into_iter()
        .map(|name| {
            let values: Vec<JsValue> = records.iter().map(|r| get(&r, &name)).collect();
            let numeric = !categorical.contains(&name)
                && values.iter().all(|v| v.is_undefined() || v.is_null() || v.as_f64().is_some());
            let column = if numeric {
                Column::Numeric(values.iter().map(|v| v.as_f64().unwrap_or(f64::NAN)).collect())
            } else {
                Column::Categorical(
                    values
                        .iter()
                        .map(|v| {
                            v.as_string()
                                .or_else(|| {
                                    v.as_f64().filter(|x| !x.is_nan()).map(crate::monitor::features::format_number)
                                })
                                .or_else(|| v.as_bool().map(|b| b.to_string()))
                        })
                        .collect(),
                )
            };
            (name, column)
        })
        .collect();
    Ok(Some(columns))
}
