//! OTLP export against a local collector stand-in: spans leave the process as
//! OTLP/HTTP protobuf when `telemetry.otlp.enabled` is on.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::mpsc;
use std::time::Duration;

use seam_telemetry::{OtlpConfig, TelemetryConfig};

/// What the stand-in collector saw of one request.
struct Received {
    request_line: String,
    content_type: String,
    body_len: usize,
}

/// Accepts one HTTP request, answers 200, and reports it.
fn one_shot_collector() -> (String, mpsc::Receiver<Received>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let endpoint = format!("http://{}/v1/traces", listener.local_addr().unwrap());
    let (sender, receiver) = mpsc::channel();
    std::thread::spawn(move || {
        let (stream, _) = listener.accept().unwrap();
        let mut reader = BufReader::new(stream.try_clone().unwrap());
        let mut request_line = String::new();
        reader.read_line(&mut request_line).unwrap();
        let mut content_type = String::new();
        let mut content_length = 0;
        loop {
            let mut line = String::new();
            reader.read_line(&mut line).unwrap();
            let line = line.trim_end();
            if line.is_empty() {
                break;
            }
            let (name, value) = line.split_once(':').unwrap();
            match name.to_ascii_lowercase().as_str() {
                "content-type" => content_type = value.trim().to_owned(),
                "content-length" => content_length = value.trim().parse().unwrap(),
                _ => {}
            }
        }
        let mut body = vec![0; content_length];
        reader.read_exact(&mut body).unwrap();
        let mut stream = stream;
        stream
            .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")
            .unwrap();
        sender
            .send(Received {
                request_line: request_line.trim_end().to_owned(),
                content_type,
                body_len: body.len(),
            })
            .unwrap();
    });
    (endpoint, receiver)
}

#[test]
fn spans_are_exported_over_otlp_http_when_enabled() {
    let (endpoint, received) = one_shot_collector();
    let config = TelemetryConfig {
        service_name: "seam-otlp-test".to_owned(),
        otlp: OtlpConfig {
            enabled: true,
            endpoint,
            timeout: Duration::from_secs(5),
        },
        ..TelemetryConfig::default()
    };
    // The only test in this binary that installs the global subscriber.
    let guard = seam_telemetry::init(&config).expect("telemetry installs");
    tracing::info_span!("checkout", order = 42).in_scope(|| {
        tracing::info!("an event inside an exported span");
    });
    // Shutting down flushes the batch.
    guard.shutdown();

    let request = received
        .recv_timeout(Duration::from_secs(30))
        .expect("the collector received an export");
    assert_eq!(request.request_line, "POST /v1/traces HTTP/1.1");
    assert_eq!(request.content_type, "application/x-protobuf");
    assert!(request.body_len > 0);
}
