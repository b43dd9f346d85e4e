//! The wasm-bindgen surface: exported types own a core object and delegate to it. Every
//! call is guarded so that a panic becomes an `E_INTERNAL` error and the instance lives on.

use std::panic::AssertUnwindSafe;

use wasm_bindgen::prelude::*;

use crate::DType;
use crate::bundle::{self, Parts};
use crate::error::{Error, guard};
use crate::feeds::Feed;
use crate::heap::{self, Meter};
use crate::interop::{self, JsHost};
use crate::model::Model;
use crate::monitor::guard::GuardMode;
use crate::monitor::{MonitorOptions, MonitoredModel, Reference};
use crate::tensor::{HostTensor, Values};

#[wasm_bindgen]
pub struct WasmModel {
    /// Unwind-safe by construction: a panic inside a call drops the prediction state it
    /// touched (see `Model::predict`), so the model is consistent after any caught panic.
    inner: AssertUnwindSafe<Option<MonitoredModel>>,
    /// The output names as JS strings, made once.
    output_names: Vec<JsValue>,
    /// A bundle's checked manifest, as JSON.
    manifest: Option<String>,
    /// Feeds staged by `stageFeed` for the next `predictStaged`.
    staged: Vec<(String, Feed)>,
    /// The heap bytes the model holds: what its load left allocated, updated by every call
    /// that can change it (`metered`).
    meter: Meter,
    /// Threads its operators may split across, the caller's included (`setThreads`).
    threads: usize,
}

impl WasmModel {
    /// Wraps a loaded model in its monitoring. A bundle's name and version name it in logs and
    /// metrics, and its reference statistics are the drift reference unless the caller gives one.
    fn new(
        model: Model,
        mut monitoring: MonitorOptions,
        manifest: Option<bundle::manifest::Manifest>,
    ) -> Result<WasmModel, Error> {
        if let Some(m) = &manifest {
            if monitoring.name.is_empty() {
                monitoring.name = m.name.clone();
                monitoring.version = m.version.clone();
            }
            if monitoring.reference.is_none()
                && let Some(reference) = &m.reference
            {
                monitoring.reference = Some(Reference::from_value(reference.clone())?);
            }
            if monitoring.guard.is_none() {
                if let Some(g) = m.guard.filter(|g| g.mode != GuardMode::Off && !monitoring.enabled) {
                    return Err(Error::InvalidOption(format!(
                        "this bundle guards its inputs (guard mode '{}'), which needs monitoring: load it with monitoring on, or with guard: false to drop the guard",
                        g.mode.name()
                    )));
                }
                monitoring.guard = m.guard;
            }
        }
        let output_names = model.outputs().iter().map(|o| JsValue::from(o.name.as_str())).collect();
        let manifest =
            manifest.map(|m| serde_json::to_string(&m)).transpose().map_err(|e| Error::Internal(e.to_string()))?;
        let model = MonitoredModel::new(model, monitoring)?;
        Ok(WasmModel {
            inner: AssertUnwindSafe(Some(model)),
            output_names,
            manifest,
            staged: Vec::new(),
            meter: Meter::default(),
            threads: 1,
        })
    }

    /// Counts what was allocated since `before` (a `heap::live` reading) as the model's.
    fn held_since(mut self, before: usize) -> WasmModel {
        self.meter = Meter::since(before);
        self
    }

    /// Runs `f` under the model's meter, its error made a JS error inside it, so that only
    /// what the model keeps is counted (`f` returns JS values, or nothing on the heap).
    fn metered<T>(&mut self, f: impl FnOnce(&mut Self) -> Result<T, Error>) -> Result<T, JsValue> {
        edgeinfer_kernels::parts::set_threads(self.threads);
        let mut meter = self.meter;
        let out = meter.run(|| guard(|| f(self)).map_err(interop::to_js_error));
        self.meter = meter;
        out
    }
}

// TLSF: constant-time allocation and freeing. A small prediction allocates dozens of tensors
// and vectors; measured against talc (itself faster than the default dlmalloc), 2.4% less
// time per mlp_tabular prediction.
#[cfg(feature = "tlsf")]
#[global_allocator]
static ALLOCATOR: heap::Heap<rlsf::GlobalTlsf> = heap::Heap(rlsf::GlobalTlsf::new());

