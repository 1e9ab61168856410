//! Labels on an issue or pull request (`sv:risky` on a plan that loses data, …): added and
//! removed one by one, so labels people set by hand are left alone.

use serde_json::json;

use crate::client::Verb;
use crate::issues::Label;
use crate::{Error, GitHub};

/// A label name as one URL path segment (`sv:risky` stays readable; spaces, `/`, `%` … are
/// escaped).
fn segment(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for b in name.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~:@".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

impl GitHub {
    /// `POST /repos/{o}/{r}/issues/{n}/labels`: adds `labels` (GitHub creates repository
    /// labels that do not exist yet); returns every label now on the issue.
    ///
    /// # Errors
    /// Transport/API errors ([`Error::NotFound`] for an unknown issue).
    pub async fn add_labels(&self, number: u64, labels: &[&str]) -> Result<Vec<Label>, Error> {
        self.send_json(
            &format!("label #{number}"),
            Verb::Post,
            &self.repo_path(&format!("/issues/{number}/labels")),
            &json!({ "labels": labels }),
        )
        .await
    }

    /// `DELETE /repos/{o}/{r}/issues/{n}/labels/{name}`; `false` when the issue did not carry
    /// it (GitHub's 404 "Label does not exist"), so removing is idempotent.
    ///
    /// # Errors
    /// Transport/API errors.
    pub async fn remove_label(&self, number: u64, name: &str) -> Result<bool, Error> {
        let outcome = self
            .call(
                &format!("remove label {name:?} from #{number}"),
                Verb::Delete,
                &self.repo_path(&format!("/issues/{number}/labels/{}", segment(name))),
                None,
            )
            .await;
        match outcome {
            Ok(_) => Ok(true),
            Err(Error::NotFound { .. }) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Puts `name` on the issue when `on`, else takes it off; only calls the API when the
    /// label has to change (`current` is what the issue carries now, e.g. from
    /// [`GitHub::get_issue`]). Returns whether it changed.
    ///
    /// # Errors
    /// Transport/API errors.
    pub async fn set_label(
        &self,
        number: u64,
        current: &[Label],
        name: &str,
        on: bool,
    ) -> Result<bool, Error> {
        let has = current.iter().any(|l| l.name.eq_ignore_ascii_case(name));
        match (has, on) {
            (false, true) => self.add_labels(number, &[name]).await.map(|_| true),
            (true, false) => self.remove_label(number, name).await,
            _ => Ok(false),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_names_are_escaped_as_one_segment() {
        assert_eq!(segment("sv:risky"), "sv:risky");
        assert_eq!(segment("needs review/ops"), "needs%20review%2Fops");
        assert_eq!(segment("100%"), "100%25");
    }
}
