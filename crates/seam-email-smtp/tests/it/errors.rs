//! How SMTP failures are classified: a closed port, scripted reply codes, a silent server.

use std::net::SocketAddr;
use std::time::Duration;

use seam_core::{Classify, ErrorKind, HealthCheck, HealthStatus};
use seam_domain::EmailAddress;
use seam_email::{EmailMessage, EmailService, Error};
use seam_email_smtp::{SmtpConfig, SmtpMode};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;

fn message() -> EmailMessage {
    EmailMessage::builder()
        .from(EmailAddress::parse("shop@example.com").unwrap())
        .to(EmailAddress::parse("ada@example.com").unwrap())
        .subject("Classified")
        .text("Hello")
        .build()
        .unwrap()
}

fn config(addr: SocketAddr) -> SmtpConfig {
    SmtpConfig {
        host: addr.ip().to_string(),
        port: addr.port(),
        mode: SmtpMode::Plain,
        timeout: Duration::from_secs(5),
        ..SmtpConfig::default()
    }
}

/// A loopback SMTP server that greets with `greeting` (or stays silent when `None`) and
/// answers each command line with `reply(command)`.
async fn scripted_server(greeting: Option<&'static str>, reply: fn(&str) -> String) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                let (read, mut write) = stream.into_split();
                let Some(greeting) = greeting else {
                    // Hold the connection open without a word until the client gives up.
                    let mut lines = BufReader::new(read).lines();
                    while let Ok(Some(_)) = lines.next_line().await {}
                    return;
                };
                if write.write_all(greeting.as_bytes()).await.is_err() {
                    return;
                }
                let mut lines = BufReader::new(read).lines();
                while let Ok(Some(line)) = lines.next_line().await {
                    let answer = reply(&line);
                    if write.write_all(answer.as_bytes()).await.is_err() {
                        return;
                    }
                    if line.eq_ignore_ascii_case("QUIT") || answer.starts_with("421") {
                        return;
                    }
                }
            });
        }
    });
    addr
}

fn ehlo_then(line: &str, rest: fn(&str) -> String) -> String {
    let upper = line.to_ascii_uppercase();
    if upper.starts_with("EHLO") {
        "250-sink.test\r\n250-AUTH PLAIN LOGIN\r\n250 8BITMIME\r\n".to_owned()
    } else if upper.starts_with("QUIT") {
        "221 bye\r\n".to_owned()
    } else if upper.starts_with("RSET") || upper.starts_with("NOOP") {
        "250 ok\r\n".to_owned()
    } else {
        rest(&upper)
    }
}

#[tokio::test]
async fn connection_refused_is_transient() {
    let email = SmtpConfig {
        port: 1,
        ..SmtpConfig::default()
    }
    .build()
    .unwrap();
    let error = email.send(&message()).await.unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Transient, "{error:?}");
    assert!(error.to_string().contains("127.0.0.1:1"), "{error}");
    assert_eq!(email.check().await.status, HealthStatus::Down);
}

#[tokio::test]
async fn a_4xx_reply_is_transient() {
    let addr = scripted_server(Some("220 sink.test ESMTP\r\n"), |line| {
        ehlo_then(line, |line| {
            if line.starts_with("MAIL FROM") {
                "451 4.3.0 try again later\r\n".to_owned()
            } else {
                "250 ok\r\n".to_owned()
            }
        })
    })
    .await;
    let error = config(addr)
        .build()
        .unwrap()
        .send(&message())
        .await
        .unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Transient, "{error:?}");
    assert!(error.to_string().contains("try again later"), "{error}");
}

#[tokio::test]
async fn a_5xx_reply_is_permanent() {
    let addr = scripted_server(Some("220 sink.test ESMTP\r\n"), |line| {
        ehlo_then(line, |line| {
            if line.starts_with("RCPT TO") {
                "550 5.1.1 no such user\r\n".to_owned()
            } else {
                "250 ok\r\n".to_owned()
            }
        })
    })
    .await;
    let error = config(addr)
        .build()
        .unwrap()
        .send(&message())
        .await
        .unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Permanent, "{error:?}");
    assert!(error.to_string().contains("no such user"), "{error}");
}

#[tokio::test]
async fn rejected_credentials_are_unauthorized() {
    let addr = scripted_server(Some("220 sink.test ESMTP\r\n"), |line| {
        ehlo_then(line, |line| {
            if line.starts_with("AUTH") {
                "535 5.7.8 authentication credentials invalid\r\n".to_owned()
            } else {
                "250 ok\r\n".to_owned()
            }
        })
    })
    .await;
    let email = SmtpConfig {
        username: Some("shop".into()),
        password: Some("wrong".parse().unwrap()),
        ..config(addr)
    }
    .build()
    .unwrap();
    let error = email.send(&message()).await.unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Unauthorized, "{error:?}");
    assert!(!format!("{error:?}").contains("wrong"), "{error:?}");
}

#[tokio::test]
async fn a_silent_server_times_out() {
    let addr = scripted_server(None, |_| String::new()).await;
    let email = SmtpConfig {
        timeout: Duration::from_millis(200),
        ..config(addr)
    }
    .build()
    .unwrap();
    let error = email.send(&message()).await.unwrap_err();
    assert!(matches!(error, Error::Timeout(_)), "{error:?}");
    assert_eq!(error.kind(), ErrorKind::Timeout);
}
