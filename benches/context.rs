//! Context benchmarks (placeholder until written).
fn main() {}
