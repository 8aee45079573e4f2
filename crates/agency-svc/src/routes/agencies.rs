use crate::auth::Caller;
use crate::db;
use crate::error::ApiError;
use crate::state::AppState;
use crate::wire::AgencyJson;
use actix_web::{web, HttpResponse};
use user_core::laravel::MessageJson;

/// The agencies of the caller's agency group, by id.
#[utoipa::path(get, path = "/agencies", tag = "agencies", security(("bearer" = [])),
    responses(
        (status = 200, body = [AgencyJson]),
        (status = 401, body = MessageJson),
        (status = 503, body = MessageJson),
    ))]
pub async fn list(state: web::Data<AppState>, caller: Caller) -> Result<HttpResponse, ApiError> {
    let mut conn = state.core.db.conn().await?;
    let agencies = db::agencies_of_group(&mut conn, caller.group_id).await?;
    let body: Vec<AgencyJson> = agencies.into_iter().map(AgencyJson::from).collect();
    Ok(HttpResponse::Ok().json(body))
}
