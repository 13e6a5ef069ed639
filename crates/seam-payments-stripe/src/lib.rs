//! Stripe adapter of the payments port: PaymentIntents and Refunds over the REST API.
