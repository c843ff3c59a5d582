//! Placeholder for the grantline Python binding (pyo3 + maturin); filled by its own issue.
//!
//! Until that issue lands, this crate only re-exports the core so the workspace layout is final.

pub use grantline;
