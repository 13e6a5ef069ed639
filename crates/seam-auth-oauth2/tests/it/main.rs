//! seam-auth-oauth2: the sign-in flow against a real OpenID Connect provider on loopback
//! (`scripts/oidc-provider.sh start`), ID token checks and session behaviour against a
//! wiremock provider, and tokens at rest.

mod crypto;
mod discovery;
mod flow;
mod id_token;
mod sessions;
mod support;
