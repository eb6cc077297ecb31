//! Matching a command the learner ran against a step's `expect:` entry, on words rather than
//! exact text: `kubectl describe pods web-1 -n demo` is `kubectl describe pod`.
//!
//! The command line is split into simple commands at `|`, `;`, `&&` and `||`; one of them
//! matches when its program is the expectation's first word and every further word of the
//! expectation follows, in order, with other words allowed between and after. kubectl's
//! resource names are equated with their singular, plural and short forms, `TYPE/NAME` counts
//! as both words, and `-n X` / `--namespace X` are ignored on both sides. A URL is the same
//! with or without `http://`, a trailing `/`, or `127.0.0.1` for `localhost`.

/// Resources the learner may name that the sandbox does not serve, as
/// `(plural, singular, short names)`; the sandbox's own table gives the rest.
const MORE_RESOURCES: &[(&str, &str, &[&str])] = &[
    ("statefulsets", "statefulset", &["sts"]),
    ("daemonsets", "daemonset", &["ds"]),
    ("ingresses", "ingress", &["ing"]),
    ("secrets", "secret", &[]),
    ("serviceaccounts", "serviceaccount", &["sa"]),
    ("persistentvolumeclaims", "persistentvolumeclaim", &["pvc"]),
    ("persistentvolumes", "persistentvolume", &["pv"]),
    ("jobs", "job", &[]),
    ("cronjobs", "cronjob", &["cj"]),
    (
        "horizontalpodautoscalers",
        "horizontalpodautoscaler",
        &["hpa"],
    ),
];

/// The plural name of the resource `word` names (`po`, `pod`, `pods.v1` → `pods`), if any.
fn resource_plural(word: &str) -> Option<&'static str> {
    // `deployments.apps` and `deployments.v1.apps` name the same resource.
    let base = word.split('.').next().unwrap_or(word);
    let lower = base.to_ascii_lowercase();
    let served = crate::sandbox::registry::resources::RESOURCES
        .iter()
        .map(|r| (r.resource, r.singular, r.short_names));
    served
        .chain(MORE_RESOURCES.iter().copied())
        .find(|(plural, singular, short)| {
            *plural == lower || *singular == lower || short.contains(&lower.as_str())
        })
        .map(|(plural, _, _)| plural)
}

/// Splits a command line into words, honouring single and double quotes and backslashes;
/// `|`, `;`, `&` stand alone so simple commands can be told apart.
fn words(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut word = String::new();
    let mut in_word = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\'' => {
                in_word = true;
                for q in chars.by_ref() {
                    if q == '\'' {
                        break;
                    }
                    word.push(q);
                }
            }
            '"' => {
                in_word = true;
                while let Some(q) = chars.next() {
                    match q {
                        '"' => break,
                        '\\' => {
                            if let Some(next) = chars.next() {
                                word.push(next);
                            }
                        }
                        _ => word.push(q),
                    }
                }
            }
            '\\' => {
                in_word = true;
                if let Some(next) = chars.next() {
                    word.push(next);
                }
            }
            '|' | ';' | '&' | '\n' => {
                if in_word {
                    out.push(std::mem::take(&mut word));
                    in_word = false;
                }
                out.push(";".to_owned());
            }
            c if c.is_whitespace() => {
                if in_word {
                    out.push(std::mem::take(&mut word));
                    in_word = false;
                }
            }
            c => {
                in_word = true;
                word.push(c);
            }
        }
    }
    if in_word {
        out.push(word);
    }
    out
}

/// One simple command's words as matching sees them: namespace flags dropped, `TYPE/NAME`
/// split, resource names made plural, leading `VAR=value` assignments skipped.
fn normalized(words: &[String]) -> Vec<String> {
    let mut out = Vec::new();
    let mut iter = words
        .iter()
        .skip_while(|w| w.contains('=') && !w.starts_with('-'))
        .peekable();
    while let Some(word) = iter.next() {
        if word == "-n" || word == "--namespace" {
            iter.next();
            continue;
        }
        if word.starts_with("--namespace=") || (word.starts_with("-n") && word.len() > 2) {
            continue;
        }
        let mut parts = word.splitn(2, '/');
        let head = parts.next().unwrap_or_default();
        let tail = parts.next();
        match (resource_plural(head), tail) {
            (Some(plural), Some(name)) => {
                out.push(plural.to_owned());
                out.push(name.to_owned());
            }
            // Only an argument can be a resource name; the program (`kubectl`) stays itself.
            (Some(plural), None) if !out.is_empty() => out.push(plural.to_owned()),
            _ => out.push(url_word(word)),
        }
    }
    out
}

/// `http://127.0.0.1:8001/version/` as `localhost:8001/version`; other words as they are.
fn url_word(word: &str) -> String {
    let bare = word
        .strip_prefix("http://")
        .or_else(|| word.strip_prefix("https://"))
        .unwrap_or(word);
    let bare = match bare.strip_prefix("127.0.0.1") {
        Some(rest) if rest.is_empty() || rest.starts_with([':', '/']) => format!("localhost{rest}"),
        _ => bare.to_owned(),
    };
    if bare.len() > 1 && bare.contains(':') {
        bare.trim_end_matches('/').to_owned()
    } else {
        bare
    }
}

/// Whether `command` (a whole command line) does what `expected` (an `expect:` entry) names.
pub fn matches(expected: &str, command: &str) -> bool {
    let want = normalized(&words(expected));
    let Some((program, rest)) = want.split_first() else {
        return false;
    };
    let all = words(command);
    all.split(|w| w == ";")
        .map(normalized)
        .any(|simple| match simple.split_first() {
            Some((first, args)) if program_is(first, program) => {
                let mut args = args.iter();
                rest.iter().all(|word| args.any(|arg| arg == word))
            }
            _ => false,
        })
}