// std's allocator (dlmalloc behind a lock) where threads share the heap: talc behind a spin
// lock measured no faster (docs/threads.md).
#[cfg(not(feature = "tlsf"))]
#[global_allocator]
static ALLOCATOR: heap::Heap<std::alloc::System> = heap::Heap(std::alloc::System);

unsafe extern "C" {
    /// Synthesised by wasm-ld: runs the static constructors (tract registers its kernels and
    /// optimiser passes through `inventory`).
    fn __wasm_call_ctors();
}

/// Runs the constructors once, at instantiation. Calling `__wasm_call_ctors` explicitly also
/// stops wasm-ld from wrapping every export in a call to it, which re-ran all constructors on
/// every call (a sixfold slowdown of small predictions). In the threads build every thread
/// instantiates the module and runs `start`, but the constructors write to the memory they
/// share: only the first thread runs them.
#[wasm_bindgen(start)]
fn start() {
    static STARTED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);
    if !STARTED.swap(true, std::sync::atomic::Ordering::AcqRel) {
        // SAFETY: called once (STARTED), before any other export, as wasm-bindgen runs
        // `start` at instantiation.
        unsafe { __wasm_call_ctors() }
        std::alloc::set_alloc_error_hook(|layout| std::panic::panic_any(crate::error::OutOfMemory(layout.size())));
    }
}

/// A bundle's sections as JS read them (from its compiled module, or its file's bytes), with
/// the SHA-256 digests (hex) the platform computed (see `bundle::Section`).
#[wasm_bindgen]
pub struct BundleSections {
    manifest: Vec<u8>,
    signature: Option<Vec<u8>>,
    model: SectionBytes,
    snapshot: Option<SectionBytes>,
}

/// A section's size, bytes and digest, owned.
struct SectionBytes {
    size: f64,
    bytes: Option<Vec<u8>>,
    sha256: Option<String>,
}

impl SectionBytes {
    fn section(&self) -> bundle::Section<'_> {
        bundle::Section { size: self.size as u64, bytes: self.bytes.as_deref(), sha256: self.sha256.as_deref() }
    }
}

#[wasm_bindgen]
impl BundleSections {
    /// The model's bytes are needed only to parse it: restoring a snapshot passes its size
    /// and digest alone. The snapshot's size is given if the bundle has one; its digest is
    /// missing where the platform has no WebCrypto (it is then not restored).
    #[wasm_bindgen(constructor)]
    pub fn new(
        manifest: Vec<u8>,
        signature: Option<Vec<u8>>,
        model_size: f64,
        model: Option<Vec<u8>>,
        model_sha256: Option<String>,
        snapshot_size: Option<f64>,
        snapshot_sha256: Option<String>,
    ) -> BundleSections {
        BundleSections {
            manifest,
            signature,
            model: SectionBytes { size: model_size, bytes: model, sha256: model_sha256 },
            snapshot: snapshot_size.map(|size| SectionBytes { size, bytes: None, sha256: snapshot_sha256 }),
        }
    }
}

impl BundleSections {
    fn parts(&self) -> Parts<'_> {
        Parts {
            manifest: &self.manifest,
            model: self.model.section(),
            signature: self.signature.as_deref(),
            runtime: None,
            snapshot: self.snapshot.as_ref().map(SectionBytes::section),
        }
    }
}

fn guarded<T>(f: impl FnOnce() -> Result<T, Error>) -> Result<T, JsValue> {
    guard(f).map_err(interop::to_js_error)
}

#[wasm_bindgen]
impl WasmModel {
    /// Parses and optimises an ONNX model, or checks and loads a bundle file. `options` is
    /// the JS options object.
    pub fn load(bytes: Vec<u8>, options: JsValue) -> Result<WasmModel, JsValue> {
        // The file's bytes were allocated before this call; an ONNX file's are freed in it.
        let before = heap::live().saturating_sub(bytes.capacity());
        guarded(|| {
            let monitoring = interop::monitor_options(&options)?;
            let options = interop::load_options(&options)?;
            if bundle::is_bundle(&bytes) {
                let (model, manifest) = Model::load_bundle(&bundle::parts(&bytes)?, &options)?;
                return WasmModel::new(model, monitoring, Some(manifest));
            }
            WasmModel::new(Model::load_owned(bytes, &options)?, monitoring, None)
        })
        .map(|m| m.held_since(before))
    }

