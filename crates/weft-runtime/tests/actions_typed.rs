//! Typed actions: `ActionInput::parse`, `action_typed`, `?` on any error
//! type, and input fields checked when compiling.

use serde::{Deserialize, Serialize};
use serde_json::json;
use weft_core::{ActionCatalog, ErrorKind, InputField, Workflow};
use weft_runtime::{ActionError, ActionInput, Executor, RunStatus};

#[derive(Debug, Deserialize)]
struct Order {
    sku: String,
    #[serde(default)]
    lines: Vec<Line>,
}

#[derive(Debug, Deserialize)]
struct Line {
    qty: u32,
}

#[derive(Serialize)]
struct Total {
    sku: String,
    qty: u32,
}

/// A user's own error type, with a cause.
#[derive(Debug)]
struct OutOfStock {
    sku: String,
    cause: std::num::ParseIntError,
}

impl std::fmt::Display for OutOfStock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "out of stock: {}", self.sku)
    }
}

impl std::error::Error for OutOfStock {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.cause)
    }
}

fn check_stock(sku: &str) -> Result<(), OutOfStock> {
    match sku.parse::<u32>() {
        Ok(_) => Ok(()),
        Err(cause) => Err(OutOfStock {
            sku: sku.to_owned(),
            cause,
        }),
    }
}

fn executor() -> Executor {
    Executor::builder()
        .action_typed("shop.total", |o: Order, _: ActionInput| async move {
            check_stock(&o.sku)?;
            Ok(Total {
                qty: o.lines.iter().map(|l| l.qty).sum(),
                sku: o.sku,
            })
        })
        .action("shop.parse", |input: ActionInput| async move {
            let order: Order = input.parse()?;
            Ok(json!(order.lines.len()))
        })
        .build()
}

async fn run_one(
    ex: &Executor,
    action: &str,
    input: serde_json::Value,
) -> weft_runtime::RunOutcome {
    let text = format!(
        "tasks:\n  t:\n    action: {action}\n    input: {}\n",
        serde_json::to_string(&input).unwrap()
    );
    let plan = Workflow::from_yaml_str(&text).unwrap().compile(ex).unwrap();
    ex.start(&plan, json!({})).unwrap().await.unwrap()
}

#[tokio::test]
async fn a_typed_action_reads_its_input_and_serializes_its_result() {
    let ex = executor();
    let out = run_one(
        &ex,
        "shop.total",
        json!({"sku": "42", "lines": [{"qty": 2}, {"qty": 3}]}),
    )
    .await;
    assert_eq!(out.status, RunStatus::Succeeded, "{:?}", out.errors);
    assert_eq!(
        *out.tasks[0].result.clone().unwrap(),
        json!({"sku": "42", "qty": 5})
    );
}

#[tokio::test]
async fn parse_errors_name_the_field_and_its_path() {
    let ex = executor();
    let out = run_one(
        &ex,
        "shop.parse",
        json!({"sku": "1", "lines": [{"qty": 1}, {"qty": "two"}]}),
    )
    .await;
    assert_eq!(out.status, RunStatus::Failed);
    let msg = out.tasks[0].error.as_deref().unwrap();
    assert!(msg.contains("`lines[1].qty`"), "{msg}");
    assert!(msg.contains("invalid type"), "{msg}");

    let out = run_one(&ex, "shop.parse", json!({"lines": []})).await;
    let msg = out.tasks[0].error.as_deref().unwrap();
    assert!(msg.contains("missing field `sku`"), "{msg}");

    // The same through a typed registration.
    let out = run_one(&ex, "shop.total", json!({"sku": 7})).await;
    let msg = out.tasks[0].error.as_deref().unwrap();
    assert!(
        msg.contains("`sku`") && msg.contains("expected a string"),
        "{msg}"
    );
}

#[tokio::test]
async fn question_mark_keeps_a_user_error_and_its_cause() {
    let ex = executor();
    let out = run_one(&ex, "shop.total", json!({"sku": "abc"})).await;
    assert_eq!(out.status, RunStatus::Failed);
    assert_eq!(
        out.tasks[0].error.as_deref(),
        Some("out of stock: abc: invalid digit found in string")
    );
}

#[test]
fn action_error_converts_from_any_error_and_keeps_it_as_source() {
    fn parse(s: &str) -> Result<u32, ActionError> {
        Ok(s.parse::<u32>()?)
    }
    let e = parse("x").unwrap_err();
    assert_eq!(e.message(), "invalid digit found in string");
    assert!(e
        .source()
        .is_some_and(|s| s.is::<std::num::ParseIntError>()));
    assert!(ActionError::msg("plain").source().is_none());

    // And back into a boxed standard error.
    fn boxed() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
        Err(ActionError::with_result("declined", json!({"code": 5})))?;
        Ok(())
    }
    assert_eq!(boxed().unwrap_err().to_string(), "declined");
}

#[test]
fn typed_actions_declare_their_fields() {
    let ex = executor();
    let fields = ex.input_fields("shop.total").unwrap();
    assert_eq!(
        fields,
        vec![InputField::optional("sku"), InputField::optional("lines")]
    );
    // A closure over `ActionInput` says nothing about its input.
    assert_eq!(ex.input_fields("shop.parse"), None);
    assert!(ex
        .input_fields("core.echo")
        .unwrap()
        .contains(&InputField::required("message")));
}

#[test]
fn compiling_rejects_a_key_the_typed_action_does_not_take() {
    let ex = executor();
    let wf = Workflow::from_yaml_str(
        "tasks:\n  t:\n    action: shop.total\n    input:\n      sku: '1'\n      line: []\n",
    )
    .unwrap();
    let err = wf.compile(&ex).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Validation);
    assert_eq!(err.task(), Some("t"));
    assert_eq!(err.field(), Some("input.line"));
    assert_eq!((err.line(), err.column()), (Some(6), Some(7)));
    assert!(
        err.message()
            .contains("`shop.total` has no input `line`: did you mean `lines`?"),
        "{err}"
    );
    // Inline parameters are checked too, at the key.
    let wf = Workflow::from_yaml_str("tasks:\n  t:\n    action: shop.total sku=1 qty=2\n").unwrap();
    let err = wf.compile(&ex).unwrap_err();
    assert!(err.message().contains("no input `qty`"), "{err}");
    assert_eq!((err.line(), err.column()), (Some(3), Some(30)));
}
