//! Why a run did not start ([`StartError`]).

use weft_core::Error;

/// Why [`Executor::start`](crate::Executor::start) did not start a run.
#[derive(Clone, Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StartError {
    /// The inputs do not match the workflow's `input` section
    /// ([`ErrorKind::Input`](weft_core::ErrorKind::Input), naming the
    /// input), or the plan cannot run here (a limit of the executor, a
    /// store that needs the workflow's text). The error names where.
    #[error(transparent)]
    Workflow(#[from] Error),
    /// It was called outside a tokio runtime: start runs from within one
    /// (`#[tokio::main]`, `Runtime::block_on`, or a task spawned on one).
    #[error(
        "Executor::start must be called from within a tokio runtime: \
         call it in an async fn run by one (#[tokio::main], Runtime::block_on)"
    )]
    NoRuntime,
}

impl StartError {
    /// The workflow's error, when the workflow or its inputs kept the run
    /// from starting.
    pub fn workflow(&self) -> Option<&Error> {
        match self {
            StartError::Workflow(e) => Some(e),
            StartError::NoRuntime => None,
        }
    }
}