    /// Loads a bundle from its sections, as JS reads them from a compiled module
    /// (`WebAssembly.Module.customSections`) where the file's bytes are not at hand, with the
    /// digests the platform computed (see `BundleSections`).
    #[wasm_bindgen(js_name = loadBundleSections)]
    pub fn load_bundle_sections(sections: BundleSections, options: JsValue) -> Result<WasmModel, JsValue> {
        let before = heap::live();
        guarded(|| {
            let monitoring = interop::monitor_options(&options)?;
            let options = interop::load_options(&options)?;
            let (model, manifest) = Model::load_bundle(&sections.parts(), &options)?;
            WasmModel::new(model, monitoring, Some(manifest))
        })
        .map(|m| m.held_since(before))
    }

    /// Every check of `loadBundleSections`, options included, without loading: JS calls it
    /// before restoring the bundle's snapshot (js/snapshot.js), which must pass them first.
    #[wasm_bindgen(js_name = checkBundleSections)]
    pub fn check_bundle_sections(sections: BundleSections, options: JsValue) -> Result<(), JsValue> {
        guarded(|| {
            interop::monitor_options(&options)?;
            let options = interop::load_options(&options)?;
            bundle::check(&sections.parts(), &options).map(drop)
        })
    }

    /// The model of a restored snapshot, with the caller's options; `manifest` is the
    /// manifest `checkBundleSections` passed just before the restore.
    #[wasm_bindgen(js_name = fromSnapshot)]
    pub fn from_snapshot(manifest: &[u8], options: JsValue) -> Result<WasmModel, JsValue> {
        guarded(|| {
            let monitoring = interop::monitor_options(&options)?;
            let options = interop::load_options(&options)?;
            let (mut model, mut meter) =
                crate::snapshot::take().ok_or_else(|| Error::Internal("no model in the restored snapshot".into()))?;
            let wrapped = meter.run(move || {
                model.configure(&options)?;
                let manifest = serde_json::from_slice(manifest)
                    .map_err(|e| Error::Internal(format!("the checked manifest: {e}")))?;
                WasmModel::new(model, monitoring, Some(manifest))
            })?;
            Ok(WasmModel { meter, ..wrapped })
        })
    }

    /// The bundle's manifest as JSON, or undefined for a plain ONNX model.
    pub fn manifest(&self) -> Option<String> {
        self.manifest.clone()
    }

    fn run(&mut self, feeds: impl FnOnce() -> Result<Vec<(String, Feed)>, Error>) -> Result<JsValue, Error> {
        let served = self.inner.as_mut().ok_or(Error::Disposed)?;
        let prediction = served.predict(&mut JsHost, feeds)?;
        let outputs = interop::outputs(prediction.outputs, &self.output_names);
        if let Some(id) = prediction.id {
            interop::attach_id(&outputs, id);
        }
        Ok(outputs)
    }

    fn served(&mut self) -> Result<&mut MonitoredModel, Error> {
        self.inner.as_mut().ok_or(Error::Disposed)
    }

    fn model(&mut self) -> Result<&Model, Error> {
        Ok(self.served()?.model())
    }

    pub fn inputs(&mut self) -> Result<JsValue, JsValue> {
        guarded(|| Ok(interop::tensor_infos(self.model()?.inputs())))
    }

    pub fn outputs(&mut self) -> Result<JsValue, JsValue> {
        guarded(|| Ok(interop::tensor_infos(self.model()?.outputs().iter())))
    }

    pub fn metadata(&mut self) -> Result<JsValue, JsValue> {
        guarded(|| Ok(interop::string_map(self.model()?.metadata())))
    }

    /// Runs the model; when monitored, the outputs object carries the prediction's id under
    /// the symbol `edgeinfer.predictionId` (see `predictionId` in js/core.js).
    pub fn predict(&mut self, feeds: JsValue) -> Result<JsValue, JsValue> {
        self.metered(|m| m.run(|| interop::feeds(&feeds)))
    }

