//! The in-memory adapter: the whole contract, idempotency included, in a process.
//!
//! Every card token succeeds unless scripted otherwise:
//! [`InMemoryPayments::with_declining_token`] makes a token decline with a decline
//! code, [`InMemoryPayments::with_action_required_token`] makes it need customer
//! action (3-D Secure) until [`confirm`](PaymentService::confirm) is called again.
//! Bank debits stay [`PaymentStatus::Processing`] until [`InMemoryPayments::settle`];
//! [`InMemoryPayments::dispute`] stands in for a customer's chargeback.
//!
//! Idempotency follows Stripe: a key remembers the request it was first used with and
//! the answer it got (a payment, a refund, or a decline); an answer that failed
//! validation or on a state conflict is not remembered, so the key can be used again.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::sync::{Mutex, MutexGuard, PoisonError};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use seam_core::{SharedClock, SystemClock};
use seam_domain::Money;

use crate::PaymentService;
use crate::error::{Error, Result};
use crate::status::{PaymentStatus, RefundStatus};
use crate::types::{
    CaptureMode, CreatePayment, CreateRefund, Failure, IdempotencyKey, Payment, PaymentId,
    PaymentMethod, Refund, RefundId,
};

/// The customer-facing message for a decline code, as Stripe words it.
pub fn decline_message(decline_code: &str) -> &'static str {
    match decline_code {
        "insufficient_funds" => "Your card has insufficient funds.",
        "lost_card" | "stolen_card" | "generic_decline" | "fraudulent" => "Your card was declined.",
        "expired_card" => "Your card has expired.",
        "incorrect_cvc" => "Your card's security code is incorrect.",
        "processing_error" => {
            "An error occurred while processing your card. Try again in a little bit."
        }
        _ => "Your card was declined.",
    }
}

/// What a request was, to tell "the same request again" from "another request".
#[derive(Debug, Clone, PartialEq, Eq)]
enum Fingerprint {
    Create(Box<CreatePayment>),
    Confirm(PaymentId),
    Capture(PaymentId, Option<Money>),
    Cancel(PaymentId),
    Refund(Box<CreateRefund>),
}

/// The remembered answer of a key.
#[derive(Debug, Clone)]
enum Answer {
    Payment(Box<Payment>),
    Refund(Box<Refund>),
    Declined {
        decline_code: Option<String>,
        message: String,
        payment_id: Option<PaymentId>,
    },
}

impl Answer {
    fn of_payment(result: &Result<Payment>) -> Option<Self> {
        match result {
            Ok(payment) => Some(Self::Payment(Box::new(payment.clone()))),
            Err(error) => Self::of_error(error),
        }
    }

    fn of_error(error: &Error) -> Option<Self> {
        match error {
            Error::CardDeclined {
                decline_code,
                message,
                payment_id,
            } => Some(Self::Declined {
                decline_code: decline_code.clone(),
                message: message.clone(),
                payment_id: payment_id.clone(),
            }),
            _ => None,
        }
    }

    fn declined(&self) -> Option<Error> {
        match self {
            Self::Declined {
                decline_code,
                message,
                payment_id,
            } => Some(Error::CardDeclined {
                decline_code: decline_code.clone(),
                message: message.clone(),
                payment_id: payment_id.clone(),
            }),
            _ => None,
        }
    }
}

#[derive(Debug)]
struct Stored {
    payment: Payment,
    method: PaymentMethod,
    refunds: Vec<Refund>,
}

#[derive(Debug, Default)]
struct Scripts {
    declining: HashMap<String, String>,
    action_required: HashSet<String>,
}

#[derive(Debug, Default)]
struct State {
    payments: HashMap<PaymentId, Stored>,
    keys: HashMap<IdempotencyKey, (Fingerprint, Answer)>,
    scripts: Scripts,
}

/// A [`PaymentService`] in memory; see the [module documentation](self).
pub struct InMemoryPayments {
    state: Mutex<State>,
    clock: SharedClock,
    id_prefix: String,
}

impl fmt::Debug for InMemoryPayments {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("InMemoryPayments")
            .field("payments", &self.lock().payments.len())
            .finish_non_exhaustive()
    }
}

impl Default for InMemoryPayments {
    fn default() -> Self {
        Self::new()
    }
}

/// What confirming a payment led to.
enum Attempt {
    Done(PaymentStatus),
    Declined(Failure),
}

impl InMemoryPayments {
    /// An empty service on the system clock, ids prefixed `pi_mem_` / `re_mem_`.
    pub fn new() -> Self {
        Self {
            state: Mutex::new(State::default()),
            clock: SystemClock::shared(),
            id_prefix: "mem".to_owned(),
        }
    }

