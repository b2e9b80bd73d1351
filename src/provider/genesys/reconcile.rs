//! Genesys: finding a call placed on behalf of a user whose create answer was lost, with the
//! analytics conversation-detail query (`POST /api/v2/analytics/conversations/details/query`,
//! permission `analytics:conversationDetail:view`). The body follows Genesys's own data-action
//! modules: segment predicates on `userId`, `mediaType`, `direction` and `dnis`; the dialed
//! number is compared again in code (Genesys may store it as `tel:+1…`).

use std::time::SystemTime;

use serde_json::{Value, json};

use crate::call::timestamp;
use crate::provider::connection::{Connection, Response};
use crate::provider::reconcile::{Reconciled, SLACK, Sent, same_number, text};
use crate::provider::request::{Body, Request};
use crate::provider::{ActionSpec, Method};

/// The query's path below the API base.
const QUERY: &str = "/api/v2/analytics/conversations/details/query";

/// The query for `user`'s outbound voice calls to `number` since `since`.
pub(crate) fn query(user: Option<&str>, number: &str, since: SystemTime) -> Value {
    let until = SystemTime::now() + SLACK;
    let mut predicates = vec![
        json!({ "type": "dimension", "dimension": "mediaType", "operator": "matches", "value": "voice" }),
        json!({ "type": "dimension", "dimension": "direction", "operator": "matches", "value": "outbound" }),
        json!({ "type": "dimension", "dimension": "dnis", "operator": "matches", "value": number }),
    ];
    if let Some(user) = user {
        predicates.insert(
            0,
            json!({ "type": "dimension", "dimension": "userId", "operator": "matches", "value": user }),
        );
    }
    json!({
        "interval": format!("{}/{}", timestamp(since - SLACK), timestamp(until)),
        "order": "asc",
        "orderBy": "conversationStart",
        "paging": { "pageSize": 25, "pageNumber": 1 },
        "segmentFilters": [{ "type": "and", "predicates": predicates }],
    })
}

pub(crate) async fn find(connection: &Connection, action: &ActionSpec, sent: &Sent) -> Reconciled {
    let Some(number) = text(&sent.with, "phoneNumber") else {
        return Reconciled::Unknown {
            why: format!("`{}` dials no number that a lookup could find", action.name),
            by_hand: "look the conversation up in Genesys by hand".into(),
        };
    };
    let user = text(&sent.with, "user_id");
    let body = query(user, number, sent.at);
    let by_hand = format!("POST {QUERY} with {body}");
    let request = Request {
        method: Method::Post,
        path: QUERY.to_owned(),
        query: Vec::new(),
        headers: Vec::new(),
        body: Some(Body::Json(body)),
    };
    let response = match connection.send(&request, None).await {
        Ok(r) => r,
        Err(e) => {
            return Reconciled::Unknown {
                why: format!("the lookup got no answer: {}", describe(&e)),
                by_hand,
            };
        }
    };
    if response.status != 200 {
        let vendor = crate::provider::hints::read(
            connection.settings.kind,
            response.status,
            &response.header_pairs(),
            &response.body,
        );
        let detail = vendor
            .and_then(|v| v.message.or(v.code))
            .unwrap_or_else(|| "no details".into());
        return Reconciled::Unknown {
            why: format!(
                "the lookup answered {} ({detail}); it needs the permission `analytics:conversationDetail:view`",
                response.status
            ),
            by_hand,
        };
    }
    match placed(&response.body, user, number, sent.at) {
        Some(id) => Reconciled::Placed(
            Response {
                status: 200,
                headers: Default::default(),
                body: std::sync::Arc::new(json!({
                    "id": id,
                    "selfUri": format!("/api/v2/conversations/calls/{id}"),
                })),
                elapsed: std::time::Duration::ZERO,
            },
            format!("conversation {id}"),
        ),
        None => Reconciled::NotPlaced,
    }
}

/// The first conversation of the answer that started after the create left (less the slack),
/// with `user` on it and a session to `number`.
fn placed(body: &Value, user: Option<&str>, number: &str, since: SystemTime) -> Option<String> {
    let since = chrono::DateTime::<chrono::Utc>::from(since - SLACK);
    body["conversations"].as_array()?.iter().find_map(|c| {
        let start = c["conversationStart"]
            .as_str()
            .and_then(|s| chrono::DateTime::parse_from_rfc3339(s).ok())?;
        if start < since {
            return None;
        }
        let participants = c["participants"].as_array()?;
        let user_on_it = user.is_none_or(|u| participants.iter().any(|p| p["userId"] == u));
        let dialed = participants.iter().any(|p| {
            p["sessions"].as_array().is_some_and(|sessions| {
                sessions
                    .iter()
                    .any(|s| s["dnis"].as_str().is_some_and(|d| same_number(d, number)))
            })
        });
        (user_on_it && dialed)
            .then(|| c["conversationId"].as_str().map(str::to_owned))
            .flatten()
    })
}

fn describe(e: &crate::provider::connection::SendError) -> String {
    match e {
        crate::provider::connection::SendError::Auth(a) => a.message.clone(),
        crate::provider::connection::SendError::Transport { message, .. } => message.clone(),
        crate::provider::connection::SendError::NotSent(why) => why.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_call_of_the_user_to_the_number_after_the_create_counts() {
        let now = SystemTime::now();
        let start = timestamp(now);
        let old = timestamp(now - std::time::Duration::from_secs(3600));
        let conversation = |id: &str, start: &str, user: &str, dnis: &str| {
            json!({
                "conversationId": id,
                "conversationStart": start,
                "participants": [
                    { "purpose": "user", "userId": user, "sessions": [{ "dnis": dnis }] },
                    { "purpose": "customer", "sessions": [{ "dnis": dnis }] },
                ],
            })
        };
        let body = json!({ "conversations": [
            conversation("old", &old, "u1", "tel:+13175550100"),
            conversation("other-user", &start, "u2", "tel:+13175550100"),
            conversation("other-number", &start, "u1", "tel:+13175550101"),
            conversation("it", &start, "u1", "tel:+13175550100"),
        ]});
        assert_eq!(
            placed(&body, Some("u1"), "+13175550100", now).as_deref(),
            Some("it")
        );
        assert_eq!(
            placed(&json!({ "totalHits": 0 }), Some("u1"), "+1", now),
            None
        );
    }
}