    /// Stages one feed whose data is a typed array, as its bytes (`input` indexes the model's
    /// inputs, `dtype` `DType::ALL`; `declared`: the feed named that dtype). js/core.js reads
    /// plain feed objects itself and stages them: reading one from Rust takes a dozen calls
    /// across the boundary, which is a tenth of a small model's prediction.
    #[wasm_bindgen(js_name = stageFeed)]
    pub fn stage_feed(
        &mut self,
        input: u32,
        dtype: u32,
        bytes: Vec<u8>,
        shape: Vec<f64>,
        declared: bool,
    ) -> Result<(), JsValue> {
        // The staged feed is the model's until `predictStaged` consumes it, in its own window.
        self.meter.take_over(std::mem::size_of_val(&bytes[..]) + std::mem::size_of_val(&shape[..]));
        self.metered(move |this| {
            let staged = (|| {
                let dtype =
                    *DType::ALL.get(dtype as usize).ok_or_else(|| Error::Internal(format!("no dtype {dtype}")))?;
                // A disposed model has no inputs; `predictStaged` then fails with E_DISPOSED.
                let name = match this.inner.as_ref() {
                    Some(m) => m
                        .model()
                        .inputs()
                        .nth(input as usize)
                        .ok_or_else(|| Error::Internal(format!("no input {input}")))?
                        .name
                        .clone(),
                    None => String::new(),
                };
                let shape =
                    shape.iter().enumerate().map(|(axis, &n)| interop::dim(axis, n)).collect::<Result<Vec<_>, _>>();
                let shape = shape.map_err(|why| Error::shape(&name, why))?;
                let values = Values::from_le_bytes(dtype, bytes).ok_or_else(|| {
                    Error::Internal(format!("the staged bytes of '{name}' are not whole {} elements", dtype.name()))
                })?;
                Ok((name, Feed { dtype: declared.then_some(dtype), tensor: HostTensor::new(shape, values) }))
            })();
            match staged {
                Ok(feed) => {
                    this.staged.push(feed);
                    Ok(())
                }
                Err(e) => {
                    this.staged.clear();
                    Err(e)
                }
            }
        })
    }

    /// Runs the model on the staged feeds, as `predict` does.
    #[wasm_bindgen(js_name = predictStaged)]
    pub fn predict_staged(&mut self) -> Result<JsValue, JsValue> {
        self.metered(|m| {
            let staged = std::mem::take(&mut m.staged);
            m.run(move || Ok(staged))
        })
    }

    /// Whether a shape seen more than once waits for its own plan (`specializeNext`).
    #[wasm_bindgen(js_name = wantsSpecializing)]
    pub fn wants_specializing(&self) -> bool {
        self.inner.as_ref().is_some_and(|m| m.model().wants_specializing())
    }

    /// Builds one waiting specialised plan; says whether another waits. js/core.js calls it
    /// from a timer, after the predictions that asked for it have been answered.
    #[wasm_bindgen(js_name = specializeNext)]
    pub fn specialize_next(&mut self) -> bool {
        self.metered(|m| Ok(m.inner.as_mut().is_some_and(|m| m.model_mut().specialize_next()))).unwrap_or(false)
    }

    /// Runs the model on `feeds` as `predict` does, unmonitored, and returns how long each
    /// node of the plan took (`[{ node, op, ms }]` in the order they ran), as JSON.
    pub fn profile(&mut self, feeds: JsValue) -> Result<JsValue, JsValue> {
        self.metered(|m| {
            let feeds = interop::feeds(&feeds)?;
            let times = m.served()?.model_mut().profile(feeds, &mut interop::performance_now)?;
            Ok(json(&times)?.into())
        })
    }

    /// Performance, quality and feedback counters, as JSON.
    pub fn stats(&mut self) -> Result<String, JsValue> {
        guarded(|| json(&self.served()?.stats(&mut JsHost)?))
    }

    /// The drift report, as JSON.
    pub fn drift(&mut self) -> Result<String, JsValue> {
        guarded(|| json(&self.served()?.drift()?))
    }

    /// The Prometheus text exposition, labelled with `labels` (`{ model, version }` by default).
    pub fn prometheus(&mut self, labels: JsValue) -> Result<String, JsValue> {
        guarded(|| {
            let labels = interop::metric_labels(&labels)?;
            self.served()?.prometheus(labels.as_deref())
        })
    }

