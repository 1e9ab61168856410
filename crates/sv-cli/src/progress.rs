//! Progress for long work: an indicatif bar on a terminal, a log line every 10% otherwise
//! (CI logs stay short and readable).

use std::io::IsTerminal;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// A progress reporter for `total` units of work (items or bytes).
#[derive(Debug, Clone)]
pub struct Progress {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    label: String,
    total: u64,
    done: AtomicU64,
    last_decile: AtomicU64,
    bar: Option<ProgressBar>,
}

impl Progress {
    /// A bar when stderr is a terminal and `quiet` is off; log lines otherwise.
    pub fn new(label: impl Into<String>, total: u64, quiet: bool) -> Self {
        let interactive = !quiet && std::io::stderr().is_terminal();
        Self::with_mode(label, total, interactive)
    }

    fn with_mode(label: impl Into<String>, total: u64, interactive: bool) -> Self {
        let label = label.into();
        let bar = interactive.then(|| {
            let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
            let style =
                ProgressStyle::with_template("{msg} [{bar:30}] {pos}/{len} ({elapsed}, eta {eta})")
                    .unwrap_or_else(|_| ProgressStyle::default_bar())
                    .progress_chars("=> ");
            bar.set_style(style);
            bar.set_message(label.clone());
            bar
        });
        Self {
            inner: Arc::new(Inner {
                label,
                total,
                done: AtomicU64::new(0),
                last_decile: AtomicU64::new(0),
                bar,
            }),
        }
    }

    /// Records `n` more units done.
    pub fn inc(&self, n: u64) {
        let done = self.inner.done.fetch_add(n, Ordering::Relaxed) + n;
        if let Some(bar) = &self.inner.bar {
            bar.inc(n);
            return;
        }
        if self.inner.total == 0 {
            return;
        }
        let decile = (done.min(self.inner.total) * 10) / self.inner.total;
        let previous = self.inner.last_decile.fetch_max(decile, Ordering::Relaxed);
        if decile > previous {
            tracing::info!(
                "{}: {}/{} ({}%)",
                self.inner.label,
                done.min(self.inner.total),
                self.inner.total,
                decile * 10
            );
        }
    }

    /// Units done so far.
    pub fn position(&self) -> u64 {
        self.inner.done.load(Ordering::Relaxed)
    }

    /// Clears the bar (no-op for log mode).
    pub fn finish(&self) {
        if let Some(bar) = &self.inner.bar {
            bar.finish_and_clear();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_mode_counts_without_a_terminal() {
        let p = Progress::with_mode("backup", 20, false);
        for _ in 0..25 {
            p.inc(1);
        }
        assert_eq!(p.position(), 25);
        assert_eq!(p.inner.last_decile.load(Ordering::Relaxed), 10);
        p.finish();
    }
}
