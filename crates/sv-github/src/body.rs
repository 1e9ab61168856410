//! Fitting Markdown into GitHub's body size limit without breaking it.

/// GitHub's maximum length of an issue or comment body, in characters.
pub const COMMENT_BODY_LIMIT: usize = 65_536;

/// Returns `body` unchanged when it has at most `limit` characters; otherwise a shortened copy
/// of at most `limit` characters that is still well-formed Markdown:
///
/// - it is cut at a line boundary (or, for one giant line, at a character boundary — never
///   inside a multi-byte character),
/// - a code fence left open is closed, then every `<details>` left open is closed,
/// - a visible note says the report was truncated and that the full report is in the job
///   summary and the run's artifacts.
///
/// The start of the body (where the hidden marker lives) is always kept. Characters are Unicode
/// scalar values, which is how GitHub counts. If `limit` is too small for even the note, the
/// body is simply cut at `limit` characters.
pub fn fit_comment_body(body: &str, limit: usize) -> String {
    if body.chars().count() <= limit {
        return body.to_owned();
    }
    let note = truncation_note(limit);
    let note_len = note.chars().count();
    if note_len + 2 > limit {
        return body.chars().take(limit).collect();
    }
    // Start with everything the note leaves room for and shrink until prefix + closers fit.
    let mut budget = limit - note_len;
    loop {
        let prefix = cut(body, budget);
        let closers = closers_for(prefix);
        // prefix + "\n" + closers + "\n" + note
        let total = prefix.chars().count() + 1 + closers.chars().count() + 1 + note_len;
        if total <= limit {
            let mut out = String::with_capacity(prefix.len() + closers.len() + note.len() + 2);
            out.push_str(prefix);
            out.push('\n');
            out.push_str(&closers);
            out.push('\n');
            out.push_str(&note);
            return out;
        }
        let overflow = total - limit;
        if overflow >= budget {
            return body.chars().take(limit).collect();
        }
        budget -= overflow;
    }
}

fn truncation_note(limit: usize) -> String {
    format!(
        "> [!WARNING]\n> This report was truncated to fit GitHub's {} character limit for comments. \
         The full report is in the job summary and the workflow run's artifacts.\n",
        group_thousands(limit)
    )
}

