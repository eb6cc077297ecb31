//! kubetutor's own log lines on stderr, for humans: `warning: the sandbox state was unreadable
//! and was set aside (reason: ..., moved to: ...)`.
//!
//! Quiet by default, but kubetutor's warnings and errors always show (a state file set aside,
//! a controller that panicked); `-v` adds what kubetutor does, `-vv` debugging details and
//! other crates' warnings. `RUST_LOG`, when set, decides instead.

use std::fmt;

use owo_colors::OwoColorize;
use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::registry::LookupSpan;

use crate::term::Styles;

/// The filter for `-v` repeated `verbosity` times, when `RUST_LOG` is not set.
pub fn default_filter(verbosity: u8) -> &'static str {
    match verbosity {
        0 => "kubetutor=warn",
        1 => "warn,kubetutor=info",
        2 => "warn,kubetutor=debug",
        _ => "debug,kubetutor=trace",
    }
}

/// Installs the stderr subscriber. A malformed `RUST_LOG` is reported and the default used.
pub fn init(verbosity: u8, styles: Styles) {
    let default = || EnvFilter::new(default_filter(verbosity));
    let mut bad_rust_log = None;
    let filter = match std::env::var("RUST_LOG") {
        Ok(spec) if !spec.trim().is_empty() => EnvFilter::try_new(&spec).unwrap_or_else(|err| {
            bad_rust_log = Some(err.to_string());
            default()
        }),
        _ => default(),
    };
    let installed = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(filter)
        .event_format(HumanFormat { styles })
        .try_init();
    // Only a second initialisation (tests driving `dispatch`) fails, and the first one stays.
    if installed.is_ok()
        && let Some(err) = bad_rust_log
    {
        tracing::warn!("RUST_LOG is not a valid filter ({err}); using the default");
    }
}

/// `level: message (field: value, ...)`, the level word coloured; debug and trace lines also
/// name the module they come from.
#[derive(Debug, Clone, Copy)]
pub struct HumanFormat {
    /// Styles for the level word.
    pub styles: Styles,
}

impl<S, N> FormatEvent<S, N> for HumanFormat
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        _ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let meta = event.metadata();
        let level = *meta.level();
        let (word, style) = match level {
            Level::ERROR => ("error", self.styles.error),
            Level::WARN => ("warning", self.styles.warning),
            Level::INFO => ("info", self.styles.dim),
            Level::DEBUG => ("debug", self.styles.dim),
            Level::TRACE => ("trace", self.styles.dim),
        };
        write!(writer, "{}: ", word.style(style))?;
        if level >= Level::DEBUG {
            write!(writer, "{}: ", meta.target())?;
        }
        let mut fields = HumanFields::default();
        event.record(&mut fields);
        writer.write_str(&fields.message)?;
        if !fields.rest.is_empty() {
            write!(writer, " ({})", fields.rest.join(", "))?;
        }
        writeln!(writer)
    }
}

/// The message, and the other fields as `name: value` (`moved_to` reads `moved to`).
#[derive(Debug, Default)]
struct HumanFields {
    message: String,
    rest: Vec<String>,
}

impl HumanFields {
    fn push(&mut self, field: &Field, value: String) {
        if field.name() == "message" {
            self.message = value;
        } else {
            self.rest
                .push(format!("{}: {value}", field.name().replace('_', " ")));
        }
    }
}

impl Visit for HumanFields {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.push(field, value.to_owned());
    }

    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        self.push(field, crate::error::chain(value));
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.push(field, format!("{value:?}"));
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use tracing_subscriber::fmt::MakeWriter;

    use super::*;

    #[derive(Clone, Default)]
    struct Buffer(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Buffer {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0.lock().expect("buffer lock").extend_from_slice(bytes);
            Ok(bytes.len())
        }

        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl<'a> MakeWriter<'a> for Buffer {
        type Writer = Buffer;

        fn make_writer(&'a self) -> Self::Writer {
            self.clone()
        }
    }

    fn logged(verbosity: u8, log: impl FnOnce()) -> String {
        let buffer = Buffer::default();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(buffer.clone())
            .with_env_filter(EnvFilter::new(default_filter(verbosity)))
            .event_format(HumanFormat {
                styles: Styles::plain(),
            })
            .finish();
        tracing::subscriber::with_default(subscriber, log);
        let bytes = buffer.0.lock().expect("buffer lock").clone();
        String::from_utf8(bytes).expect("UTF-8 log")
    }

    #[test]
    fn warnings_read_as_sentences_with_their_fields_and_info_is_quiet_by_default() {
        let text = logged(0, || {
            let reason = "expected value at line 1";
            tracing::warn!(%reason, moved_to = "/s/state.json.bad", "the state was set aside");
            tracing::error!("a controller pass panicked");
            tracing::info!("not shown without -v");
        });
        assert_eq!(
            text,
            "warning: the state was set aside (reason: expected value at line 1, moved to: \
             /s/state.json.bad)\nerror: a controller pass panicked\n"
        );
    }

    #[test]
    fn verbosity_shows_info_then_debug_with_its_module() {
        let once = logged(1, || {
            tracing::info!("watching 3 kinds");
            tracing::debug!("hidden at -v");
        });
        assert_eq!(once, "info: watching 3 kinds\n");
        let twice = logged(2, || tracing::debug!("watch expired"));
        assert_eq!(twice, "debug: kubetutor::logging::tests: watch expired\n");
    }
}
