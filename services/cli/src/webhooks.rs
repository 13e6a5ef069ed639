//! `seam webhooks list|replay`: the webhook event log, and replaying a logged event.
//!
//! Replay re-enqueues the verified raw body kept in the log (`webhook_events.payload`)
//! on the `webhooks` queue, marked as a replay, so the worker processes it again even
//! if it was processed before (a dead or failed event, or one to re-apply after a fix).
//! The deduplication key is bypassed on purpose: this is the operator's decision.

use clap::Subcommand;
use seam_queue::Publisher;
use seam_repository::{WebhookEventQuery, WebhookEventStatus};
use seam_sql::Database;
use seam_webhooks::{WebhookMessage, ingest};
use seam_wiring::Settings;
use seam_wiring::webhooks::WebhookComponents;

use crate::Failure;

/// Webhook commands.
#[derive(Debug, Subcommand)]
pub(crate) enum Webhooks {
    /// List logged webhook events, newest first.
    List {
        /// Only events with this status: received, processed, failed, ignored, dead.
        #[arg(long)]
        status: Option<String>,
        /// Only events of this provider (stripe, github, standard_webhooks, sendgrid).
        #[arg(long)]
        provider: Option<String>,
        /// At most this many (1 to 100).
        #[arg(long, default_value_t = 50)]
        limit: usize,
    },
    /// Enqueue a logged event again, to be processed again.
    Replay {
        /// The provider's event id (`evt_…`).
        id: String,
        /// The provider that sent it.
        #[arg(long, default_value = "stripe")]
        provider: String,
    },
}

#[allow(clippy::print_stdout)]
pub(crate) async fn run(
    settings: &Settings,
    database: &Database,
    action: Webhooks,
) -> Result<(), Failure> {
    let components = WebhookComponents::build(settings, database)
        .await
        .map_err(Failure::failed)?;
    match action {
        Webhooks::List {
            status,
            provider,
            limit,
        } => {
            let status = status
                .as_deref()
                .map(str::parse::<WebhookEventStatus>)
                .transpose()
                .map_err(Failure::usage)?;
            let events = components
                .events
                .list(&WebhookEventQuery {
                    status,
                    provider,
                    limit,
                })
                .await
                .map_err(Failure::failed)?;
            println!(
                "{:<10} {:<32} {:<32} {:<9} {:>8} {:<32}  LAST ERROR",
                "PROVIDER", "EVENT ID", "TYPE", "STATUS", "ATTEMPTS", "RECEIVED AT"
            );
            for event in events {
                println!(
                    "{:<10} {:<32} {:<32} {:<9} {:>8} {:<32}  {}",
                    event.provider,
                    event.event_id,
                    event.event_type,
                    event.status,
                    event.attempts,
                    event.received_at.to_rfc3339(),
                    event.last_error.unwrap_or_default()
                );
            }
        }
        Webhooks::Replay { id, provider } => {
            let parsed = ingest::provider_from_path(&provider).ok_or_else(|| {
                Failure::usage(format!(
                    "unknown provider {provider:?} (stripe, github, standard_webhooks, sendgrid)"
                ))
            })?;
            let event = components
                .events
                .get(parsed.as_str(), &id)
                .await
                .map_err(Failure::failed)?;
            let message = WebhookMessage {
                provider: parsed,
                event_id: event.event_id,
                event_type: event.event_type,
                received_at: event.received_at,
                body: event.payload,
                replay: true,
            };
            components
                .queue
                .publisher
                .publish(&ingest::routing_key(parsed), &message.envelope())
                .await
                .map_err(Failure::failed)?;
            println!("replayed {} {}", parsed.as_str(), message.event_id);
        }
    }
    Ok(())
}
