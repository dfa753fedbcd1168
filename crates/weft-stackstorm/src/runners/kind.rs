//! Which runner an action names, and the parameters each runner declares
//! (`runners.yaml`). Below the runners themselves, so that an action's
//! metadata (`pack.rs`) can hold its runner without naming them.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, LazyLock};

use crate::params::{self, RawParam};

/// The runners weft has, and the name of any other.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Runner {
    LocalShellCmd,
    LocalShellScript,
    PythonScript,
    Orquesta,
    HttpRequest,
    Noop,
    Inquirer,
    /// A runner weft does not have (`remote-shell-cmd`, `winrm-cmd`,
    /// `action-chain`, ...).
    Unsupported(String),
}

impl Runner {
    pub(crate) fn parse(name: &str) -> Runner {
        match name {
            "local-shell-cmd" => Runner::LocalShellCmd,
            "local-shell-script" => Runner::LocalShellScript,
            "python-script" => Runner::PythonScript,
            "orquesta" | "orchestra" => Runner::Orquesta,
            "http-request" => Runner::HttpRequest,
            "noop" => Runner::Noop,
            "inquirer" => Runner::Inquirer,
            other => Runner::Unsupported(other.to_owned()),
        }
    }

    pub(crate) fn name(&self) -> &str {
        match self {
            Runner::LocalShellCmd => "local-shell-cmd",
            Runner::LocalShellScript => "local-shell-script",
            Runner::PythonScript => "python-script",
            Runner::Orquesta => "orquesta",
            Runner::HttpRequest => "http-request",
            Runner::Noop => "noop",
            Runner::Inquirer => "inquirer",
            Runner::Unsupported(name) => name,
        }
    }

    /// The parameters the runner declares; `None` for one weft does not
    /// have.
    pub(crate) fn parameters(&self) -> Option<&'static [RawParam]> {
        match self {
            Runner::Unsupported(_) => None,
            known => RUNNER_PARAMETERS.get(known.name()).map(Vec::as_slice),
        }
    }
}

/// `runners.yaml`, read once.
static RUNNER_PARAMETERS: LazyLock<HashMap<String, Vec<RawParam>>> =
    LazyLock::new(|| read_runner_parameters().0);

/// The runners' parameters from `runners.yaml`, and any mistake in it (a
/// unit test keeps the file free of them).
pub(super) fn read_runner_parameters() -> (HashMap<String, Vec<RawParam>>, Vec<crate::PackError>) {
    let file = Arc::new(PathBuf::from("runners.yaml"));
    let mut out = HashMap::new();
    let mut errors = Vec::new();
    match crate::yaml::parse(include_str!("runners.yaml"), &file) {
        Ok(root) => {
            if let crate::yaml::Yaml::Map(runners) = &root.value {
                for (name, _, params) in runners {
                    let raw = params::read_raw(params, &file, name, &mut errors);
                    out.insert(name.clone(), raw);
                }
            }
        }
        Err(e) => errors.push(e),
    }
    (out, errors)
}
