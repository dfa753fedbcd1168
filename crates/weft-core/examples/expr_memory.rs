//! Measures what one compiled template costs in memory: resident set growth
//! per template, after compiling and after one evaluation (Linux only).
//!
//! `cargo run --release -p weft-core --example expr_memory -- 20000 K` with
//! K the shape (0 to 3); each shape in its own process, as freed memory is
//! reused.
use serde_json::json;
use weft_core::{Template, WorkflowContext};

/// A shape: its name, and the template for number `i`.
type Shape = (&'static str, fn(usize) -> String);

fn rss_kb() -> u64 {
    let s = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    s.lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|v| v.parse().ok())
        .unwrap_or(20_000);
    let shapes: [Shape; 4] = [
        ("path (fast path)", |i| {
            format!("{{{{ task.t{i}.items[3].name }}}}")
        }),
        ("expression", |i| format!("{{{{ parameters.n{i} + 1 }}}}")),
        ("text with expressions", |i| {
            format!("id-{{{{ item.k{i} }}}}-{{{{ index + 1 }}}}")
        }),
        ("statement template", |i| {
            format!("{{% if parameters.f{i} %}}yes{{% else %}}no{{% endif %}}")
        }),
    ];
    let only: Option<usize> = std::env::args().nth(2).and_then(|v| v.parse().ok());
    for (k, (name, make)) in shapes.into_iter().enumerate() {
        if only.is_some_and(|o| o != k) {
            continue;
        }
        let sources: Vec<String> = (0..n).map(make).collect();
        let source_bytes: usize = sources.iter().map(String::len).sum();
        let before = rss_kb();
        let templates: Vec<Template> = sources
            .iter()
            .map(|s| Template::compile(s))
            .collect::<Result<_, _>>()
            .unwrap_or_default();
        let compiled = rss_kb();
        // Evaluate each once (errors are expected: the names are missing).
        let ctx = WorkflowContext::new(json!({}), []);
        for t in &templates {
            let _ = t.render_string(&ctx);
        }
        let evaluated = rss_kb();
        let per = |kb: u64| (kb.saturating_sub(before) as f64 * 1024.0) / n as f64;
        println!(
            "{name:<24} {n} templates: {:>8.0} bytes each compiled, {:>8.0} after one evaluation (source {:.0} bytes each)",
            per(compiled),
            per(evaluated),
            source_bytes as f64 / n as f64
        );
        drop(templates);
    }
}
