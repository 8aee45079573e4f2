//! HTTP plumbing shared by every service, parameterised by the service's error shape.
//!
//! A service implements [`ErrorShape`] once (how its API words a 400/404/405/413/415/429/500/503)
//! and gets: JSON, path and query extractor configs ([`json_config`], [`path_config`],
//! [`query_config`]), the 404 fallback ([`not_found`]), routes by method whose other methods
//! answer 405 with `Allow` and whose GET routes answer HEAD ([`resource`]), the request-id,
//! logging and metrics middleware ([`observe`]), `/healthz`, `/readyz`, `/metrics` and
//! `/openapi.json` ([`ops_routes`]), streamed JSON arrays ([`stream`]) and the server itself
//! ([`server`]).

mod client;
pub mod conditional;
mod metrics;
mod observe;
mod ops;
pub mod stream;

pub use client::{bearer_claims, bearer_token, client_ip, location, public_base_url, read_body};
pub use metrics::Metrics;
pub use observe::{observe, RequestId, REQUEST_ID};
pub use ops::ops_routes;

use crate::config::Settings;
use crate::db::{Db, DbError};
use crate::password::{HashError, PasswordHasher};
use crate::throttle::LoginThrottle;
use actix_web::error::{InternalError, JsonPayloadError, PathError, QueryPayloadError};
use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse};
use std::sync::Arc;

/// The largest request body any service reads (the gateway has the same limit).
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// Seconds a client is asked to wait after a 503.
pub const RETRY_AFTER_UNAVAILABLE: u64 = 5;

/// Failures produced by the shared plumbing. Each service words them in its own shape.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Problem {
    /// 400: the body is not valid JSON (or not the JSON type the endpoint reads).
    MalformedJson,
    /// 400: the query string could not be read.
    BadRequest,
    /// 401: no or bad credentials.
    Unauthenticated,
    /// 404: no such route (or an id that cannot exist).
    NotFound,
    /// 405: the route exists, the method does not.
    MethodNotAllowed,
    /// 413: the body is over [`MAX_BODY_BYTES`].
    PayloadTooLarge,
    /// 415: a `Content-Type` that is not JSON.
    UnsupportedMediaType,
    /// 429: throttled; retry after this many seconds.
    TooManyRequests { retry_after: u64 },
    /// 412: `If-Match` names no current tag of the resource ([`conditional`]).
    PreconditionFailed,
    /// 400: an `Idempotency-Key` that is empty, too long or not visible ASCII.
    IdempotencyKeyMalformed,
    /// 422 (jive: 400): the key was used before with another method, path or body.
    IdempotencyKeyReused,
    /// 409, `Retry-After: 1`: the first request with the key is still running.
    IdempotencyKeyInUse,
    /// 500: anything unexpected (the cause is logged, never sent).
    Internal,
    /// 503: the database is unreachable or the pool is exhausted.
    Unavailable,
}

