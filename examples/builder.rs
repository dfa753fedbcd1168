//! Builds a workflow in Rust code with `WorkflowBuilder` (a graph whose shape comes from data) and runs it.
//!
//! `cargo run --example builder`
//!
//! One `check-<region>` task per region runs after `plan`; `rollout` waits
//! for all of them (`after` adds the `join: all`) and updates every host of
//! the input with `with` items, two at a time; `report` publishes a summary
//! that becomes the workflow's output. The same workflow could be written
//! in YAML: the builder prints it at the end.

use serde_json::{json, Value};
use weft::prelude::*;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let executor = Executor::builder()
        .action("fleet.check", |input: ActionInput| async move {
            let region = input.require_str("region")?.to_owned();
            Ok(json!({"region": region, "healthy": true}))
        })
        .action("fleet.update", |input: ActionInput| async move {
            let host = input.require_str("host")?.to_owned();
            Ok(json!(format!("{host}: updated")))
        })
        .build();

    let regions = ["eu-west", "us-east", "ap-south"];
    let checks: Vec<String> = regions.iter().map(|r| format!("check-{r}")).collect();

    let mut builder = WorkflowBuilder::new("rollout")
        .description("check every region, then update every host")
        .input("hosts")
        .input_default("parallel", 2)
        .task("plan", |t| t.action("core.noop"));
    for (region, name) in regions.iter().zip(&checks) {
        builder = builder.task(name, |t| {
            t.action("fleet.check")
                .arg("region", *region)
                .after(["plan"])
        });
    }
    let workflow = builder
        .task("rollout", |t| {
            t.action("fleet.update")
                .with_items("{{ parameters.hosts }}")
                .concurrency("{{ parameters.parallel }}")
                .arg("host", "{{ item }}")
                .after(&checks)
                .next(|n| {
                    n.when("{{ succeeded() }}")
                        .publish("updated", "{{ result() }}")
                        .to(["report"])
                })
        })
        .task("report", |t| {
            t.action("core.echo")
                .arg("message", "{{ workflow.updated | length }} hosts updated")
        })
        .output("updated", "{{ workflow.updated }}")
        .output("summary", "{{ task.report.message }}")
        .build()?;

    // Compiling checks the workflow exactly as it checks YAML text.
    let plan = workflow.compile(&executor)?;
    let outcome = executor
        .start(&plan, json!({"hosts": ["web-1", "web-2", "db-1"]}))?
        .await?;

    println!("status: {}", outcome.status);
    for task in &outcome.tasks {
        let result = task.result.as_deref().unwrap_or(&Value::Null);
        println!(
            "  {:<16} {:<10} {}",
            task.name,
            task.status.as_str(),
            result
        );
    }
    println!("output: {}", serde_json::to_string_pretty(&outcome.output)?);
    println!(
        "\nthe same workflow as YAML:\n{}",
        workflow.to_yaml_string()?
    );
    Ok(())
}
