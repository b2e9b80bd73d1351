//! The `ConversationQuery` body: checked, then evaluated against each conversation as the query
//! answers it (`AnalyticsConversationWithoutAttributes` JSON).
//!
//! A segment dimension is the field of the same name on the segment, its session or its
//! participant, so `userId`, `dnis`, `direction`, `mediaType` and `segmentEnd` in one `and`
//! filter must hold for one segment of one session, and each segment filter of the list must be
//! met by some segment. UNCONFIRMED: the reference (§2.1) cannot say whether Genesys matches all
//! the predicates of a filter on the same segment; this is the reading its Query-for-active-
//! conversations module relies on.

use std::time::SystemTime;

use serde::Deserialize;
use serde_json::Value;

use super::super::super::iso;
use super::{Error, Result};

/// Segment dimensions Genesys knows (PY `segment_detail_query_predicate.py`, v269). A known
/// dimension the sandbox does not record (`flowId`, `wrapUpCode`…) is simply absent.
const SEGMENT_DIMENSIONS: &str = "addressFrom addressTo agentAssistantId agentOwned ani \
    authenticated bargedParticipantId callbackNumber callbackScheduledTime \
    canonicalExternalContactId cleared coachedParticipantId conference deliveryPushed \
    deliveryStatus destinationAddress destinationConversationId detectedSpeechEnd \
    detectedSpeechStart direction disconnectType dnis edgeId engagementSource errorCode \
    exitReason extendedDeliveryStatus externalContactId externalOrganizationId flaggedReason \
    flowId flowName flowOutType flowOutcome flowOutcomeId flowOutcomeValue flowVersion groupId \
    journeyActionId journeyActionMapId journeyCustomerId journeyCustomerIdType \
    journeyCustomerSessionId mediaCount mediaType messageType monitoredParticipantId \
    outboundCampaignId outboundContactId outboundContactListId participantName protocolCallId \
    provider purpose queueId recording remote remoteNameDisplayable requestedLanguageId \
    requestedRouting requestedRoutingSkillId scoredAgentId screenMonitoredUserId \
    screenRecording scriptId segmentEnd segmentType sessionDnis sipResponseCode \
    skillExpressionId snippetRecording subject teamId transferTargetAddress transferTargetName \
    transferType usedRouting userId wrapUpCode wrapUpNote";

const SEGMENT_METRICS: &str = "tSegmentDuration";

/// Conversation dimensions (PY `conversation_detail_query_predicate.py`, v269).
const CONVERSATION_DIMENSIONS: &str = "accessAttribute conversationEnd conversationId \
    conversationInitiator conversationStart customerParticipation divisionId externalTag \
    mediaStatsMinConversationMos originatingDirection originatingSocialMediaPublic";

/// Conversation metrics (same file). Only `tConversationDuration` has a value in the sandbox.
const CONVERSATION_METRICS: &str = "nAgentDeclined nAlertExpired nBlindTransferred \
    nBotInteractions nCallbackAttempts nCallbackOverSla nCallbackScheduled nCfcOffered \
    nCobrowseSessions nConnected nConsult nConsultTransferred nConversations nError nFlow \
    nFlowMilestone nFlowOutcome nFlowOutcomeFailed nOffered nOutbound nOutboundAbandoned \
    nOutboundAttempted nOutboundConnected nOverSla nStateTransitionError nTakeover nTransferred \
    oAudioMessageCount oExternalAudioMessageCount oExternalMediaCount oFlowMilestone \
    oMediaCount oMessageCount oMessageSegmentCount oMessageTurn oSkillExpressionApplications \
    tAbandon tAcd tActiveCallback tActiveCallbackComplete tAcw tAgentResponseTime \
    tAgentVideoConnected tAlert tAnswered tAverageAgentResponseTime \
    tAverageCustomerResponseTime tBarging tCallbackAbandon tCallbackConnect \
    tCallbackNotReached tCallbackVirtualWait tCfcAbandon tCfcAcd tCfcAnswered tCfcFlowOut \
    tCoaching tCoachingComplete tConnected tContacting tConversationDuration tDialing \
    tFirstConnect tFirstDial tFirstEngagement tFirstResponse tFlow tFlowDisconnect tFlowExit \
    tFlowOut tFlowOutcome tHandle tHeld tHeldComplete tIvr tMonitoring tMonitoringComplete \
    tNotResponding tPark tParkComplete tScreenMonitoring tShortAbandon tSnippetRecord tTalk \
    tTalkComplete tTransmitting tUserResponseTime tVoicemail";

