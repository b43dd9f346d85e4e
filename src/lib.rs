//! edgeinfer's core: ONNX models on tract, with typed errors and host-side tensors.
//! Nothing here knows about JavaScript; `binding` (wasm32 only) is the one thin layer over it.

// Running out of memory unwinds on wasm rather than trapping (`error::OutOfMemory`). The wasm
// builds are nightly-featured already (`-Zbuild-std`, scripts/build.sh).
#![cfg_attr(target_arch = "wasm32", feature(alloc_error_hook))]

pub mod bundle;
pub mod dtype;
pub mod error;
pub mod feeds;
mod footprint;
pub mod heap;
pub mod model;
pub mod monitor;
pub mod ops;
pub mod plans;
mod rewrite;
pub mod schema;
mod screen;
pub mod table;
pub mod tensor;
mod values;

pub use dtype::DType;
pub use error::{Error, Result, guard};
pub use feeds::Feed;
pub use model::{Limits, LoadOptions, Model};
pub use schema::{Dim, TensorInfo};
pub use tensor::{HostTensor, MapKeys, Values};

#[cfg(target_arch = "wasm32")]
mod binding;
#[cfg(target_arch = "wasm32")]
mod interop;
#[cfg(target_arch = "wasm32")]
mod snapshot;
#[cfg(all(target_arch = "wasm32", feature = "threads"))]
mod threads;
