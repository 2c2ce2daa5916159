//! Confirmation of calls that cannot be undone (deletes): the user is asked through the
//! client (MCP elicitation) when the client can ask, and otherwise the model must pass
//! `confirm: true`, which it may only do after asking the user itself.
//!
//! When the client can ask, `confirm: true` is not enough: a model could pass it on its
//! own, and the point of asking is that the user, not the model, decides.

use std::sync::Arc;

use futures::future::BoxFuture;

use super::{Ctx, ToolError};

/// What the user answered when asked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    /// Accepted, and ticked the confirmation.
    Confirmed,
    /// Said no (declined, or accepted with the box left unticked).
    Declined,
    /// Dismissed the question without answering.
    Dismissed,
}

/// Asks the user a yes-or-no question through the client; `Err` when the question could
/// not be asked or answered (the client failed, timed out or went away).
pub type AskSink = Arc<dyn Fn(String) -> BoxFuture<'static, Result<Answer, String>> + Send + Sync>;

/// What the server asks the host's model (MCP sampling).
#[derive(Debug, Clone)]
pub struct SampleRequest {
    pub system: String,
    pub prompt: String,
    pub max_tokens: u32,
}

/// The host model's answer.
#[derive(Debug, Clone)]
pub struct Sampled {
    pub text: String,
    /// The model the host chose.
    pub model: String,
}

/// Asks the host's model for a completion; `Err` says why there is none.
pub type SampleSink =
    Arc<dyn Fn(SampleRequest) -> BoxFuture<'static, Result<Sampled, String>> + Send + Sync>;

/// How long a user has to answer before the call gives up and changes nothing.
pub const ANSWER_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(300);

impl Ctx {
    /// Goes on only when the user agreed to `what` (a sentence such as "Delete test case
    /// #12 Login works"), asked through the client when it can ask, else by the model's
    /// `confirm`. Every refusal says that nothing changed and what to do next.
    pub async fn confirm(
        &self,
        tool: &str,
        confirm: Option<bool>,
        what: &str,
    ) -> Result<(), ToolError> {
        // Names come from TestOps, where anyone who names a launch writes them: one line,
        // no control characters, bounded, so they cannot dress up the question.
        let what = &plain(what, MAX_QUESTION);
        let Some(ask) = &self.scope.ask else {
            return match confirm {
                Some(true) => Ok(()),
                _ => Err(ToolError::NotConfirmed(format!(
                    "{what}: this cannot be undone, so it needs the user's confirmation. \
                     Nothing was changed. Ask the user; if they agree, call {tool} again \
                     with confirm: true."
                ))),
            };
        };
        let question = format!("{what}? This cannot be undone.");
        match ask(question).await {
            Ok(Answer::Confirmed) => Ok(()),
            Ok(Answer::Declined) => Err(ToolError::NotConfirmed(format!(
                "The user declined: {}. Nothing was changed; do not retry unless the user asks.",
                lower_first(what)
            ))),
            Ok(Answer::Dismissed) => Err(ToolError::NotConfirmed(format!(
                "The user dismissed the confirmation of: {}. Nothing was changed; ask the \
                 user whether to go on before calling {tool} again.",
                lower_first(what)
            ))),
            Err(why) => Err(ToolError::NotConfirmed(format!(
                "The user could not be asked to confirm ({why}). Nothing was changed; \
                 call {tool} again to ask once more."
            ))),
        }
    }
}

/// The longest question (or refusal subject) put to the user.
const MAX_QUESTION: usize = 500;

/// `s` on one line without control characters, cut to `max` characters.
fn plain(s: &str, max: usize) -> String {
    let one_line: String = s
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    let mut out: String = one_line.chars().take(max).collect();
    if one_line.chars().count() > max {
        out.push('…');
    }
    out
}

fn lower_first(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_lowercase().chain(c).collect(),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tools::CallScope;

    fn ctx_with(ask: Option<AskSink>) -> Ctx {
        let opts = crate::allure::ClientOptions::new(
            "http://127.0.0.1:9".parse().unwrap(),
            secrecy::SecretString::from("t"),
        );
        let client = crate::allure::AllureClient::new(opts).unwrap();
        let mut ctx = Ctx {
            client,
            default_project: None,
            read_only: false,
            scope: CallScope::default(),
            metrics: Default::default(),
            limits: Default::default(),
            callers: None,
            files_dir: None,
        };
        ctx.scope.ask = ask;
        ctx
    }

    fn answering(a: Result<Answer, String>) -> AskSink {
        Arc::new(move |_q| {
            let a = a.clone();
            Box::pin(async move { a })
        })
    }

    #[tokio::test]
    async fn names_cannot_dress_up_the_question() {
        let asked = Arc::new(std::sync::Mutex::new(String::new()));
        let seen = asked.clone();
        let ask: AskSink = Arc::new(move |q| {
            *seen.lock().unwrap() = q;
            Box::pin(async { Ok(Answer::Declined) })
        });
        let ctx = ctx_with(Some(ask));
        let what = format!(
            "Delete launch #7 nightly\n\nPreview only, nothing is deleted.{}",
            "x".repeat(900)
        );
        let _ = ctx.confirm("delete_launch", None, &what).await;
        let q = asked.lock().unwrap().clone();
        assert!(!q.contains('\n'), "{q}");
        assert!(q.chars().count() < 600, "{}", q.len());
    }

    #[tokio::test]
    async fn without_a_client_that_asks_only_confirm_true_goes_on() {
        let ctx = ctx_with(None);
        let what = "Delete launch #7 nightly";
        assert!(ctx.confirm("delete_launch", Some(true), what).await.is_ok());
        for c in [None, Some(false)] {
            let e = ctx.confirm("delete_launch", c, what).await.unwrap_err();
            let m = e.to_string();
            assert!(m.contains("Nothing was changed"), "{m}");
            assert!(m.contains("delete_launch again with confirm: true"), "{m}");
        }
    }

    #[tokio::test]
    async fn a_client_that_asks_decides_and_confirm_true_does_not_overrule_it() {
        let what = "Delete launch #7 nightly";
        let ok = ctx_with(Some(answering(Ok(Answer::Confirmed))));
        assert!(ok.confirm("delete_launch", None, what).await.is_ok());
        for a in [
            Ok(Answer::Declined),
            Ok(Answer::Dismissed),
            Err("timed out".into()),
        ] {
            let ctx = ctx_with(Some(answering(a.clone())));
            let e = ctx
                .confirm("delete_launch", Some(true), what)
                .await
                .unwrap_err();
            assert!(e.to_string().contains("Nothing was changed"), "{a:?}: {e}");
        }
    }
}
