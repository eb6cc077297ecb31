//! Shell text as lint sees it: variables used and set, images named, replica counts.
//!
//! These are deliberately simple scanners, not a shell parser: they recognise the forms lesson
//! authors write (`$NAME`, `${NAME}`, `export NAME=...`, `--image=...`, `set image c=...`,
//! `--replicas=N`).

/// Environment variables every shell has; using them needs no capture.
pub const COMMON_ENV: &[&str] = &[
    "HOME",
    "PATH",
    "USER",
    "SHELL",
    "PWD",
    "TERM",
    "LANG",
    "TMPDIR",
    "HOSTNAME",
    "KUBECONFIG",
    "EDITOR",
];

/// Whether `name` is a capture name: upper-case letters, digits and `_`, not starting with a
/// digit.
pub fn is_capture_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_uppercase() || c == '_')
        && chars.all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
}

/// Upper-case variables referenced as `$NAME` or `${NAME}`, with the byte offset of the `$`.
///
/// Lower-case names are left alone: they are the shell's own (loop variables and the like).
pub fn used_variables(text: &str) -> Vec<(usize, &str)> {
    let bytes = text.as_bytes();
    let mut found = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] != b'$' || (i > 0 && bytes[i - 1] == b'\\') {
            i += 1;
            continue;
        }
        let braced = bytes.get(i + 1) == Some(&b'{');
        let start = i + 1 + usize::from(braced);
        let len = text[start..]
            .bytes()
            .take_while(|b| b.is_ascii_alphanumeric() || *b == b'_')
            .count();
        let name = &text[start..start + len];
        let closed = !braced || bytes.get(start + len) == Some(&b'}');
        if len > 0 && closed && is_capture_name(name) {
            found.push((i, name));
        }
        i = if len > 0 { start + len } else { i + 1 };
    }
    found
}

/// `text` with each `$NAME` / `${NAME}` that `values` has replaced by its value; variables
/// it does not have stay as written.
pub fn expand(text: &str, values: &std::collections::BTreeMap<String, String>) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = 0;
    for (at, name) in used_variables(text) {
        let Some(value) = values.get(name) else {
            continue;
        };
        let braced = text.as_bytes().get(at + 1) == Some(&b'{');
        let end = at + 1 + name.len() + if braced { 2 } else { 0 };
        out.push_str(&text[rest..at]);
        out.push_str(value);
        rest = end;
    }
    out.push_str(&text[rest..]);
    out
}

/// Upper-case variables a line of shell sets (`NAME=...`, `export NAME=...`).
pub fn assigned_variables(line: &str) -> Vec<&str> {
    line.split(|c: char| c.is_whitespace() || matches!(c, ';' | '&' | '|' | '(' | '`'))
        .filter_map(|word| word.split_once('=').map(|(name, _)| name))
        .filter(|name| is_capture_name(name))
        .collect()
}

/// Whether `needle` occurs in `hay` as a whole token (`app:v1` is not in `app:v10`).
pub fn contains_token(hay: &str, needle: &str) -> bool {
    find_token(hay, needle).is_some()
}

/// Byte offset of `needle` in `hay` as a whole token.
pub fn find_token(hay: &str, needle: &str) -> Option<usize> {
    if needle.is_empty() {
        return None;
    }
    let is_word = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | '/' | ':');
    let mut from = 0;
    while let Some(pos) = hay[from..].find(needle) {
        let at = from + pos;
        let end = at + needle.len();
        let before_ok = !hay[..at].chars().next_back().is_some_and(is_word);
        let after_ok = !hay[end..].chars().next().is_some_and(is_word);
        if before_ok && after_ok {
            return Some(at);
        }
        from = at + needle.chars().next().map_or(1, char::len_utf8);
    }
    None
}

