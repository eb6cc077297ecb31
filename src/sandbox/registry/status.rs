//! Kubernetes `Status` errors: every failure the API answers is one of these.

use axum::http::StatusCode;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Status, StatusCause, StatusDetails};
use serde_json::Value;

use crate::sandbox::objects::to_json;

/// An API failure, rendered as a `meta/v1 Status` with the matching HTTP code.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiError {
    /// HTTP status code.
    pub code: u16,
    /// Machine-readable reason (`NotFound`, `Invalid`, ...).
    pub reason: &'static str,
    /// Human-readable message, worded like the real server's.
    pub message: String,
    /// `details` of the Status, when there are any (boxed: errors travel in `Result`s).
    pub details: Option<Box<StatusDetails>>,
}

impl ApiError {
    /// A bare error with a code, reason and message.
    pub fn new(code: u16, reason: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            code,
            reason,
            message: message.into(),
            details: None,
        }
    }

    /// `resource.group "name" not found`.
    pub fn not_found(group: &str, resource: &str, name: &str) -> Self {
        ApiError::new(
            404,
            "NotFound",
            format!("{} \"{name}\" not found", qualified(group, resource)),
        )
        .with_details(group, resource, name)
    }

    /// `resource.group "name" already exists`.
    pub fn already_exists(group: &str, resource: &str, name: &str) -> Self {
        ApiError::new(
            409,
            "AlreadyExists",
            format!("{} \"{name}\" already exists", qualified(group, resource)),
        )
        .with_details(group, resource, name)
    }

    /// The optimistic-concurrency conflict message of the real server.
    pub fn conflict(group: &str, resource: &str, name: &str) -> Self {
        ApiError::new(
            409,
            "Conflict",
            format!(
                "Operation cannot be fulfilled on {} \"{name}\": the object has been modified; please apply your changes to the latest version and try again",
                qualified(group, resource)
            ),
        )
        .with_details(group, resource, name)
    }

    /// A 400 BadRequest.
    pub fn bad_request(message: impl Into<String>) -> Self {
        ApiError::new(400, "BadRequest", message)
    }

    /// A 422 Invalid with field causes `(field, type, message)`.
    pub fn invalid(
        kind: &str,
        group: &str,
        name: &str,
        causes: &[(String, &'static str, String)],
    ) -> Self {
        let summary: Vec<String> = causes.iter().map(|(f, _, m)| format!("{f}: {m}")).collect();
        let message = if summary.len() == 1 {
            format!(
                "{kind}.{} \"{name}\" is invalid: {}",
                group_or_core(group),
                summary[0]
            )
        } else {
            format!(
                "{kind}.{} \"{name}\" is invalid: [{}]",
                group_or_core(group),
                summary.join(", ")
            )
        };
        let message = message.replace(".core \"", " \"");
        let causes = causes
            .iter()
            .map(|(field, reason, msg)| StatusCause {
                field: Some(field.clone()),
                message: Some(msg.clone()),
                reason: Some((*reason).to_owned()),
            })
            .collect();
        ApiError {
            code: 422,
            reason: "Invalid",
            message,
            details: Some(Box::new(StatusDetails {
                name: Some(name.to_owned()),
                group: Some(group.to_owned()),
                kind: Some(kind.to_owned()),
                causes: Some(causes),
                ..StatusDetails::default()
            })),
        }
    }

    /// 405 for a verb the resource does not support.
    pub fn method_not_allowed() -> Self {
        ApiError::new(
            405,
            "MethodNotAllowed",
            "the server does not allow this method on the requested resource",
        )
    }

    /// 404 for a path the server does not serve.
    pub fn no_route() -> Self {
        ApiError::new(
            404,
            "NotFound",
            "the server could not find the requested resource",
        )
    }

    /// 401 without a valid bearer token.
    pub fn unauthorized() -> Self {
        ApiError::new(401, "Unauthorized", "Unauthorized")
    }

    /// 410 Expired for a resourceVersion the server no longer remembers.
    pub fn expired(message: impl Into<String>) -> Self {
        ApiError::new(410, "Expired", message)
    }

    /// 500 for the server's own failures.
    pub fn internal(message: impl Into<String>) -> Self {
        ApiError::new(
            500,
            "InternalError",
            format!("Internal error occurred: {}", message.into()),
        )
    }

    fn with_details(mut self, group: &str, resource: &str, name: &str) -> Self {
        self.details = Some(Box::new(details(group, resource, name)));
        self
    }

    /// The Status object.
    pub fn to_status(&self) -> Value {
        to_json(&Status {
            code: Some(i32::from(self.code)),
            details: self.details.as_deref().cloned(),
            message: Some(self.message.clone()),
            reason: Some(self.reason.to_owned()),
            status: Some("Failure".to_owned()),
            ..Status::default()
        })
    }

    /// The HTTP status code.
    pub fn status_code(&self) -> StatusCode {
        StatusCode::from_u16(self.code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }
}

/// The `details` naming an object: its name, its resource as `kind`, and its group unless
/// it is the core group.
pub fn details(group: &str, resource: &str, name: &str) -> StatusDetails {
    StatusDetails {
        name: Some(name.to_owned()),
        kind: Some(resource.to_owned()),
        group: (!group.is_empty()).then(|| group.to_owned()),
        ..StatusDetails::default()
    }
}

fn qualified(group: &str, resource: &str) -> String {
    if group.is_empty() {
        resource.to_owned()
    } else {
        format!("{resource}.{group}")
    }
}

fn group_or_core(group: &str) -> &str {
    if group.is_empty() { "core" } else { group }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn not_found_reads_like_the_real_server() {
        let err = ApiError::not_found("apps", "deployments", "x");
        let status: Status = serde_json::from_value(err.to_status()).expect("a Status");
        assert_eq!(
            status.message.as_deref(),
            Some("deployments.apps \"x\" not found")
        );
        let group = status.details.and_then(|d| d.group);
        assert_eq!(group.as_deref(), Some("apps"));
        assert_eq!(status.code, Some(404));
        assert_eq!(
            ApiError::not_found("", "pods", "p").message,
            "pods \"p\" not found"
        );
    }

    #[test]
    fn invalid_lists_causes() {
        let err = ApiError::invalid(
            "Deployment",
            "apps",
            "d",
            &[(
                "spec.template.spec.containers".to_owned(),
                "FieldValueRequired",
                "Required value".to_owned(),
            )],
        );
        assert_eq!(
            err.message,
            "Deployment.apps \"d\" is invalid: spec.template.spec.containers: Required value"
        );
        let pod = ApiError::invalid(
            "Pod",
            "",
            "p",
            &[(
                "metadata.name".to_owned(),
                "FieldValueInvalid",
                "bad".to_owned(),
            )],
        );
        assert_eq!(pod.message, "Pod \"p\" is invalid: metadata.name: bad");
    }
}
