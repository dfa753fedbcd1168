//! One benchmark shape, run a few times on a current_thread runtime by weft
//! or by the `floor` executor of `benches/peers.rs`: a steady target for
//! `valgrind --tool=callgrind`, whose instruction counts repeat exactly from
//! run to run where wall-clock times on a shared machine do not.
//!
//! ```sh
//! cargo build --release --example profile_shape
//! valgrind --tool=callgrind \
//!     --toggle-collect='tokio::runtime::runtime::Runtime::block_on*' \
//!     target/release/examples/profile_shape weft chain 10000 2
//! ```
//!
//! `--toggle-collect` counts only what runs inside `block_on`: the runs,
//! not building and compiling the plan. Arguments: engine (`weft`,
//! `weft_metrics` — weft with a Prometheus recorder installed, its upkeep
//! run after each run —, `weft_output` — weft, the workflow with an
//! `output`, so that the run merges its terminal tasks' variables — or
//! `floor`), shape (`chain`, `independent`, `fanout`, `diamond`, `tree`,
//! `wavefront`), size (tasks; levels for `tree`, side for `wavefront`;
//! ignored for `diamond`), runs. docs/performance.md quotes its counts.

#[path = "../common/mod.rs"]
mod common;

use common::{noop_executor, runtime_ct, weft_plan, weft_run, Args, Floor, Shape};
use serde_json::Value;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = Args::from_env();
    let engine = args.text(0, "weft");
    let shape_name = args.text(1, "chain");
    let size: u32 = args.parse(2, 10_000)?;
    let runs: u32 = args.parse(3, 2)?;
    let shape = Shape::by_name(shape_name, size)?;
    let rt = runtime_ct();
    match engine {
        "weft" | "weft_metrics" | "weft_output" => {
            let prometheus = (engine == "weft_metrics").then(|| {
                let recorder = metrics_exporter_prometheus::PrometheusBuilder::new()
                    .set_buckets_for_metric(
                        metrics_exporter_prometheus::Matcher::Suffix("_seconds".to_owned()),
                        &[0.000_05, 0.000_1, 0.000_5, 0.001, 0.01, 0.1, 1.0, 10.0],
                    )
                    .expect("buckets")
                    .build_recorder();
                let handle = recorder.handle();
                metrics::set_global_recorder(recorder).expect("the only recorder");
                handle
            });
            let executor = noop_executor();
            let plan = if engine == "weft_output" {
                common::weft_builder(&shape)
                    .output("done", true)
                    .compile(&executor)?
            } else {
                weft_plan(&shape, &executor)
            };
            for _ in 0..runs {
                rt.block_on(weft_run(&executor, &plan, Value::Null));
                if let Some(p) = &prometheus {
                    p.run_upkeep();
                }
            }
        }
        "floor" => {
            let floor = Floor::new(&shape);
            for _ in 0..runs {
                rt.block_on(floor.run());
            }
        }
        other => {
            return Err(format!(
                "unknown engine `{other}`: weft, weft_metrics, weft_output or floor"
            )
            .into())
        }
    }
    println!("{engine} {shape_name}: {} tasks, {runs} runs", shape.len());
    Ok(())
}
