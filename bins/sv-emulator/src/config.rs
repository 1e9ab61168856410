//! Emulator configuration: seeded identities, auth, persistence, faults. Built by the
//! library builder or by the binary's flags; nothing here reads the environment.

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

/// Fault kinds that `--faults` / the `sv-emulator-fault` header can inject.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FaultKind {
    /// Answer with this HTTP status and Cloudflare's error body for it (429 carries
    /// `retry-after`).
    Status(u16),
    /// Drop the TCP connection with a reset instead of answering.
    Reset,
    /// Answer normally, after the configured slow delay.
    Slow,
}

impl FaultKind {
    /// Parses `429`, `500`, `502`, `503` (any 4xx/5xx), `reset` or `slow`.
    pub fn parse(s: &str) -> Option<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "reset" => Some(Self::Reset),
            "slow" => Some(Self::Slow),
            other => other
                .parse::<u16>()
                .ok()
                .filter(|c| (400..600).contains(c))
                .map(Self::Status),
        }
    }
}

impl fmt::Display for FaultKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Status(c) => write!(f, "{c}"),
            Self::Reset => f.write_str("reset"),
            Self::Slow => f.write_str("slow"),
        }
    }
}

/// Random faults applied to API calls.
#[derive(Debug, Clone, PartialEq)]
pub struct FaultConfig {
    /// Added to every API response.
    pub latency: Duration,
    /// Probability (0..=1) that a request gets one of `kinds`.
    pub rate: f64,
    pub kinds: Vec<FaultKind>,
    /// Delay used by the `slow` fault.
    pub slow: Duration,
}

impl Default for FaultConfig {
    fn default() -> Self {
        Self {
            latency: Duration::ZERO,
            rate: 0.0,
            kinds: vec![
                FaultKind::Status(429),
                FaultKind::Status(500),
                FaultKind::Status(502),
                FaultKind::Status(503),
            ],
            slow: Duration::from_secs(3),
        }
    }
}

/// Everything an emulator instance needs.
#[derive(Clone)]
pub struct Config {
    pub account_id: String,
    pub account_name: String,
    pub zone_id: String,
    pub zone_name: String,
    /// Pre-registered workers.dev subdomain (`None`: the account starts without one).
    pub workers_subdomain: Option<String>,
    pub user_email: String,
    /// When set, only this bearer token is accepted.
    pub token: Option<String>,
    /// Persist under this directory; `None` keeps everything in memory.
    pub data_dir: Option<PathBuf>,
    /// Seed for ids; `None` seeds from the OS.
    pub seed: Option<u64>,
    pub faults: FaultConfig,
    /// Cloudflare's global limit (1,200 requests / 5 minutes) scaled by this factor in both
    /// count and window; `None` disables rate limiting.
    pub rate_limit_scale: Option<f64>,
    /// Check every API request against its operation's request schema and answer
    /// violations with a distinctive 400 (`crate::validation`).
    pub validate_requests: bool,
}

/// Default identities: stable so docs and tests can name them.
pub const DEFAULT_ACCOUNT_ID: &str = "5e1f0c0ffee0a11ce5e1f0c0ffee0a11";
pub const DEFAULT_ZONE_ID: &str = "0a0b0c0d0e0f10111213141516171819";

impl Default for Config {
    fn default() -> Self {
        Self {
            account_id: DEFAULT_ACCOUNT_ID.into(),
            account_name: "sv-emulator account".into(),
            zone_id: DEFAULT_ZONE_ID.into(),
            zone_name: "example.com".into(),
            workers_subdomain: Some("sv-emulator".into()),
            user_email: "dev@example.com".into(),
            token: None,
            data_dir: None,
            seed: None,
            faults: FaultConfig::default(),
            rate_limit_scale: None,
            validate_requests: false,
        }
    }
}

impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Config")
            .field("account_id", &self.account_id)
            .field("account_name", &self.account_name)
            .field("zone_id", &self.zone_id)
            .field("zone_name", &self.zone_name)
            .field("workers_subdomain", &self.workers_subdomain)
            .field("user_email", &self.user_email)
            .field("token", &self.token.as_ref().map(|_| "[redacted]"))
            .field("data_dir", &self.data_dir)
            .field("seed", &self.seed)
            .field("faults", &self.faults)
            .field("rate_limit_scale", &self.rate_limit_scale)
            .field("validate_requests", &self.validate_requests)
            .finish()
    }
}

/// Parses `50ms`, `2s`, `1.5s`, `1m`, or a bare number of milliseconds.
pub fn parse_duration(s: &str) -> Option<Duration> {
    let s = s.trim();
    let (num, unit) = match s.find(|c: char| !(c.is_ascii_digit() || c == '.')) {
        Some(i) => (&s[..i], s[i..].trim()),
        None => (s, "ms"),
    };
    let n: f64 = num
        .parse()
        .ok()
        .filter(|n: &f64| n.is_finite() && *n >= 0.0)?;
    let secs = match unit {
        "ms" => n / 1000.0,
        "s" => n,
        "m" => n * 60.0,
        _ => return None,
    };
    Some(Duration::from_secs_f64(secs))
}

/// 32 lower-case hex characters, the shape of every Cloudflare tag/id.
pub fn is_hex32(s: &str) -> bool {
    s.len() == 32 && s.bytes().all(|b| b.is_ascii_hexdigit())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("50ms"), Some(Duration::from_millis(50)));
        assert_eq!(parse_duration("2s"), Some(Duration::from_secs(2)));
        assert_eq!(parse_duration("1m"), Some(Duration::from_secs(60)));
        assert_eq!(parse_duration("75"), Some(Duration::from_millis(75)));
        assert_eq!(parse_duration("x"), None);
        assert_eq!(parse_duration("5h"), None);
    }

    #[test]
    fn faults() {
        assert_eq!(FaultKind::parse("reset"), Some(FaultKind::Reset));
        assert_eq!(FaultKind::parse("503"), Some(FaultKind::Status(503)));
        assert_eq!(FaultKind::parse("200"), None);
    }

    #[test]
    fn debug_redacts_token() {
        let c = Config {
            token: Some("s3cret".into()),
            ..Config::default()
        };
        assert!(!format!("{c:?}").contains("s3cret"));
    }
}
