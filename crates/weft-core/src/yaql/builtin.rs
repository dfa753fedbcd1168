//! What a builtin of the standard library is, and what it is called with:
//! its name, how it may be called ([`Form`]), its parameters, and the Rust
//! function that runs it over the evaluated [`Args`]. The library's
//! functions (`stdlib/`) are written against this; the compiler binds calls
//! to a [`Builtin`] and the evaluator calls it.

use super::state::State;
use super::value::{DynIter, Iter, Lambda, Val, ValIter};
use super::{YErr, R};

/// What a builtin runs: the state, and its evaluated arguments.
pub(crate) type Impl = for<'a> fn(&'a State<'a>, Args<'a>) -> R<Val<'a>>;

/// How a builtin may be called.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Form {
    /// `f(x)`.
    Function,
    /// `x.f()`.
    Method,
    /// Both: `f(x)` is `x.f()` (yaql's extension methods).
    Both,
}

/// One parameter (after the receiver, for a method).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Param {
    /// The name a `name => value` argument gives; `|` separates the names
    /// of overloads that call it differently.
    pub(crate) name: &'static str,
    /// A lambda: evaluated by the function, per item, with `$` bound.
    pub(crate) lazy: bool,
}

pub(crate) const fn p(name: &'static str) -> Param {
    Param { name, lazy: false }
}

pub(crate) const fn lazy(name: &'static str) -> Param {
    Param { name, lazy: true }
}

/// A function or method of the library.
pub(crate) struct Builtin {
    pub(crate) name: &'static str,
    pub(crate) form: Form,
    pub(crate) params: &'static [Param],
    /// How many of `params` must be given.
    pub(crate) required: usize,
    /// Any number of further arguments (Python's `*args`).
    pub(crate) rest: Option<Param>,
    /// `key => value` arguments are pairs of values (yaql's functions
    /// without keyword arguments: `dict`, `switch`, `set`), lazy or not.
    pub(crate) pairs: Option<bool>,
    pub(crate) imp: Impl,
}

impl std::fmt::Debug for Builtin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.name)
    }
}

impl Builtin {
    pub(crate) const fn new(
        name: &'static str,
        form: Form,
        params: &'static [Param],
        required: usize,
        imp: Impl,
    ) -> Builtin {
        Builtin {
            name,
            form,
            params,
            required,
            rest: None,
            pairs: None,
            imp,
        }
    }

    pub(crate) const fn rest(mut self, param: Param) -> Builtin {
        self.rest = Some(param);
        self
    }

    pub(crate) const fn pairs(mut self, lazy: bool) -> Builtin {
        self.pairs = Some(lazy);
        self
    }

    pub(crate) fn method(&self) -> bool {
        matches!(self.form, Form::Method | Form::Both)
    }

    pub(crate) fn function(&self) -> bool {
        matches!(self.form, Form::Function | Form::Both)
    }

    /// How many positional arguments it takes, at most (`None`: any).
    pub(crate) fn max_args(&self) -> Option<usize> {
        match (self.rest, self.pairs) {
            (None, None) => Some(self.params.len()),
            _ => None,
        }
    }
}

/// One evaluated argument.
#[derive(Clone)]
pub(crate) enum ArgVal<'a> {
    Missing,
    Val(Val<'a>),
    Lambda(Lambda<'a>),
    Pair(Val<'a>, Val<'a>),
    LazyPair(Lambda<'a>, Lambda<'a>),
}

/// The arguments of one call: the receiver (a method's, or the first
/// argument of an extension method called as a function), then one slot
/// per parameter (`Missing` when not given), then the rest.
pub(crate) struct Args<'a> {
    pub(crate) recv: Option<Val<'a>>,
    pub(crate) args: Vec<ArgVal<'a>>,
    pub(crate) name: &'static str,
    /// Written as a method (`x.f()`), rather than as `f(x)`.
    pub(crate) method: bool,
}

impl<'a> Args<'a> {
    /// The receiver.
    pub(crate) fn recv(&mut self) -> R<Val<'a>> {
        self.recv
            .take()
            .ok_or_else(|| YErr::eval(format!("`{}` needs a receiver", self.name)))
    }

    /// The value of slot `i`, if given.
    pub(crate) fn opt(&mut self, i: usize) -> Option<Val<'a>> {
        match self
            .args
            .get_mut(i)
            .map(|a| std::mem::replace(a, ArgVal::Missing))
        {
            Some(ArgVal::Val(v)) => Some(v),
            _ => None,
        }
    }

    /// The value of slot `i`, which must be given.
    pub(crate) fn val(&mut self, i: usize) -> R<Val<'a>> {
        self.opt(i)
            .ok_or_else(|| YErr::eval(format!("`{}` is missing argument {}", self.name, i + 1)))
    }

    /// The lambda of slot `i`, if given.
    pub(crate) fn lambda(&mut self, i: usize) -> Option<Lambda<'a>> {
        match self.args.get(i) {
            Some(ArgVal::Lambda(l)) => Some(l.clone()),
            _ => None,
        }
    }

    /// Every value from slot `from` on (the rest arguments).
    pub(crate) fn rest(&mut self, from: usize) -> Vec<Val<'a>> {
        let tail = if from < self.args.len() {
            self.args.split_off(from)
        } else {
            Vec::new()
        };
        tail.into_iter()
            .filter_map(|a| match a {
                ArgVal::Val(v) => Some(v),
                _ => None,
            })
            .collect()
    }

    /// How many slots hold something.
    pub(crate) fn given(&self) -> usize {
        self.args
            .iter()
            .filter(|a| !matches!(a, ArgVal::Missing))
            .count()
    }
}

/// A lazy iterator over the items of `src`, transformed by `f`.
pub(crate) fn adapt<'a>(
    st: &'a State<'a>,
    src: &Val<'a>,
    f: impl FnOnce(ValIter<'a>) -> DynIter<'a>,
) -> R<Val<'a>> {
    let depth = src.depth();
    let it = st.iter(src)?;
    Iter::wrap(f(it), depth)
}
