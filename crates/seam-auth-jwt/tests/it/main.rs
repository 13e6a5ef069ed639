//! Integration tests of the JWT adapter: attacks, JWKS caching and rotation against a
//! local JWKS server, Seam's issuer, refresh rotation, the deny-list (in memory and
//! on the real Redis) and the axum middleware.

mod attacks;
mod axum_layer;
mod issuer;
mod jwks;
mod logging;
mod refresh;
mod revocation;
mod support;
