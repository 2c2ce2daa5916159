//! What a test result did: its executed steps, its attachments, and reading one
//! attachment without loading all of it. The tools are in the results toolset.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::render::cut;
use super::{Access, Ctx, Meta, Render, Subject, ToolError, Toolset, positive_id};
use crate::allure::Page;
use crate::allure::model::{AttachmentRow, Execution, ExecutionStep, TestStatus};

#[derive(Debug, Deserialize, JsonSchema)]
pub struct ResultIdArgs {
    /// Test result id (list_test_results shows ids).
    pub test_result_id: i64,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct StepLine {
    /// Nesting depth, 0 for top-level steps.
    pub depth: usize,
    pub name: String,
    pub status: Option<TestStatus>,
    pub duration_ms: Option<i64>,
    pub message: Option<String>,
    /// For attachment steps: the attachment id (read_attachment reads it).
    pub attachment_id: Option<i64>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct Attachment {
    pub id: i64,
    pub name: Option<String>,
    pub content_type: Option<String>,
    pub size_bytes: Option<i64>,
}

impl From<AttachmentRow> for Attachment {
    fn from(a: AttachmentRow) -> Self {
        Attachment {
            id: a.id,
            name: a.name,
            content_type: a.content_type,
            size_bytes: a.content_length,
        }
    }
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct Steps {
    pub test_result_id: i64,
    pub steps: Vec<StepLine>,
    pub attachments: Vec<Attachment>,
}

impl Render for Steps {
    fn text(&self) -> String {
        let mut s = format!("Steps of test result #{}:\n", self.test_result_id);
        for st in &self.steps {
            s.push_str(&format!(
                "{}- [{}] {}",
                "  ".repeat(st.depth),
                st.status.map_or("?", TestStatus::as_str),
                st.name
            ));
            if let Some(m) = &st.message {
                s.push_str(&format!(" — {m}"));
            }
            s.push('\n');
        }
        if !self.attachments.is_empty() {
            s.push_str("Attachments (read_attachment reads text ones):\n");
            for a in &self.attachments {
                s.push_str(&format!(
                    "- #{} {} ({}, {} bytes)\n",
                    a.id,
                    a.name.as_deref().unwrap_or(""),
                    a.content_type.as_deref().unwrap_or("?"),
                    a.size_bytes.unwrap_or(0)
                ));
            }
        }
        s
    }
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct AttachmentArgs {
    /// Attachment id (get_test_result_steps lists them).
    pub attachment_id: i64,
    /// Most characters of a text attachment to return, 1-65536 (default 16384).
    pub max_chars: Option<u32>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct AttachmentContent {
    pub id: i64,
    pub content_type: Option<String>,
    pub size_bytes: usize,
    /// The text, for text attachments (cut to max_chars).
    pub text: Option<String>,
    /// Why no text is given, for binary attachments.
    pub note: Option<String>,
}

impl Render for AttachmentContent {
    fn text(&self) -> String {
        match (&self.text, &self.note) {
            (Some(t), _) => format!(
                "Attachment #{} ({}, {} bytes):\n{t}",
                self.id,
                self.content_type.as_deref().unwrap_or("text"),
                self.size_bytes
            ),
            (None, Some(n)) => format!("Attachment #{}: {n}", self.id),
            _ => format!("Attachment #{} is empty", self.id),
        }
    }
}

pub(super) const GET_TEST_RESULT_STEPS: Meta = Meta {
    name: "get_test_result_steps",
    toolset: Toolset::Results,
    title: "Steps and attachments of a test result",
    description: "The executed steps of a test result (nested, with status and messages) and its attachments (id, name, type, size). read_attachment reads a text attachment.",
    access: Access::Read,
};

pub(super) async fn get_test_result_steps(ctx: Ctx, a: ResultIdArgs) -> Result<Steps, ToolError> {
    let id = positive_id(
        "test_result_id",
        a.test_result_id,
        "list_test_results shows ids",
    )?;
    let exec_path = format!("/testresult/{id}/execution");
    let att_q = [("testResultId", id.to_string()), ("size", "100".to_owned())];
    let (exec, atts) = tokio::join!(
        ctx.client.get::<Option<Execution>>(&exec_path, &[]),
        ctx.client
            .get::<Page<AttachmentRow>>("/testresult/attachment", &att_q),
    );
    let mut steps = Vec::new();
    let exec = ctx.explain(Subject::TestResult(id), exec).await?;
    flatten(exec.unwrap_or_default().steps, 0, &mut steps);
    Ok(Steps {
        test_result_id: id,
        steps,
        attachments: ctx
            .explain(Subject::TestResult(id), atts)
            .await?
            .content
            .into_iter()
            .map(Attachment::from)
            .collect(),
    })
}

pub(super) const READ_ATTACHMENT: Meta = Meta {
    name: "read_attachment",
    toolset: Toolset::Results,
    title: "Read a test result attachment",
    description: "Read a test result attachment: text ones (logs, JSON, XML) inline up to max_chars; binary ones (images, videos) as type and size only.",
    access: Access::Read,
};

pub(super) async fn read_attachment(
    ctx: Ctx,
    a: AttachmentArgs,
) -> Result<AttachmentContent, ToolError> {
    let id = positive_id(
        "attachment_id",
        a.attachment_id,
        "get_test_result_steps lists attachment ids",
    )?;
    let max = a.max_chars.unwrap_or(16_384);
    if max == 0 || max > 65_536 {
        return Err(ToolError::InvalidArgs(format!(
            "max_chars must be 1..=65536, got {max}"
        )));
    }
    // Only the start is read: a model never needs more than max_chars of it,
    // and an attachment may be hundreds of megabytes. The size comes from
    // Content-Length.
    let keep = max as usize * 4 + 4;
    let answer = ctx
        .client
        .send_head(
            &format!("/testresult/attachment/{id}/content"),
            &[("inline", "true".into())],
            keep,
        )
        .await
        .map_err(|e| {
            ToolError::not_found(
                e,
                format!("Attachment {id}"),
                "get_test_result_steps lists a result's attachments.",
            )
        })?;
    Ok(attachment_content(id, &answer, max as usize))
}

fn flatten(steps: Vec<ExecutionStep>, depth: usize, out: &mut Vec<StepLine>) {
    for st in steps {
        if out.len() >= 200 {
            return;
        }
        let name = match (&st.body, &st.attachment) {
            (Some(b), _) => b.clone(),
            (None, Some(a)) => format!("attachment: {}", a.name.as_deref().unwrap_or("")),
            _ => st.kind.clone().unwrap_or_else(|| "step".into()),
        };
        out.push(StepLine {
            depth,
            name: cut(&name, 300, "the step text is long"),
            status: st.status,
            duration_ms: st.duration,
            message: st
                .message
                .as_deref()
                .map(|m| cut(m, 300, "get_test_result has the whole message")),
            attachment_id: st.attachment_id.or(st.attachment.as_ref().map(|a| a.id)),
        });
        flatten(st.steps, depth + 1, out);
    }
}

/// What read_attachment says of the first bytes of an attachment.
pub(super) fn attachment_content(
    id: i64,
    answer: &crate::allure::Answer,
    max: usize,
) -> AttachmentContent {
    let ct = answer.content_type.clone();
    let size = answer
        .content_length
        .map(|n| n as usize)
        .unwrap_or(answer.body.len());
    // A cut may split a character: only an error before the end means "not text".
    let utf8 = match std::str::from_utf8(&answer.body) {
        Ok(_) => true,
        Err(e) => answer.cut && e.error_len().is_none(),
    };
    let texty = ct.as_deref().map(is_text).unwrap_or(false) || (ct.is_none() && utf8);
    let unknown_rest = answer.cut && answer.content_length.is_none();
    if texty {
        let text = String::from_utf8_lossy(&answer.body);
        let shown = if answer.cut {
            // Only the start was read, so the rest cannot be counted in characters.
            let head: String = text.chars().take(max).collect();
            format!(
                "{head}\n… [cut after {max} characters of {}{size} bytes; call read_attachment with a larger max_chars]",
                if unknown_rest { "more than " } else { "" }
            )
        } else {
            cut(&text, max, "call read_attachment with a larger max_chars")
        };
        AttachmentContent {
            id,
            content_type: ct,
            size_bytes: size,
            text: Some(shown),
            note: unknown_rest.then(|| format!("larger than {size} bytes")),
        }
    } else {
        AttachmentContent {
            id,
            note: Some(format!(
                "binary attachment ({}, {}{size} bytes); open it in TestOps to view it",
                ct.as_deref().unwrap_or("unknown type"),
                if unknown_rest { "more than " } else { "" },
            )),
            content_type: ct,
            size_bytes: size,
            text: None,
        }
    }
}

fn is_text(content_type: &str) -> bool {
    let ct = content_type.to_ascii_lowercase();
    ct.starts_with("text/")
        || ["json", "xml", "yaml", "csv", "javascript", "x-log"]
            .iter()
            .any(|t| ct.contains(t))
}
