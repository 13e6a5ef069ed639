//! A local mock of Stripe's REST API on `127.0.0.1:0`, for the Stripe adapter's tests.
//!
//! It **checks** every request the way Stripe would refuse it, and records what was
//! wrong as a *violation* (so a test can assert the adapter never did it):
//! - `Authorization: Bearer <key>` must carry the mock's key (else 401, not a violation:
//!   tests use it to check the mapping of rejected credentials);
//! - `Stripe-Version` must be present (and equal the expected version, when set);
//! - every `POST` must carry an `Idempotency-Key` and a form body
//!   (`application/x-www-form-urlencoded`);
//! - no raw card data (`…[card][number]`, `…[cvc]`) may be sent;
//! - only the PaymentIntents and Refunds endpoints below may be called.
//!
//! It **answers** in two ways:
//! - scripted responses ([`StripeMock::script`]) come first, in order: a decline
//!   (`402 card_error`), `429` with `Retry-After`, `500`, any JSON, optionally delayed
//!   and restricted to a method and path prefix;
//! - otherwise a small stateful Stripe: PaymentIntents (create, retrieve, confirm,
//!   capture, cancel, `expand[]=latest_charge`), Refunds (create, list by
//!   `payment_intent`, newest first, as Stripe lists), Stripe's test tokens
//!   (`tok_visa`/`pm_card_visa` succeed, `tok_chargeDeclined` declines
//!   `generic_decline`, `tok_chargeDeclinedInsufficientFunds` `insufficient_funds`,
//!   `tok_chargeDeclinedExpiredCard` `expired_card`, `tok_threeDSecureRequired` needs
//!   action) and idempotency: the same key and parameters replay the first answer
//!   (with `Idempotent-Replayed: true`), other parameters are a `400 idempotency_error`.
//!
//! Every request is recorded ([`StripeMock::requests`]) with its headers and decoded
//! form, for assertions on exactly what was sent.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

/// The secret key the mock accepts unless told otherwise.
pub const MOCK_API_KEY: &str = "sk_test_seam_mock_0123456789";

/// A request the mock received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordedRequest {
    /// `GET`, `POST`, ...
    pub method: String,
    /// The path, such as `/v1/payment_intents`.
    pub path: String,
    /// The decoded query pairs.
    pub query: Vec<(String, String)>,
    /// Every header, names lower-case.
    pub headers: Vec<(String, String)>,
    /// The decoded form pairs of the body, in order.
    pub form: Vec<(String, String)>,
}

impl RecordedRequest {
    /// The first value of a header (name case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers
            .iter()
            .find(|(key, _)| *key == name)
            .map(|(_, value)| value.as_str())
    }

    /// The first value of a form field (`amount`, `metadata[order_id]`).
    pub fn form_value(&self, name: &str) -> Option<&str> {
        self.form
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    }

    /// The first value of a query parameter.
    pub fn query_value(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    }
}

/// An answer the mock gives instead of its own, once.
#[derive(Debug, Clone)]
pub struct ScriptedResponse {
    status: u16,
    body: Value,
    headers: Vec<(String, String)>,
    delay: Option<Duration>,
    method: Option<String>,
    path_prefix: Option<String>,
}

impl ScriptedResponse {
    /// Any status with a JSON body.
    pub fn json(status: u16, body: Value) -> Self {
        Self {
            status,
            body,
            headers: Vec::new(),
            delay: None,
            method: None,
            path_prefix: None,
        }
    }

    /// A Stripe error body: `{"error": {"type", "code", "message", ...}}`.
    pub fn stripe_error(status: u16, error_type: &str, code: Option<&str>, message: &str) -> Self {
        Self::json(status, error_body(error_type, code, message))
    }

    /// `402` card error: `card_declined` with this decline code, as Stripe answers.
    pub fn card_declined(decline_code: &str) -> Self {
        let mut body = error_body(
            "card_error",
            Some("card_declined"),
            "Your card was declined.",
        );
        body["error"]["decline_code"] = json!(decline_code);
        Self::json(402, body)
    }

    /// `429` with `Retry-After: <seconds>`.
    pub fn rate_limited(retry_after_seconds: u64) -> Self {
        Self::stripe_error(
            429,
            "invalid_request_error",
            Some("rate_limit"),
            "Too many requests hit the API too quickly.",
        )
        .with_header("retry-after", &retry_after_seconds.to_string())
    }