fn group_thousands(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// How far back (in bytes) a cut may move to land on a line break; beyond that a giant line is
/// cut mid-line rather than dropped.
const LINE_BREAK_WINDOW: usize = 4_096;

/// The longest prefix of at most `max_chars` characters, ending at a line break (excluded) when
/// one is near the end.
fn cut(body: &str, max_chars: usize) -> &str {
    let end = body
        .char_indices()
        .nth(max_chars)
        .map_or(body.len(), |(i, _)| i);
    let prefix = &body[..end];
    match prefix.rfind('\n') {
        Some(nl) if prefix.len() - nl <= LINE_BREAK_WINDOW => &prefix[..nl],
        _ => prefix,
    }
}

/// What must be appended to close the constructs left open at the end of `prefix`: the open
/// code fence (same character, at least as long), then each open `<details>`.
fn closers_for(prefix: &str) -> String {
    let mut fence: Option<(char, usize)> = None;
    let mut details: usize = 0;
    for line in prefix.lines() {
        let trimmed = line.trim_start_matches(' ');
        let indent = line.len() - trimmed.len();
        let run = fence_run(trimmed);
        match (fence, run) {
            (None, Some((c, n))) if indent <= 3 => {
                // A backtick fence's info string may not contain backticks.
                if c == '~' || !trimmed[n..].contains('`') {
                    fence = Some((c, n));
                }
            }
            (Some((open_c, open_n)), Some((c, n)))
                if indent <= 3 && c == open_c && n >= open_n && trimmed[n..].trim().is_empty() =>
            {
                fence = None;
            }
            (Some(_), _) => {}
            (None, _) => {
                let lower = line.to_ascii_lowercase();
                let opens = count_tag(&lower, "<details");
                let closes = lower.matches("</details>").count();
                details = (details + opens).saturating_sub(closes);
            }
        }
    }
    let mut out = String::new();
    if let Some((c, n)) = fence {
        out.extend(std::iter::repeat_n(c, n));
        out.push('\n');
    }
    for _ in 0..details {
        out.push_str("\n</details>\n");
    }
    out
}

/// `(char, length)` of a fence opener/closer at the start of `s` (three or more backticks or
/// tildes).
fn fence_run(s: &str) -> Option<(char, usize)> {
    let c = s.chars().next().filter(|c| *c == '`' || *c == '~')?;
    let n = s.chars().take_while(|x| *x == c).count();
    (n >= 3).then_some((c, n))
}

/// Occurrences of an opening tag `<details` followed by `>` or whitespace (not `<detailsfoo`).
fn count_tag(lower: &str, tag: &str) -> usize {
    lower
        .match_indices(tag)
        .filter(|(i, _)| {
            lower[i + tag.len()..]
                .chars()
                .next()
                .is_some_and(|c| c == '>' || c.is_whitespace())
        })
        .count()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chars(s: &str) -> usize {
        s.chars().count()
    }

    #[test]
    fn short_bodies_are_untouched() {
        assert_eq!(fit_comment_body("hello", 10), "hello");
        let exact = "x".repeat(COMMENT_BODY_LIMIT);
        assert_eq!(fit_comment_body(&exact, COMMENT_BODY_LIMIT), exact);
        // Limit counts characters, not bytes: 65,536 four-byte characters still fit.
        let rockets = "🚀".repeat(COMMENT_BODY_LIMIT);
        assert_eq!(fit_comment_body(&rockets, COMMENT_BODY_LIMIT), rockets);
    }

    #[test]
    fn long_bodies_fit_and_say_so() {
        let body: String = (0..10_000).map(|i| format!("line {i}\n")).collect();
        let out = fit_comment_body(&body, COMMENT_BODY_LIMIT);
        assert!(chars(&out) <= COMMENT_BODY_LIMIT);
        assert!(out.starts_with("line 0\nline 1\n"));
        assert!(out.contains("truncated to fit GitHub's 65,536 character limit"));
        assert!(out.contains("job summary"));
        assert!(out.contains("artifacts"));
        // Cut at a line boundary: the line before the note is a whole line.
        let kept: Vec<&str> = out.lines().take_while(|l| l.starts_with("line ")).collect();
        let last = kept.last().unwrap();
        assert!(body.contains(&format!("{last}\n")));
    }

    #[test]
    fn never_splits_a_multibyte_character() {
        // One giant line of 2-, 3- and 4-byte characters: the cut falls mid-line.
        let body = "é€🚀".repeat(30_000);
        for limit in [400, 401, 402, 403, 1_000, COMMENT_BODY_LIMIT] {
            let out = fit_comment_body(&body, limit);
            assert!(chars(&out) <= limit, "limit {limit}");
            let kept = out.split('\n').next().unwrap();
            assert!(
                body.starts_with(kept),
                "kept text is a prefix of the original"
            );
            assert!(
                kept.chars().count() > limit / 2,
                "limit {limit}: kept {}",
                kept.chars().count()
            );
        }
    }

    #[test]
    fn closes_an_open_code_fence() {
        let mut body = String::from("## Plan\n\n```diff\n");
        for i in 0..5_000 {
            body.push_str(&format!("+ resource {i}\n"));
        }
        body.push_str("```\n");
        let out = fit_comment_body(&body, 2_000);
        assert!(chars(&out) <= 2_000);
        let fences = out.lines().filter(|l| l.starts_with("```")).count();
        assert_eq!(fences, 2, "opening fence and the added closing one:\n{out}");
        let close = out.rfind("\n```\n").unwrap();
        assert!(
            close < out.find("[!WARNING]").unwrap(),
            "fence closed before the note"
        );
    }

    #[test]
    fn closes_longer_and_tilde_fences_with_their_own_kind() {
        let body = format!("````md\n```\ninner\n{}", "x\n".repeat(5_000));
        let out = fit_comment_body(&body, 1_000);
        assert!(out.contains("\n````\n"), "{out}");
        let body = format!("~~~\n{}", "y\n".repeat(5_000));
        let out = fit_comment_body(&body, 1_000);
        assert!(out.contains("\n~~~\n"), "{out}");
    }

    #[test]
    fn closes_open_details_and_fence_inside_them() {
        let mut body = String::from(
            "<details><summary>Done</summary>\n\nok\n</details>\n\n<details open>\n<summary>Changes</summary>\n\n<details>\n<summary>kv</summary>\n\n```text\n",
        );
        body.push_str(&"~ namespace\n".repeat(3_000));
        let out = fit_comment_body(&body, 3_000);
        assert!(chars(&out) <= 3_000);
        let tail = &out[out.rfind("~ namespace").unwrap()..];
        assert!(tail.contains("```\n"), "{tail}");
        assert_eq!(tail.matches("</details>").count(), 2, "{tail}");
        let fence_at = tail.find("```").unwrap();
        assert!(
            fence_at < tail.find("</details>").unwrap(),
            "fence closed first"
        );
    }

    #[test]
    fn details_inside_a_fence_are_text() {
        let mut body = String::from("```html\n<details>\n```\n\n```\n");
        body.push_str(&"<details>\n".repeat(2_000));
        let out = fit_comment_body(&body, 1_000);
        assert!(!out.contains("</details>"), "{out}");
        assert!(out.ends_with("artifacts.\n"));
    }

    #[test]
    fn marker_on_first_line_survives() {
        let body = format!("<!-- sv:plan:production -->\n{}", "row\n".repeat(40_000));
        let out = fit_comment_body(&body, COMMENT_BODY_LIMIT);
        assert!(out.starts_with("<!-- sv:plan:production -->\n"));
        assert!(chars(&out) <= COMMENT_BODY_LIMIT);
    }

    #[test]
    fn a_giant_last_line_is_cut_not_dropped() {
        let body = format!("<!-- sv:plan:production -->\n{}", "z".repeat(100_000));
        let out = fit_comment_body(&body, COMMENT_BODY_LIMIT);
        assert!(out.starts_with("<!-- sv:plan:production -->\nzzz"));
        assert!(out.matches('z').count() > 60_000);
        assert!(chars(&out) <= COMMENT_BODY_LIMIT);
    }

    #[test]
    fn tiny_limits_degrade_to_a_plain_cut() {
        let out = fit_comment_body("ab€cdefgh", 4);
        assert_eq!(out, "ab€c");
    }

    #[test]
    fn thousands_grouping() {
        assert_eq!(group_thousands(65_536), "65,536");
        assert_eq!(group_thousands(1_000_000), "1,000,000");
        assert_eq!(group_thousands(999), "999");
    }
}
