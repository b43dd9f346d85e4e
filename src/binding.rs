//! The wasm-bindgen surface: exported types own a core object and delegate to it. Every
//! call is guarded so that a panic becomes an `E_INTERNAL` error and the instance lives on.

use std::panic::AssertUnwindSafe;

use wasm_bindgen::prelude::*;

use crate::bundle::{self, Parts};
use crate::error::{Error, guard};
use crate::interop;
use crate::model::Model;

#[wasm_bindgen]
pub struct WasmModel {
    /// Unwind-safe by construction: a panic inside a call drops the prediction state it
    /// touched (see `Model::predict`), so the model is consistent after any caught panic.
    inner: AssertUnwindSafe<Option<Model>>,
    /// The output names as JS strings, made once.
    output_names: Vec<JsValue>,
    /// A bundle's checked manifest, as JSON.
    manifest: Option<String>,
}

impl WasmModel {
    fn new(model: Model, manifest: Option<bundle::manifest::Manifest>) -> Result<WasmModel, Error> {
        let output_names = model.outputs().iter().map(|o| JsValue::from(o.name.as_str())).collect();
        let manifest = manifest.map(|m| serde_json::to_string(&m)).transpose().map_err(|e| Error::Internal(e.to_string()))?;
        Ok(WasmModel { inner: AssertUnwindSafe(Some(model)), output_names, manifest })
    }
}

#[global_allocator]
static ALLOCATOR: talc::wasm::WasmDynamicTalc = talc::wasm::new_wasm_dynamic_allocator();

unsafe extern "C" {
    /// Synthesised by wasm-ld: runs the static constructors (tract registers its kernels and
    /// optimiser passes through `inventory`).
    fn __wasm_call_ctors();
}

/// Runs the constructors once, at instantiation. Calling `__wasm_call_ctors` explicitly also
/// stops wasm-ld from wrapping every export in a call to it, which re-ran all constructors on
/// every call (a sixfold slowdown of small predictions).
#[wasm_bindgen(start)]
fn start() {
    // SAFETY: called once, before any other export, as wasm-bindgen runs `start` at instantiation.
    unsafe { __wasm_call_ctors() }
}

fn guarded<T>(f: impl FnOnce() -> Result<T, Error>) -> Result<T, JsValue> {
    guard(f).map_err(interop::to_js_error)
}

#[wasm_bindgen]
impl WasmModel {
    /// Parses and optimises an ONNX model, or checks and loads a bundle file. `options` is
    /// the JS options object.
    pub fn load(bytes: &[u8], options: JsValue) -> Result<WasmModel, JsValue> {
        guarded(|| {
            let options = interop::load_options(&options)?;
            if bundle::is_bundle(bytes) {
                let (model, manifest) = Model::load_bundle(&bundle::parts(bytes)?, &options)?;
                return WasmModel::new(model, Some(manifest));
            }
            WasmModel::new(Model::load(bytes, &options)?, None)
        })
    }

    /// Loads a bundle from its sections, as JS reads them from a compiled module
    /// (`WebAssembly.Module.customSections`) where the file's bytes are not at hand.
    #[wasm_bindgen(js_name = loadBundleSections)]
    pub fn load_bundle_sections(
        manifest: &[u8],
        model: &[u8],
        signature: Option<Vec<u8>>,
        options: JsValue,
    ) -> Result<WasmModel, JsValue> {
        guarded(|| {
            let options = interop::load_options(&options)?;
            let parts = Parts { manifest, model, signature: signature.as_deref(), runtime: None };
            let (model, manifest) = Model::load_bundle(&parts, &options)?;
            WasmModel::new(model, Some(manifest))
        })
    }

    /// The bundle's manifest as JSON, or undefined for a plain ONNX model.
    pub fn manifest(&self) -> Option<String> {
        self.manifest.clone()
    }

    fn model(&mut self) -> Result<&mut Model, Error> {
        self.inner.as_mut().ok_or(Error::Disposed)
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

    pub fn predict(&mut self, feeds: JsValue) -> Result<JsValue, JsValue> {
        guarded(|| {
            let feeds = interop::feeds(&feeds)?;
            let outputs = self.model()?.predict(feeds)?;
            Ok(interop::outputs(outputs, &self.output_names))
        })
    }

    /// Frees the model now rather than when the JS object is collected.
    pub fn dispose(&mut self) {
        *self.inner = None;
    }

    #[wasm_bindgen(js_name = isDisposed)]
    pub fn is_disposed(&self) -> bool {
        self.inner.is_none()
    }
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

/// A new Ed25519 key pair, [privatePem, publicPem], from 32 bytes of the caller's randomness.
#[wasm_bindgen(js_name = keyPair)]
pub fn key_pair(seed: &[u8]) -> Result<Vec<String>, JsValue> {
    guarded(|| {
        let (private, public) = bundle::keys::keypair_from_seed(seed)?;
        Ok(vec![private, public])
    })
}
