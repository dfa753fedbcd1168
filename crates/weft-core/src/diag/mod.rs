//! Diagnostics: what every error of loading and compiling needs to name its
//! place and say what to do.
//!
//! * [`path`]: the text of paths (`tasks.build.next[0].do`), taken apart
//!   into the task and the field an error names, and positions in text;
//! * [`suggest`]: "did you mean" hints within a budget of work;
//! * [`shape`], [`yaml`], [`json`]: the parsers' errors (serde's, libyaml's,
//!   serde_json's) reworded to say what to write, and placed where the
//!   mistake is;
//! * [`excerpt`]: the start of a long text (an expression) for a message.
//!
//! Nothing here knows the definition types or the source map: callers pass
//! what is needed (a path, the text, a function that finds a path's place),
//! so every module of loading and compiling can use these and none of them
//! is needed back.

pub(crate) mod json;
pub(crate) mod path;
pub(crate) mod shape;
pub(crate) mod suggest;
pub(crate) mod yaml;

/// The start of a long text (at most 60 bytes, then `...`), for an error
/// message.
pub(crate) fn excerpt(text: &str) -> std::borrow::Cow<'_, str> {
    const MAX: usize = 60;
    if text.len() <= MAX {
        return std::borrow::Cow::Borrowed(text);
    }
    let mut end = MAX;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    std::borrow::Cow::Owned(format!("{}...", &text[..end]))
}