    /// Joins ground truth to a prediction; returns the rows newly labelled.
    pub fn feedback(&mut self, id: JsValue, labels: JsValue) -> Result<u32, JsValue> {
        self.metered(|m| {
            let id = interop::prediction_id(&id)?;
            let labels = interop::labels(&labels)?;
            Ok(m.served()?.feedback(&id, &labels, &mut JsHost)? as u32)
        })
    }

    /// The rows feedback labelled since the last call, as JSON lines (`exportFeedback`).
    #[wasm_bindgen(js_name = exportFeedback)]
    pub fn export_feedback(&mut self) -> Result<js_sys::Array, JsValue> {
        self.metered(|m| Ok(m.served()?.take_export()?.iter().map(|line| JsValue::from_str(line)).collect()))
    }

    /// The prediction log lines queued since the last call.
    #[wasm_bindgen(js_name = takeLogs)]
    pub fn take_logs(&mut self) -> Result<js_sys::Array, JsValue> {
        self.metered(|m| Ok(m.served()?.take_logs().iter().map(|line| JsValue::from_str(line)).collect()))
    }

    #[wasm_bindgen(js_name = configureLogs)]
    pub fn configure_logs(&mut self, options: JsValue) -> Result<(), JsValue> {
        self.metered(|m| {
            let options = interop::log_options(&options)?;
            m.served()?.configure_logs(options)
        })
    }

    /// Reference statistics of a training sample (CSV text, records, or feeds) as this model
    /// sees it, with its predictions; as JSON.
    #[wasm_bindgen(js_name = buildReference)]
    pub fn build_reference(&mut self, source: JsValue, options: JsValue) -> Result<JsValue, JsValue> {
        self.metered(|m| {
            let categorical = interop::categorical(&options)?;
            let served = m.served()?;
            let reference = match interop::sample_columns(&source, &categorical)? {
                Some(columns) => served.build_reference_from_columns(&columns)?,
                None => served.build_reference(interop::feeds(&source)?)?,
            };
            Ok(reference.to_json().into())
        })
    }

    /// What the model holds, what the instance's heap holds, and the size of the instance's
    /// memory (which never shrinks), in bytes.
    pub fn memory(&self) -> Vec<f64> {
        let size = core::arch::wasm32::memory_size::<0>() * 65536;
        vec![self.meter.held() as f64, heap::live() as f64, size as f64]
    }

    /// How many threads this model's operators may use, the caller's included; at most the
    /// team's and the caller (`startThreads`), which is what it returns.
    #[wasm_bindgen(js_name = setThreads)]
    pub fn set_threads(&mut self, threads: usize) -> usize {
        self.threads = threads.clamp(1, edgeinfer_kernels::parts::capacity());
        self.threads
    }

    /// Frees the model now rather than when the JS object is collected.
    pub fn dispose(&mut self) {
        *self.inner = None;
        self.staged.clear();
        self.meter = Meter::default();
    }

    #[wasm_bindgen(js_name = isDisposed)]
    pub fn is_disposed(&self) -> bool {
        self.inner.is_none()
    }
}

/// Reference statistics of a training sample (CSV text or records) without a model, as JSON.
#[wasm_bindgen(js_name = buildReference)]
pub fn build_reference(source: JsValue, options: JsValue) -> Result<String, JsValue> {
    guarded(|| {
        let categorical = interop::categorical(&options)?;
        let columns = interop::sample_columns(&source, &categorical)?.ok_or_else(|| {
            Error::InvalidOption("a training sample is CSV text or an array of records ({ feature: value })".into())
        })?;
        Ok(Reference::from_columns(&columns)?.to_json())
    })
}

fn json(value: &impl serde::Serialize) -> Result<String, Error> {
    serde_json::to_string(value).map_err(|e| Error::Internal(format!("cannot write JSON: {e}")))
}

