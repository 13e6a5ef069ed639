//! `POST/GET/PATCH/DELETE /v1/users[/{id}]`.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use seam_domain::{EmailAddress, NewUser, User, UserId};
use seam_repository::{SortDirection, UserQuery, UserSort, UserUpdate};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::AppState;
use crate::error::{ApiError, invalid};
use crate::orders::parse_id;

/// A user to create.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateUserRequest {
    /// E-mail address, unique regardless of case.
    #[schema(example = "ada@example.com")]
    pub email: String,
    /// Display name, 1 to 200 characters.
    #[schema(example = "Ada Lovelace")]
    pub name: String,
}

/// Changes to a user; `version` must be the one read (optimistic concurrency).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateUserRequest {
    /// The version the change is based on; a stale one is answered 409.
    pub version: i64,
    /// A new e-mail address.
    pub email: Option<String>,
    /// A new name.
    pub name: Option<String>,
}

/// A user.
#[derive(Debug, Serialize, ToSchema)]
pub struct UserView {
    /// Its id.
    #[schema(value_type = String, format = Uuid)]
    pub id: String,
    /// Its e-mail address.
    pub email: String,
    /// Its name.
    pub name: String,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// When it last changed.
    pub updated_at: DateTime<Utc>,
    /// Its version.
    pub version: i64,
}

impl From<&User> for UserView {
    fn from(user: &User) -> Self {
        Self {
            id: user.id.to_string(),
            email: user.email.to_string(),
            name: user.name.clone(),
            created_at: user.created_at,
            updated_at: user.updated_at,
            version: user.version,
        }
    }
}

/// A page of users.
#[derive(Debug, Serialize, ToSchema)]
pub struct UserPage {
    /// The users on this page.
    pub items: Vec<UserView>,
    /// How many match in all.
    pub total: u64,
    /// The page size.
    pub limit: u32,
    /// How many were skipped.
    pub offset: u64,
}

/// Query of `GET /v1/users`.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ListUsers {
    /// Only users whose e-mail contains this (case-insensitive).
    pub email_contains: Option<String>,
    /// Only users whose name contains this (case-insensitive).
    pub name_contains: Option<String>,
    /// `created_at` (default), `name` or `email`.
    pub sort: Option<String>,
    /// `asc` (default) or `desc`.
    pub direction: Option<String>,
    /// Page size, 1 to 100 (default 20).
    pub limit: Option<u32>,
    /// How many to skip.
    pub offset: Option<u64>,
}

/// Creates a user.
#[utoipa::path(
    post, path = "/v1/users", request_body = CreateUserRequest,
    responses((status = 201, body = UserView), (status = 409, description = "E-mail taken"), (status = 422)),
    tag = "users"
)]
pub(crate) async fn create_user(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let request: CreateUserRequest = crate::json::parse(&headers, &body)?;
    let user = NewUser::new(EmailAddress::parse(&request.email)?, &request.name)?;
    let user = state.orders.create_user(user).await?;
    let mut response = (StatusCode::CREATED, Json(UserView::from(&user))).into_response();
    if let Ok(value) = format!("/v1/users/{}", user.id).parse() {
        response
            .headers_mut()
            .insert(axum::http::header::LOCATION, value);
    }
    Ok(response)
}

/// One user.
#[utoipa::path(
    get, path = "/v1/users/{id}", params(("id" = String, Path)),
    responses((status = 200, body = UserView), (status = 404), (status = 422)),
    tag = "users"
)]
pub(crate) async fn get_user(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<UserView>, ApiError> {
    let id: UserId = parse_id("id", &id)?;
    Ok(Json(UserView::from(&state.orders.get_user(id).await?)))
}

/// Changes a user.
#[utoipa::path(
    patch, path = "/v1/users/{id}", params(("id" = String, Path)), request_body = UpdateUserRequest,
    responses((status = 200, body = UserView), (status = 404), (status = 409, description = "Stale version or e-mail taken"), (status = 422)),
    tag = "users"
)]
pub(crate) async fn update_user(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<UserView>, ApiError> {
    let id: UserId = parse_id("id", &id)?;
    let request: UpdateUserRequest = crate::json::parse(&headers, &body)?;
    let mut changes = UserUpdate::new();
    if let Some(name) = &request.name {
        changes = changes
            .with_name(name)
            .map_err(|error| invalid(error.to_string()))?;
    }
    if let Some(email) = &request.email {
        changes = changes.with_email(EmailAddress::parse(email)?);
    }
    if changes.is_empty() {
        return Err(invalid("nothing to change: give `name` and/or `email`"));
    }
    let user = state
        .orders
        .update_user(id, request.version, changes)
        .await?;
    Ok(Json(UserView::from(&user)))
}

/// Deletes a user.
#[utoipa::path(
    delete, path = "/v1/users/{id}", params(("id" = String, Path)),
    responses((status = 204), (status = 404), (status = 422)),
    tag = "users"
)]
pub(crate) async fn delete_user(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let id: UserId = parse_id("id", &id)?;
    state.orders.delete_user(id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Lists users with filters, sort and pagination.
#[utoipa::path(
    get, path = "/v1/users", params(ListUsers),
    responses((status = 200, body = UserPage), (status = 422)),
    tag = "users"
)]
pub(crate) async fn list_users(
    State(state): State<AppState>,
    query: Result<Query<ListUsers>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<UserPage>, ApiError> {
    let Query(query) = query.map_err(|error| invalid(error.body_text()))?;
    let sort = match query.sort.as_deref() {
        None | Some("created_at") => UserSort::CreatedAt,
        Some("name") => UserSort::Name,
        Some("email") => UserSort::Email,
        Some(other) => {
            return Err(invalid(format!(
                "sort: unknown value {other:?}; expected created_at, name or email"
            )));
        }
    };
    let direction = match query.direction.as_deref() {
        None | Some("asc") => SortDirection::Asc,
        Some("desc") => SortDirection::Desc,
        Some(other) => {
            return Err(invalid(format!(
                "direction: unknown value {other:?}; expected asc or desc"
            )));
        }
    };
    let page = state
        .orders
        .list_users(UserQuery {
            email_contains: query.email_contains,
            name_contains: query.name_contains,
            sort,
            direction,
            limit: query.limit.unwrap_or(20),
            offset: query.offset.unwrap_or(0),
        })
        .await?;
    Ok(Json(UserPage {
        items: page.items.iter().map(UserView::from).collect(),
        total: page.total,
        limit: page.limit,
        offset: page.offset,
    }))
}
