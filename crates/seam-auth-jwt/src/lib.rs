//! JWT federation over jsonwebtoken: trusted issuers with cached JWKS, Seam's own service tokens, a validation layer for axum.