/// Images a line of shell names: `--image=X`, `--image X`, and `c=X` after `set image`.
pub fn images_in(line: &str) -> Vec<&str> {
    let words: Vec<&str> = line.split_whitespace().collect();
    let mut images = Vec::new();
    let mut after_set_image = false;
    for (i, word) in words.iter().enumerate() {
        let word = word.trim_matches(|c| c == '"' || c == '\'');
        if let Some(image) = word.strip_prefix("--image=") {
            images.push(image);
        } else if word == "--image" {
            if let Some(next) = words.get(i + 1) {
                images.push(next.trim_matches(|c| c == '"' || c == '\''));
            }
        } else if word == "image" && i > 0 && words[i - 1] == "set" {
            after_set_image = true;
        } else if after_set_image
            && !word.starts_with('-')
            && let Some((_, image)) = word.split_once('=')
        {
            images.push(image);
        }
        if matches!(word, ";" | "&&" | "||" | "|") {
            after_set_image = false;
        }
    }
    images.retain(|i| !i.is_empty());
    images
}

/// Whether a line of shell sets a replica count of `n` (`--replicas=4`, `replicas: 4`).
pub fn sets_replicas(line: &str, n: u32) -> bool {
    let mut rest = line;
    while let Some(pos) = rest.find("replicas") {
        let after = &rest[pos + "replicas".len()..];
        let digits: String = after
            .trim_start_matches(['=', ':', ' ', '"'])
            .chars()
            .take_while(char::is_ascii_digit)
            .collect();
        if digits.parse::<u32>() == Ok(n) {
            return true;
        }
        rest = after;
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expands_captured_variables_and_leaves_the_others() {
        let values = std::collections::BTreeMap::from([
            ("POD".to_owned(), "web-1".to_owned()),
            ("PORT".to_owned(), "30080".to_owned()),
        ]);
        assert_eq!(
            expand("pod $POD on ${PORT}, $OTHER, \\$POD, $POD_X", &values),
            "pod web-1 on 30080, $OTHER, \\$POD, $POD_X"
        );
        assert_eq!(expand("", &values), "");
    }

    #[test]
    fn finds_used_variables() {
        let text = "curl $HOST:${PORT}/x \\$ESCAPED $lower ${BAD $ $1";
        let names: Vec<_> = used_variables(text).into_iter().map(|(_, n)| n).collect();
        assert_eq!(names, ["HOST", "PORT"]);
        assert_eq!(used_variables("a $X")[0].0, 2);
    }

    #[test]
    fn finds_assigned_variables() {
        assert_eq!(assigned_variables("export POD=$(kubectl get)"), ["POD"]);
        assert_eq!(
            assigned_variables("A=1; B=2 cmd --image=x version=v1"),
            ["A", "B"]
        );
    }

    #[test]
    fn matches_whole_tokens_only() {
        assert!(contains_token("kubectl set image d/x c=repo:v1", "repo:v1"));
        assert!(!contains_token(
            "kubectl set image d/x c=repo:v10",
            "repo:v1"
        ));
        assert!(contains_token("--image=repo:v1", "repo:v1"));
    }

    #[test]
    fn finds_images_and_replicas() {
        assert_eq!(
            images_in(
                "kubectl create deployment web --image=nginx:1 && kubectl set image deployment/web web=nginx:2"
            ),
            ["nginx:1", "nginx:2"]
        );
        assert_eq!(images_in("kubectl run x --image busybox"), ["busybox"]);
        assert!(sets_replicas(
            "kubectl scale deployment/web --replicas=4",
            4
        ));
        assert!(sets_replicas(
            "kubectl scale deployment/web --replicas 3",
            3
        ));
        assert!(!sets_replicas(
            "kubectl scale deployment/web --replicas=40",
            4
        ));
    }

    #[test]
    fn capture_names() {
        assert!(is_capture_name("POD_NAME"));
        assert!(is_capture_name("_X1"));
        assert!(!is_capture_name("pod"));
        assert!(!is_capture_name("1X"));
        assert!(!is_capture_name(""));
    }
}
