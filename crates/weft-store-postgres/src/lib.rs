//! A Postgres [`Store`](weft_runtime::Store) for weft's durable runs, which
//! several executor processes share.
#![forbid(unsafe_code)]

mod error;
mod lease;
mod listen;
mod options;
mod read;
mod schema;
mod store;
mod write;

pub use options::PostgresOptions;
pub use store::PostgresStore;

/// The schema version this build writes (recorded in `weft_schema`).
pub const SCHEMA_VERSION: i32 = schema::SCHEMA_VERSION;
