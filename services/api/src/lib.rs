//! The Seam HTTP API as a library: [`Application::build`] then
//! [`Application::run_until_stopped`]. `main.rs` only loads settings and telemetry.
//!
//! Tests build the application on port 0 and talk HTTP to it.

mod auth;
mod error;
pub mod files;
mod json;
mod openapi;
pub mod orders;
pub mod payments;
mod problem;
pub mod signin;
pub mod users;
pub mod webhooks;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::http::{HeaderName, StatusCode};
use axum::routing::get;
use seam_orders::OrderService;
use seam_wiring::{Adapters, AuthComponents, Infrastructure, Settings, StartupError};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tower::ServiceBuilder;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::sensitive_headers::SetSensitiveRequestHeadersLayer;
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;

pub use auth::{ADMIN_ROLE, JWKS_PATH};
pub use error::ApiError;
pub use openapi::ApiDoc;
pub use orders::{IDEMPOTENCY_KEY, OrderView, PlaceOrderRequest};
pub use problem::{ApiJson, Problem};
pub use users::UserView;

/// What the handlers share.
#[derive(Debug, Clone)]
pub struct AppState {
    /// The order and user use cases.
    pub orders: Arc<OrderService>,
    /// Paying and refunding orders, behind the payments breaker.
    pub payments: Arc<seam_orders::payments::Payments>,
    /// Stored files and their records.
    pub files: files::Files,
}

/// The header carrying the request id, set when the client sent none.
pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// A built API server, bound and ready to run.
#[derive(Debug)]
pub struct Application {
    listener: TcpListener,
    router: Router,
    infrastructure: Infrastructure,
    shutdown: CancellationToken,
    shutdown_timeout: Duration,
}

impl Application {
    /// Connects the dependencies the settings name, binds `server.host:server.port`
    /// (port 0 picks a free one) and builds the routes.
    ///
    /// # Errors
    ///
    /// [`StartupError`] when a dependency cannot be set up or the port is taken.
    pub async fn build(settings: Settings) -> Result<Self, StartupError> {
        let alerts = seam_wiring::alerts::alert_service(&settings)?;
        Self::build_with_alerts(settings, alerts).await
    }

    /// As [`build`](Self::build), paging through `alerts` instead of the `[alerts]`
    /// backend (tests watch the pages with an in-memory one).
    ///
    /// # Errors
    ///
    /// As [`build`](Self::build).
    pub async fn build_with_alerts(
        settings: Settings,
        alerts: Arc<dyn seam_alerts::AlertService>,
    ) -> Result<Self, StartupError> {
        let infrastructure = Infrastructure::build(settings).await?;
        let adapters = Adapters::build(&infrastructure.settings, &infrastructure.database).await?;
        let storage = seam_wiring::FileStorage::build_with_database(
            &infrastructure.settings,
            &infrastructure.database,
        )?;
        let mirror_drainer = storage.mirror_drainer();
        storage.register_health(&infrastructure.health);
        // The API only writes the outbox: a broker outage degrades it, never unreadies it.
        adapters.register_health(&infrastructure.health, false);
        // The provider behind retry and the breaker (`breaker:payments` in /health; its
        // opening pages through `alerts`).
        let payment_components = seam_wiring::payments::PaymentComponents::build(
            &infrastructure.settings,
            adapters.repositories.orders.clone(),
            seam_wiring::payments::order_payments(&infrastructure.database)?,
            alerts,
            &infrastructure.health,
            seam_core::SystemClock::shared(),
        )?;
        // Run the new checks once, so readiness means something from the first request.
        infrastructure.health.check_all().await;
        let state = AppState {
            orders: Arc::new(adapters.order_service(&infrastructure.settings)?),
            payments: Arc::new(payment_components.payments),
            files: files::Files::new(
                storage,
                adapters.repositories.files.clone(),
                infrastructure.settings.storage.clone(),
            ),
        };
        let server = &infrastructure.settings.server;
        let listener = seam_wiring::bind(server.address()).await?;
        let auth = seam_wiring::AuthComponents::build(&infrastructure.settings)?;
        let signin = signin::SignInState {
            signin: seam_wiring::oidc::sign_in(
                &infrastructure.settings,
                &infrastructure.database,
                adapters.repositories.users.clone(),
            )
            .await?,
            users: adapters.repositories.users.clone(),
        };
        let webhooks = seam_wiring::webhooks::WebhookComponents::build(
            &infrastructure.settings,
            &infrastructure.database,
        )
        .await?;
        let webhooks = webhooks::WebhookState {
            ingest: webhooks.ingest,
            events: webhooks.events,
        };
        let router = router(&infrastructure, state, &auth, signin, webhooks);
        let shutdown = CancellationToken::new();
        if let Some(drainer) = mirror_drainer {
            // Copies what a queued mirror deferred; stops with the server.
            drainer.spawn(shutdown.child_token());
        }
        Ok(Self {
            listener,
            shutdown_timeout: server.shutdown_timeout,
            router,
            infrastructure,
            shutdown,
        })
    }