impl Problem {
    pub fn status(&self) -> StatusCode {
        match self {
            Self::MalformedJson | Self::BadRequest => StatusCode::BAD_REQUEST,
            Self::Unauthenticated => StatusCode::UNAUTHORIZED,
            Self::NotFound => StatusCode::NOT_FOUND,
            Self::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Self::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Self::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::TooManyRequests { .. } => StatusCode::TOO_MANY_REQUESTS,
            Self::PreconditionFailed => StatusCode::PRECONDITION_FAILED,
            Self::IdempotencyKeyMalformed => StatusCode::BAD_REQUEST,
            Self::IdempotencyKeyReused => StatusCode::UNPROCESSABLE_ENTITY,
            Self::IdempotencyKeyInUse => StatusCode::CONFLICT,
            Self::Internal => StatusCode::INTERNAL_SERVER_ERROR,
            Self::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    /// The `Retry-After` seconds this answer carries, if any.
    pub fn retry_after(&self) -> Option<u64> {
        match self {
            Self::TooManyRequests { retry_after } => Some(*retry_after),
            Self::IdempotencyKeyInUse => Some(1),
            Self::Unavailable => Some(RETRY_AFTER_UNAVAILABLE),
            _ => None,
        }
    }
}

impl From<&DbError> for Problem {
    /// Unavailable → 503; anything else that reaches the API unhandled → 500 (logged).
    fn from(error: &DbError) -> Self {
        match error {
            DbError::Unavailable(cause) => {
                tracing::warn!(%cause, "database unavailable");
                Self::Unavailable
            }
            DbError::NotFound => Self::NotFound,
            other => {
                tracing::error!(error = %other, "database error");
                Self::Internal
            }
        }
    }
}

impl From<&HashError> for Problem {
    /// A hashing failure is never the caller's fault: 500, the cause logged.
    fn from(error: &HashError) -> Self {
        tracing::error!(%error, "password hashing failed");
        Self::Internal
    }
}

/// The failures every service shares, whatever its API: a [`Problem`] of the plumbing, a
/// database error, a hashing error. A service's error type has one `Failure(Failure)` variant
/// and answers it with [`Failure::problem`] in its own shape; [`crate::shared_failures!`] gives
/// it the `From` conversions, so `?` works on all three.
#[derive(Debug, thiserror::Error)]
pub enum Failure {
    #[error("{0:?}")]
    Problem(Problem),
    #[error(transparent)]
    Db(#[from] DbError),
    #[error(transparent)]
    Hash(#[from] HashError),
}

impl From<Problem> for Failure {
    fn from(p: Problem) -> Self {
        Self::Problem(p)
    }
}

impl From<crate::idempotency::BeginError> for Failure {
    fn from(e: crate::idempotency::BeginError) -> Self {
        match e {
            crate::idempotency::BeginError::Refused(r) => Self::Problem(r.into()),
            crate::idempotency::BeginError::Db(e) => Self::Db(e),
        }
    }
}

impl Failure {
    /// The shared answer: unavailable database 503, a missing row 404, anything else 500 (the
    /// cause logged, never sent).
    pub fn problem(&self) -> Problem {
        match self {
            Self::Problem(p) => p.clone(),
            Self::Db(e) => e.into(),
            Self::Hash(e) => e.into(),
        }
    }
}

/// `From<Problem>`, `From<DbError>` and `From<HashError>` for a service's error enum `$ty`,
/// through its `Failure(Failure)` variant ([`Failure`]).
#[macro_export]
macro_rules! shared_failures {
    ($ty:ident) => {
        impl From<$crate::http::Problem> for $ty {
            fn from(p: $crate::http::Problem) -> Self {
                Self::Failure(p.into())
            }
        }

        impl From<$crate::db::DbError> for $ty {
            fn from(e: $crate::db::DbError) -> Self {
                Self::Failure(e.into())
            }
        }

        impl From<$crate::password::HashError> for $ty {
            fn from(e: $crate::password::HashError) -> Self {
                Self::Failure(e.into())
            }
        }

        impl From<$crate::idempotency::BeginError> for $ty {
            fn from(e: $crate::idempotency::BeginError) -> Self {
                Self::Failure(e.into())
            }
        }

        impl From<$crate::db::diesel::result::Error> for $ty {
            fn from(e: $crate::db::diesel::result::Error) -> Self {
                Self::Failure($crate::db::DbError::from(e).into())
            }
        }
    };
}

impl From<crate::idempotency::Refusal> for Problem {
    fn from(refusal: crate::idempotency::Refusal) -> Self {
        use crate::idempotency::Refusal;
        match refusal {
            Refusal::Malformed => Self::IdempotencyKeyMalformed,
            Refusal::Reused => Self::IdempotencyKeyReused,
            Refusal::InProgress => Self::IdempotencyKeyInUse,
        }
    }
}

/// How one API words the shared failures.
pub trait ErrorShape: 'static {
    /// The JSON body for `problem`.
    fn body(problem: &Problem) -> serde_json::Value;

    /// The status for `problem` (where an API departs from [`Problem::status`]).
    fn status(problem: &Problem) -> StatusCode {
        problem.status()
    }
}

/// `problem` as a response in shape `S`, with `Retry-After` where it applies.
pub fn problem_response<S: ErrorShape>(problem: &Problem) -> HttpResponse {
    let mut builder = HttpResponse::build(S::status(problem));
    if let Some(secs) = problem.retry_after() {
        builder.insert_header((header::RETRY_AFTER, secs.to_string()));
    }
    builder.json(S::body(problem))
}

/// JSON bodies: a non-JSON `Content-Type` is 415 (a missing one is made JSON by [`observe`]), malformed 400,
/// over 64 KiB 413, all in shape `S`.
pub fn json_config<S: ErrorShape>() -> web::JsonConfig {
    web::JsonConfig::default()
        .limit(MAX_BODY_BYTES)
        .content_type(|mime| mime.subtype() == mime::JSON || mime.suffix() == Some(mime::JSON))
        .error_handler(|err, _req| {
            let problem = match &err {
                JsonPayloadError::OverflowKnownLength { .. }
                | JsonPayloadError::Overflow { .. } => Problem::PayloadTooLarge,
                JsonPayloadError::ContentType => Problem::UnsupportedMediaType,
                JsonPayloadError::Payload(actix_web::error::PayloadError::Overflow) => {
                    Problem::PayloadTooLarge
                }
                _ => Problem::MalformedJson,
            };
            InternalError::from_response(err, problem_response::<S>(&problem)).into()
        })
}

/// Path parameters that do not parse (a non-integer id, a number too large) → 404 in shape `S`.
pub fn path_config<S: ErrorShape>() -> web::PathConfig {
    web::PathConfig::default().error_handler(|err: PathError, _req| {
        InternalError::from_response(err, problem_response::<S>(&Problem::NotFound)).into()
    })
}

/// A query string that does not parse → 400 in shape `S`.
pub fn query_config<S: ErrorShape>() -> web::QueryConfig {
    web::QueryConfig::default().error_handler(|err: QueryPayloadError, _req| {
        InternalError::from_response(err, problem_response::<S>(&Problem::BadRequest)).into()
    })
}

/// The app's default service: 404 in shape `S`.
pub async fn not_found<S: ErrorShape>() -> HttpResponse {
    problem_response::<S>(&Problem::NotFound)
}

/// A route's handlers by method: `resource::<S>(path).get(a).post(b)`. Any other method
/// answers 405 in shape `S`, with the `Allow` header RFC 9110 requires, naming the methods
/// registered here (so the header cannot drift from the routes). `get` serves HEAD too, as
/// RFC 9110 (9.3.2) asks of every GET resource: the same handler, status and headers, and
/// actix-http leaves the body out (its `Content-Length` stays that of the GET).
pub struct Resource<S> {
    inner: actix_web::Resource,
    path: String,
    methods: Vec<&'static str>,
    shape: std::marker::PhantomData<S>,
}

/// Starts the routes of `path` (see [`Resource`]).
pub fn resource<S: ErrorShape>(path: &str) -> Resource<S> {
    Resource {
        inner: web::resource(path),
        path: path.to_owned(),
        methods: Vec::new(),
        shape: std::marker::PhantomData,
    }
}

impl<S> Resource<S> {
    /// The path pattern, as given to [`resource`].
    pub fn path(&self) -> &str {
        &self.path
    }

    /// The methods served, in the order they were added (HEAD after each GET).
    pub fn methods(&self) -> &[&'static str] {
        &self.methods
    }
}

impl<S: ErrorShape> Resource<S> {
    /// Serves GET, and HEAD, with `handler`.
    pub fn get<F, Args>(mut self, handler: F) -> Self
    where
        F: actix_web::Handler<Args>,
        Args: actix_web::FromRequest + 'static,
        F::Output: actix_web::Responder + 'static,
    {
        self.inner = self
            .inner
            .route(web::get().to(handler.clone()))
            .route(web::head().to(handler));
        self.methods.extend(["GET", "HEAD"]);
        self
    }
}

macro_rules! resource_methods {
    ($($name:ident => $route:ident, $method:literal;)*) => {
        impl<S: ErrorShape> Resource<S> {
            $(
                #[doc = concat!("Serves ", $method, " with `handler`.")]
                pub fn $name<F, Args>(mut self, handler: F) -> Self
                where
                    F: actix_web::Handler<Args>,
                    Args: actix_web::FromRequest + 'static,
                    F::Output: actix_web::Responder + 'static,
                {
                    self.inner = self.inner.route(web::$route().to(handler));
                    self.methods.push($method);
                    self
                }
            )*
        }
    };
}

resource_methods! {
    post => post, "POST";
    put => put, "PUT";
    patch => patch, "PATCH";
    delete => delete, "DELETE";
}

impl<S: ErrorShape> actix_web::dev::HttpServiceFactory for Resource<S> {
    fn register(self, config: &mut actix_web::dev::AppService) {
        // Method names are always a valid header value.
        let allow = header::HeaderValue::from_str(&self.methods.join(", ")).ok();
        let method_not_allowed = move || {
            let allow = allow.clone();
            async move {
                let mut res = problem_response::<S>(&Problem::MethodNotAllowed);
                if let Some(allow) = allow {
                    res.headers_mut().insert(header::ALLOW, allow);
                }
                res
            }
        };
        self.inner
            .default_service(web::to(method_not_allowed))
            .register(config);
    }
}

/// The `App` every service serves: `Core` as `web::Data`, the JSON/path/query configs and the
/// 404 fallback in shape `S`, the [`observe`] middleware and the operations routes; `routes`
/// adds the service's own state and routes.
pub fn app<S: ErrorShape>(
    core: &Core,
    routes: impl FnOnce(&mut web::ServiceConfig),
) -> actix_web::App<
    impl actix_web::dev::ServiceFactory<
        actix_web::dev::ServiceRequest,
        Config = (),
        Response = actix_web::dev::ServiceResponse<impl actix_web::body::MessageBody>,
        Error = actix_web::Error,
        InitError = (),
    >,
> {
    actix_web::App::new()
        .app_data(web::Data::new(core.clone()))
        .app_data(json_config::<S>())
        .app_data(path_config::<S>())
        .app_data(query_config::<S>())
        .wrap(actix_web::middleware::from_fn(
            crate::idempotency::fingerprint,
        ))
        .wrap(actix_web::middleware::from_fn(observe))
        .configure(ops_routes::<S>)
        .configure(routes)
        .default_service(web::to(not_found::<S>))
}

/// What every handler of every service may need, shared behind `web::Data<Core>`.
#[derive(Clone)]
pub struct Core {
    pub settings: Arc<Settings>,
    pub db: Db,
    pub hasher: PasswordHasher,
    pub throttle: Arc<LoginThrottle>,
    pub metrics: Arc<Metrics>,
    /// The audit trail's hub and feed of this replica.
    pub audit: crate::audit::Audit,
    openapi: Arc<serde_json::Value>,
}

impl Core {
    /// `openapi` is the service's generated OpenAPI document, served at `/openapi.json`.
    pub fn new(settings: Settings, db: Db, openapi: serde_json::Value) -> Self {
        let hasher = settings.hasher();
        let throttle = Arc::new(LoginThrottle::new(settings.throttle, db.clone()));
        let metrics = Arc::new(Metrics::new());
        let audit = crate::audit::Audit::new(
            db.clone(),
            Arc::clone(&metrics),
            settings.audit_retention_days,
        )
        .with_login_window(settings.throttle.window);
        Self {
            settings: Arc::new(settings),
            db,
            hasher,
            throttle,
            metrics,
            audit,
            openapi: Arc::new(openapi),
        }
    }

    /// The base URL for links and `Location` headers as the caller sees it.
    pub fn base_url(&self, req: &HttpRequest) -> String {
        public_base_url(req, &self.settings)
    }

    /// The `Location` of the resource at `segments` below the base URL ([`location`]).
    pub fn location(&self, req: &HttpRequest, segments: &[&str]) -> String {
        location(&self.base_url(req), segments)
    }

    /// The client's address (the peer, or `X-Forwarded-For` from a trusted proxy).
    pub fn client_ip(&self, req: &HttpRequest) -> std::net::IpAddr {
        client_ip(req, &self.settings.trusted_proxies)
    }
}

/// An HTTP server on `listener` for the app built by `factory`, with a 30 s graceful shutdown
/// on SIGTERM/SIGINT, one worker thread per core, each with database pools of its own
/// ([`crate::db::serve_on_this_thread`]). Used by `main` and by the tests alike.
pub fn server<F, I, S, B>(
    listener: std::net::TcpListener,
    factory: F,
) -> std::io::Result<actix_web::dev::Server>
where
    F: Fn() -> I + Send + Clone + 'static,
    I: actix_service::IntoServiceFactory<S, actix_http::Request>,
    S: actix_web::dev::ServiceFactory<actix_http::Request, Config = actix_web::dev::AppConfig>
        + 'static,
    S::Error: Into<actix_web::Error> + 'static,
    S::InitError: std::fmt::Debug,
    S::Response: Into<actix_http::Response<B>> + 'static,
    <S::Service as actix_web::dev::Service<actix_http::Request>>::Future: 'static,
    S::Service: 'static,
    B: actix_web::body::MessageBody + 'static,
{
    let workers = std::thread::available_parallelism().map_or(2, std::num::NonZeroUsize::get);
    // actix-web calls the factory on each worker's own thread, before its first request.
    let factory = move || {
        crate::db::serve_on_this_thread(workers);
        factory()
    };
    Ok(actix_web::HttpServer::new(factory)
        .workers(workers)
        .listen(listener)?
        .shutdown_timeout(30)
        .run())
}