    /// `500` api error.
    pub fn server_error() -> Self {
        Self::stripe_error(500, "api_error", None, "An unknown error occurred.")
    }

    /// Adds a response header.
    pub fn with_header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }

    /// Answers only after `delay` (to exercise client timeouts).
    pub fn delayed(mut self, delay: Duration) -> Self {
        self.delay = Some(delay);
        self
    }

    /// Used only for requests with this method and a path starting with `path_prefix`.
    pub fn on(mut self, method: &str, path_prefix: &str) -> Self {
        self.method = Some(method.to_ascii_uppercase());
        self.path_prefix = Some(path_prefix.to_owned());
        self
    }

    fn matches(&self, method: &str, path: &str) -> bool {
        self.method.as_deref().is_none_or(|m| m == method)
            && self
                .path_prefix
                .as_deref()
                .is_none_or(|p| path.starts_with(p))
    }
}

fn error_body(error_type: &str, code: Option<&str>, message: &str) -> Value {
    json!({"error": {"type": error_type, "code": code, "message": message}})
}

/// Configures a [`StripeMock`] before it starts.
#[derive(Debug, Clone)]
pub struct StripeMockBuilder {
    api_key: String,
    stripe_version: Option<String>,
}

impl StripeMockBuilder {
    /// The secret key the mock accepts (default [`MOCK_API_KEY`]).
    pub fn api_key(mut self, key: &str) -> Self {
        self.api_key = key.to_owned();
        self
    }

    /// The `Stripe-Version` every request must carry (default: any, but present).
    pub fn stripe_version(mut self, version: &str) -> Self {
        self.stripe_version = Some(version.to_owned());
        self
    }

    /// Binds `127.0.0.1:0` and serves until the mock is dropped.
    ///
    /// # Panics
    ///
    /// When no loopback port can be bound (a broken test machine), or outside a Tokio runtime.
    pub async fn start(self) -> StripeMock {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("stripe mock: bind 127.0.0.1:0");
        let address = listener.local_addr().expect("stripe mock: local address");
        let shared = Arc::new(Shared {
            api_key: self.api_key,
            stripe_version: self.stripe_version,
            stripe: Mutex::new(MiniStripe::default()),
            scripted: Mutex::new(VecDeque::new()),
            requests: Mutex::new(Vec::new()),
            violations: Mutex::new(Vec::new()),
        });
        let router = Router::new().fallback(handle).with_state(shared.clone());
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, router).await;
        });
        StripeMock {
            base_url: format!("http://{address}"),
            shared,
            server,
        }
    }
}

/// A running mock Stripe; see the [module documentation](self). Stops when dropped.
#[derive(Debug)]
pub struct StripeMock {
    base_url: String,
    shared: Arc<Shared>,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for StripeMock {
    fn drop(&mut self) {
        self.server.abort();
    }
}

impl StripeMock {
    /// A mock accepting [`MOCK_API_KEY`] and any `Stripe-Version`.
    pub async fn start() -> Self {
        Self::builder().start().await
    }

    /// A builder, to set the key or the expected version.
    pub fn builder() -> StripeMockBuilder {
        StripeMockBuilder {
            api_key: MOCK_API_KEY.to_owned(),
            stripe_version: None,
        }
    }

    /// `http://127.0.0.1:<port>`, the adapter's base URL.
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// The key the mock accepts.
    pub fn api_key(&self) -> &str {
        &self.shared.api_key
    }

    /// Queues an answer for the next matching request.
    pub fn script(&self, response: ScriptedResponse) {
        lock(&self.shared.scripted).push_back(response);
    }

    /// Every request received so far, oldest first.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        lock(&self.shared.requests).clone()
    }

    /// What the requests did wrong, oldest first (empty when the client behaved).
    pub fn violations(&self) -> Vec<String> {
        lock(&self.shared.violations).clone()
    }

    /// Panics listing the violations, if any.
    pub fn assert_no_violations(&self) {
        let violations = self.violations();
        assert!(
            violations.is_empty(),
            "Stripe mock violations: {violations:#?}"
        );
    }