    /// Uses `clock` for `created_at` timestamps.
    pub fn with_clock(mut self, clock: SharedClock) -> Self {
        self.clock = clock;
        self
    }

    /// Names ids `pi_<prefix>_…` and `re_<prefix>_…` (the sandbox uses `sbx`).
    pub fn with_id_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.id_prefix = prefix.into();
        self
    }

    /// Makes `token` decline with `decline_code` (`generic_decline`, `insufficient_funds`, …).
    pub fn with_declining_token(
        self,
        token: impl Into<String>,
        decline_code: impl Into<String>,
    ) -> Self {
        self.lock()
            .scripts
            .declining
            .insert(token.into(), decline_code.into());
        self
    }

    /// Makes `token` need customer action: the payment answers
    /// [`PaymentStatus::RequiresAction`] until confirmed again.
    pub fn with_action_required_token(self, token: impl Into<String>) -> Self {
        self.lock().scripts.action_required.insert(token.into());
        self
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // Every update below checks first and writes after, so a panic cannot leave a
        // half-updated payment: a poisoned lock is still consistent.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn now(&self) -> DateTime<Utc> {
        DateTime::<Utc>::from(self.clock.system_time())
    }

    fn new_id(&self, kind: &str) -> String {
        let uuid = seam_core::Id::<Self>::new().to_string().replace('-', "");
        format!("{kind}_{}_{uuid}", self.id_prefix)
    }

    /// Every payment, newest last; for tests and the sandbox.
    pub fn payments(&self) -> Vec<Payment> {
        let mut payments: Vec<Payment> = self
            .lock()
            .payments
            .values()
            .map(|stored| stored.payment.clone())
            .collect();
        payments.sort_by(|a, b| a.created_at.cmp(&b.created_at).then(a.id.cmp(&b.id)));
        payments
    }

    /// Completes a [`PaymentStatus::Processing`] payment, as a bank settling a debit
    /// does: [`PaymentStatus::Succeeded`] (or `RequiresCapture` for manual capture).
    ///
    /// # Errors
    ///
    /// [`Error::NotFound`], or [`Error::InvalidState`] when it is not processing.
    pub fn settle(&self, id: &PaymentId) -> Result<Payment> {
        let mut state = self.lock();
        let stored = stored_mut(&mut state, id)?;
        if stored.payment.status != PaymentStatus::Processing {
            return Err(Error::invalid_state(format!(
                "payment {id} is {}, not processing",
                stored.payment.status
            )));
        }
        authorise(&mut stored.payment);
        Ok(stored.payment.clone())
    }

    /// Records a dispute (a chargeback) on a paid payment: [`PaymentStatus::Disputed`].
    ///
    /// # Errors
    ///
    /// [`Error::NotFound`], or [`Error::InvalidState`] when no money was taken.
    pub fn dispute(&self, id: &PaymentId) -> Result<Payment> {
        let mut state = self.lock();
        let stored = stored_mut(&mut state, id)?;
        if !stored.payment.status.is_paid() || stored.payment.status == PaymentStatus::Disputed {
            return Err(Error::invalid_state(format!(
                "payment {id} is {}: only a paid, undisputed payment can be disputed",
                stored.payment.status
            )));
        }
        stored.payment.status = PaymentStatus::Disputed;
        Ok(stored.payment.clone())
    }

    /// The answer remembered for `key`, when the key was used before: `Some(Ok)` for the
    /// same request, `Some(Err(IdempotencyConflict))` for another one.
    fn replay(
        state: &State,
        key: &IdempotencyKey,
        fingerprint: &Fingerprint,
    ) -> Option<Result<Answer>> {
        let (first, answer) = state.keys.get(key)?;
        if first == fingerprint {
            Some(Ok(answer.clone()))
        } else {
            Some(Err(Error::IdempotencyConflict { key: key.clone() }))
        }
    }

    fn attempt(scripts: &Scripts, method: &PaymentMethod, confirming_action: bool) -> Attempt {
        let token = method.token().as_str();
        if let Some(decline_code) = scripts.declining.get(token) {
            return Attempt::Declined(Failure {
                code: "card_declined".to_owned(),
                decline_code: Some(decline_code.clone()),
                message: decline_message(decline_code).to_owned(),
            });
        }
        if matches!(method, PaymentMethod::BankTransfer { .. }) {
            return Attempt::Done(PaymentStatus::Processing);
        }
        if scripts.action_required.contains(token) && !confirming_action {
            return Attempt::Done(PaymentStatus::RequiresAction);
        }
        Attempt::Done(PaymentStatus::Succeeded)
    }

    /// Applies an attempt to a payment; a decline answers the error.
    fn apply(payment: &mut Payment, attempt: Attempt) -> Result<()> {
        match attempt {
            Attempt::Done(PaymentStatus::Succeeded) => {
                payment.failure = None;
                authorise(payment);
                Ok(())
            }
            Attempt::Done(status) => {
                payment.failure = None;
                payment.status = status;
                Ok(())
            }
            Attempt::Declined(failure) => {
                payment.status = PaymentStatus::Failed;
                let error = Error::CardDeclined {
                    decline_code: failure.decline_code.clone(),
                    message: failure.message.clone(),
                    payment_id: Some(payment.id.clone()),
                };
                payment.failure = Some(failure);
                Err(error)
            }
        }
    }

    fn mutate<F>(
        &self,
        id: &PaymentId,
        key: &IdempotencyKey,
        fingerprint: Fingerprint,
        change: F,
    ) -> Result<Payment>
    where
        F: FnOnce(&mut Stored, &Scripts) -> Result<()>,
    {
        let mut state = self.lock();
        if let Some(replayed) = Self::replay(&state, key, &fingerprint) {
            return match replayed? {
                Answer::Payment(payment) => Ok(*payment),
                other => Err(other
                    .declined()
                    .unwrap_or_else(|| Error::IdempotencyConflict { key: key.clone() })),
            };
        }
        let State {
            payments,
            keys,
            scripts,
        } = &mut *state;
        let stored = payments
            .get_mut(id)
            .ok_or_else(|| Error::NotFound(id.to_string()))?;
        let result = change(stored, scripts).map(|()| stored.payment.clone());
        if let Some(answer) = Answer::of_payment(&result) {
            keys.insert(key.clone(), (fingerprint, answer));
        }
        result
    }
}

