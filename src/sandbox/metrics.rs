//! Request counters served at `/metrics` in the Prometheus text format.

use std::collections::BTreeMap;
use std::sync::Mutex;

/// `apiserver_request_total{verb,resource,code}` counters.
#[derive(Debug, Default)]
pub struct Metrics {
    counts: Mutex<BTreeMap<(String, String, u16), u64>>,
}

impl Metrics {
    /// Counts one request.
    pub fn record(&self, verb: &str, resource: &str, code: u16) {
        let mut counts = self.counts.lock().unwrap_or_else(|e| e.into_inner());
        *counts
            .entry((verb.to_uppercase(), resource.to_owned(), code))
            .or_default() += 1;
    }

    /// Total requests counted so far.
    pub fn total(&self) -> u64 {
        self.counts
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .values()
            .sum()
    }

    /// The Prometheus exposition text.
    pub fn render(&self) -> String {
        let counts = self.counts.lock().unwrap_or_else(|e| e.into_inner());
        let mut out = String::from(
            "# HELP apiserver_request_total Counter of apiserver requests broken out for each verb, resource and HTTP response code.\n# TYPE apiserver_request_total counter\n",
        );
        for ((verb, resource, code), n) in counts.iter() {
            out.push_str(&format!(
                "apiserver_request_total{{code=\"{code}\",resource=\"{}\",verb=\"{}\"}} {n}\n",
                escape(resource),
                escape(verb)
            ));
        }
        out
    }
}

fn escape(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_counters() {
        let m = Metrics::default();
        m.record("get", "pods", 200);
        m.record("get", "pods", 200);
        m.record("list", "", 401);
        let text = m.render();
        assert!(
            text.contains("apiserver_request_total{code=\"200\",resource=\"pods\",verb=\"GET\"} 2")
        );
        assert_eq!(m.total(), 3);
    }
}
