//! The file adapter against a real folder.

mod conformance;
mod files;
