//! The one error type of the core. Each variant carries a stable code that callers can
//! match on (`err.code` in JS); messages name the thing that was wrong and what was expected.

use thiserror::Error;

#[derive(Debug, Error, Clone, PartialEq)]
pub enum Error {
    /// The bytes are not an ONNX model at all (empty, truncated, not protobuf).
    #[error("cannot parse the model: {0}")]
    ModelParse(String),
    /// The bytes parse, but the graph is inconsistent (bad attributes, types, shapes).
    #[error("invalid model: {0}")]
    ModelInvalid(String),
    /// The graph uses an operator this runtime does not implement.
    #[error("unsupported operator {op}{}", node.as_deref().map(|n| format!(" (node '{n}')")).unwrap_or_default())]
    UnsupportedOp { op: String, node: Option<String> },
    /// A valid model that uses something else this runtime does not support.
    #[error("unsupported: {0}")]
    Unsupported(String),
    #[error("missing input '{name}': the model expects inputs {expected}")]
    InputMissing { name: String, expected: String },
    #[error("unknown input '{name}': the model's inputs are {expected}")]
    InputUnknown { name: String, expected: String },
    #[error("input '{name}': {message}")]
    InputDtype { name: String, message: String },
    #[error("input '{name}': {message}")]
    InputShape { name: String, message: String },
    /// A value that cannot be represented in the input's element type (1.5 for an int64 input).
    #[error("input '{name}': {message}")]
    InputValue { name: String, message: String },
    /// A caller-supplied option is malformed (an unknown input in `inputShapes`, a bad limit).
    #[error("invalid option: {0}")]
    InvalidOption(String),
    /// The computation would exceed a configured resource limit.
    #[error("resource limit exceeded: {0}")]
    ResourceLimit(String),
    /// A bundle whose bytes, manifest or signature do not check out, or lack a signature
    /// the caller requires. Nothing of it has run.
    #[error("bundle integrity check failed: {0}")]
    Integrity(String),
    /// A bundle made by a runtime this one cannot promise to run faithfully.
    #[error("the bundle was built by edgeinfer {bundle}, this runtime is {runtime}: rebuild it with this version")]
    BundleVersion { bundle: String, runtime: String },
    #[error("the model has been disposed")]
    Disposed,
    /// The model failed while running on valid input; the model stays usable.
    #[error("prediction failed: {0}")]
    Runtime(String),
    /// A bug in this library (a caught panic). The instance stays usable.
    #[error("internal error: {0}")]
    Internal(String),
    /// Feedback names a prediction this model does not hold: not an id, another instance's,
    /// or too old to be remembered.
    #[error("unknown prediction: {0}")]
    PredictionUnknown(String),
    /// Feedback that cannot be joined: the wrong number of labels, a label of the wrong kind.
    #[error("invalid feedback: {0}")]
    FeedbackInvalid(String),
}

