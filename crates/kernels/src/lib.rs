//! The numeric loops of edgeinfer's own operators, over plain slices. They know nothing of
//! tensors or graphs (src/ops/lean in the core wraps them as tract operators), so they build
//! in seconds, are tested natively, and get full optimisation while the rest of the core is
//! built for size.
//!
//! Floating-point semantics follow onnxruntime-web where onnxruntime is more particular than
//! IEEE: element-wise Max and Min propagate NaN; reductions fold from the first element with
//! a strict comparison, so a NaN wins only in first place; a NaN in a max-pooling window
//! gives NaN.

#![warn(unreachable_pub)]

pub mod binary;
pub mod broadcast;
pub mod clamp;
pub mod conv;
pub mod dense;
pub mod depthwise;
pub mod matmul;
pub mod nan;
pub mod parts;
pub mod pool;
pub mod recurrent;
pub mod reduce;
mod simd;
mod tile;
pub mod topk;
pub mod window;
