//! What only a store's implementation needs: helpers that turn a batch of
//! entries into rows and rows back into a journal, the errors every store
//! reports the same way, the datastore's key check, and (feature
//! `conformance`) the tests every store must pass.
//!
//! A program that only uses a store has no need of this module: [`Store`],
//! its records and its errors are in [`store`](crate::store). The SQLite
//! and Postgres stores (`weft-store-sqlite`, `weft-store-postgres`) are
//! written on these helpers, and a store of your own may be too.
//!
//! [`Store`]: crate::store::Store

mod batch;
mod binary;
#[cfg(feature = "conformance")]
pub mod conformance;
mod decode;
mod json;

pub use super::kv::check_key;
pub use batch::{
    extend_journal, extend_journal_from, group_batch, group_batch_with, group_parts_with,
    out_of_sequence, second_start, Encoder, RunBatch,
};
pub use binary::BINARY_FORM;
