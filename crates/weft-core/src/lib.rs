//! weft's workflow language: definitions, loading, validation, plans, the
//! shared context and expressions.
//!
//! Most users reach this through the `weft` facade crate.
//!
//! The surface: [`Workflow`] loads text and compiles it into a [`Plan`]
//! (against an [`ActionCatalog`]); [`WorkflowBuilder`] builds a workflow in
//! code; the text model is [`WorkflowDef`] and the rest of [`def`];
//! [`Template`] and [`WorkflowContext`] evaluate expressions; every error
//! is an [`Error`]. [`engine`] holds what the runtime reads of a compiled
//! plan, outside semantic versioning.
#![forbid(unsafe_code)]

mod builder;
mod context;
pub mod def;
mod diag;
pub mod diagram;
pub mod engine;
mod error;
mod expr;
pub mod functions;
mod graph;
mod inline;
mod jinja_compat;
mod json_text;
mod limits;
mod load;
mod names;
mod plan;
mod render;
mod shell;
mod source_map;
mod view;
mod yaml_quirks;
mod yaql;

pub use builder::{RetryBuilder, TaskBuilder, TransitionBuilder, WorkflowBuilder, AFTER_CONDITION};
pub use context::{
    ContextMaps, ContextState, CurrentTask, DeferredSystem, TaskIndex, TaskRun, TaskStatus,
    Variables, WorkflowContext,
};
pub use def::WorkflowDef;
pub use error::{Error, ErrorKind, Location, Result};
pub use expr::{ObjectTemplate, Template, ValueTemplate};
pub use json_text::json_from_str;
pub use limits::ExpressionLimits;
pub use load::{Format, Workflow};
pub use plan::{ActionCatalog, InputField, InputSpec, Plan, TaskId};
#[doc(hidden)]
pub use yaml_quirks::pad_quoted_scalar;

#[cfg(test)]
mod send_sync {
    fn assert_send_sync<T: Send + Sync>() {}

    #[test]
    fn public_types_are_send_and_sync() {
        assert_send_sync::<crate::Plan>();
        assert_send_sync::<crate::WorkflowContext>();
        assert_send_sync::<crate::Template>();
        assert_send_sync::<crate::Error>();
        assert_send_sync::<crate::Workflow>();
    }
}
