//! CXone: finding a contact dialed from an agent session whose `dial-phone` answer was lost:
//! the agent's active contacts to the number, then its completed ones, since the dial left
//! (`GET contacts/active?agentId=&toAddress=&updatedSince=`, `GET contacts/completed?startDate=
//! &endDate=&agentId=&toAddress=`). The agent is the `icAgentId` claim of the login's id_token
//! (UNCONFIRMED for real tenants; without it the lookup matches any agent's contact to the
//! number in the window).

use std::time::SystemTime;

use serde_json::Value;

use crate::call::timestamp;
use crate::provider::connection::{Connection, Response};
use crate::provider::reconcile::{Reconciled, SLACK, Sent, same_number, text};
use crate::provider::request::Request;
use crate::provider::{ActionSpec, Method};

pub(crate) async fn find(connection: &Connection, action: &ActionSpec, sent: &Sent) -> Reconciled {
    let Some(number) = text(&sent.with, "phoneNumber") else {
        return Reconciled::Unknown {
            why: format!("`{}` dials no number that a lookup could find", action.name),
            by_hand: "look the contact up in CXone by hand".into(),
        };
    };
    let agent = connection.id_claim("icAgentId");
    let since = timestamp(sent.at - SLACK);
    let until = timestamp(SystemTime::now() + SLACK);
    let mut base = vec![("toAddress".to_owned(), number.to_owned())];
    if let Some(agent) = &agent {
        base.push(("agentId".to_owned(), agent.clone()));
    }
    let mut active = base.clone();
    active.push(("updatedSince".to_owned(), since.clone()));
    let mut completed = base;
    completed.push(("startDate".to_owned(), since));
    completed.push(("endDate".to_owned(), until));
    let by_hand = format!(
        "GET contacts/active and contacts/completed for toAddress {number}{} since the dial",
        agent
            .as_deref()
            .map(|a| format!(" and agentId {a}"))
            .unwrap_or_default()
    );
    for (path, query, list) in [
        ("/contacts/active", active, "activeContacts"),
        ("/contacts/completed", completed, "completedContacts"),
    ] {
        let request = Request {
            method: Method::Get,
            path: path.to_owned(),
            query,
            headers: Vec::new(),
            body: None,
        };
        let response = match connection.send(&request, None).await {
            Ok(r) => r,
            Err(_) => {
                return Reconciled::Unknown {
                    why: format!("the lookup of {path} got no answer"),
                    by_hand,
                };
            }
        };
        match response.status {
            204 => continue,
            200 => {}
            status => {
                return Reconciled::Unknown {
                    why: format!("the lookup of {path} answered {status}"),
                    by_hand,
                };
            }
        }
        if let Some(id) = contact(&response.body[list], number, sent.at) {
            return Reconciled::Placed(
                Response {
                    status: 202,
                    headers: Default::default(),
                    body: std::sync::Arc::new(Value::Null),
                    elapsed: std::time::Duration::ZERO,
                },
                format!("contact {id}"),
            );
        }
    }
    Reconciled::NotPlaced
}

/// The first contact of a list to `number` that started after the dial left (less the slack).
fn contact(list: &Value, number: &str, since: SystemTime) -> Option<String> {
    let since = chrono::DateTime::<chrono::Utc>::from(since - SLACK);
    list.as_array()?.iter().find_map(|c| {
        let start = c["contactStartDate"]
            .as_str()
            .and_then(|s| chrono::DateTime::parse_from_rfc3339(s).ok())?;
        let to = c["toAddress"].as_str()?;
        (start >= since && same_number(to, number)).then(|| match &c["contactId"] {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        })
    })
}