    /// Marks a payment intent's charge as disputed (as a customer's chargeback would).
    /// Returns `false` for an unknown intent.
    pub fn dispute(&self, payment_intent: &str) -> bool {
        match lock(&self.shared.stripe).intents.get_mut(payment_intent) {
            Some(intent) => {
                intent.disputed = true;
                true
            }
            None => false,
        }
    }
}

#[derive(Debug)]
struct Shared {
    api_key: String,
    stripe_version: Option<String>,
    stripe: Mutex<MiniStripe>,
    scripted: Mutex<VecDeque<ScriptedResponse>>,
    requests: Mutex<Vec<RecordedRequest>>,
    violations: Mutex<Vec<String>>,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

type Answer = (u16, Value);

fn answer(status: u16, body: Value, extra: &[(String, String)]) -> Response {
    let mut response = (
        StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
        axum::Json(body),
    )
        .into_response();
    response
        .headers_mut()
        .insert("request-id", HeaderValue::from_static("req_mock"));
    for (name, value) in extra {
        if let (Ok(name), Ok(value)) = (
            axum::http::HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(value),
        ) {
            response.headers_mut().insert(name, value);
        }
    }
    response
}

async fn handle(
    State(shared): State<Arc<Shared>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path = uri.path().to_owned();
    let query: Vec<(String, String)> =
        serde_urlencoded::from_str(uri.query().unwrap_or_default()).unwrap_or_default();
    let form: Vec<(String, String)> = serde_urlencoded::from_bytes(&body).unwrap_or_default();
    let header_pairs: Vec<(String, String)> = headers
        .iter()
        .map(|(name, value)| {
            (
                name.as_str().to_owned(),
                String::from_utf8_lossy(value.as_bytes()).into_owned(),
            )
        })
        .collect();
    let request = RecordedRequest {
        method: method.as_str().to_owned(),
        path: path.clone(),
        query,
        headers: header_pairs,
        form,
    };
    lock(&shared.requests).push(request.clone());

    let violation = |message: String| {
        lock(&shared.violations).push(format!("{} {}: {message}", request.method, request.path));
        answer(
            400,
            error_body("invalid_request_error", None, &message),
            &[],
        )
    };
    if request.header("authorization") != Some(&format!("Bearer {}", shared.api_key)) {
        return answer(
            401,
            error_body(
                "invalid_request_error",
                None,
                "Invalid API Key provided: sk_test_****",
            ),
            &[],
        );
    }
    match (request.header("stripe-version"), &shared.stripe_version) {
        (None, _) => return violation("no Stripe-Version header".to_owned()),
        (Some(sent), Some(expected)) if sent != expected => {
            return violation(format!("Stripe-Version {sent:?}, expected {expected:?}"));
        }
        _ => {}
    }
    if let Some((key, _)) = request
        .form
        .iter()
        .chain(&request.query)
        .find(|(key, _)| key.ends_with("[number]") || key.ends_with("[cvc]"))
    {
        return violation(format!("raw card data sent in {key}"));
    }
    let idempotency_key = request.header("idempotency-key").map(str::to_owned);
    if request.method == "POST" {
        if idempotency_key.as_deref().is_none_or(str::is_empty) {
            return violation("POST without an Idempotency-Key".to_owned());
        }
        let form_type = request
            .header("content-type")
            .is_some_and(|value| value.starts_with("application/x-www-form-urlencoded"));
        if !form_type && !body.is_empty() {
            return violation("body is not application/x-www-form-urlencoded".to_owned());
        }
    }

    if !known_route(&request.method, &request.path) {
        return violation(format!(
            "Unrecognized request URL ({} {}): not an endpoint the payments adapter uses",
            request.method, request.path
        ));
    }

    let scripted = {
        let mut queue = lock(&shared.scripted);
        let position = queue
            .iter()
            .position(|response| response.matches(&request.method, &request.path));
        position.and_then(|index| queue.remove(index))
    };
    if let Some(scripted) = scripted {
        if let Some(delay) = scripted.delay {
            tokio::time::sleep(delay).await;
        }
        return answer(scripted.status, scripted.body, &scripted.headers);
    }

    let mut stripe = lock(&shared.stripe);
    if let Some(key) = &idempotency_key
        && request.method == "POST"
    {
        let mut sorted = request.form.clone();
        sorted.sort();
        let fingerprint = format!("{} {} {sorted:?}", request.method, request.path);
        if let Some((first, status, body)) = stripe.idempotency.get(key) {
            if *first == fingerprint {
                let replayed = [("idempotent-replayed".to_owned(), "true".to_owned())];
                return answer(*status, body.clone(), &replayed);
            }
            return answer(
                400,
                error_body(
                    "idempotency_error",
                    None,
                    "Keys for idempotent requests can only be used with the same parameters they were first used with.",
                ),
                &[],
            );
        }
        let (status, body) = stripe.route(&request);
        if matches!(status, 200 | 402) {
            stripe
                .idempotency
                .insert(key.clone(), (fingerprint, status, body.clone()));
        }
        return answer(status, body, &[]);
    }
    let (status, body) = stripe.route(&request);
    answer(status, body, &[])
}

/// The endpoints the mock serves: PaymentIntents and Refunds.
fn known_route(method: &str, path: &str) -> bool {
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    matches!(
        (method, segments.as_slice()),
        ("POST", ["v1", "payment_intents"])
            | ("GET", ["v1", "payment_intents", _])
            | (
                "POST",
                ["v1", "payment_intents", _, "confirm" | "capture" | "cancel"]
            )
            | ("POST" | "GET", ["v1", "refunds"])
    )
}

#[derive(Debug, Clone)]
struct Intent {
    id: String,
    amount: i64,
    currency: String,
    status: &'static str,
    capture_method: String,
    amount_capturable: i64,
    amount_received: i64,
    amount_refunded: i64,
    metadata: BTreeMap<String, String>,
    description: Option<String>,
    customer: Option<String>,
    payment_method: Option<String>,
    bank: bool,
    last_payment_error: Option<Value>,
    created: i64,
    charged: bool,
    disputed: bool,
    refunds: Vec<String>,
}

#[derive(Debug, Default)]
struct MiniStripe {
    intents: HashMap<String, Intent>,
    refunds: HashMap<String, Value>,
    idempotency: HashMap<String, (String, u16, Value)>,
    counter: u64,
}

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|elapsed| elapsed.as_secs() as i64)
        .unwrap_or_default()
}

