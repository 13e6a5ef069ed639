use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::trace::SdkTracerProvider;
use seam_telemetry::propagation::{
    current_traceparent, install_propagator, set_parent_from_traceparent,
};
use tracing_subscriber::layer::SubscriberExt;

const PARENT: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

fn with_otel_subscriber(test: impl FnOnce()) {
    install_propagator();
    let provider = SdkTracerProvider::builder().build();
    let subscriber = tracing_subscriber::registry()
        .with(tracing_opentelemetry::layer().with_tracer(provider.tracer("test")));
    tracing::subscriber::with_default(subscriber, test);
}

#[test]
fn a_consumer_span_continues_the_publishers_trace() {
    with_otel_subscriber(|| {
        let span = tracing::info_span!("consume");
        assert!(set_parent_from_traceparent(&span, PARENT));
        let _entered = span.enter();
        let traceparent = current_traceparent().expect("a valid trace context");
        let parts: Vec<_> = traceparent.split('-').collect();
        assert_eq!(parts.len(), 4, "{traceparent}");
        assert_eq!(parts[0], "00");
        // Same trace, new span.
        assert_eq!(parts[1], "4bf92f3577b34da6a3ce929d0e0e4736");
        assert_ne!(parts[2], "00f067aa0ba902b7");
    });
}

#[test]
fn a_malformed_traceparent_is_ignored() {
    with_otel_subscriber(|| {
        let span = tracing::info_span!("consume");
        for bad in [
            "",
            "garbage",
            "00-zz-00f067aa0ba902b7-01",
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
        ] {
            assert!(!set_parent_from_traceparent(&span, bad), "{bad:?}");
        }
    });
}
