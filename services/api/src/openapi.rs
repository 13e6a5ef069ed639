//! The OpenAPI document, generated from the handlers and served at `/openapi.json`.

use axum::Json;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use crate::{files, orders, payments, users};

/// The API's OpenAPI description.
#[derive(OpenApi)]
#[openapi(
    info(title = "Seam order API", description = "Orders and users. Errors are application/problem+json (RFC 9457)."),
    paths(
        orders::place_order,
        orders::get_order,
        orders::list_orders,
        users::create_user,
        users::get_user,
        users::update_user,
        users::delete_user,
        users::list_users,
        files::upload_file,
        files::list_files,
        files::download_file,
        files::file_url,
        files::delete_file,
        files::attach_file,
        files::list_attachments,
        payments::pay_order,
        payments::refund_order,
        payments::get_payment,
    ),
    components(schemas(
        orders::PlaceOrderRequest,
        orders::OrderLineRequest,
        orders::OrderView,
        orders::OrderLineView,
        orders::OrderPage,
        orders::MoneyView,
        users::CreateUserRequest,
        users::UpdateUserRequest,
        users::UserView,
        users::UserPage,
        files::FileView,
        files::FilePage,
        files::UploadForm,
        files::FileUrl,
        files::AttachRequest,
        files::AttachmentView,
        files::AttachmentList,
        payments::PayRequest,
        payments::MethodRequest,
        payments::RefundRequest,
        payments::PaymentView,
        payments::RefundView,
    )),
    tags((name = "orders"), (name = "users"), (name = "files"), (name = "payments")),
    modifiers(&Credentials),
    security(("bearer" = []), ("session" = []))
)]
pub struct ApiDoc;

/// The two credentials `auth.protect` accepts: a bearer JWT (Seam's own, from
/// `seam token issue` or `POST /oauth/token`, or a trusted issuer's) or the sign-in
/// session cookie.
struct Credentials;

impl Modify for Credentials {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .build(),
            ),
        );
        components.add_security_scheme(
            "session",
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::new("seam_session"))),
        );
    }
}

pub(crate) async fn openapi_json() -> Json<utoipa::openapi::OpenApi> {
    Json(ApiDoc::openapi())
}