fn invalid(code: &str, message: &str, param: Option<&str>) -> Answer {
    let mut body = error_body("invalid_request_error", Some(code), message);
    if let Some(param) = param {
        body["error"]["param"] = json!(param);
    }
    (400, body)
}

fn missing(kind: &str, id: &str) -> Answer {
    let mut body = error_body(
        "invalid_request_error",
        Some("resource_missing"),
        &format!("No such {kind}: '{id}'"),
    );
    body["error"]["param"] = json!("id");
    (404, body)
}

const DECLINES: [(&str, &str, &str); 6] = [
    ("tok_chargeDeclined", "card_declined", "generic_decline"),
    ("pm_card_chargeDeclined", "card_declined", "generic_decline"),
    (
        "pm_card_visa_chargeDeclined",
        "card_declined",
        "generic_decline",
    ),
    (
        "tok_chargeDeclinedInsufficientFunds",
        "card_declined",
        "insufficient_funds",
    ),
    (
        "pm_card_chargeDeclinedInsufficientFunds",
        "card_declined",
        "insufficient_funds",
    ),
    (
        "tok_chargeDeclinedExpiredCard",
        "expired_card",
        "expired_card",
    ),
];
const ACTION_REQUIRED: [&str; 3] = [
    "tok_threeDSecureRequired",
    "pm_card_threeDSecureRequired",
    "pm_card_authenticationRequired",
];

fn form<'a>(request: &'a RecordedRequest, name: &str) -> Option<&'a str> {
    request.form_value(name)
}

fn expands_charge(request: &RecordedRequest) -> bool {
    request
        .form
        .iter()
        .chain(&request.query)
        .any(|(key, value)| key.starts_with("expand[") && value == "latest_charge")
}

fn parse_amount(value: Option<&str>, param: &str) -> Result<Option<i64>, Answer> {
    match value {
        None => Ok(None),
        Some(text) => match text.parse::<i64>() {
            Ok(amount) if amount >= 1 => Ok(Some(amount)),
            Ok(_) => Err(invalid(
                "amount_too_small",
                "Amount must be at least 1",
                Some(param),
            )),
            Err(_) => Err(invalid(
                "parameter_invalid_integer",
                &format!("Invalid integer: {text}"),
                Some(param),
            )),
        },
    }
}

