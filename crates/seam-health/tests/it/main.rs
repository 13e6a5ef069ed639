//! Integration tests of seam-health: the registry and its routes.

mod breaker;
mod registry;
mod routes;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use seam_core::{Health, HealthCheck, ManualClock};

/// A check whose answer a test sets, optionally taking (manual-clock) time or hanging.
pub(crate) struct Scripted {
    name: &'static str,
    state: Mutex<Script>,
    clock: ManualClock,
}

#[derive(Clone)]
struct Script {
    health: Health,
    takes: Duration,
    hangs: bool,
    calls: u32,
}

impl Scripted {
    pub(crate) fn new(name: &'static str, clock: &ManualClock) -> Arc<Self> {
        Arc::new(Self {
            name,
            state: Mutex::new(Script {
                health: Health::up(),
                takes: Duration::ZERO,
                hangs: false,
                calls: 0,
            }),
            clock: clock.clone(),
        })
    }

    pub(crate) fn answer(&self, health: Health) {
        self.state.lock().unwrap().health = health;
    }

    pub(crate) fn take(&self, duration: Duration) {
        self.state.lock().unwrap().takes = duration;
    }

    pub(crate) fn hang(&self) {
        self.state.lock().unwrap().hangs = true;
    }

    pub(crate) fn calls(&self) -> u32 {
        self.state.lock().unwrap().calls
    }
}

#[async_trait]
impl HealthCheck for Scripted {
    fn name(&self) -> &str {
        self.name
    }

    async fn check(&self) -> Health {
        let script = {
            let mut state = self.state.lock().unwrap();
            state.calls += 1;
            state.clone()
        };
        self.clock.advance(script.takes);
        if script.hangs {
            std::future::pending::<()>().await;
        }
        script.health
    }
}
