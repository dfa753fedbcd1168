//! YAQL's standard library as weft provides it, by theme: queries over
//! collections (`queries.rs`), building and reading collections
//! (`collections.rs`), strings (`strings.rs`), numbers (`math.rs`), truth
//! and branching (`logic.rs`), and Orquesta's functions over the
//! workflow's context (`orquesta.rs`).
//!
//! Each function is a [`Builtin`]: its name, whether it is called as a
//! function (`f(x)`), as a method (`x.f()`) or both (yaql's extension
//! methods), its parameters (for `name => value` arguments, and which of
//! them are lambdas evaluated per item), and the Rust function that runs
//! it. A name can have several entries when yaql's overloads differ in
//! what they take (`join(sep)` and `join(other, predicate, selector)`);
//! overloads that differ only in the types of their arguments are one
//! entry that looks at the types.

use std::collections::HashMap;
use std::sync::LazyLock;

use super::builtin::Builtin;

mod collections;
mod logic;
mod math;
mod orquesta;
mod queries;
mod strings;

/// Every builtin, by name.
static REGISTRY: LazyLock<HashMap<&'static str, Vec<&'static Builtin>>> = LazyLock::new(|| {
    let mut map: HashMap<&'static str, Vec<&'static Builtin>> = HashMap::new();
    for table in [
        queries::BUILTINS,
        collections::BUILTINS,
        strings::BUILTINS,
        math::BUILTINS,
        logic::BUILTINS,
        orquesta::BUILTINS,
    ] {
        for b in table {
            map.entry(b.name).or_default().push(b);
        }
    }
    map
});

/// The entries named `name`.
pub(crate) fn lookup(name: &str) -> &'static [&'static Builtin] {
    REGISTRY.get(name).map_or(&[], Vec::as_slice)
}

/// Every name weft provides, sorted.
pub(crate) fn names() -> Vec<&'static str> {
    let mut n: Vec<_> = REGISTRY.keys().copied().collect();
    n.sort_unstable();
    n
}

/// The functions and methods of yaql's standard library (as Orquesta
/// creates it) that weft does not provide.
pub(crate) const UNSUPPORTED: &[&str] = &[
    "assert",
    "call",
    "characters",
    "datetime",
    "def",
    "escapeRegex",
    "format",
    "generate",
    "generateMany",
    "localtz",
    "matches",
    "memorize",
    "mergeWith",
    "now",
    "regex",
    "replaceBy",
    "search",
    "searchAll",
    "timespan",
    "unpack",
    "utctz",
];
