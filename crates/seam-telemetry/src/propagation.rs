//! W3C trace context (`traceparent`) across process boundaries.
//!
//! A publisher stores [`current_traceparent`] in the message it sends; a consumer calls
//! [`set_parent_from_traceparent`] on its processing span, so one trace follows an
//! order from the HTTP request through the queue into the worker.

use std::collections::HashMap;
use std::sync::Once;

use opentelemetry::propagation::TextMapPropagator;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use tracing_opentelemetry::OpenTelemetrySpanExt;

const TRACEPARENT: &str = "traceparent";

static INSTALL: Once = Once::new();

/// Installs the W3C trace-context propagator globally (idempotent).
pub fn install_propagator() {
    INSTALL.call_once(|| {
        opentelemetry::global::set_text_map_propagator(TraceContextPropagator::new());
    });
}

/// The `traceparent` of the current span, when spans are being exported.
///
/// Returns `None` when the current span has no valid trace context (for example when
/// OTLP export is off and no parent context was set).
pub fn current_traceparent() -> Option<String> {
    traceparent_of(&tracing::Span::current())
}

/// The `traceparent` of `span`, if it has a valid trace context.
pub fn traceparent_of(span: &tracing::Span) -> Option<String> {
    let context = span.context();
    let mut carrier = HashMap::new();
    TraceContextPropagator::new().inject_context(&context, &mut carrier);
    carrier.remove(TRACEPARENT)
}

/// Makes `span` a child of the trace named by `traceparent`.
///
/// A malformed `traceparent` is ignored (the span starts a new trace): trace context
/// from outside is advisory and must never fail the work it came with. Returns whether
/// a valid parent was set.
pub fn set_parent_from_traceparent(span: &tracing::Span, traceparent: &str) -> bool {
    let carrier = HashMap::from([(TRACEPARENT.to_owned(), traceparent.to_owned())]);
    let context = TraceContextPropagator::new().extract(&carrier);
    use opentelemetry::trace::TraceContextExt as _;
    if !context.span().span_context().is_valid() {
        return false;
    }
    span.set_parent(context).is_ok()
}