/// Dimensions holding an address: `+13175550100` and `tel:+13175550100` match each other.
const ADDRESS_DIMENSIONS: &[&str] = &[
    "ani",
    "dnis",
    "sessionDnis",
    "addressFrom",
    "addressTo",
    "remote",
    "callbackNumber",
    "destinationAddress",
    "transferTargetAddress",
];

/// The largest page (UNCONFIRMED: no stored source states the maximum `pageSize`).
const MAX_PAGE_SIZE: u64 = 100;

/// The longest interval (the reference's DNIS module: "a query that does not exceed 31 days").
const MAX_INTERVAL_DAYS: u64 = 31;

/// `ConversationQuery`. `aggregations` is accepted and ignored (no aggregation results are
/// answered), as are fields the model does not have.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct ConversationQuery {
    interval: Option<String>,
    #[serde(default)]
    conversation_filters: Vec<Filter>,
    #[serde(default)]
    segment_filters: Vec<Filter>,
    #[serde(default)]
    evaluation_filters: Vec<Value>,
    #[serde(default)]
    survey_filters: Vec<Value>,
    #[serde(default)]
    resolution_filters: Vec<Value>,
    #[serde(default)]
    order: Order,
    #[serde(default)]
    order_by: OrderBy,
    paging: Option<Paging>,
}

/// `order`; ascending unless told.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(super) enum Order {
    #[default]
    Asc,
    Desc,
    Unordered,
}

/// `orderBy`; `conversationStart` unless told.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) enum OrderBy {
    #[default]
    ConversationStart,
    ConversationEnd,
    SegmentStart,
    SegmentEnd,
}

/// `PagingSpec`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Paging {
    page_size: Option<i64>,
    page_number: Option<i64>,
}

/// `SegmentDetailQueryFilter` / `ConversationDetailQueryFilter`.
#[derive(Debug, Deserialize)]
struct Filter {
    #[serde(rename = "type")]
    logic: Logic,
    #[serde(default)]
    clauses: Vec<Clause>,
    #[serde(default)]
    predicates: Vec<Predicate>,
}

/// `…DetailQueryClause`: one more level of predicates.
#[derive(Debug, Deserialize)]
struct Clause {
    #[serde(rename = "type")]
    logic: Logic,
    #[serde(default)]
    predicates: Vec<Predicate>,
}

#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(rename_all = "lowercase")]
enum Logic {
    And,
    Or,
}

impl Logic {
    fn combine(self, mut results: impl Iterator<Item = bool>) -> bool {
        match self {
            Logic::And => results.all(|r| r),
            Logic::Or => results.any(|r| r),
        }
    }
}

/// `…DetailQueryPredicate`. `propertyType` is accepted; values compare as text.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Predicate {
    #[serde(rename = "type")]
    kind: Option<Kind>,
    dimension: Option<String>,
    property: Option<String>,
    metric: Option<String>,
    #[serde(default)]
    operator: Operator,
    value: Option<String>,
    range: Option<Range>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
enum Kind {
    Dimension,
    Property,
    Metric,
}

/// `matches` unless told.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
enum Operator {
    #[default]
    Matches,
    Exists,
    NotExists,
}

/// `NumericRange`.
#[derive(Debug, Deserialize)]
struct Range {
    gt: Option<f64>,
    gte: Option<f64>,
    lt: Option<f64>,
    lte: Option<f64>,
}

