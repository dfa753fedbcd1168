//! weft's workflow language: definitions, loading, validation, plans, the
//! shared context and expressions.
//!
//! Most users reach this through the `weft` facade crate.
#![forbid(unsafe_code)]

mod builder;
mod context;
mod def;
mod error;
mod expr;
mod graph;
mod inline;
mod json_text;
mod limits;
mod load;
mod names;
mod plan;
mod shell;
mod source_map;
mod view;
mod yaql;

pub use builder::{RetryBuilder, TaskBuilder, TransitionBuilder, WorkflowBuilder, AFTER_CONDITION};
pub use context::{ContextState, CurrentTask, TaskStatus, WorkflowContext};
pub use def::{
    Assignments, Backoff, InputDef, JoinDef, NumberOrExpr, Publish, RetryDef, TaskDef, TaskList,
    TransitionDef, Version, WithDef, WorkflowDef,
};
pub use error::{Error, ErrorKind, Location, Result};
pub use expr::{ObjectTemplate, Template, ValueTemplate};
pub use json_text::json_from_str;
pub use limits::ExpressionLimits;
pub use load::{Format, Workflow};
pub use plan::*;

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
