//! Inbound webhooks: signature verification (Stripe, Standard Webhooks, GitHub, SendGrid) on the raw body, before any parsing.
