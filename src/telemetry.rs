//! Logging set up in one place. `RUST_LOG` overrides `log.filter`; tests simply never call this.
//!
//! The caller chooses where logs go: the server logs to stdout, the operator commands to stderr (their
//! stdout is the command's output, which may be piped).

use crate::config::{LogFormat, LogSettings};
use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::MakeWriter;

/// Installs the global subscriber writing to `writer` (e.g. `std::io::stdout` or `std::io::stderr`);
/// does nothing if one is already installed.
pub fn init<W>(settings: &LogSettings, writer: W)
where
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(&settings.filter));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_target(false).with_writer(writer);
    let _ = match settings.format {
        LogFormat::Json => builder.json().try_init(),
        LogFormat::Text => builder.try_init(),
    };
}
