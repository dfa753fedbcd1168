//! Times evaluations that burn their whole fuel budget: the worst an
//! expression can hold a thread at a given `ExpressionLimits::fuel`, which
//! is what the default is chosen from (docs/limits.md).
//!
//! `cargo run --release -p weft-core --example fuel_budget -- FUEL [RUNS]`
//! prints, for each burner, the median and the slowest of RUNS evaluations
//! (default 15) in milliseconds, slowest burner first.
use std::time::{Duration, Instant};

use serde_json::json;
use weft_core::{ExpressionLimits, Template, WorkflowContext};

/// Templates that never finish on their own at any sensible fuel: the
/// kinds of work that cost the most time per fuel (`benches/expr_limits.rs`)
/// and the hostile expressions of `tests/expr_budget.rs`.
const BURNERS: &[(&str, &str)] = &[
    ("empty nested loops", "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}"),
    ("arithmetic in loops", "{% for i in range(100000) %}{% for j in range(100000) %}{% if i + j > 3 and j * 2 < 5 or i %}{% endif %}{% endfor %}{% endfor %}"),
    ("replace('', 'x') of 20 KB", "{% for i in range(100000) %}{% set x = ('ab' * 10000) | replace('', 'x') %}{% endfor %}"),
    ("upper of non-ASCII text", "{% for i in range(100000) %}{% set x = ('é' * 10000) | upper %}{% endfor %}"),
    ("escape", "{% for i in range(100000) %}{% set x = ('<>&\"' * 10000) | escape %}{% endfor %}"),
    ("join of 100 numbers", "{% for i in range(100000) %}{% set x = range(100) | join(',') %}{% endfor %}"),
    ("sort of 300 strings", "{% for i in range(100000) %}{% set x = range(300) | map('string') | sort %}{% endfor %}"),
    ("tojson of 10,000 numbers", "{% for i in range(100000) %}{% set x = (range(100) | list * 100) | tojson %}{% endfor %}"),
    ("zip of two ranges", "{% for i in range(100000) %}{% set x = zip(range(100), range(100)) %}{% endfor %}"),
    ("json() of 2 KB", "{% for i in range(100000) %}{% set x = json('[' ~ ('1,' * 1000) ~ '1]') %}{% endfor %}"),
    ("map string | join", "{{ ((range(100000) | list) * 10) | map('string') | join(',') | length }}"),
    ("tojson of a list", "{{ ((range(100000) | list) + (range(100000) | list)) | tojson | length }}"),
    ("zip of eight ranges", "{{ zip(range(100000), range(100000), range(100000), range(100000), range(100000), range(100000), range(100000), range(100000)) | length }}"),
    ("list | sort | reverse", "{{ (range(100000) | list) | sort | reverse | list | length }}"),
    ("'x' * n", "{{ 'x' * 100000000 }}"),
    ("replace on a long string", "{{ ('x' * 10000000) | replace('x', 'yy') | length }}"),
    ("indent", "{{ ('x\\n' * 1000000) | indent(1000) }}"),
    ("format", "{{ ('%s' * 100000) | format(*range(100000)) }}"),
    ("pprint", "{{ ((range(100000) | list) + (range(100000) | list)) | pprint | length }}"),
    ("unique", "{{ range(100000) | list | unique | list | length }}"),
    ("strings built in a loop", "{% for i in range(100000) %}{% set s = 'x' * 100000 %}{% endfor %}"),
    ("printing in a loop", "{% for i in range(100000) %}{{ 'x' * 10 }}{% endfor %}"),
    ("join in a loop", "{% for i in range(100000) %}{{ range(1000) | join(',') }}{% endfor %}"),
    ("zip in a loop", "{% for i in range(100000) %}{{ zip([1, 2], [3, 4]) }}{% endfor %}"),
];

/// `-- --check FUEL TEMPLATE`: evaluates one template at that fuel and
/// says whether it fit.
fn check(mut args: impl Iterator<Item = String>) {
    let fuel: u64 = args.next().and_then(|v| v.parse().ok()).unwrap_or(0);
    let source = args.next().unwrap_or_default();
    let mut limits = ExpressionLimits::default();
    limits.fuel = fuel;
    let _ = limits.install();
    let ctx = WorkflowContext::new(json!({}), []);
    let t0 = Instant::now();
    match Template::compile(&source).and_then(|t| t.eval(&ctx)) {
        Ok(v) => {
            let text = v.to_string();
            let shown: String = text.chars().take(60).collect();
            println!(
                "fits in {fuel} fuel ({:.2} ms): {shown}",
                t0.elapsed().as_secs_f64() * 1e3
            );
        }
        Err(e) => println!("does not fit in {fuel} fuel: {e}"),
    }
}

fn main() {
    if std::env::args().nth(1).as_deref() == Some("--check") {
        return check(std::env::args().skip(2));
    }
    let mut args = std::env::args().skip(1);
    let fuel: u64 = args
        .next()
        .and_then(|v| v.parse().ok())
        .unwrap_or(ExpressionLimits::DEFAULT_FUEL);
    let runs: usize = args.next().and_then(|v| v.parse().ok()).unwrap_or(15);
    let mut limits = ExpressionLimits::default();
    limits.fuel = fuel;
    if limits.install().is_err() {
        eprintln!("limits were already in force");
        std::process::exit(1);
    }
    let ctx = WorkflowContext::new(json!({}), []);
    let mut rows: Vec<(&str, Duration, Duration, bool)> = Vec::new();
    for (name, source) in BURNERS {
        let t = match Template::compile(source) {
            Ok(t) => t,
            Err(e) => {
                eprintln!("{name}: does not compile: {e}");
                continue;
            }
        };
        let mut times = Vec::with_capacity(runs);
        let mut out_of_fuel = true;
        for _ in 0..runs {
            let t0 = Instant::now();
            let r = t.render_string(&ctx);
            times.push(t0.elapsed());
            out_of_fuel &= r.is_err_and(|e| e.message().contains("ran out of fuel"));
        }
        times.sort();
        rows.push((name, times[0], times[times.len() / 2], out_of_fuel));
    }
    rows.sort_by_key(|r| std::cmp::Reverse(r.1));
    println!("fuel {fuel}, {runs} runs each: fastest, median (ms)");
    for (name, fastest, median, out_of_fuel) in rows {
        println!(
            "{:>8.2} {:>8.2}  {name}{}",
            fastest.as_secs_f64() * 1e3,
            median.as_secs_f64() * 1e3,
            if out_of_fuel {
                ""
            } else {
                "  (did not run out of fuel)"
            }
        );
    }
}