/// Reads a chunk of CSV into a float32 feature matrix, for batch scoring (see `table`):
/// `[values (Float32Array), lines (Uint32Array), kept fields, rejects as [line, reason]]`.
#[wasm_bindgen(js_name = readCsvFloats)]
pub fn read_csv_floats(
    text: &[u8],
    header: Vec<String>,
    columns: Vec<u32>,
    kept: Vec<u32>,
    first_line: u32,
) -> Result<js_sys::Array, JsValue> {
    guarded(|| {
        let index = |cs: &[u32]| -> Result<Vec<usize>, Error> {
            cs.iter()
                .map(|&c| {
                    let c = c as usize;
                    (c < header.len())
                        .then_some(c)
                        .ok_or_else(|| Error::Internal(format!("column {c} of {} asked for", header.len())))
                })
                .collect()
        };
        let rows = crate::table::read_float_rows(text, &header, &index(&columns)?, &index(&kept)?, first_line);
        let kept: js_sys::Array = rows.kept.iter().map(|f| JsValue::from_str(f)).collect();
        let rejects: js_sys::Array = rows
            .rejects
            .iter()
            .map(|(line, reason)| js_sys::Array::of2(&(*line).into(), &JsValue::from_str(reason)))
            .collect();
        Ok(js_sys::Array::of4(
            &js_sys::Float32Array::from(&rows.values[..]),
            &js_sys::Uint32Array::from(&rows.lines[..]),
            &kept,
            &rejects,
        ))
    })
}

/// Float32 outputs as CSV cells for batch scoring, row by row (see `table::float32_cells`).
#[wasm_bindgen(js_name = csvFloat32Cells)]
pub fn csv_float32_cells(values: &[f32], width: u32) -> Result<String, JsValue> {
    guarded(|| Ok(crate::table::float32_cells(values, width as usize)))
}

/// Which build of the module this is: `relaxed-simd` (whose kernels fuse multiply and add
/// with `f32x4.relaxed_madd`) or `simd128`. Asked of the module itself, so that `init`
/// reports the truth for a module the caller supplied.
#[wasm_bindgen(js_name = simdVariant)]
pub fn simd_variant() -> String {
    if cfg!(target_feature = "relaxed-simd") { "relaxed-simd" } else { "simd128" }.to_string()
}

/// Panics on purpose, so tests can check that a panic becomes `E_INTERNAL` and that the
/// instance keeps serving afterwards.
#[wasm_bindgen(js_name = __testPanic)]
pub fn test_panic() -> Result<(), JsValue> {
    guarded(|| {
        let v: Vec<u8> = Vec::new();
        let i = v.len() + 3;
        Ok(std::hint::black_box(v)[i]).map(|_: u8| ())
    })
}

/// Builds a bundle: `runtime` (this runtime's wasm file) with `onnx` appended; returns the
/// bundle's bytes. `options`: { name, version, created, features?, signingKey?, reference? }.
#[wasm_bindgen(js_name = buildBundle)]
pub fn build_bundle(runtime: &[u8], onnx: &[u8], options: JsValue) -> Result<Vec<u8>, JsValue> {
    guarded(|| Ok(bundle::build(runtime, onnx, &interop::build_options(&options)?)?.0))
}

/// Checks a bundle file (runtime code, signature when `publicKey` is given, model digest)
/// without loading its model; returns the manifest as JSON.
#[wasm_bindgen(js_name = verifyBundle)]
pub fn verify_bundle(bytes: &[u8], options: JsValue) -> Result<String, JsValue> {
    guarded(|| {
        let options = interop::load_options(&options)?;
        let manifest = bundle::check(&bundle::parts(bytes)?, &options)?;
        serde_json::to_string(&manifest).map_err(|e| Error::Internal(e.to_string()))
    })
}

/// Checks that a bundle's manifest is signed by `publicKey`, for a bundle already loaded
/// (js/bundle.js holds every later `load({ publicKey })` to it).
#[wasm_bindgen(js_name = verifyBundleSignature)]
pub fn verify_bundle_signature(
    manifest: &[u8],
    signature: Option<Vec<u8>>,
    public_key: JsValue,
) -> Result<(), JsValue> {
    guarded(|| {
        let key =
            interop::public_key(&public_key)?.ok_or_else(|| Error::InvalidOption("publicKey is required".into()))?;
        bundle::check_signature(manifest, signature.as_deref(), &key)
    })
}

/// A new Ed25519 key pair, [privatePem, publicPem], from 32 bytes of the caller's randomness.
#[wasm_bindgen(js_name = keyPair)]
pub fn key_pair(seed: &[u8]) -> Result<Vec<String>, JsValue> {
    guarded(|| {
        let (private, public) = bundle::keys::keypair_from_seed(seed)?;
        Ok(vec![private, public])
    })
}
