//! Requests from the server to the client's host: asking the user a yes-or-no question
//! (MCP form elicitation, for the tools' confirmations) and asking the host's model for
//! a completion (MCP sampling, for the failure analysis). Each is offered only where the
//! client said it can answer and the transport can carry a request from the server.

use std::sync::Arc;

use rmcp::RoleServer;
use rmcp::model::{
    BooleanSchema, ElicitRequestParams, ElicitationAction, ElicitationSchema,
    PrimitiveSchemaDefinition, ProtocolVersion,
};
use rmcp::service::{ElicitationMode, RequestContext};

use crate::tools::{ANSWER_TIMEOUT, Answer, AskSink, SampleSink, Sampled};

/// How long the host's model has for one completion.
const SAMPLE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(120);

/// Whether the client can be sent requests during this call: a session that names
/// itself (stdio is one), on a revision before 2026-07-28, which has none.
fn can_request(context: &RequestContext<RoleServer>) -> bool {
    if context
        .protocol_version()
        .is_some_and(|v| v >= ProtocolVersion::V_2026_07_28)
    {
        return false;
    }
    // Over HTTP, a call has a session only when it names one (legacy SSE sessions name
    // theirs too); stdio is one session.
    context
        .extensions
        .get::<http::request::Parts>()
        .is_none_or(|p| p.headers.contains_key("mcp-session-id"))
}

/// The host's model, or `None` when the client did not declare sampling or cannot be
/// asked during this call.
#[expect(deprecated, reason = "sampling serves the 2025 protocol revisions")]
pub fn sample_of(context: &RequestContext<RoleServer>) -> Option<SampleSink> {
    let declared = context
        .peer
        .peer_info()
        .is_some_and(|i| i.capabilities.sampling.is_some());
    if !declared || !can_request(context) {
        return None;
    }
    let peer = context.peer.clone();
    Some(Arc::new(move |req| {
        let peer = peer.clone();
        Box::pin(async move {
            let mut params = rmcp::model::CreateMessageRequestParams::new(
                vec![rmcp::model::SamplingMessage::user_text(req.prompt)],
                req.max_tokens,
            );
            params.system_prompt = Some(req.system);
            params.temperature = Some(0.2);
            let sent = tokio::time::timeout(SAMPLE_TIMEOUT, peer.create_message(params)).await;
            let answer = match sent {
                Err(_) => return Err("the host's model gave no answer in time".to_owned()),
                Ok(Err(rmcp::ServiceError::McpError(e))) => {
                    return Err(format!("the host refused: {}", e.message));
                }
                Ok(Err(_)) => return Err("the host did not answer".to_owned()),
                Ok(Ok(a)) => a,
            };
            let text: Vec<String> = answer
                .message
                .content
                .iter()
                .filter_map(|c| c.as_text().map(|t| t.text.clone()))
                .collect();
            Ok(Sampled {
                text: text.join("\n"),
                model: answer.model,
            })
        })
    }))
}

/// The client's way to ask, or `None` when it has none: it did not declare form
/// elicitation, or the call came without a session (a stateless HTTP call, or the
/// 2026-07-28 revision, which has no requests from server to client), where no answer
/// could come back. Tools then fall back to the model's `confirm`.
pub fn ask_of(context: &RequestContext<RoleServer>) -> Option<AskSink> {
    if !can_request(context)
        || !context
            .peer
            .supported_elicitation_modes()
            .contains(&ElicitationMode::Form)
    {
        return None;
    }
    let peer = context.peer.clone();
    Some(Arc::new(move |question| {
        let peer = peer.clone();
        Box::pin(async move {
            let asked = peer
                .create_elicitation_with_timeout(
                    ElicitRequestParams::FormElicitationParams {
                        meta: None,
                        message: question,
                        requested_schema: schema(),
                    },
                    Some(ANSWER_TIMEOUT),
                )
                .await
                .map_err(|e| match e {
                    rmcp::ServiceError::Timeout { .. } => "no answer in time".to_owned(),
                    _ => "the client did not answer the question".to_owned(),
                })?;
            Ok(match asked.action {
                ElicitationAction::Accept => {
                    let ticked = asked
                        .content
                        .as_ref()
                        .and_then(|c| c.get("confirm"))
                        .and_then(serde_json::Value::as_bool);
                    if ticked == Some(true) {
                        Answer::Confirmed
                    } else {
                        Answer::Declined
                    }
                }
                ElicitationAction::Decline => Answer::Declined,
                // Cancel, and whatever a later revision adds: not a yes.
                _ => Answer::Dismissed,
            })
        })
    }))
}

/// One required tick box: accepting the form is not enough, the user ticks "yes".
fn schema() -> ElicitationSchema {
    let mut properties = std::collections::BTreeMap::new();
    properties.insert(
        "confirm".to_owned(),
        PrimitiveSchemaDefinition::Boolean(
            BooleanSchema::new()
                .title("Yes, do it")
                .description("Tick to go ahead; leave it to change nothing.")
                .with_default(false),
        ),
    );
    ElicitationSchema::new(properties).with_required(vec!["confirm".to_owned()])
}
