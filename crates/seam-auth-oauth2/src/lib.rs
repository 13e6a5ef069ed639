//! OAuth2 / OpenID Connect sign-in over the oauth2 crate: PKCE, ID token validation, encrypted tokens, server-side sessions.
