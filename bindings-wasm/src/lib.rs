//! Placeholder for the grantline JavaScript and edge-runtime binding (wasm-bindgen); filled by its own issue.
//!
//! Until that issue lands, this crate only re-exports the core so the workspace layout is final.

pub use grantline;
