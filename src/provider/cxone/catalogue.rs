//! NICE CXone: the action catalogue.
//!
//! The paths below are relative to the ACD prefix, `{api_endpoint}/inContactAPI/services/v{N}`.

use crate::provider::{ActionSpec, Effect, In, Method, ParamSpec, ParamType as T, p, req};

/// `CallContactEvent.Status` values a `calls.wait` can wait for.
pub const CONTACT_STATES: &[&str] = &["Dialing", "Active", "Holding", "Disconnected"];

const SESSION_ID: ParamSpec = req(
    "session_id",
    T::String,
    In::Path,
    "The agent session id (`sessionId` of `agent_sessions.start`).",
);
const CONTACT_ID: ParamSpec = req("contact_id", T::String, In::Path, "The contact id.");

/// Every NICE CXone action.
pub const ACTIONS: &[ActionSpec] = &[
    ActionSpec::new(
        "agent_sessions.start",
        Method::Post,
        "/agent-sessions",
        "Start an agent session (202 `{sessionId}`).",
        Effect::Creates,
        &[
            p(
                "stationId",
                T::String,
                In::Body,
                "Station id (or `stationPhoneNumber`).",
            ),
            p(
                "stationPhoneNumber",
                T::String,
                In::Body,
                "Station phone number (or `stationId`).",
            ),
            p(
                "inactivityTimeout",
                T::Integer { min: 1, max: 86_400 },
                In::Body,
                "Seconds of inactivity before logout (default 300).",
            ),
            p(
                "inactivityForceLogout",
                T::Boolean,
                In::Body,
                "Force logout on inactivity.",
            ),
            p(
                "asAgentId",
                T::ID32,
                In::Body,
                "Start the session for another agent.",
            ),
        ],
    )
    .exactly_one_of(&["stationId", "stationPhoneNumber"]),
    ActionSpec::new(
        "agent_sessions.dial",
        Method::Post,
        "/agent-sessions/{session_id}/dial-phone",
        "Dial a phone number from the agent session (202, no body; the contact arrives as a `CallContactEvent`).",
        Effect::Creates,
        &[
            SESSION_ID,
            req(
                "phoneNumber",
                T::Phone,
                In::Body,
                "The number to dial (E.164).",
            ),
            req("skillId", T::ID32, In::Body, "Outbound skill id."),
            p(
                "parentContactId",
                T::ID64,
                In::Body,
                "Parent contact id.",
            ),
            p("customerId", T::String, In::Body, "Customer id."),
            p(
                "zipCode",
                T::String,
                In::Body,
                "Zip code, for calling-window rules.",
            ),
        ],
    )
    .dials(&["phoneNumber"]),
    ActionSpec::new(
        "agent_sessions.next_event",
        Method::Get,
        "/agent-sessions/{session_id}/get-next-event",
        "Long-poll the session's next events (200 with events, 304 when none, 409 once ended).",
        Effect::Idempotent,
        &[
            SESSION_ID,
            p(
                "timeout",
                T::Integer { min: 0, max: 60 },
                In::Query,
                "Seconds the server may hold the request (default 15).",
            ),
        ],
    ),
    ActionSpec::new(
        "calls.wait",
        Method::Get,
        "/agent-sessions/{session_id}/get-next-event",
        "Long-poll the session until a contact's `CallContactEvent` reaches a status, or time out.",
        Effect::Idempotent,
        &[
            SESSION_ID,
            p(
                "contact_id",
                T::String,
                In::Control,
                "The contact to follow (default: the first call contact seen).",
            ),
            p(
                "until",
                T::OneOf(CONTACT_STATES),
                In::Control,
                "The status to wait for (default `Active`).",
            ),
            p(
                "timeout",
                T::Duration,
                In::Control,
                "How long to wait (default `60s`).",
            ),
        ],
    )
    .waits(),
    ActionSpec::new(
        "agent_sessions.end_contact",
        Method::Post,
        "/agent-sessions/{session_id}/interactions/{contact_id}/end",
        "End a contact as the agent (for voice: hang up), 202.",
        Effect::Idempotent,
        &[SESSION_ID, CONTACT_ID],
    ),
    ActionSpec::new(
        "contacts.end",
        Method::Post,
        "/contacts/{contact_id}/end",
        "Force any contact to disconnect and end (admin), 202.",
        Effect::Idempotent,
        &[CONTACT_ID],
    ),
    ActionSpec::new(
        "contacts.get",
        Method::Get,
        "/contacts/{contact_id}",
        "Read a contact's details (active or completed).",
        Effect::Idempotent,
        &[CONTACT_ID],
    ),
    ActionSpec::new(
        "contacts.active",
        Method::Get,
        "/contacts/active",
        "List active contacts (204 when there are none).",
        Effect::Idempotent,
        &[
            p(
                "toAddress",
                T::String,
                In::Query,
                "Filter by dialed address.",
            ),
            p(
                "fromAddress",
                T::String,
                In::Query,
                "Filter by calling address.",
            ),
            p("agentId", T::String, In::Query, "Filter by agent."),
            p("skillId", T::String, In::Query, "Filter by skill."),
            p(
                "updatedSince",
                T::String,
                In::Query,
                "Only contacts updated since (ISO-8601).",
            ),
            p("top", T::Integer { min: 1, max: 10_000 }, In::Query, "Page size."),
            p("skip", T::Integer {
                    min: 0,
                    max: 2_147_483_647,
                }, In::Query, "Records to skip."),
        ],
    ),
    ActionSpec::new(
        "agent_sessions.end",
        Method::Delete,
        "/agent-sessions/{session_id}",
        "End an agent session (202).",
        Effect::Idempotent,
        &[
            SESSION_ID,
            p("forceLogoff", T::Boolean, In::Query, "Log the agent off."),
            p(
                "endContacts",
                T::Boolean,
                In::Query,
                "End the session's open contacts.",
            ),
            p(
                "ignorePersonalQueue",
                T::Boolean,
                In::Query,
                "Ignore the personal queue.",
            ),
        ],
    ),
    ActionSpec::new(
        "callbacks.request",
        Method::Post,
        "/queuecallback",
        "Queue an immediate callback to a skill (Patron API `queuecallback`, 202, no body).",
        Effect::Creates,
        &[
            req(
                "phoneNumber",
                T::Phone,
                In::Query,
                "Number to call back (E.164).",
            ),
            req(
                "skill",
                T::ID32,
                In::Query,
                "Skill id the callback is queued to.",
            ),
            p("callerId", T::Phone, In::Query, "Caller id (E.164)."),
            p(
                "callDelay",
                T::Integer { min: 0, max: 86_400 },
                In::Query,
                "Seconds to wait before calling.",
            ),
            p(
                "targetAgent",
                T::ID32,
                In::Query,
                "Agent id to route to.",
            ),
            p(
                "priorityManagement",
                T::String,
                In::Query,
                "`DefaultFromSkill` or `Custom`.",
            ),
            p(
                "initialPriority",
                T::Integer { min: 0, max: 1_000 },
                In::Query,
                "Initial priority.",
            ),
            p(
                "acceleration",
                T::Integer { min: 0, max: 1_000 },
                In::Query,
                "Priority acceleration.",
            ),
            p("maxPriority", T::Integer { min: 0, max: 1_000 }, In::Query, "Maximum priority."),
            p("sequence", T::String, In::Query, "Sequence of prompts."),
            p("zipTone", T::String, In::Query, "Zip tone."),
            p("screenPopSrc", T::String, In::Query, "Screen pop source."),
            p("screenPopUrl", T::String, In::Query, "Screen pop URL."),
            p(
                "timeout",
                T::Integer { min: 1, max: 86_400 },
                In::Query,
                "Seconds before the callback request times out.",
            ),
        ],
    )
    .dials(&["phoneNumber"]),
    ActionSpec::new(
        "scripts.start",
        Method::Post,
        "/scripts/start",
        "Spawn a Studio script (200 `{contactId}`); the script places the call.",
        Effect::Creates,
        &[
            req(
                "skillId",
                T::ID32,
                In::Query,
                "Skill the script runs under.",
            ),
            req(
                "scriptPath",
                T::String,
                In::Query,
                "Script path, e.g. `Company\\\\OutboundSmoke`.",
            ),
            p(
                "scriptId",
                T::String,
                In::Query,
                "Script id (the vendor's spec lists it; clients omit it).",
            ),
            p(
                "Parameters",
                T::StringList,
                In::Query,
                "Script parameters `p1..pN`, sent pipe-delimited.",
            ),
            p(
                "startDate",
                T::String,
                In::Query,
                "When to start (ISO-8601).",
            ),
        ],
    ),
    ActionSpec::request(
        "/…",
        "Any other endpoint below the tenant's API base, with the provider's token.",
    ),
];
