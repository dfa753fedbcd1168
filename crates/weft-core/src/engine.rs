//! What a runtime needs of a compiled [`Plan`](crate::Plan) beyond its
//! public surface: the compiled tasks, their transitions, joins, items and
//! retry policies, and small helpers the runtime's errors share.
//!
//! **For the runtime, not for programs that embed weft.** weft's own
//! runtime (`weft-runtime`) executes plans through these types, and tools
//! that draw a plan (the `weft graph` command) read them. They follow the
//! compiler's needs and may change in any release, fields included: they
//! are not covered by semantic versioning. A program that runs workflows
//! needs none of them; [`Plan`](crate::Plan)'s own methods say what a plan
//! declares ([`Plan::inputs`](crate::Plan::inputs),
//! [`Plan::name`](crate::Plan::name), …).

pub use crate::limits::json_size_within;
pub use crate::plan::{
    json_type_name, Join, JoinSpec, Num, PlainEdge, Retry, Target, TaskFlags, TaskPlan, Transition,
    WithItems, ENGINE_COMMANDS,
};
