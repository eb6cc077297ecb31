//! Object-name and label validation, with the API server's own wording so that learners and
//! authors see the messages they would get from a real cluster.

const DNS1123_LABEL_FMT: &str = "[a-z0-9]([-a-z0-9]*[a-z0-9])?";
const DNS1035_LABEL_FMT: &str = "[a-z]([-a-z0-9]*[a-z0-9])?";
const QUALIFIED_NAME_FMT: &str = "([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]";
const LABEL_VALUE_FMT: &str = "(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?";

fn is_lower_alnum(c: char) -> bool {
    c.is_ascii_lowercase() || c.is_ascii_digit()
}

fn is_dns1123_label(s: &str) -> bool {
    !s.is_empty()
        && s.chars().all(|c| is_lower_alnum(c) || c == '-')
        && s.starts_with(is_lower_alnum)
        && s.ends_with(is_lower_alnum)
}

fn is_qualified_name_part(s: &str) -> bool {
    !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        && s.starts_with(|c: char| c.is_ascii_alphanumeric())
        && s.ends_with(|c: char| c.is_ascii_alphanumeric())
}

fn too_long(max: usize) -> String {
    format!("must be no more than {max} characters")
}

/// Validates a DNS-1123 subdomain: the rule for most object names (deployments, pods, ...).
pub fn validate_subdomain(name: &str) -> Result<(), String> {
    if name.len() > 253 {
        return Err(too_long(253));
    }
    if name.is_empty() || !name.split('.').all(is_dns1123_label) {
        return Err(format!(
            "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, \
             '-' or '.', and must start and end with an alphanumeric character (e.g. \
             'example.com', regex used for validation is \
             '{DNS1123_LABEL_FMT}(\\.{DNS1123_LABEL_FMT})*')"
        ));
    }
    Ok(())
}

/// Validates a DNS-1123 label: the rule for namespace names.
pub fn validate_label(name: &str) -> Result<(), String> {
    if name.len() > 63 {
        return Err(too_long(63));
    }
    if !is_dns1123_label(name) {
        return Err(format!(
            "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or \
             '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or \
             '123-abc', regex used for validation is '{DNS1123_LABEL_FMT}')"
        ));
    }
    Ok(())
}

/// Validates a DNS-1035 label: the rule for Service names (they must start with a letter).
pub fn validate_dns1035_label(name: &str) -> Result<(), String> {
    if name.len() > 63 {
        return Err(too_long(63));
    }
    let ok = is_dns1123_label(name) && name.starts_with(|c: char| c.is_ascii_lowercase());
    if !ok {
        return Err(format!(
            "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start \
             with an alphabetic character, and end with an alphanumeric character (e.g. \
             'my-name',  or 'abc-123', regex used for validation is '{DNS1035_LABEL_FMT}')"
        ));
    }
    Ok(())
}

/// Validates a label or annotation key: an optional DNS subdomain prefix and `/`, then a name.
pub fn validate_label_key(key: &str) -> Result<(), String> {
    let (prefix, name) = match key.split_once('/') {
        Some((prefix, name)) => (Some(prefix), name),
        None => (None, key),
    };
    if let Some(prefix) = prefix {
        if prefix.is_empty() {
            return Err("prefix part must be non-empty".to_owned());
        }
        validate_subdomain(prefix).map_err(|e| format!("prefix part {e}"))?;
    }
    if name.is_empty() {
        return Err("name part must be non-empty".to_owned());
    }
    if name.len() > 63 {
        return Err(format!("name part {}", too_long(63)));
    }
    if !is_qualified_name_part(name) {
        return Err(format!(
            "name part must consist of alphanumeric characters, '-', '_' or '.', and must start \
             and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or \
             '123-abc', regex used for validation is '{QUALIFIED_NAME_FMT}')"
        ));
    }
    Ok(())
}

/// Validates a label value: empty, or up to 63 alphanumerics with `-`, `_`, `.` inside.
pub fn validate_label_value(value: &str) -> Result<(), String> {
    if value.len() > 63 {
        return Err(too_long(63));
    }
    if !value.is_empty() && !is_qualified_name_part(value) {
        return Err(format!(
            "a valid label must be an empty string or consist of alphanumeric characters, '-', \
             '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  \
             or 'my_value',  or '12345', regex used for validation is '{LABEL_VALUE_FMT}')"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subdomains() {
        assert!(validate_subdomain("web").is_ok());
        assert!(validate_subdomain("web-1.example").is_ok());
        assert!(
            validate_subdomain("Web")
                .unwrap_err()
                .contains("RFC 1123 subdomain")
        );
        assert!(validate_subdomain("-web").is_err());
        assert!(validate_subdomain("web.").is_err());
        assert!(validate_subdomain("").is_err());
        assert!(
            validate_subdomain(&"a".repeat(254))
                .unwrap_err()
                .contains("253")
        );
    }

    #[test]
    fn labels_and_service_names() {
        assert!(validate_label("default").is_ok());
        assert!(validate_label("a.b").is_err());
        assert!(validate_label(&"a".repeat(64)).is_err());
        assert!(validate_dns1035_label("web").is_ok());
        assert!(
            validate_dns1035_label("1web")
                .unwrap_err()
                .contains("DNS-1035")
        );
    }

    #[test]
    fn label_keys_and_values() {
        assert!(validate_label_key("app").is_ok());
        assert!(validate_label_key("app.kubernetes.io/name").is_ok());
        assert!(validate_label_key("/name").is_err());
        assert!(validate_label_key("Bad_Prefix/name").is_err());
        assert!(validate_label_key("a/").is_err());
        assert!(validate_label_value("").is_ok());
        assert!(validate_label_value("v1.2_3").is_ok());
        assert!(validate_label_value("-v1").is_err());
    }
}
