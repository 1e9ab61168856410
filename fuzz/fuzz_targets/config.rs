//! sv.yaml from arbitrary bytes: `load_str` and every environment it declares must return a
//! value or a typed error — never panic, overflow or hang.
#![no_main]

use std::collections::BTreeMap;
use std::path::Path;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let vars: BTreeMap<&str, &str> = [
        ("CLOUDFLARE_ACCOUNT_ID", "0123456789abcdef0123456789abcdef"),
        ("SLACK_WEBHOOK_URL", "https://hooks.slack.com/services/T0/B0/x"),
        ("EMPTY", ""),
    ]
    .into_iter()
    .collect();
    // Relative wrangler paths resolve under a directory that does not exist: reading them
    // is part of loading and must fail cleanly too.
    let Ok(config) = sv_config::load_str(text, Path::new("/nonexistent/sv-fuzz/sv.yaml"), &vars)
    else {
        return;
    };
    let names: Vec<String> = config.environments().map(|e| e.name.clone()).collect();
    for name in &names {
        let _ = config.environment(name);
    }
    let _ = config.developer_environment("fuzz");
    let _ = config.preview_environment(7);
});
