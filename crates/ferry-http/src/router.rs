//! The route table. The router is built from it and only from it, and the OpenAPI test compares
//! it with the document, so the served routes and the documented ones cannot drift apart.

use crate::error::{method_not_allowed, not_found};
use crate::state::AppState;
use crate::{HttpConfig, health, native, openapi};
use axum::Router;
use axum::extract::{DefaultBodyLimit, Request};
use axum::handler::Handler;
use axum::http::Method;
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::{MethodRouter, delete, get, post, put};
use std::time::Instant;

/// One served (method, path) pair and its handler.
pub(crate) struct RouteDef {
    /// The HTTP method (`GET` routes answer `HEAD` too).
    pub(crate) method: Method,
    /// The path, with `{param}` placeholders as in OpenAPI.
    pub(crate) path: &'static str,
    endpoint: MethodRouter<AppState>,
}

impl RouteDef {
    pub(crate) fn get<H: Handler<T, AppState>, T: 'static>(
        path: &'static str,
        handler: H,
    ) -> RouteDef {
        RouteDef {
            method: Method::GET,
            path,
            endpoint: get(handler),
        }
    }

    pub(crate) fn put<H: Handler<T, AppState>, T: 'static>(
        path: &'static str,
        handler: H,
    ) -> RouteDef {
        RouteDef {
            method: Method::PUT,
            path,
            endpoint: put(handler),
        }
    }

    pub(crate) fn post<H: Handler<T, AppState>, T: 'static>(
        path: &'static str,
        handler: H,
    ) -> RouteDef {
        RouteDef {
            method: Method::POST,
            path,
            endpoint: post(handler),
        }
    }

    pub(crate) fn delete<H: Handler<T, AppState>, T: 'static>(
        path: &'static str,
        handler: H,
    ) -> RouteDef {
        RouteDef {
            method: Method::DELETE,
            path,
            endpoint: delete(handler),
        }
    }
}

/// Every route the server serves.
pub(crate) fn routes() -> Vec<RouteDef> {
    let mut all = vec![
        RouteDef::get("/health/live", health::live),
        RouteDef::get("/health/ready", health::ready),
        RouteDef::get("/v1/openapi.json", openapi::document),
    ];
    all.extend(native::routes());
    all.extend(crate::metrics::routes());
    all
}

/// The application: every route, JSON 404/405 replies, the body limit and request logging.
pub(crate) fn build(state: AppState, config: &HttpConfig) -> Router {
    let http = std::sync::Arc::clone(&state.observer.http);
    build_stateless(config)
        .layer(middleware::from_fn_with_state(
            http,
            crate::metrics::count_request,
        ))
        .with_state(state)
}

/// The same, before the state is supplied (so tests can build it without a broker).
fn build_stateless(config: &HttpConfig) -> Router<AppState> {
    let router = routes().into_iter().fold(Router::new(), |router, def| {
        tracing::trace!(method = %def.method, path = def.path, "route");
        router.route(def.path, def.endpoint)
    });
    router
        .merge(crate::dashboard::router())
        .merge(crate::sqs::router())
        .route_layer(middleware::from_fn(crate::metrics::tag_route))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(config.max_request_bytes))
        .layer(middleware::from_fn(log_request))
}

async fn log_request(request: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = request.method().clone();
    let path = request.uri().path().to_owned();
    let response = next.run(request).await;
    tracing::debug!(%method, path, status = response.status().as_u16(), elapsed_us = started.elapsed().as_micros(), "request");
    response
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    #[test]
    fn the_table_builds_a_router_without_overlaps() {
        // axum panics on malformed or overlapping routes; building is the check.
        let _router = build_stateless(&HttpConfig::default());
        let pairs: BTreeSet<(String, &str)> = routes()
            .iter()
            .map(|r| (r.method.to_string(), r.path))
            .collect();
        assert_eq!(
            pairs.len(),
            routes().len(),
            "a (method, path) pair is listed twice"
        );
    }
}
