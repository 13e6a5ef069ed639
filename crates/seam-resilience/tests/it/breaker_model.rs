//! Property test: the breaker against a reference model that keeps every outcome in a
//! `Vec` and recomputes each decision from scratch.

use std::time::{Duration, SystemTime};

use proptest::prelude::*;
use seam_core::ManualClock;
use seam_resilience::{CircuitBreaker, CircuitBreakerConfig, CircuitState, Outcome, Permit};

const WINDOW_SECS: u64 = 10;
const COUNT_THRESHOLD: usize = 4;
const RATE_THRESHOLD: f64 = 50.0;
const SLOW_RATE_THRESHOLD: f64 = 60.0;
const MINIMUM_CALLS: usize = 6;
const SLOW: Duration = Duration::from_secs(1);
const OPEN: Duration = Duration::from_secs(5);
const TRIALS: u32 = 2;

fn config() -> CircuitBreakerConfig {
    CircuitBreakerConfig {
        enabled: true,
        window: Duration::from_secs(WINDOW_SECS),
        failure_count_threshold: Some(COUNT_THRESHOLD as u32),
        failure_rate_threshold: RATE_THRESHOLD,
        minimum_calls: MINIMUM_CALLS as u32,
        slow_call_duration: SLOW,
        slow_call_rate_threshold: SLOW_RATE_THRESHOLD,
        open_duration: OPEN,
        half_open_max_calls: TRIALS,
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Kind {
    Success,
    Failure,
    /// An error that is not the upstream's fault (counted as a success).
    NotCounting,
}

impl Kind {
    fn outcome(self) -> Outcome {
        match self {
            Kind::Success | Kind::NotCounting => Outcome::Success,
            Kind::Failure => Outcome::Failure,
        }
    }
}

#[derive(Debug, Clone)]
enum Op {
    /// Acquire, take `millis`, record.
    Call(Kind, u64),
    Advance(u64),
    /// Acquire and keep the permit.
    Hold,
    /// Record a held permit with an explicit duration.
    Release(usize, Kind, u64),
    /// Drop a held permit unrecorded.
    Drop(usize),
    ForceOpen,
    ForceClosed,
    Reset,
}

fn kind() -> impl Strategy<Value = Kind> {
    prop_oneof![
        3 => Just(Kind::Success),
        3 => Just(Kind::Failure),
        1 => Just(Kind::NotCounting),
    ]
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        12 => (kind(), prop_oneof![3 => 0..900u64, 1 => 900..2500u64]).prop_map(|(k, ms)| Op::Call(k, ms)),
        5 => prop_oneof![0..1500u64, 1500..12_000u64].prop_map(Op::Advance),
        2 => Just(Op::Hold),
        2 => (any::<usize>(), kind(), 0..2000u64).prop_map(|(i, k, ms)| Op::Release(i, k, ms)),
        1 => any::<usize>().prop_map(Op::Drop),
        1 => prop_oneof![Just(Op::ForceOpen), Just(Op::ForceClosed), Just(Op::Reset)],
    ]
}

#[derive(Debug, Clone, Copy)]
struct ModelPermit {
    generation: u64,
    trial: bool,
}

#[derive(Debug)]
struct Model {
    state: CircuitState,
    generation: u64,
    now: Duration,
    /// (second, failed, slow) of every call counted while closed since the window was reset.
    records: Vec<(u64, bool, bool)>,
    opened_at: Duration,
    in_flight: u32,
    succeeded: u32,
}

enum Decision {
    Admit(ModelPermit),
    Reject(CircuitState, Option<Duration>),
}

impl Model {
    fn new() -> Self {
        Self {
            state: CircuitState::Closed,
            generation: 0,
            now: Duration::ZERO,
            records: Vec::new(),
            opened_at: Duration::ZERO,
            in_flight: 0,
            succeeded: 0,
        }
    }

    fn transition(&mut self, to: CircuitState) {
        self.state = to;
        self.generation += 1;
        self.in_flight = 0;
        self.succeeded = 0;
        match to {
            CircuitState::Open => self.opened_at = self.now,
            CircuitState::Closed => self.records.clear(),
            _ => {}
        }
    }

    fn half_open_if_due(&mut self) {
        if self.state == CircuitState::Open && self.now >= self.opened_at + OPEN {
            self.transition(CircuitState::HalfOpen);
        }
    }

    /// (calls, failures, slow) in the window ending at the current second.
    fn window(&self) -> (usize, usize, usize) {
        let current = self.now.as_secs();
        let live: Vec<_> = self
            .records
            .iter()
            .filter(|(second, _, _)| current - second < WINDOW_SECS)
            .collect();
        (
            live.len(),
            live.iter().filter(|r| r.1).count(),
            live.iter().filter(|r| r.2).count(),
        )
    }

    fn acquire(&mut self) -> Decision {
        self.half_open_if_due();
        let permit = |trial| ModelPermit {
            generation: self.generation,
            trial,
        };
        match self.state {
            CircuitState::Closed | CircuitState::ForcedClosed => Decision::Admit(permit(false)),
            CircuitState::HalfOpen if self.in_flight + self.succeeded < TRIALS => {
                let admitted = permit(true);
                self.in_flight += 1;
                Decision::Admit(admitted)
            }
            CircuitState::HalfOpen => Decision::Reject(CircuitState::HalfOpen, None),
            CircuitState::Open => {
                Decision::Reject(CircuitState::Open, Some(self.opened_at + OPEN - self.now))
            }
            CircuitState::ForcedOpen => Decision::Reject(CircuitState::ForcedOpen, None),
        }
    }

    fn record(&mut self, permit: ModelPermit, outcome: Option<(Kind, Duration)>) {
        if permit.generation != self.generation {
            return;
        }
        match (self.state, outcome) {
            (CircuitState::Closed, Some((kind, duration))) => {
                let failed = kind == Kind::Failure;
                self.records
                    .push((self.now.as_secs(), failed, duration > SLOW));
                let (calls, failures, slow) = self.window();
                let rate = |n: usize| n as f64 * 100.0 / calls as f64;
                let trip = failures >= COUNT_THRESHOLD
                    || (calls >= MINIMUM_CALLS
                        && ((failures > 0 && rate(failures) >= RATE_THRESHOLD)
                            || (slow > 0 && rate(slow) >= SLOW_RATE_THRESHOLD)));
                if trip {
                    self.transition(CircuitState::Open);
                }
            }
            (CircuitState::HalfOpen, outcome) if permit.trial => {
                self.in_flight -= 1;
                match outcome {
                    None => {}
                    Some((Kind::Failure, _)) => self.transition(CircuitState::Open),
                    Some((_, duration)) if duration > SLOW => self.transition(CircuitState::Open),
                    Some(_) => {
                        self.succeeded += 1;
                        if self.succeeded == TRIALS {
                            self.transition(CircuitState::Closed);
                        }
                    }
                }
            }
            _ => {}
        }
    }

    fn force(&mut self, to: CircuitState) {
        if self.state != to {
            self.transition(to);
        } else if to == CircuitState::Closed {
            self.records.clear();
        }
    }
}

fn check_decision(
    real: &Result<Permit<'_>, seam_resilience::Rejected>,
    model: &Decision,
) -> Result<(), TestCaseError> {
    match (real, model) {
        (Ok(permit), Decision::Admit(expected)) => {
            prop_assert_eq!(permit.is_trial(), expected.trial);
        }
        (Err(rejected), Decision::Reject(state, retry_after)) => {
            prop_assert_eq!(rejected.state, *state);
            prop_assert_eq!(rejected.retry_after, *retry_after);
        }
        (Ok(_), Decision::Reject(state, _)) => {
            prop_assert!(false, "breaker admitted, model rejected in {}", state)
        }
        (Err(rejected), Decision::Admit(_)) => {
            prop_assert!(
                false,
                "breaker rejected ({}), model admitted",
                rejected.state
            )
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    #[test]
    fn breaker_matches_the_reference_model(ops in proptest::collection::vec(op(), 1..80)) {
        let clock = ManualClock::starting_at(SystemTime::UNIX_EPOCH);
        let breaker = CircuitBreaker::new("model", &config(), clock.shared()).unwrap();
        let mut model = Model::new();
        let mut held: Vec<(Permit<'_>, ModelPermit)> = Vec::new();

        for op in ops {
            match op {
                Op::Call(kind, millis) => {
                    let real = breaker.try_acquire();
                    let expected = model.acquire();
                    check_decision(&real, &expected)?;
                    let elapsed = Duration::from_millis(millis);
                    clock.advance(elapsed);
                    model.now += elapsed;
                    if let (Ok(permit), Decision::Admit(model_permit)) = (real, expected) {
                        permit.finish(kind.outcome());
                        model.record(model_permit, Some((kind, elapsed)));
                    }
                }
                Op::Advance(millis) => {
                    clock.advance(Duration::from_millis(millis));
                    model.now += Duration::from_millis(millis);
                }
                Op::Hold => {
                    let real = breaker.try_acquire();
                    let expected = model.acquire();
                    check_decision(&real, &expected)?;
                    if let (Ok(permit), Decision::Admit(model_permit)) = (real, expected) {
                        held.push((permit, model_permit));
                    }
                }
                Op::Release(index, kind, millis) if !held.is_empty() => {
                    let (permit, model_permit) = held.remove(index % held.len());
                    let duration = Duration::from_millis(millis);
                    permit.record(kind.outcome(), duration);
                    model.record(model_permit, Some((kind, duration)));
                }
                Op::Drop(index) if !held.is_empty() => {
                    let (permit, model_permit) = held.remove(index % held.len());
                    drop(permit);
                    model.record(model_permit, None);
                }
                Op::Release(..) | Op::Drop(_) => {}
                Op::ForceOpen => {
                    breaker.force_open();
                    model.force(CircuitState::ForcedOpen);
                }
                Op::ForceClosed => {
                    breaker.force_closed();
                    model.force(CircuitState::ForcedClosed);
                }
                Op::Reset => {
                    breaker.reset();
                    model.force(CircuitState::Closed);
                }
            }
            model.half_open_if_due();
            let snapshot = breaker.snapshot();
            prop_assert_eq!(snapshot.state, model.state);
            let (calls, failures, slow) = model.window();
            prop_assert_eq!(
                (snapshot.calls, snapshot.failures, snapshot.slow_calls),
                (calls as u64, failures as u64, slow as u64)
            );
        }
    }
}
