//! Naming rules for Cloudflare resources, checked on the final (prefixed) name so that a
//! prefix cannot make an otherwise valid name invalid unnoticed. Each returns the message to
//! show when the name breaks the rule. Where Cloudflare's own rule is looser or undocumented,
//! the rule here is the conservative one wrangler users already follow (noted per function).

fn lower_alnum_hyphen(name: &str, extra: &[u8]) -> bool {
    name.bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || extra.contains(&b))
}

fn alnum_ends(name: &str) -> bool {
    let ok = |b: Option<u8>| b.is_some_and(|b| b.is_ascii_lowercase() || b.is_ascii_digit());
    ok(name.bytes().next()) && ok(name.bytes().last())
}

/// R2 bucket: 3–63 lowercase letters, digits and hyphens, beginning and ending with a letter
/// or digit (Cloudflare error 10005 otherwise).
///
/// # Errors
/// The message explaining the rule.
pub fn r2_bucket(name: &str) -> Result<(), String> {
    if (3..=63).contains(&name.len()) && lower_alnum_hyphen(name, b"") && alnum_ends(name) {
        Ok(())
    } else {
        Err("R2 bucket names are 3–63 lowercase letters, digits and hyphens, beginning and ending with a letter or digit".into())
    }
}

/// KV namespace title: 1–512 bytes without control characters or surrounding spaces.
///
/// # Errors
/// The message explaining the rule.
pub fn kv_title(name: &str) -> Result<(), String> {
    if !name.is_empty()
        && name.len() <= 512
        && !name.chars().any(char::is_control)
        && name.trim() == name
    {
        Ok(())
    } else {
        Err("KV namespace titles are 1–512 bytes without control characters or leading/trailing spaces".into())
    }
}

/// D1 database: 1–64 lowercase letters, digits, hyphens and underscores, starting with a
/// letter or digit (what wrangler accepts for `d1 create`).
///
/// # Errors
/// The message explaining the rule.
pub fn d1_database(name: &str) -> Result<(), String> {
    let first_ok = name
        .bytes()
        .next()
        .is_some_and(|b| b.is_ascii_lowercase() || b.is_ascii_digit());
    if (1..=64).contains(&name.len()) && first_ok && lower_alnum_hyphen(name, b"_") {
        Ok(())
    } else {
        Err("D1 database names are 1–64 lowercase letters, digits, hyphens and underscores, starting with a letter or digit".into())
    }
}

/// Pages project: 1–58 lowercase letters, digits and hyphens, beginning and ending with a letter
/// or digit (it becomes `<name>.pages.dev`).
///
/// # Errors
/// The message explaining the rule.
pub fn pages_project(name: &str) -> Result<(), String> {
    if (1..=58).contains(&name.len()) && lower_alnum_hyphen(name, b"") && alnum_ends(name) {
        Ok(())
    } else {
        Err("Pages project names are 1–58 lowercase letters, digits and hyphens, beginning and ending with a letter or digit".into())
    }
}

/// Worker script: 1–63 lowercase letters, digits, hyphens and underscores, beginning and ending
/// with a letter or digit (it becomes a workers.dev subdomain).
///
/// # Errors
/// The message explaining the rule.
pub fn worker_script(name: &str) -> Result<(), String> {
    if (1..=63).contains(&name.len()) && lower_alnum_hyphen(name, b"_") && alnum_ends(name) {
        Ok(())
    } else {
        Err("Worker names are 1–63 lowercase letters, digits, hyphens and underscores, beginning and ending with a letter or digit".into())
    }
}

/// A name prefix: lowercase letters, digits and hyphens (so every kind stays valid), at most 32.
///
/// # Errors
/// The message explaining the rule.
pub fn prefix(prefix: &str) -> Result<(), String> {
    if prefix.len() <= 32 && lower_alnum_hyphen(prefix, b"") {
        Ok(())
    } else {
        Err("prefixes are at most 32 lowercase letters, digits and hyphens".into())
    }
}

/// An identifier for environments, developers, projects: 1–32 lowercase letters, digits and
/// hyphens, starting with a letter or digit.
///
/// # Errors
/// The message explaining the rule.
pub fn identifier(name: &str) -> Result<(), String> {
    let first_ok = name
        .bytes()
        .next()
        .is_some_and(|b| b.is_ascii_lowercase() || b.is_ascii_digit());
    if (1..=32).contains(&name.len()) && first_ok && lower_alnum_hyphen(name, b"") {
        Ok(())
    } else {
        Err(
            "names are 1–32 lowercase letters, digits and hyphens, starting with a letter or digit"
                .into(),
        )
    }
}

/// A hostname (zone or record name): dot-separated labels of letters, digits, hyphens and
/// underscores, each 1–63 characters, 253 in total; the first label may be `*`.
///
/// # Errors
/// The message explaining the rule.
pub fn hostname(name: &str) -> Result<(), String> {
    let name = name.strip_suffix('.').unwrap_or(name);
    let ok = !name.is_empty()
        && name.len() <= 253
        && name.split('.').enumerate().all(|(i, label)| {
            (i == 0 && label == "*")
                || ((1..=63).contains(&label.len())
                    && label
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
                    && !label.starts_with('-')
                    && !label.ends_with('-'))
        });
    if ok {
        Ok(())
    } else {
        Err("expected a hostname: dot-separated labels of letters, digits, hyphens and underscores (1–63 characters each, 253 in total)".into())
    }
}

/// The default wrangler binding of a resource name: upper case, `-` and `.` become `_`.
#[must_use]
pub fn default_binding(name: &str) -> String {
    name.chars()
        .map(|c| match c {
            '-' | '.' | ' ' => '_',
            c => c.to_ascii_uppercase(),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn r2_rules() {
        assert!(r2_bucket("uploads").is_ok());
        assert!(r2_bucket("staging-uploads").is_ok());
        for bad in ["ab", "Uploads", "-up", "up-", "up_loads", &"a".repeat(64)] {
            assert!(r2_bucket(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn other_rules() {
        assert!(kv_title("Sessions cache").is_ok());
        assert!(kv_title(" x").is_err());
        assert!(kv_title("a\u{7}").is_err());
        assert!(d1_database("main_db-2").is_ok());
        assert!(d1_database("_main").is_err());
        assert!(pages_project("spacevision-web").is_ok());
        assert!(pages_project(&"a".repeat(59)).is_err());
        assert!(worker_script("spacevision-api").is_ok());
        assert!(worker_script("Api").is_err());
        assert!(hostname("api.spacevision.app").is_ok());
        assert!(hostname("*.spacevision.app").is_ok());
        assert!(hostname("a..b").is_err());
        assert!(hostname("-a.b").is_err());
        assert!(identifier("staging").is_ok());
        assert!(identifier("Staging").is_err());
        assert!(prefix("").is_ok());
        assert!(prefix("dev_x").is_err());
        assert_eq!(default_binding("user-cache"), "USER_CACHE");
    }
}
