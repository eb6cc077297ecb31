//! Goals as pure predicates over cluster objects, with "why not yet" explanations.