impl Error {
    /// The stable code exposed to JS as `err.code`.
    pub fn code(&self) -> &'static str {
        match self {
            Error::ModelParse(_) => "E_MODEL_PARSE",
            Error::ModelInvalid(_) => "E_MODEL_INVALID",
            Error::UnsupportedOp { .. } | Error::Unsupported(_) => "E_UNSUPPORTED_OP",
            Error::InputMissing { .. } => "E_INPUT_MISSING",
            Error::InputUnknown { .. } => "E_INPUT_UNKNOWN",
            Error::InputDtype { .. } => "E_INPUT_DTYPE",
            Error::InputShape { .. } => "E_INPUT_SHAPE",
            Error::InputValue { .. } => "E_INPUT_VALUE",
            Error::InvalidOption(_) => "E_INVALID_OPTION",
            Error::ResourceLimit(_) => "E_RESOURCE_LIMIT",
            Error::Integrity(_) => "E_INTEGRITY",
            Error::BundleVersion { .. } => "E_BUNDLE_VERSION",
            Error::Disposed => "E_DISPOSED",
            Error::Runtime(_) => "E_RUNTIME",
            Error::Internal(_) => "E_INTERNAL",
            Error::PredictionUnknown(_) => "E_PREDICTION_UNKNOWN",
            Error::FeedbackInvalid(_) => "E_FEEDBACK_INVALID",
        }
    }

    pub(crate) fn shape(name: &str, message: impl Into<String>) -> Self {
        Error::InputShape { name: name.to_owned(), message: message.into() }
    }

    pub(crate) fn dtype(name: &str, message: impl Into<String>) -> Self {
        Error::InputDtype { name: name.to_owned(), message: message.into() }
    }

    pub(crate) fn value(name: &str, message: impl Into<String>) -> Self {
        Error::InputValue { name: name.to_owned(), message: message.into() }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Classifies a tract failure. An `Error` raised inside one of this crate's operators (a
/// wrong feature count, an unseen category) keeps its own kind; anything else becomes
/// `fallback` with tract's message.
pub(crate) fn from_tract(err: &tract_onnx::prelude::TractError, fallback: fn(String) -> Error) -> Error {
    err.chain().find_map(|cause| cause.downcast_ref::<Error>()).cloned().unwrap_or_else(|| fallback(chain(err)))
}

/// Renders an anyhow chain from tract as one line, outermost context first, without repeats.
pub(crate) fn chain(err: &tract_onnx::prelude::TractError) -> String {
    let mut parts: Vec<String> = Vec::new();
    for cause in err.chain() {
        let s = cause.to_string();
        if !parts.iter().any(|p| p.contains(&s)) {
            parts.push(s);
        }
    }
    parts.join(": ")
}

/// A panic's payload when an allocation of this many bytes failed. The wasm build's
/// allocation error hook raises it (see `binding`), so that running out of memory unwinds,
/// and is refused like any limit, where std would abort: a trap, which leaves Rust's state
/// half-changed, and on a team thread leaves the thread that posted the work waiting.
#[derive(Debug)]
pub struct OutOfMemory(pub usize);

/// How tract's tensor storage says an allocation failed (an assertion, `tract_data::blob`).
const TRACT_ALLOCATION_FAILED: &str = "failed to allocate";

/// Runs `f`, turning a panic into `Error::Internal`, or `Error::ResourceLimit` when memory ran
/// out: a bug must not take the caller down.
pub fn guard<T>(f: impl FnOnce() -> Result<T>) -> Result<T> {
    guard_as(Error::Internal, f)
}

/// Runs `f` as `guard` does, a panic becoming `on_panic` with its message. Reading a model
/// file uses it: tract's parser and shape inference check a file's values with assertions and
/// `unwrap`s (an axis past the rank, an output no node makes), so there a panic is the file
/// refused, with tract's words for why.
pub(crate) fn guard_as<T>(on_panic: impl FnOnce(String) -> Error, f: impl FnOnce() -> Result<T>) -> Result<T> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).unwrap_or_else(|payload| {
        if let Some(OutOfMemory(bytes)) = payload.downcast_ref::<OutOfMemory>() {
            return Err(out_of_memory(&format!("{bytes} bytes could not be allocated")));
        }
        let message = payload
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "unknown panic".into());
        if message.starts_with(TRACT_ALLOCATION_FAILED) {
            return Err(out_of_memory(&message));
        }
        Err(on_panic(message))
    })
}

fn out_of_memory(what: &str) -> Error {
    Error::ResourceLimit(format!(
        "out of memory: {what}; the instance's memory is full (its models, and what predictions hold while they run): predict smaller batches, or load fewer or smaller models"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn guard_refuses_running_out_of_memory_as_a_limit() {
        let raisers: [fn() -> Result<()>; 2] = [
            || std::panic::panic_any(OutOfMemory(1 << 30)),
            || panic!("failed to allocate Layout {{ size: 1024000000, align: 16 (1 << 4) }}"),
        ];
        for raise in raisers {
            let err = guard(raise).unwrap_err();
            assert_eq!(err.code(), "E_RESOURCE_LIMIT");
            assert!(err.to_string().starts_with("resource limit exceeded: out of memory: "), "{err}");
        }
        assert_eq!(guard::<()>(|| panic!("a bug")).unwrap_err().code(), "E_INTERNAL");
    }
}
