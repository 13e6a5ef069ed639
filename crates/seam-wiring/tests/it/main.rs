//! The composition: what the settings build.

mod cache;