impl MiniStripe {
    fn next_id(&mut self, prefix: &str) -> String {
        self.counter += 1;
        format!("{prefix}_mock{:06}", self.counter)
    }

    fn route(&mut self, request: &RecordedRequest) -> Answer {
        let segments: Vec<&str> = request.path.trim_matches('/').split('/').collect();
        match (request.method.as_str(), segments.as_slice()) {
            ("POST", ["v1", "payment_intents"]) => self.create_intent(request),
            ("GET", ["v1", "payment_intents", id]) => {
                self.with_intent(id, request, |_, intent| Ok(intent.clone()))
            }
            ("POST", ["v1", "payment_intents", id, "confirm"]) => {
                self.with_intent(id, request, |_, intent| confirm(intent))
            }
            ("POST", ["v1", "payment_intents", id, "capture"]) => {
                self.with_intent(id, request, capture)
            }
            ("POST", ["v1", "payment_intents", id, "cancel"]) => {
                self.with_intent(id, request, |_, intent| cancel(intent))
            }
            ("POST", ["v1", "refunds"]) => self.create_refund(request),
            ("GET", ["v1", "refunds"]) => self.list_refunds(request),
            _ => (
                404,
                error_body(
                    "invalid_request_error",
                    None,
                    &format!(
                        "Unrecognized request URL ({} {})",
                        request.method, request.path
                    ),
                ),
            ),
        }
    }

    fn with_intent<F>(&mut self, id: &str, request: &RecordedRequest, change: F) -> Answer
    where
        F: FnOnce(&RecordedRequest, &mut Intent) -> Result<Intent, Answer>,
    {
        let Some(intent) = self.intents.get_mut(id) else {
            return missing("payment_intent", id);
        };
        match change(request, intent) {
            Ok(intent) => (200, intent_json(&intent, expands_charge(request))),
            Err(error) => error,
        }
    }

    fn create_intent(&mut self, request: &RecordedRequest) -> Answer {
        let amount = match parse_amount(form(request, "amount"), "amount") {
            Ok(Some(amount)) => amount,
            Ok(None) => {
                return invalid(
                    "parameter_missing",
                    "Missing required param: amount.",
                    Some("amount"),
                );
            }
            Err(error) => return error,
        };
        let currency = form(request, "currency").unwrap_or_default();
        if currency.len() != 3 || !currency.bytes().all(|b| b.is_ascii_lowercase()) {
            return invalid(
                "parameter_invalid_string",
                &format!("Invalid currency: {currency}"),
                Some("currency"),
            );
        }
        let capture_method = form(request, "capture_method").unwrap_or("automatic_async");
        if !matches!(capture_method, "automatic" | "automatic_async" | "manual") {
            return invalid(
                "parameter_invalid_string",
                "Invalid capture_method",
                Some("capture_method"),
            );
        }
        let payment_method = form(request, "payment_method")
            .or_else(|| form(request, "payment_method_data[card][token]"))
            .map(str::to_owned);
        let confirm_now = form(request, "confirm") == Some("true");
        if confirm_now && payment_method.is_none() {
            return invalid(
                "parameter_missing",
                "You must provide a payment method to confirm this PaymentIntent.",
                Some("payment_method"),
            );
        }
        let metadata: BTreeMap<String, String> = request
            .form
            .iter()
            .filter_map(|(key, value)| {
                key.strip_prefix("metadata[")
                    .and_then(|rest| rest.strip_suffix(']'))
                    .map(|key| (key.to_owned(), value.clone()))
            })
            .collect();
        let bank = request.form.iter().any(|(key, value)| {
            key.starts_with("payment_method_types[")
                && matches!(
                    value.as_str(),
                    "sepa_debit" | "us_bank_account" | "bacs_debit"
                )
        });
        let id = self.next_id("pi");
        let mut intent = Intent {
            id: id.clone(),
            amount,
            currency: currency.to_owned(),
            status: if payment_method.is_some() {
                "requires_confirmation"
            } else {
                "requires_payment_method"
            },
            capture_method: capture_method.to_owned(),
            amount_capturable: 0,
            amount_received: 0,
            amount_refunded: 0,
            metadata,
            description: form(request, "description").map(str::to_owned),
            customer: form(request, "customer").map(str::to_owned),
            payment_method,
            bank,
            last_payment_error: None,
            created: now(),
            charged: false,
            disputed: false,
            refunds: Vec::new(),
        };
        let result = if confirm_now {
            confirm(&mut intent)
        } else {
            Ok(intent.clone())
        };
        let expand = expands_charge(request);
        let stored = match &result {
            Ok(updated) => updated.clone(),
            Err(_) => intent.clone(),
        };
        self.intents.insert(id, stored);
        match result {
            Ok(intent) => (200, intent_json(&intent, expand)),
            Err((status, mut body)) => {
                if status == 402 {
                    body["error"]["payment_intent"] = intent_json(&intent, expand);
                }
                (status, body)
            }
        }
    }