impl Range {
    fn holds(&self, n: f64) -> bool {
        self.gt.is_none_or(|b| n > b)
            && self.gte.is_none_or(|b| n >= b)
            && self.lt.is_none_or(|b| n < b)
            && self.lte.is_none_or(|b| n <= b)
    }
}

/// Which filters a predicate sits in.
#[derive(Debug, Clone, Copy)]
enum Level {
    Segment,
    Conversation,
}

impl Level {
    fn dimensions(self) -> (&'static str, &'static str) {
        match self {
            Level::Segment => (SEGMENT_DIMENSIONS, "SegmentDetailQueryPredicate.dimension"),
            Level::Conversation => (
                CONVERSATION_DIMENSIONS,
                "ConversationDetailQueryPredicate.dimension",
            ),
        }
    }

    fn metrics(self) -> (&'static str, &'static str) {
        match self {
            Level::Segment => (SEGMENT_METRICS, "SegmentDetailQueryPredicate.metric"),
            Level::Conversation => (
                CONVERSATION_METRICS,
                "ConversationDetailQueryPredicate.metric",
            ),
        }
    }
}

/// A name from one of the lists above, or a 400 naming it. UNCONFIRMED: Genesys refuses an
/// unknown enum value with a 400; its exact code and words are not in the sources.
fn known(name: &str, (list, field): (&str, &str)) -> Result<()> {
    if list.split_whitespace().any(|n| n == name) {
        return Ok(());
    }
    let allowed: Vec<&str> = list.split_whitespace().collect();
    Err(Error::bad_request(format!(
        "Value [{name}] is not valid for field type [{field}]. Allowable values are: {}",
        allowed.join(", ")
    )))
}

/// A checked query.
#[derive(Debug)]
pub(super) struct Query {
    /// The interval, `start` before `end`.
    pub(super) interval: (SystemTime, SystemTime),
    pub(super) order: Order,
    pub(super) order_by: OrderBy,
    pub(super) page_size: usize,
    /// From 1.
    pub(super) page_number: usize,
    conversation_filters: Vec<Filter>,
    segment_filters: Vec<Filter>,
    /// Evaluation, survey or resolution filters: the sandbox's conversations have none of
    /// those, so nothing can meet them.
    unmeetable: bool,
}

impl ConversationQuery {
    /// Checks what serde cannot.
    pub(super) fn check(self) -> Result<Query> {
        // UNCONFIRMED: the words; the model marks `interval` required.
        let text = self
            .interval
            .ok_or_else(|| Error::bad_request("The interval is required: start/end in ISO-8601, e.g. 2024-01-01T00:00:00Z/2024-01-02T00:00:00Z."))?;
        let interval = iso::interval(&text).ok_or_else(|| {
            Error::bad_request(format!(
                "Invalid interval [{text}]: it must be start/end in ISO-8601, e.g. 2024-01-01T00:00:00Z/2024-01-02T00:00:00Z, with start before end."
            ))
        })?;
        let span = interval.1.duration_since(interval.0).unwrap_or_default();
        if span.as_secs() > MAX_INTERVAL_DAYS * 86_400 {
            return Err(Error::bad_request(format!(
                "The interval [{text}] is longer than {MAX_INTERVAL_DAYS} days."
            )));
        }
        let paging = self.paging.unwrap_or(Paging {
            page_size: None,
            page_number: None,
        });
        let page_size = paging.page_size.unwrap_or(25);
        let page_number = paging.page_number.unwrap_or(1);
        let page_size = u64::try_from(page_size)
            .ok()
            .filter(|n| (1..=MAX_PAGE_SIZE).contains(n))
            .ok_or_else(|| {
                Error::bad_request(format!(
                    "paging.pageSize [{page_size}] must be between 1 and {MAX_PAGE_SIZE}."
                ))
            })?;
        let page_number = u64::try_from(page_number)
            .ok()
            .filter(|n| *n >= 1)
            .ok_or_else(|| {
                Error::bad_request(format!(
                    "paging.pageNumber [{page_number}] must be 1 or more."
                ))
            })?;
        for filter in &self.segment_filters {
            filter.check(Level::Segment)?;
        }
        for filter in &self.conversation_filters {
            filter.check(Level::Conversation)?;
        }
        Ok(Query {
            interval,
            order: self.order,
            order_by: self.order_by,
            page_size: page_size as usize,
            page_number: usize::try_from(page_number).unwrap_or(usize::MAX),
            conversation_filters: self.conversation_filters,
            segment_filters: self.segment_filters,
            unmeetable: !(self.evaluation_filters.is_empty()
                && self.survey_filters.is_empty()
                && self.resolution_filters.is_empty()),
        })
    }
}

