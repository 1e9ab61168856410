use crate::common::{app, filters, sv_health};

/// A fixed history: 25 hourly runs with one failure and one 3-hour gap.
fn history() -> String {
    let mut out = String::from("sv-health-history 1\n");
    let start = 1_764_000_000_i64; // an exact hour
    for h in 0..30_i64 {
        if (10..13).contains(&h) {
            continue; // the gap
        }
        out.push_str(&format!("@{}\n", start + h * 3600));
        let status = if h == 20 { "u" } else { "h" };
        out.push_str(&format!("api {status} {}\n", 100 + h * 10));
        out.push_str(&format!("sessions-kv h {}\n", 40 + h));
    }
    out
}

#[test]
fn report_from_history_in_every_format() {
    let (_tmp, root) = app(
        "  checks:\n    - { name: api, http: \"http://127.0.0.1:9/ok\" }\n    - { name: sessions-kv, kv: sessions }\n",
    );
    std::fs::create_dir_all(root.join(".sv/health")).unwrap();
    std::fs::write(root.join(".sv/health/production.history"), history()).unwrap();
    let mut settings = insta::Settings::clone_current();
    for (re, with) in filters() {
        settings.add_filter(re, with);
    }
    let _guard = settings.bind_to_scope();
    for format in ["human", "markdown"] {
        let out = sv_health(&root)
            .args([
                "report",
                "--env",
                "production",
                "--run-interval",
                "1h",
                "--format",
                format,
            ])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        insta::assert_snapshot!(
            format!("report_{format}"),
            String::from_utf8(out.stdout).unwrap()
        );
    }
    // No history yet: bad input, not a crash.
    std::fs::remove_file(root.join(".sv/health/production.history")).unwrap();
    sv_health(&root)
        .args(["report", "--env", "production"])
        .assert()
        .code(2);
}