    fn create_refund(&mut self, request: &RecordedRequest) -> Answer {
        let Some(intent_id) = form(request, "payment_intent") else {
            return invalid(
                "parameter_missing",
                "One of the following params should be provided for this request: payment_intent or charge.",
                Some("payment_intent"),
            );
        };
        let requested = match parse_amount(form(request, "amount"), "amount") {
            Ok(amount) => amount,
            Err(error) => return error,
        };
        let refund_id = self.next_id("re");
        let Some(intent) = self.intents.get_mut(intent_id) else {
            return missing("payment_intent", intent_id);
        };
        if intent.status != "succeeded" {
            return invalid(
                "payment_intent_unexpected_state",
                "This PaymentIntent does not have a successful charge to refund.",
                Some("payment_intent"),
            );
        }
        if intent.disputed {
            return invalid("charge_disputed", "This charge is disputed.", None);
        }
        let remaining = intent.amount_received - intent.amount_refunded;
        if remaining <= 0 {
            return invalid(
                "charge_already_refunded",
                "Charge has already been refunded.",
                None,
            );
        }
        let amount = requested.unwrap_or(remaining);
        if amount > remaining {
            // Stripe sends no `code` for this one, only `param`.
            let mut body = error_body(
                "invalid_request_error",
                None,
                &format!(
                    "Refund amount ({amount}) is greater than unrefunded amount on charge ({remaining})"
                ),
            );
            body["error"]["param"] = json!("amount");
            return (400, body);
        }
        intent.amount_refunded += amount;
        intent.refunds.push(refund_id.clone());
        let metadata: serde_json::Map<String, Value> = request
            .form
            .iter()
            .filter_map(|(key, value)| {
                key.strip_prefix("metadata[")
                    .and_then(|rest| rest.strip_suffix(']'))
                    .map(|key| (key.to_owned(), json!(value)))
            })
            .collect();
        let refund = json!({
            "id": refund_id,
            "object": "refund",
            "amount": amount,
            "charge": format!("ch_{}", intent.id),
            "created": now(),
            "currency": intent.currency,
            "metadata": metadata,
            "payment_intent": intent.id,
            "reason": form(request, "reason"),
            "status": "succeeded",
        });
        self.refunds.insert(refund_id, refund.clone());
        (200, refund)
    }

    fn list_refunds(&self, request: &RecordedRequest) -> Answer {
        let Some(intent_id) = request.query_value("payment_intent") else {
            return invalid(
                "parameter_missing",
                "This mock lists refunds by payment_intent only.",
                Some("payment_intent"),
            );
        };
        let Some(intent) = self.intents.get(intent_id) else {
            return missing("payment_intent", intent_id);
        };
        let data: Vec<Value> = intent
            .refunds
            .iter()
            .rev()
            .filter_map(|id| self.refunds.get(id).cloned())
            .collect();
        (
            200,
            json!({"object": "list", "url": "/v1/refunds", "has_more": false, "data": data}),
        )
    }
}

fn decline(intent: &mut Intent) -> Option<Answer> {
    let token = intent.payment_method.as_deref()?;
    let (_, code, decline_code) = DECLINES.iter().find(|(known, _, _)| *known == token)?;
    let message = match *decline_code {
        "insufficient_funds" => "Your card has insufficient funds.",
        "expired_card" => "Your card has expired.",
        _ => "Your card was declined.",
    };
    let error = json!({
        "type": "card_error",
        "code": code,
        "decline_code": decline_code,
        "message": message,
    });
    intent.status = "requires_payment_method";
    intent.last_payment_error = Some(error.clone());
    Some((402, json!({ "error": error })))
}