impl Filter {
    fn check(&self, level: Level) -> Result<()> {
        if self.predicates.is_empty() && self.clauses.iter().all(|c| c.predicates.is_empty()) {
            // UNCONFIRMED: what Genesys says to a filter with nothing in it.
            return Err(Error::bad_request(
                "A filter needs at least one predicate, directly or in a clause.",
            ));
        }
        self.predicates
            .iter()
            .chain(self.clauses.iter().flat_map(|c| &c.predicates))
            .try_for_each(|p| p.check(level))
    }

    fn holds(&self, subject: &dyn Subject) -> bool {
        let predicates = self.predicates.iter().map(|p| p.holds(subject));
        let clauses = self
            .clauses
            .iter()
            .filter(|c| !c.predicates.is_empty())
            .map(|c| {
                c.logic
                    .combine(c.predicates.iter().map(|p| p.holds(subject)))
            });
        self.logic.combine(predicates.chain(clauses))
    }
}

impl Predicate {
    /// The kind, inferred from which name is set when `type` is left out ("can usually be
    /// inferred", the model says).
    fn kind(&self) -> Kind {
        self.kind.unwrap_or(if self.metric.is_some() {
            Kind::Metric
        } else if self.property.is_some() {
            Kind::Property
        } else {
            Kind::Dimension
        })
    }

    fn check(&self, level: Level) -> Result<()> {
        let missing =
            |what: &str| Error::bad_request(format!("A {what} predicate needs `{what}`."));
        match self.kind() {
            Kind::Dimension => {
                known(
                    self.dimension
                        .as_deref()
                        .ok_or_else(|| missing("dimension"))?,
                    level.dimensions(),
                )?;
            }
            Kind::Property => {
                self.property
                    .as_deref()
                    .ok_or_else(|| missing("property"))?;
            }
            Kind::Metric => {
                known(
                    self.metric.as_deref().ok_or_else(|| missing("metric"))?,
                    level.metrics(),
                )?;
                if self.operator == Operator::Matches
                    && self.range.is_none()
                    && self.value.is_none()
                {
                    return Err(Error::bad_request(
                        "A metric predicate with operator matches needs a range.",
                    ));
                }
                return Ok(());
            }
        }
        if self.operator == Operator::Matches && self.value.is_none() {
            // UNCONFIRMED: the words.
            return Err(Error::bad_request(
                "A predicate with operator matches needs a value.",
            ));
        }
        Ok(())
    }

    fn holds(&self, subject: &dyn Subject) -> bool {
        let kind = self.kind();
        let found = match kind {
            Kind::Dimension => self
                .dimension
                .as_deref()
                .and_then(|d| subject.dimension(d))
                .cloned(),
            Kind::Property => self
                .property
                .as_deref()
                .and_then(|p| subject.property(p))
                .cloned(),
            Kind::Metric => self
                .metric
                .as_deref()
                .and_then(|m| subject.metric(m))
                .map(Value::from),
        }
        .filter(|v| !v.is_null());
        match self.operator {
            Operator::Exists => found.is_some(),
            Operator::NotExists => found.is_none(),
            Operator::Matches => {
                let Some(found) = found else {
                    return false;
                };
                match (kind, &self.range) {
                    (Kind::Metric, Some(range)) => found.as_f64().is_some_and(|n| range.holds(n)),
                    _ => {
                        let address = kind == Kind::Dimension
                            && self
                                .dimension
                                .as_deref()
                                .is_some_and(|d| ADDRESS_DIMENSIONS.contains(&d));
                        self.value
                            .as_deref()
                            .is_some_and(|wanted| matches_value(&found, wanted, address))
                    }
                }
            }
        }
    }
}

