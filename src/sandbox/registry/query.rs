//! Query-string parsing and the list options built from it.

use std::collections::BTreeMap;

use crate::k8s::selector::{FieldSelector, LabelSelector};

use super::status::ApiError;

/// Decodes `%XX` escapes and `+` in a query component.
pub fn percent_decode(input: &str) -> String {
    let bytes = input.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3])
                    .ok()
                    .and_then(|h| u8::from_str_radix(h, 16).ok());
                match hex {
                    Some(b) => {
                        out.push(b);
                        i += 2;
                    }
                    None => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Parsed query parameters (the last value wins; `command` keeps every value).
#[derive(Debug, Default, Clone)]
pub struct Query {
    values: BTreeMap<String, String>,
    /// Every `command=` value, in order (exec).
    pub commands: Vec<String>,
}

impl Query {
    /// Parses a raw query string.
    pub fn parse(raw: Option<&str>) -> Self {
        let mut query = Query::default();
        for pair in raw.unwrap_or_default().split('&').filter(|p| !p.is_empty()) {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            let (k, v) = (percent_decode(k), percent_decode(v));
            if k == "command" {
                query.commands.push(v.clone());
            }
            query.values.insert(k, v);
        }
        query
    }

    /// One parameter.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.values.get(key).map(String::as_str)
    }

    /// A boolean parameter (`true`/`1`).
    pub fn flag(&self, key: &str) -> bool {
        matches!(self.get(key), Some("true" | "1"))
    }

    /// An integer parameter; 400 when present and malformed.
    pub fn int(&self, key: &str) -> Result<Option<i64>, ApiError> {
        match self.get(key).filter(|v| !v.is_empty()) {
            None => Ok(None),
            Some(v) => v.parse().map(Some).map_err(|_| {
                ApiError::bad_request(format!("invalid value for {key}: {v:?} is not an integer"))
            }),
        }
    }

    /// Whether `dryRun=All` was asked.
    pub fn dry_run(&self) -> bool {
        self.get("dryRun").is_some_and(|v| v == "All")
    }

    /// The label selector, 400 when malformed.
    pub fn label_selector(&self) -> Result<Option<LabelSelector>, ApiError> {
        match self.get("labelSelector").filter(|s| !s.is_empty()) {
            None => Ok(None),
            Some(s) => LabelSelector::parse(s).map(Some).map_err(|e| {
                ApiError::bad_request(format!("unable to parse requirement: {}", e.0))
            }),
        }
    }

    /// The field selector, 400 when malformed.
    pub fn field_selector(&self) -> Result<Option<FieldSelector>, ApiError> {
        match self.get("fieldSelector").filter(|s| !s.is_empty()) {
            None => Ok(None),
            Some(s) => FieldSelector::parse(s)
                .map(Some)
                .map_err(|e| ApiError::bad_request(format!("invalid field selector: {}", e.0))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_decodes() {
        let q = Query::parse(Some(
            "labelSelector=app%3Dweb%2Cversion+in+(v1)&watch=1&command=env&command=-i",
        ));
        assert_eq!(q.get("labelSelector"), Some("app=web,version in (v1)"));
        assert!(q.flag("watch"));
        assert_eq!(q.commands, vec!["env", "-i"]);
        assert_eq!(percent_decode("100%"), "100%");
        assert_eq!(percent_decode("%4"), "%4");
        assert!(Query::parse(Some("limit=x")).int("limit").is_err());
    }
}