fn confirm(intent: &mut Intent) -> Result<Intent, Answer> {
    let completing_action = match intent.status {
        "requires_confirmation" => false,
        "requires_action" => true,
        other => {
            return Err(invalid(
                "payment_intent_unexpected_state",
                &format!(
                    "You cannot confirm this PaymentIntent because it has a status of {other}."
                ),
                None,
            ));
        }
    };
    if let Some(error) = decline(intent) {
        return Err(error);
    }
    intent.last_payment_error = None;
    let token = intent.payment_method.as_deref().unwrap_or_default();
    if !completing_action && ACTION_REQUIRED.contains(&token) {
        intent.status = "requires_action";
    } else if intent.bank {
        intent.status = "processing";
    } else if intent.capture_method == "manual" {
        intent.status = "requires_capture";
        intent.amount_capturable = intent.amount;
        intent.charged = true;
    } else {
        intent.status = "succeeded";
        intent.amount_received = intent.amount;
        intent.charged = true;
    }
    Ok(intent.clone())
}

fn capture(request: &RecordedRequest, intent: &mut Intent) -> Result<Intent, Answer> {
    if intent.status != "requires_capture" {
        return Err(invalid(
            "payment_intent_unexpected_state",
            &format!(
                "This PaymentIntent could not be captured because it has a status of {}.",
                intent.status
            ),
            None,
        ));
    }
    let amount = parse_amount(form(request, "amount_to_capture"), "amount_to_capture")?
        .unwrap_or(intent.amount_capturable);
    if amount > intent.amount_capturable {
        return Err(invalid(
            "amount_too_large",
            "The amount to capture is greater than the amount capturable.",
            Some("amount_to_capture"),
        ));
    }
    intent.amount_received = amount;
    intent.amount_capturable = 0;
    intent.status = "succeeded";
    Ok(intent.clone())
}

fn cancel(intent: &mut Intent) -> Result<Intent, Answer> {
    if !matches!(
        intent.status,
        "requires_payment_method"
            | "requires_capture"
            | "requires_confirmation"
            | "requires_action"
            | "processing"
    ) {
        return Err(invalid(
            "payment_intent_unexpected_state",
            &format!(
                "You cannot cancel this PaymentIntent because it has a status of {}.",
                intent.status
            ),
            None,
        ));
    }
    intent.status = "canceled";
    intent.amount_capturable = 0;
    Ok(intent.clone())
}

fn intent_json(intent: &Intent, expand_charge: bool) -> Value {
    let charge_id = format!("ch_{}", intent.id);
    let latest_charge = if !intent.charged {
        Value::Null
    } else if expand_charge {
        json!({
            "id": charge_id,
            "object": "charge",
            "amount": intent.amount,
            "amount_captured": intent.amount_received,
            "amount_refunded": intent.amount_refunded,
            "captured": intent.amount_received > 0,
            "currency": intent.currency,
            "disputed": intent.disputed,
            "payment_intent": intent.id,
            "refunded": intent.amount_received > 0 && intent.amount_refunded == intent.amount_received,
            "status": "succeeded",
        })
    } else {
        json!(charge_id)
    };
    let next_action = (intent.status == "requires_action")
        .then(|| json!({"type": "use_stripe_sdk", "use_stripe_sdk": {}}));
    json!({
        "id": intent.id,
        "object": "payment_intent",
        "amount": intent.amount,
        "amount_capturable": intent.amount_capturable,
        "amount_received": intent.amount_received,
        "capture_method": intent.capture_method,
        "client_secret": format!("{}_secret_mock", intent.id),
        "created": intent.created,
        "currency": intent.currency,
        "customer": intent.customer,
        "description": intent.description,
        "last_payment_error": intent.last_payment_error,
        "latest_charge": latest_charge,
        "livemode": false,
        "metadata": intent.metadata,
        "next_action": next_action,
        "payment_method": intent.payment_method.as_ref().map(|_| format!("pm_{}", intent.id)),
        "status": intent.status,
    })
}
