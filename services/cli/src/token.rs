//! `seam token issue`: an access token signed with Seam's key, for calling the API
//! locally (the embedded default protects `/v1/orders` and `/v1/users`).

use std::time::Duration;

use clap::Subcommand;
use seam_core::ExposeSecret;
use seam_wiring::Settings;
use seam_wiring::auth::TokenRequest;

use crate::Failure;

/// Token commands.
#[derive(Debug, Subcommand)]
pub(crate) enum Token {
    /// Print an access token signed with the configured key (by default the
    /// development key under `<data_dir>/keys/`, which the API then uses too).
    Issue {
        /// The subject: a user id (UUID, also put in the `uid` claim) or a service name.
        #[arg(long)]
        user: String,
        /// A role to grant (repeat for several), e.g. `--role admin`.
        #[arg(long = "role", value_name = "ROLE")]
        roles: Vec<String>,
        /// A scope to grant (repeat for several).
        #[arg(long = "scope", value_name = "SCOPE")]
        scopes: Vec<String>,
        /// Lifetime (`15m`, `1h`), at most `auth.issuer.max_access_ttl`; default
        /// `auth.issuer.access_ttl`.
        #[arg(long, value_parser = humantime::parse_duration)]
        ttl: Option<Duration>,
        /// Print a JSON object with the token, its id and expiry instead of the token alone.
        #[arg(long)]
        json: bool,
        /// Also start a refresh-token family and print its first refresh token (JSON
        /// output). Needs `auth.store = "cache"`, so that the API sees the family.
        #[arg(long)]
        refresh: bool,
    },
}

/// Runs a token command; needs no database.
#[allow(clippy::print_stdout)]
pub(crate) async fn run(settings: &Settings, action: Token) -> Result<(), Failure> {
    match action {
        Token::Issue {
            user,
            roles,
            scopes,
            ttl,
            json,
            refresh,
        } => {
            let user = user.trim();
            if user.is_empty() {
                return Err(Failure::usage("--user must not be empty"));
            }
            let mut request = TokenRequest::new(user);
            request.user_id = user.parse().ok();
            request.roles = roles.into_iter().collect();
            request.scopes = scopes.into_iter().collect();
            request.ttl = ttl;
            if refresh {
                return issue_pair(settings, &request).await;
            }
            let token =
                seam_wiring::auth::issue_token(settings, &request).map_err(Failure::usage)?;
            if json {
                println!(
                    "{}",
                    serde_json::json!({
                        "access_token": token.token.expose_secret(),
                        "token_type": "Bearer",
                        "jti": token.jti,
                        "kid": token.kid,
                        "expires_at": token.expires_at.to_rfc3339(),
                    })
                );
            } else {
                println!("{}", token.token.expose_secret());
            }
            Ok(())
        }
    }
}

/// Prints an access token and the first refresh token of a new family, as JSON.
#[allow(clippy::print_stdout)]
async fn issue_pair(settings: &Settings, request: &TokenRequest) -> Result<(), Failure> {
    if settings.auth.store != seam_wiring::auth::Store::Cache {
        return Err(Failure::usage(
            "--refresh needs `auth.store = \"cache\"` (SEAM_AUTH__STORE=cache): a refresh token \
             kept in this command's memory would be unknown to the API",
        ));
    }
    let auth = seam_wiring::AuthComponents::build(settings).map_err(Failure::usage)?;
    let pair = auth.refresh.issue(request).await.map_err(Failure::failed)?;
    println!(
        "{}",
        serde_json::json!({
            "access_token": pair.access.token.expose_secret(),
            "token_type": "Bearer",
            "jti": pair.access.jti,
            "kid": pair.access.kid,
            "expires_at": pair.access.expires_at.to_rfc3339(),
            "refresh_token": pair.refresh_token.expose_secret(),
            "refresh_expires_at": pair.refresh_expires_at.to_rfc3339(),
        })
    );
    Ok(())
}
