//! The composition: what the settings build.

mod cache;
mod health;
