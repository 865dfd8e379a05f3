//! Request extractors whose failures are JSON errors with serde's own message.

use crate::error::{ApiError, CODE_REQUEST_TOO_LARGE};
use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, PathRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, Path, Query, Request};
use axum::http::StatusCode;
use axum::http::request::Parts;
use serde::de::DeserializeOwned;

/// A JSON request body that must be present.
pub(crate) struct JsonBody<T>(pub(crate) T);

/// A JSON request body that may be empty (or only whitespace), meaning `T::default()`.
pub(crate) struct OptionalJsonBody<T>(pub(crate) T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        let bytes = read_body(req, state).await?;
        if is_blank(&bytes) {
            return Err(ApiError::invalid_request(
                "the request body is empty; a JSON object is expected",
            ));
        }
        parse_json(&bytes).map(JsonBody)
    }
}

impl<T: DeserializeOwned + Default, S: Send + Sync> FromRequest<S> for OptionalJsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        let bytes = read_body(req, state).await?;
        if is_blank(&bytes) {
            return Ok(OptionalJsonBody(T::default()));
        }
        parse_json(&bytes).map(OptionalJsonBody)
    }
}

async fn read_body<S: Send + Sync>(req: Request, state: &S) -> Result<Bytes, ApiError> {
    Bytes::from_request(req, state)
        .await
        .map_err(|rejection| match rejection {
            BytesRejection::FailedToBufferBody(e)
                if e.status() == StatusCode::PAYLOAD_TOO_LARGE =>
            {
                ApiError::http(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    CODE_REQUEST_TOO_LARGE,
                    "the request body is larger than max_request_bytes",
                )
            }
            other => ApiError::invalid_request(format!(
                "could not read the request body: {}",
                other.body_text()
            )),
        })
}

fn is_blank(bytes: &[u8]) -> bool {
    bytes.iter().all(u8::is_ascii_whitespace)
}

/// Decodes JSON, keeping serde's message (which names the field, the expectation and the place).
pub(crate) fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    check_containers(bytes).map_err(ApiError::invalid_request)?;
    serde_json::from_slice(bytes)
        .map_err(|e| ApiError::invalid_request(format!("invalid JSON body: {e}")))
}

/// Bodies up to this size are decoded without counting their objects and arrays.
const COUNTED_ABOVE_BYTES: usize = 64 * 1024;

/// Most objects and arrays, together, in one JSON body.
pub(crate) const MAX_JSON_CONTAINERS: usize = 100_000;

/// Refuses a large JSON body with more than [`MAX_JSON_CONTAINERS`] objects and arrays,
/// before it is decoded. An empty object takes two or three bytes but decodes into a struct of
/// hundreds (a batch entry with every optional field), so a body at the size limit made of
/// `{},` would cost gigabytes; real requests have a few per message. Brackets inside strings
/// do not count.
///
/// # Errors
/// A message saying what the limit is.
pub(crate) fn check_containers(bytes: &[u8]) -> Result<(), String> {
    if bytes.len() <= COUNTED_ABOVE_BYTES {
        return Ok(());
    }
    let mut containers = 0usize;
    let mut in_string = false;
    let mut escaped = false;
    for &byte in bytes {
        if in_string {
            match byte {
                _ if escaped => escaped = false,
                b'\\' => escaped = true,
                b'"' => in_string = false,
                _ => {}
            }
            continue;
        }
        match byte {
            b'"' => in_string = true,
            b'{' | b'[' => {
                containers += 1;
                if containers > MAX_JSON_CONTAINERS {
                    return Err(format!(
                        "the JSON body has more than {MAX_JSON_CONTAINERS} objects and arrays"
                    ));
                }
            }
            _ => {}
        }
    }
    Ok(())
}

/// Path parameters, refused with a JSON 400.
pub(crate) struct PathParams<T>(pub(crate) T);

impl<T: DeserializeOwned + Send, S: Send + Sync> FromRequestParts<S> for PathParams<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        Path::<T>::from_request_parts(parts, state)
            .await
            .map(|Path(v)| PathParams(v))
            .map_err(|e: PathRejection| {
                ApiError::invalid_request(format!("invalid path: {}", e.body_text()))
            })
    }
}

/// A query string, refused with a JSON 400.
pub(crate) struct QueryParams<T>(pub(crate) T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for QueryParams<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        Query::<T>::from_request_parts(parts, state)
            .await
            .map(|Query(v)| QueryParams(v))
            .map_err(|e: QueryRejection| ApiError::invalid_request(e.body_text()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A body of `n` objects in an array, padded with a string past the counting threshold.
    fn objects(n: usize, inside_string: &str) -> Vec<u8> {
        let mut body = format!(
            "{{\"pad\":\"{}{inside_string}\",\"messages\":[",
            "x".repeat(COUNTED_ABOVE_BYTES)
        );
        body.push_str(&vec!["{}"; n].join(","));
        body.push_str("]}");
        body.into_bytes()
    }

    #[test]
    fn a_large_body_of_countless_empty_objects_is_refused_before_decoding() {
        // The outer object and the array count too.
        assert!(check_containers(&objects(MAX_JSON_CONTAINERS - 2, "")).is_ok());
        let refused = check_containers(&objects(MAX_JSON_CONTAINERS - 1, ""));
        assert!(refused.is_err_and(|e| e.contains("100000")));
        let parsed: Result<serde_json::Value, _> = parse_json(&objects(MAX_JSON_CONTAINERS, ""));
        assert!(parsed.is_err());
    }

    #[test]
    fn brackets_in_strings_and_small_bodies_are_not_counted() {
        let braces = "{[\\\"{".repeat(MAX_JSON_CONTAINERS);
        assert!(check_containers(&objects(10, &braces)).is_ok());
        let small = vec!["{}"; 20_000].join(",");
        assert!(small.len() < COUNTED_ABOVE_BYTES);
        assert!(check_containers(small.as_bytes()).is_ok());
    }
}