fn stored_mut<'a>(state: &'a mut State, id: &PaymentId) -> Result<&'a mut Stored> {
    state
        .payments
        .get_mut(id)
        .ok_or_else(|| Error::NotFound(id.to_string()))
}

/// Money authorised: captured at once, or held for a manual capture.
fn authorise(payment: &mut Payment) {
    match payment.capture {
        CaptureMode::Automatic => {
            payment.status = PaymentStatus::Succeeded;
            payment.amount_captured = payment.amount;
        }
        CaptureMode::Manual => payment.status = PaymentStatus::RequiresCapture,
    }
}

fn same_currency(what: &str, amount: Money, payment: &Payment) -> Result<()> {
    if amount.currency() == payment.amount.currency() {
        Ok(())
    } else {
        Err(Error::invalid(format!(
            "{what} is in {}, the payment in {}",
            amount.currency(),
            payment.amount.currency()
        )))
    }
}

#[async_trait]
impl PaymentService for InMemoryPayments {
    async fn create(&self, request: &CreatePayment) -> Result<Payment> {
        request.validate()?;
        let fingerprint = Fingerprint::Create(Box::new(request.clone()));
        let mut state = self.lock();
        if let Some(replayed) = Self::replay(&state, &request.idempotency_key, &fingerprint) {
            let answer = replayed?;
            return match answer {
                Answer::Payment(payment) => Ok(*payment),
                other => Err(other
                    .declined()
                    .unwrap_or_else(|| Error::IdempotencyConflict {
                        key: request.idempotency_key.clone(),
                    })),
            };
        }
        let id = PaymentId::new(self.new_id("pi"))?;
        let mut payment = Payment::new(
            id.clone(),
            request,
            PaymentStatus::RequiresConfirmation,
            self.now(),
        );
        let result = if request.confirm {
            let attempt = Self::attempt(&state.scripts, &request.method, false);
            Self::apply(&mut payment, attempt).map(|()| payment.clone())
        } else {
            Ok(payment.clone())
        };
        if let Some(answer) = Answer::of_payment(&result) {
            state
                .keys
                .insert(request.idempotency_key.clone(), (fingerprint, answer));
        }
        state.payments.insert(
            id,
            Stored {
                payment,
                method: request.method.clone(),
                refunds: Vec::new(),
            },
        );
        result
    }

    async fn get(&self, id: &PaymentId) -> Result<Payment> {
        let mut state = self.lock();
        stored_mut(&mut state, id).map(|stored| stored.payment.clone())
    }

