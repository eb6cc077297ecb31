//! "Did you mean ...?" suggestions for misspelt keys and values.

/// The candidate closest to `word`, if it is close enough to be a likely typo.
///
/// A case-insensitive match wins outright (`Nodeport` -> `NodePort`); otherwise the closest
/// candidate by Damerau-Levenshtein distance is offered when the distance is small for the
/// word's length, or when one is a prefix of the other (`deploy` -> `deployed`).
pub fn did_you_mean<'a, I>(word: &str, candidates: I) -> Option<&'a str>
where
    I: IntoIterator<Item = &'a str>,
{
    let lower = word.to_lowercase();
    let mut best: Option<(usize, &'a str)> = None;
    for candidate in candidates {
        let cand_lower = candidate.to_lowercase();
        if cand_lower == lower {
            return Some(candidate);
        }
        let distance = strsim::damerau_levenshtein(&lower, &cand_lower);
        let close = distance <= (word.chars().count() / 3).max(1)
            || strsim::jaro_winkler(&lower, &cand_lower) >= 0.9
            || (lower.len() >= 3
                && (cand_lower.starts_with(&lower) || lower.starts_with(&cand_lower)));
        if close && best.is_none_or(|(d, _)| distance < d) {
            best = Some((distance, candidate));
        }
    }
    best.map(|(_, c)| c)
}

/// The back-quoted words of a serde "expected one of `a`, `b`" list, in order.
pub fn backquoted(text: &str) -> Vec<&str> {
    text.split('`').skip(1).step_by(2).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggests_close_keys() {
        let keys = ["id", "title", "explain", "commands", "hints"];
        assert_eq!(did_you_mean("titel", keys), Some("title"));
        assert_eq!(did_you_mean("hint", keys), Some("hints"));
        assert_eq!(did_you_mean("explian", keys), Some("explain"));
        assert_eq!(did_you_mean("zzzzzz", keys), None);
    }

    #[test]
    fn suggests_values_ignoring_case_and_prefixes() {
        assert_eq!(
            did_you_mean("Nodeport", ["ClusterIP", "NodePort", "LoadBalancer"]),
            Some("NodePort")
        );
        assert_eq!(
            did_you_mean("deploy", ["deployed", "exposed", "scaled"]),
            Some("deployed")
        );
        assert_eq!(
            did_you_mean("rollback", ["rolled_back", "rollout_stuck"]),
            Some("rolled_back")
        );
    }

    #[test]
    fn reads_backquoted_lists() {
        assert_eq!(
            backquoted("unknown field `x`, expected one of `a`, `b`"),
            vec!["x", "a", "b"]
        );
    }
}