/// Whether a recorded value matches a predicate's `value` (any element of a list).
fn matches_value(found: &Value, wanted: &str, address: bool) -> bool {
    match found {
        Value::String(s) if address => bare(s) == bare(wanted),
        Value::String(s) => s == wanted,
        Value::Bool(b) => wanted.eq_ignore_ascii_case(if *b { "true" } else { "false" }),
        Value::Number(n) => wanted.parse::<f64>().is_ok_and(|w| n.as_f64() == Some(w)),
        Value::Array(items) => items.iter().any(|i| matches_value(i, wanted, address)),
        _ => false,
    }
}

/// An address without its `tel:` scheme.
fn bare(address: &str) -> &str {
    address.strip_prefix("tel:").unwrap_or(address)
}

/// What predicates are asked about.
trait Subject {
    fn dimension(&self, name: &str) -> Option<&Value>;
    fn property(&self, name: &str) -> Option<&Value>;
    fn metric(&self, name: &str) -> Option<f64>;
}

/// One segment, seen with its session and participant.
struct Segment<'a> {
    participant: &'a Value,
    session: &'a Value,
    segment: &'a Value,
}

impl Subject for Segment<'_> {
    fn dimension(&self, name: &str) -> Option<&Value> {
        [self.segment, self.session, self.participant]
            .into_iter()
            .find_map(|v| v.get(name))
    }

    fn property(&self, name: &str) -> Option<&Value> {
        self.segment
            .get("properties")?
            .as_array()?
            .iter()
            .find(|p| p.get("property").and_then(Value::as_str) == Some(name))?
            .get("value")
    }

    fn metric(&self, name: &str) -> Option<f64> {
        (name == "tSegmentDuration")
            .then(|| millis_between(self.segment, "segmentStart", "segmentEnd"))
            .flatten()
    }
}

/// A conversation as a whole.
struct Conversation<'a>(&'a Value);

impl Subject for Conversation<'_> {
    fn dimension(&self, name: &str) -> Option<&Value> {
        match name {
            "divisionId" => self.0.get("divisionIds"),
            "accessAttribute" => self.0.get("accessAttributes"),
            _ => self.0.get(name),
        }
    }

    fn property(&self, _name: &str) -> Option<&Value> {
        None
    }

    fn metric(&self, name: &str) -> Option<f64> {
        (name == "tConversationDuration")
            .then(|| millis_between(self.0, "conversationStart", "conversationEnd"))
            .flatten()
    }
}

/// Milliseconds between two timestamp fields of an object, once both are set.
fn millis_between(object: &Value, from: &str, to: &str) -> Option<f64> {
    let at = |k: &str| iso::instant(object.get(k)?.as_str()?);
    let span = at(to)?.duration_since(at(from)?).ok()?;
    Some(span.as_millis() as f64)
}

impl Query {
    /// Whether a conversation that started at `start` is in the interval. The model's rule:
    /// "Results will only include conversations that started on a day touched by the interval"
    /// (UTC days), so a client must compare `conversationStart` with its own bounds.
    pub(super) fn takes(&self, start: SystemTime) -> bool {
        let (from, to) = self.interval;
        // The interval is half-open: one ending at midnight does not touch the day after.
        let last = if iso::day_start(to) == to {
            to
        } else {
            iso::next_day(to)
        };
        iso::day_start(from) <= start && start < last
    }

    /// Whether a conversation (as answered) meets every filter.
    pub(super) fn matches(&self, conversation: &Value) -> bool {
        if self.unmeetable {
            return false;
        }
        let whole = Conversation(conversation);
        if !self.conversation_filters.iter().all(|f| f.holds(&whole)) {
            return false;
        }
        let segments: Vec<Segment<'_>> = segments(conversation).collect();
        self.segment_filters
            .iter()
            .all(|f| segments.iter().any(|s| f.holds(s)))
    }
}

