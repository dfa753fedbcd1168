//! weft: an embeddable, event-driven workflow executor.
//!
//! Workflows are graphs of tasks written in YAML (the Orquesta dialect, with
//! `{{ }}` Jinja expressions). This crate is a facade over `weft-core` (the
//! language: loading, validation, plans, context, expressions).
#![forbid(unsafe_code)]

pub use weft_core as core;
pub use weft_core::*;

/// The names most programs need.
pub mod prelude {
    pub use weft_core::{Error, Plan, TaskStatus, Workflow, WorkflowContext};
}