/// `/usr/bin/kubectl` is `kubectl`.
fn program_is(word: &str, program: &str) -> bool {
    word == program || word.rsplit('/').next() == Some(program)
}

/// Why `expected` cannot be an `expect:` entry, if it cannot: empty, not starting with a
/// program name, or with shell syntax (which matching on words would not honour).
pub fn expectation_problem(expected: &str) -> Option<String> {
    // `$VAR` too: the shell reports the line as typed, so a variable would have to be typed
    // the same way; the words around it are enough to match on.
    const METACHARACTERS: &[&str] = &["|", ";", "&", "$", "`", ">", "<", "(", ")", "\n"];
    let trimmed = expected.trim();
    if trimmed.is_empty() {
        return Some("is empty".to_owned());
    }
    if let Some(found) = METACHARACTERS.iter().find(|m| trimmed.contains(**m)) {
        return Some(format!(
            "contains the shell syntax `{}`; name one command, matched on its words",
            found.trim()
        ));
    }
    let first = trimmed.split_whitespace().next().unwrap_or_default();
    let program_like = first
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '/'))
        && first
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphanumeric() || c == '/');
    if !program_like {
        return Some(format!(
            "starts with `{first}`, which is not a program name"
        ));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_of_the_expectation_must_appear_in_order() {
        assert!(matches("kubectl logs", "kubectl logs hello-abc"));
        assert!(matches(
            "kubectl describe pod",
            "kubectl describe pods hello-xyz -n default"
        ));
        assert!(matches("kubectl get pods", "kubectl get pods -o wide"));
        assert!(!matches("kubectl describe pod", "kubectl get pod"));
        assert!(!matches("kubectl describe pod", "kubectl pod describe"));
        assert!(!matches("kubectl logs", "kubectl"));
        assert!(!matches("kubectl logs", "echo kubectl logs"));
    }

    #[test]
    fn resource_aliases_are_equated() {
        for command in [
            "kubectl get po",
            "kubectl get pod",
            "kubectl get pods",
            "kubectl get Pods",
            "kubectl get pods.v1",
        ] {
            assert!(matches("kubectl get pods", command), "{command}");
        }
        assert!(matches(
            "kubectl get deploy",
            "kubectl get deployments.apps"
        ));
        assert!(matches("kubectl get svc", "kubectl get services"));
        assert!(matches("kubectl get replicaset", "kubectl get rs"));
        assert!(matches("kubectl get sts", "kubectl get statefulset"));
        assert!(matches(
            "kubectl describe deployment",
            "kubectl describe deploy/hello"
        ));
        assert!(!matches("kubectl get pods", "kubectl get svc"));
    }

    #[test]
    fn namespace_flags_are_ignored_wherever_they_are() {
        for command in [
            "kubectl -n demo logs web",
            "kubectl logs --namespace demo web",
            "kubectl logs --namespace=demo web",
            "kubectl logs -ndemo web",
        ] {
            assert!(matches("kubectl logs web", command), "{command}");
        }
        assert!(matches("kubectl logs -n demo", "kubectl logs web"));
        // The namespace's value is not a word of the command.
        assert!(!matches("kubectl logs demo", "kubectl logs -n demo web"));
    }

    #[test]
    fn any_part_of_a_pipeline_or_list_may_match() {
        assert!(matches(
            "kubectl logs",
            "kubectl get pods && kubectl logs web | grep GET"
        ));
        assert!(matches("curl", "sleep 1; curl -s localhost:8001/api"));
        assert!(matches("curl", "URL=x /usr/bin/curl -s $URL"));
        assert!(!matches("grep", "echo 'a | grep b'"));
    }

    #[test]
    fn urls_match_with_or_without_scheme_trailing_slash_or_loopback_address() {
        for command in [
            "curl http://localhost:8001/version",
            "curl localhost:8001/version/",
            "curl -s http://127.0.0.1:8001/version",
        ] {
            assert!(matches("curl localhost:8001/version", command), "{command}");
        }
        assert!(!matches(
            "curl localhost:8001/version",
            "curl localhost:8001/api"
        ));
        assert!(!matches(
            "curl localhost:8001/version",
            "curl localhost:8002/version"
        ));
    }

    #[test]
    fn quotes_and_escapes_make_one_word() {
        assert_eq!(
            words(r#"kubectl exec web -- sh -c "echo \"hi\"" 'a b' c\ d"#),
            [
                "kubectl",
                "exec",
                "web",
                "--",
                "sh",
                "-c",
                "echo \"hi\"",
                "a b",
                "c d"
            ]
        );
    }

    #[test]
    fn expectations_with_shell_syntax_or_no_program_are_refused() {
        assert_eq!(expectation_problem("kubectl logs"), None);
        assert_eq!(expectation_problem("curl localhost:8001/api"), None);
        assert!(expectation_problem(" ").is_some_and(|p| p.contains("empty")));
        for bad in [
            "kubectl get pods | grep web",
            "kubectl get pods; kubectl logs",
            "kubectl get pods && true",
            "echo $(kubectl get pods)",
        ] {
            assert!(
                expectation_problem(bad).is_some_and(|p| p.contains("shell syntax")),
                "{bad}"
            );
        }
        assert!(expectation_problem("-n demo kubectl").is_some_and(|p| p.contains("program")));
        assert!(expectation_problem("$KUBECTL get pods").is_some());
    }
}
