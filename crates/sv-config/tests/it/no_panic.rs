//! Loading never panics, whatever the input: every fixture, truncated at many points and with
//! YAML-significant characters spliced in, must return (Ok or Err) without panicking.

use std::path::Path;

const SPLICES: [&str; 12] = [
    "[", "{", "}", ":", "- ", "\"", "'", "&a ", "*a", "\t", "${", "\u{0}",
];

fn inputs() -> Vec<(String, String)> {
    let mut files = super::invalid::corpus();
    files.push("tests/fixtures/valid/sv.yaml".into());
    files
        .iter()
        .map(|p| (p.display().to_string(), std::fs::read_to_string(p).unwrap()))
        .collect()
}

fn boundaries(text: &str, count: usize) -> Vec<usize> {
    let step = (text.len() / count).max(1);
    (0..text.len())
        .step_by(step)
        .filter(|i| text.is_char_boundary(*i))
        .collect()
}

#[test]
fn mutated_inputs_never_panic() {
    let vars = super::vars();
    let mut runs = 0usize;
    for (name, text) in inputs() {
        // Huge single-line fixtures are covered once; mutate the small ones thoroughly.
        let points = if text.len() > 10_000 { 3 } else { 25 };
        let path = Path::new("tests/fixtures/valid/sv.yaml");
        for at in boundaries(&text, points) {
            let _ = sv_config::load_str(&text[..at], path, &vars);
            for splice in SPLICES {
                let mutated = format!("{}{splice}{}", &text[..at], &text[at..]);
                let _ = sv_config::load_str(&mutated, path, &vars);
                runs += 1;
            }
        }
        let _ = sv_config::yaml_to_json(&text, Path::new(&name), &vars);
    }
    assert!(runs > 1_000, "only {runs} mutated inputs were tried");
}

#[test]
fn wrangler_parsers_never_panic() {
    let sources = [
        (
            "wrangler.toml",
            std::fs::read_to_string("tests/fixtures/valid/worker/wrangler.toml").unwrap(),
        ),
        (
            "wrangler.jsonc",
            std::fs::read_to_string("tests/fixtures/valid/jobs/wrangler.jsonc").unwrap(),
        ),
    ];
    for (file, text) in &sources {
        for at in boundaries(text, 60) {
            let _ = sv_config::wrangler::parse(&text[..at], Path::new(file));
            for splice in ["[", "{", "\"", "/*", "//", "=", ",", "]]", "\u{0}"] {
                let mutated = format!("{}{splice}{}", &text[..at], &text[at..]);
                let _ = sv_config::wrangler::parse(&mutated, Path::new(file));
            }
        }
    }
}
