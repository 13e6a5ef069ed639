//! Test doubles shared by the modules.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use seam_core::{Classify, ErrorKind};

/// An error of a chosen kind.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("test error ({0})")]
pub(crate) struct TestError(pub ErrorKind);

impl Classify for TestError {
    fn kind(&self) -> ErrorKind {
        self.0
    }
}

/// Counts calls, shared between a test and the closures it hands to policies.
#[derive(Debug, Clone, Default)]
pub(crate) struct Counter(Arc<AtomicU32>);

impl Counter {
    pub(crate) fn bump(&self) -> u32 {
        self.0.fetch_add(1, Ordering::SeqCst) + 1
    }

    pub(crate) fn get(&self) -> u32 {
        self.0.load(Ordering::SeqCst)
    }
}