    /// The address the server listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.listener
            .local_addr()
            .expect("a bound TCP listener has a local address")
    }

    /// Cancelling this token shuts the server down gracefully.
    pub fn shutdown_token(&self) -> CancellationToken {
        self.shutdown.clone()
    }

    /// Serves until the shutdown token is cancelled, then stops accepting connections,
    /// lets in-flight requests finish (up to `server.shutdown_timeout`), stops the
    /// background work and closes the database.
    ///
    /// # Errors
    ///
    /// An I/O error from the listener.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let Self {
            listener,
            router,
            infrastructure,
            shutdown,
            shutdown_timeout,
        } = self;
        let health_task = infrastructure.spawn_health_checks(shutdown.child_token());
        tracing::info!(address = %listener.local_addr()?, "API listening");

        let result = seam_wiring::serve(listener, router, shutdown.clone(), shutdown_timeout).await;
        shutdown.cancel();
        infrastructure.close(health_task).await;
        tracing::info!("API stopped");
        result
    }
}

/// The API's routes and middleware.
fn router(
    infrastructure: &Infrastructure,
    state: AppState,
    auth: &AuthComponents,
    signin: signin::SignInState,
    webhook_state: webhooks::WebhookState,
) -> Router {
    let server = &infrastructure.settings.server;
    let middleware = ServiceBuilder::new()
        .layer(SetSensitiveRequestHeadersLayer::new([
            http::header::AUTHORIZATION,
            http::header::COOKIE,
        ]))
        .layer(SetRequestIdLayer::new(REQUEST_ID, MakeRequestUuid))
        .layer(
            TraceLayer::new_for_http().make_span_with(|request: &http::Request<_>| {
                let request_id = request
                    .headers()
                    .get(REQUEST_ID)
                    .and_then(|value| value.to_str().ok())
                    .unwrap_or("-");
                tracing::info_span!(
                    "http_request",
                    method = %request.method(),
                    path = %request.uri().path(),
                    request_id,
                )
            }),
        )
        .layer(PropagateRequestIdLayer::new(REQUEST_ID))
        .layer(CatchPanicLayer::custom(problem::panic_response))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::SERVICE_UNAVAILABLE,
            server.request_timeout,
        ));

    let api = Router::new()
        .route(
            "/v1/orders",
            axum::routing::post(orders::place_order).get(orders::list_orders),
        )
        .route("/v1/orders/{id}", get(orders::get_order))
        .merge(payments::routes())
        .route(
            "/v1/users",
            axum::routing::post(users::create_user).get(users::list_users),
        )
        .route(
            "/v1/users/{id}",
            get(users::get_user)
                .patch(users::update_user)
                .delete(users::delete_user),
        )
        .route("/openapi.json", get(openapi::openapi_json))
        .route(
            "/v1/files/{id}",
            get(files::download_file).delete(files::delete_file),
        )
        .route("/v1/files/{id}/url", get(files::file_url))
        .route(
            "/v1/orders/{id}/attachments",
            axum::routing::post(files::attach_file).get(files::list_attachments),
        )
        // Every route above takes at most `server.body_limit_bytes`; uploads, added
        // after the layer, stream up to `storage.max_upload_bytes` and enforce it.
        .layer(RequestBodyLimitLayer::new(server.body_limit_bytes))
        .route(
            "/v1/files",
            axum::routing::post(files::upload_file).get(files::list_files),
        )
        .with_state(state);
    // Sign-in sessions authenticate like bearer tokens (`auth.session_cookie`).
    let sessions = signin
        .signin
        .clone()
        .map(|signin| signin as Arc<seam_auth::DynSessionResolver>);
    let api = api.merge(signin::routes(signin));
    let api = api.merge(webhooks::event_routes(webhook_state.clone()));
    let api = auth::layer(api, &infrastructure.settings, auth, sessions);
    // Outside authentication: a webhook's signature is its credential.
    let api = api.merge(webhooks::routes(
        webhook_state,
        infrastructure.settings.webhooks.body_limit_bytes,
    ));
    seam_wiring::ops_router(infrastructure.health.clone())
        .merge(api)
        .fallback(problem::not_found)
        .method_not_allowed_fallback(problem::method_not_allowed)
        .layer(middleware)
        // Outermost, so that it also sees the errors the middleware itself answers.
        .layer(axum::middleware::from_fn_with_state(
            server.body_limit_bytes,
            problem::problem_for_plain_errors,
        ))
}
