//! Reconciling a create whose answer was lost: did the call an earlier run sent (and was killed
//! before it heard back) get placed? Asked of the provider, read-only, before a resume decides
//! to count the row as dialed or to dial it.
//!
//! - Genesys: the analytics conversation-detail query for the user's outbound voice calls to
//!   the number, around the moment the journal says the create left;
//! - CXone: the agent's active, then completed, contacts to the number since then.
//!
//! "Not placed" is believed only once the provider's indexing delay (`reconcile_delay`) has
//! passed since the create left; before that an empty answer is asked again. When the
//! provider cannot tell (no permission, an error), the answer is "unknown", with the lookup to
//! do by hand.

use std::time::{Duration, SystemTime};

use indexmap::IndexMap;
use serde_json::Value;

use super::connection::{Connection, Response};
use super::{ActionSpec, ProviderKind, cxone, genesys};

/// A create the journal says left, and was never confirmed.
#[derive(Debug, Clone)]
pub struct Sent {
    /// When it left.
    pub at: SystemTime,
    /// Its `with:` values that say what it dialed (the dialed number, the user or session).
    pub with: IndexMap<String, Value>,
}

/// What the provider said about it.
#[derive(Debug, Clone)]
pub enum Reconciled {
    /// It was placed: what its create would have answered (`response.body.id` is the
    /// conversation), and the id in words.
    Placed(Response, String),
    /// It was not placed (the indexing delay has passed and the provider knows no such call).
    NotPlaced,
    /// The provider could not tell.
    Unknown {
        /// Why not.
        why: String,
        /// The lookup to do by hand.
        by_hand: String,
    },
}

/// How long after a create the provider's lookups are trusted to know it, by provider type
/// (a plan's `reconcile_delay` overrides it). UNCONFIRMED: Genesys calls its sync analytics
/// query near real time but gives no figure; CXone documents none.
pub fn default_delay(kind: ProviderKind) -> Duration {
    match kind {
        ProviderKind::GenesysCloud => Duration::from_secs(60),
        ProviderKind::NiceCxone => Duration::from_secs(30),
        ProviderKind::Http => Duration::ZERO,
    }
}

/// How far before the journaled moment a call may have started (the clocks of this machine and
/// the provider differ a little).
pub(crate) const SLACK: Duration = Duration::from_secs(60);

/// Asks the provider whether `sent` placed a call; waits out the indexing delay before
/// believing "not placed".
pub async fn reconcile(
    connection: &Connection,
    action: &ActionSpec,
    sent: &Sent,
    delay: Duration,
) -> Reconciled {
    let believed_at = crate::duration::saturating_deadline(sent.at, delay);
    loop {
        let found = match connection.settings.kind {
            ProviderKind::GenesysCloud => genesys::reconcile::find(connection, action, sent).await,
            ProviderKind::NiceCxone => cxone::reconcile::find(connection, action, sent).await,
            ProviderKind::Http => Reconciled::Unknown {
                why: "an http provider offers no way to look a request up".into(),
                by_hand: "check the API's own records for the request".into(),
            },
        };
        let Reconciled::NotPlaced = found else {
            return found;
        };
        match believed_at.duration_since(SystemTime::now()) {
            // Too early to believe the provider does not know it: ask again once it would.
            Ok(left) if !left.is_zero() => {
                tokio::time::sleep(left.min(Duration::from_secs(5))).await;
            }
            _ => return Reconciled::NotPlaced,
        }
    }
}

/// How to find out whether a create that got no answer placed its call: resume with the journal,
/// or the provider's own lookup, by hand.
pub fn how_to_look_up(kind: ProviderKind, action: &ActionSpec, sent: &Sent) -> String {
    let journal = "`--resume` with this run's `--journal` looks it up at the provider before anything is sent again";
    let by_hand = match kind {
        ProviderKind::GenesysCloud => text(&sent.with, "phoneNumber").map(|number| {
            let body = genesys::reconcile::query(text(&sent.with, "user_id"), number, sent.at);
            format!("POST /api/v2/analytics/conversations/details/query with {body}")
        }),
        ProviderKind::NiceCxone => text(&sent.with, "phoneNumber").map(|number| {
            format!(
                "GET contacts/active?toAddress={number} (and contacts/completed) since the dial"
            )
        }),
        ProviderKind::Http => None,
    };
    match by_hand {
        Some(lookup) => format!(
            "the `{}` may have placed a call: {journal}; by hand: {lookup}",
            action.name
        ),
        None => format!(
            "the `{}` may have created something: {journal}",
            action.name
        ),
    }
}

/// `tel:+13175550100` and `+13175550100` alike: the digits, with the plus.
pub(crate) fn same_number(a: &str, b: &str) -> bool {
    let norm = |s: &str| -> String {
        s.trim_start_matches("tel:")
            .chars()
            .filter(|c| c.is_ascii_digit())
            .collect()
    };
    !norm(a).is_empty() && norm(a) == norm(b)
}

/// A `with:` value as text.
pub(crate) fn text<'a>(with: &'a IndexMap<String, Value>, key: &str) -> Option<&'a str> {
    with.get(key).and_then(Value::as_str)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_match_in_every_form_genesys_stores_them() {
        assert!(same_number("tel:+13175550100", "+13175550100"));
        assert!(same_number("+1 (317) 555-0100", "+13175550100"));
        assert!(!same_number("tel:+13175550101", "+13175550100"));
        assert!(!same_number("", ""));
    }
}
