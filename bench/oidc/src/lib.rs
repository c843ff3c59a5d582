//! Benchmarks only: see `benches/id_token.rs`.