    async fn confirm(&self, id: &PaymentId, idempotency_key: &IdempotencyKey) -> Result<Payment> {
        self.mutate(id, idempotency_key, Fingerprint::Confirm(id.clone()), |stored, scripts| {
            let status = stored.payment.status;
            let confirming_action = match status {
                PaymentStatus::RequiresConfirmation => false,
                PaymentStatus::RequiresAction => true,
                other => {
                    return Err(Error::invalid_state(format!(
                        "payment {id} is {other}; only a payment requiring confirmation or action can be confirmed"
                    )));
                }
            };
            let attempt = Self::attempt(scripts, &stored.method, confirming_action);
            Self::apply(&mut stored.payment, attempt)
        })
    }

    async fn capture(
        &self,
        id: &PaymentId,
        amount: Option<Money>,
        idempotency_key: &IdempotencyKey,
    ) -> Result<Payment> {
        if let Some(amount) = amount
            && amount.minor() <= 0
        {
            return Err(Error::invalid(format!(
                "capture amount must be positive, got {amount}"
            )));
        }
        self.mutate(
            id,
            idempotency_key,
            Fingerprint::Capture(id.clone(), amount),
            |stored, _| {
                let payment = &mut stored.payment;
                if payment.status != PaymentStatus::RequiresCapture {
                    return Err(Error::invalid_state(format!(
                        "payment {id} is {}; only a payment requiring capture can be captured",
                        payment.status
                    )));
                }
                let amount = amount.unwrap_or(payment.amount);
                same_currency("capture amount", amount, payment)?;
                if amount.minor() > payment.amount.minor() {
                    return Err(Error::invalid(format!(
                        "capture amount {amount} is more than the {} authorised",
                        payment.amount
                    )));
                }
                payment.amount_captured = amount;
                payment.status = PaymentStatus::Succeeded;
                Ok(())
            },
        )
    }

    async fn cancel(&self, id: &PaymentId, idempotency_key: &IdempotencyKey) -> Result<Payment> {
        self.mutate(
            id,
            idempotency_key,
            Fingerprint::Cancel(id.clone()),
            |stored, _| {
                let payment = &mut stored.payment;
                if !(payment.status.is_pending() || payment.status == PaymentStatus::Failed) {
                    return Err(Error::invalid_state(format!(
                        "payment {id} is {}; only a pending or failed payment can be canceled",
                        payment.status
                    )));
                }
                payment.status = PaymentStatus::Canceled;
                Ok(())
            },
        )
    }

    async fn refund(&self, request: &CreateRefund) -> Result<Refund> {
        request.validate()?;
        let fingerprint = Fingerprint::Refund(Box::new(request.clone()));
        let now = self.now();
        let refund_id = RefundId::new(self.new_id("re"))?;
        let mut state = self.lock();
        if let Some(replayed) = Self::replay(&state, &request.idempotency_key, &fingerprint) {
            return match replayed? {
                Answer::Refund(refund) => Ok(*refund),
                _ => Err(Error::IdempotencyConflict {
                    key: request.idempotency_key.clone(),
                }),
            };
        }
        let stored = stored_mut(&mut state, &request.payment_id)?;
        let payment = &mut stored.payment;
        if !matches!(
            payment.status,
            PaymentStatus::Succeeded | PaymentStatus::PartiallyRefunded
        ) {
            return Err(Error::invalid_state(format!(
                "payment {} is {}; only a paid payment that is not refunded in full or disputed can be refunded",
                payment.id, payment.status
            )));
        }
        let refundable = payment.refundable();
        let amount = request.amount.unwrap_or(refundable);
        same_currency("refund amount", amount, payment)?;
        if amount.minor() > refundable.minor() {
            return Err(Error::invalid_state(format!(
                "refund of {amount} is more than the {refundable} still refundable"
            )));
        }
        payment.amount_refunded = Money::new(
            payment.amount_refunded.minor() + amount.minor(),
            amount.currency(),
        );
        payment.status = if payment.amount_refunded == payment.amount_captured {
            PaymentStatus::Refunded
        } else {
            PaymentStatus::PartiallyRefunded
        };
        let refund = Refund::new(refund_id, request, amount, RefundStatus::Succeeded, now);
        stored.refunds.push(refund.clone());
        state.keys.insert(
            request.idempotency_key.clone(),
            (fingerprint, Answer::Refund(Box::new(refund.clone()))),
        );
        Ok(refund)
    }

    async fn list_refunds(&self, id: &PaymentId) -> Result<Vec<Refund>> {
        let mut state = self.lock();
        stored_mut(&mut state, id).map(|stored| stored.refunds.clone())
    }
}
