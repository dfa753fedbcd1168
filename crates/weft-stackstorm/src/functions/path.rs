//! `basename` and `dirname`: Python's `os.path` (POSIX) functions.

use serde_json::Value;
use weft_core::functions::{Args, Call, FunctionError};

use super::python_type;

fn path_arg<'v>(args: &'v Args<'_>) -> Result<&'v str, FunctionError> {
    let [path] = args.bind(["path"], 1)?;
    match path {
        Some(Value::String(s)) => Ok(s),
        Some(other) => Err(FunctionError::new(format!(
            "expected str, bytes or os.PathLike object, not {}",
            python_type(other)
        ))),
        None => Err(FunctionError::new("missing required argument 'path'")),
    }
}

/// `os.path.basename(path)`: what follows the last `/` (empty for a path
/// that ends with one).
pub(super) fn basename(args: &Args<'_>, _: &Call<'_>) -> Result<Value, FunctionError> {
    let p = path_arg(args)?;
    Ok(Value::from(&p[p.rfind('/').map_or(0, |i| i + 1)..]))
}

/// `os.path.dirname(path)`: what precedes the last `/`, without the
/// slashes that end it (unless it is only slashes).
pub(super) fn dirname(args: &Args<'_>, _: &Call<'_>) -> Result<Value, FunctionError> {
    let p = path_arg(args)?;
    let head = &p[..p.rfind('/').map_or(0, |i| i + 1)];
    let head = if !head.is_empty() && head.bytes().any(|b| b != b'/') {
        head.trim_end_matches('/')
    } else {
        head
    };
    Ok(Value::from(head))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn call(f: fn(&Args<'_>, &Call<'_>) -> Result<Value, FunctionError>, p: &str) -> Value {
        f(&Args::new().arg(json!(p)), &Call::new("t")).unwrap()
    }

    #[test]
    fn paths_split_as_posixpath_splits_them() {
        for (p, base, dir) in [
            ("/some/path/to/file.txt", "file.txt", "/some/path/to"),
            ("/some/path/to/dir/", "", "/some/path/to/dir"),
            ("file", "file", ""),
            ("/", "", "/"),
            ("//a", "a", "//"),
            ("a//b", "b", "a"),
            ("", "", ""),
        ] {
            assert_eq!(call(basename, p), json!(base), "basename({p})");
            assert_eq!(call(dirname, p), json!(dir), "dirname({p})");
        }
        let err = basename(&Args::new().arg(json!(1)), &Call::new("t")).unwrap_err();
        assert_eq!(
            err.message(),
            "expected str, bytes or os.PathLike object, not int"
        );
    }
}