/// The items of an array field (none when absent).
fn items<'a>(value: &'a Value, key: &str) -> impl Iterator<Item = &'a Value> + use<'a> {
    value
        .get(key)
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
}

/// Every segment of a conversation, with its session and participant.
fn segments(conversation: &Value) -> impl Iterator<Item = Segment<'_>> {
    items(conversation, "participants").flat_map(|participant| {
        items(participant, "sessions").flat_map(move |session| {
            items(session, "segments").map(move |segment| Segment {
                participant,
                session,
                segment,
            })
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn query(body: Value) -> Result<Query> {
        serde_json::from_value::<ConversationQuery>(body)
            .expect("the body deserializes")
            .check()
    }

    fn conversation() -> Value {
        json!({
            "conversationId": "c1",
            "conversationStart": "2024-01-01T10:00:00.000Z",
            "divisionIds": ["d1"],
            "originatingDirection": "outbound",
            "participants": [
                { "participantId": "p1", "purpose": "user", "userId": "u1", "sessions": [{
                    "mediaType": "voice", "direction": "outbound", "dnis": "tel:+13175550100",
                    "segments": [
                        { "segmentType": "dialing", "segmentStart": "2024-01-01T10:00:00.000Z",
                          "segmentEnd": "2024-01-01T10:00:03.000Z" },
                        { "segmentType": "interact", "segmentStart": "2024-01-01T10:00:03.000Z" }
                    ]
                }]},
                { "participantId": "p2", "purpose": "customer", "sessions": [{
                    "mediaType": "voice", "direction": "outbound", "dnis": "tel:+13175550100",
                    "segments": [{ "segmentType": "dialing",
                        "segmentStart": "2024-01-01T10:00:00.000Z",
                        "segmentEnd": "2024-01-01T10:00:01.000Z", "disconnectType": "endpoint" }]
                }]}
            ]
        })
    }

    fn with_segments(predicates: Value) -> Query {
        query(json!({
            "interval": "2024-01-01T00:00:00Z/2024-01-02T00:00:00Z",
            "segmentFilters": [{ "type": "and", "predicates": predicates }],
        }))
        .unwrap()
    }

    #[test]
    fn predicates_of_an_and_filter_meet_on_one_segment() {
        let c = conversation();
        let live_user = with_segments(json!([
            { "dimension": "userId", "value": "u1" },
            { "type": "dimension", "dimension": "segmentEnd", "operator": "notExists" },
        ]));
        assert!(live_user.matches(&c));
        // The customer's only segment has ended; the user's open one has no disconnectType.
        let ended_user = with_segments(json!([
            { "dimension": "userId", "value": "u1" },
            { "dimension": "disconnectType", "operator": "exists" },
        ]));
        assert!(!ended_user.matches(&c));
        let voice = with_segments(json!([
            { "dimension": "mediaType", "value": "voice" },
            { "dimension": "direction", "value": "outbound" },
            { "dimension": "purpose", "value": "customer" },
        ]));
        assert!(voice.matches(&c));
        assert!(!with_segments(json!([{ "dimension": "userId", "value": "u2" }])).matches(&c));
    }

    #[test]
    fn a_dnis_matches_with_or_without_its_scheme() {
        let c = conversation();
        for dnis in ["+13175550100", "tel:+13175550100"] {
            assert!(with_segments(json!([{ "dimension": "dnis", "value": dnis }])).matches(&c));
        }
        assert!(
            !with_segments(json!([{ "dimension": "dnis", "value": "13175550100" }])).matches(&c)
        );
    }

    #[test]
    fn clauses_and_or_filters_nest_one_level() {
        let c = conversation();
        let q = query(json!({
            "interval": "2024-01-01T00:00:00Z/2024-01-02T00:00:00Z",
            "segmentFilters": [{ "type": "and",
                "predicates": [{ "dimension": "mediaType", "value": "voice" }],
                "clauses": [{ "type": "or", "predicates": [
                    { "dimension": "userId", "value": "nobody" },
                    { "dimension": "userId", "value": "u1" },
                ]}],
            }],
        }))
        .unwrap();
        assert!(q.matches(&c));
    }

    #[test]
    fn conversation_filters_see_the_conversation() {
        let c = conversation();
        let by = |predicates: Value| {
            query(json!({
                "interval": "2024-01-01T00:00:00Z/2024-01-02T00:00:00Z",
                "conversationFilters": [{ "type": "or", "predicates": predicates }],
            }))
            .unwrap()
        };
        assert!(by(json!([{ "dimension": "conversationId", "value": "c1" }])).matches(&c));
        assert!(by(json!([{ "dimension": "divisionId", "value": "d1" }])).matches(&c));
        assert!(
            by(json!([{ "dimension": "conversationEnd", "operator": "notExists" }])).matches(&c)
        );
        assert!(!by(json!([{ "dimension": "conversationId", "value": "c2" }])).matches(&c));
    }

    #[test]
    fn segment_durations_are_metrics() {
        let c = conversation();
        let longer = |ms: f64| {
            with_segments(json!([
                { "type": "metric", "metric": "tSegmentDuration", "range": { "gte": ms } },
            ]))
        };
        assert!(longer(3_000.0).matches(&c));
        assert!(!longer(3_001.0).matches(&c));
    }

    #[test]
    fn unknown_names_and_bad_queries_are_refused() {
        let bad = |body: Value| query(body).expect_err("refused").message;
        let interval = "2024-01-01T00:00:00Z/2024-01-02T00:00:00Z";
        let message = bad(json!({ "interval": interval, "segmentFilters": [
            { "type": "and", "predicates": [{ "dimension": "shoeSize", "value": "9" }] }] }));
        assert!(message.contains("[shoeSize]"), "{message}");
        let message = bad(json!({ "interval": interval, "conversationFilters": [
            { "type": "and", "predicates": [{ "dimension": "userId", "value": "u1" }] }] }));
        assert!(message.contains("[userId]"), "{message}");
        assert!(bad(json!({})).contains("interval"));
        assert!(bad(json!({ "interval": "yesterday" })).contains("yesterday"));
        assert!(
            bad(json!({ "interval": "2024-01-01T00:00:00Z/2024-03-01T00:00:00Z" }))
                .contains("31 days")
        );
        assert!(
            bad(json!({ "interval": interval, "paging": { "pageSize": 0 } })).contains("pageSize")
        );
        assert!(
            bad(json!({ "interval": interval, "paging": { "pageNumber": 0 } }))
                .contains("pageNumber")
        );
        assert!(
            bad(json!({ "interval": interval, "segmentFilters": [
            { "type": "and", "predicates": [{ "dimension": "userId" }] }] }))
            .contains("value")
        );
        assert!(
            bad(json!({ "interval": interval, "segmentFilters": [{ "type": "and" }] }))
                .contains("predicate")
        );
    }

    #[test]
    fn the_interval_takes_whole_utc_days() {
        let q = query(json!({ "interval": "2024-01-01T09:00:00Z/2024-01-01T09:30:00Z" })).unwrap();
        let at = |t: &str| iso::instant(t).unwrap();
        assert!(q.takes(at("2024-01-01T00:00:00Z")));
        assert!(q.takes(at("2024-01-01T23:59:59Z")));
        assert!(!q.takes(at("2023-12-31T23:59:59Z")));
        assert!(!q.takes(at("2024-01-02T00:00:00Z")));
        let to_midnight =
            query(json!({ "interval": "2024-01-01T09:00:00Z/2024-01-02T00:00:00Z" })).unwrap();
        assert!(!to_midnight.takes(at("2024-01-02T00:00:01Z")));
    }

    #[test]
    fn other_detail_filters_match_nothing() {
        let q = query(json!({
            "interval": "2024-01-01T00:00:00Z/2024-01-02T00:00:00Z",
            "evaluationFilters": [{ "type": "and", "predicates": [] }],
        }))
        .unwrap();
        assert!(!q.matches(&conversation()));
    }
}
