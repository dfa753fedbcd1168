//! Typed actions: an async function from a `Deserialize` input to a
//! `Serialize` result, which declares its input fields from the input type.
//!
//! The fields are read from what `#[derive(Deserialize)]` tells a
//! deserializer about a struct (its field names, after `rename`), so a
//! workflow that misspells one is rejected when it is compiled. An input
//! type that is not a plain struct (a map, `serde_json::Value`, a struct
//! with `#[serde(flatten)]`) declares nothing and is checked only when the
//! action runs.

use std::future::Future;
use std::marker::PhantomData;

use futures::future::BoxFuture;
use serde::de::{self, DeserializeOwned, Visitor};
use serde::Serialize;
use weft_core::InputField;

use crate::action::{Action, ActionError, ActionInput, ActionResult};
use crate::attempt::{PlainAttempt, Spawned};

/// An async closure over a typed input, as an [`Action`]; see
/// [`ExecutorBuilder::action_typed`](crate::ExecutorBuilder::action_typed).
pub(crate) struct TypedAction<In, Out, F> {
    f: F,
    fields: Option<Vec<InputField>>,
    _types: PhantomData<fn(In) -> Out>,
}

impl<In, Out, F> TypedAction<In, Out, F>
where
    In: DeserializeOwned,
{
    pub(crate) fn new(f: F) -> Self {
        TypedAction {
            f,
            fields: struct_fields::<In>().map(|names| {
                // Which fields are required cannot be told from the names
                // (a default or an `Option` makes one optional): only
                // unknown keys are caught when compiling; a missing field
                // fails the attempt with its name.
                names.iter().map(|n| InputField::optional(*n)).collect()
            }),
            _types: PhantomData,
        }
    }
}

impl<In, Out, F, Fut> TypedAction<In, Out, F>
where
    In: DeserializeOwned + Send + 'static,
    Out: Serialize + 'static,
    F: Fn(In, ActionInput) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<Out, ActionError>> + Send + 'static,
{
    /// The future of one call: the input parsed, the closure run, its
    /// result serialized.
    fn future(&self, input: ActionInput) -> impl Future<Output = ActionResult> + Send + 'static {
        let parsed: Result<In, ActionError> = input.parse();
        let fut = parsed.map(|typed| (self.f)(typed, input));
        async move {
            let out = fut?.await?;
            serde_json::to_value(&out)
                .map_err(|e| ActionError::new(format!("the action's result is not JSON: {e}")))
        }
    }
}

impl<In, Out, F, Fut> Action for TypedAction<In, Out, F>
where
    In: DeserializeOwned + Send + 'static,
    Out: Serialize + 'static,
    F: Fn(In, ActionInput) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<Out, ActionError>> + Send + 'static,
{
    fn call(&self, input: ActionInput) -> BoxFuture<'static, ActionResult> {
        Box::pin(self.future(input))
    }

    fn spawn_plain(&self, input: ActionInput, attempt: PlainAttempt) -> Spawned {
        attempt.spawn(|| self.future(input))
    }

    fn input_fields(&self) -> Option<Vec<InputField>> {
        self.fields.clone()
    }
}

/// The field names `T` asks a deserializer for when it is a struct, or
/// `None` for anything else.
fn struct_fields<T: DeserializeOwned>() -> Option<&'static [&'static str]> {
    let mut fields = None;
    // The deserializer stops `T` as soon as it has its field names: the
    // error it returns is expected.
    let _ = T::deserialize(Introspect(&mut fields));
    fields
}

/// A deserializer that only records the field names of a struct.
struct Introspect<'a>(&'a mut Option<&'static [&'static str]>);

impl<'de> de::Deserializer<'de> for Introspect<'_> {
    type Error = de::value::Error;

    fn deserialize_any<V: Visitor<'de>>(self, _: V) -> Result<V::Value, Self::Error> {
        Err(de::Error::custom("not a struct"))
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        fields: &'static [&'static str],
        _visitor: V,
    ) -> Result<V::Value, Self::Error> {
        *self.0 = Some(fields);
        Err(de::Error::custom("fields read"))
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf option unit unit_struct newtype_struct seq tuple
        tuple_struct map enum identifier ignored_any
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[allow(dead_code)]
    #[derive(Deserialize)]
    struct Plain {
        name: String,
        #[serde(rename = "count")]
        n: Option<u32>,
    }

    #[allow(dead_code)]
    #[derive(Deserialize)]
    struct Flat {
        a: u32,
        #[serde(flatten)]
        rest: serde_json::Map<String, serde_json::Value>,
    }

    #[test]
    fn struct_fields_reads_derived_names() {
        assert_eq!(struct_fields::<Plain>(), Some(&["name", "count"][..]));
        assert_eq!(struct_fields::<Flat>(), None);
        assert_eq!(struct_fields::<serde_json::Value>(), None);
        assert_eq!(
            struct_fields::<std::collections::HashMap<String, u32>>(),
            None
        );
    }
}
