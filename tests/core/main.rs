//! The core's integration tests, natively, in one binary: each file had been its own, and each
//! of those linked all of tract (100 MB apiece even with line tables only).

mod common;

mod bundle;
mod corpus;
mod ml_ops;
mod model;
mod monitor;
mod plans;
mod recommender;
mod screen;
mod values;
