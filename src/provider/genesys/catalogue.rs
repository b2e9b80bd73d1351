//! Genesys Cloud CX: the action catalogue.
//!
//! Endpoints, bodies and status codes follow the vendor's SDK models (see
//! `shared/reference/genesys-cloud.md`): `CreateCallRequest` for calls, `ExternalContact`,
//! `CreateCallbackCommand`, and the user endpoints.

use crate::provider::{ActionSpec, Effect, In, Method, ParamSpec, ParamType as T, p, req};

/// Participant states a `calls.wait` can wait for (`CallMediaParticipant.state`).
pub const CALL_STATES: &[&str] = &[
    "contacting",
    "dialing",
    "alerting",
    "connected",
    "disconnected",
    "terminated",
];

/// Participant purposes whose state `calls.wait` follows.
pub const PURPOSES: &[&str] = &["customer", "external", "agent", "user", "acd", "ivr"];

/// The destinations of a `CreateCallRequest`: Genesys accepts exactly one per request
/// (`too.many.create.conversation.parameters`).
const CALL_DESTINATIONS: &[&str] = &[
    "phoneNumber",
    "callQueueId",
    "callUserId",
    "participants",
    "conversationIds",
];

macro_rules! create_call_body {
    ($($extra:expr),* $(,)?) => {
        &[
            $($extra,)*
            p("phoneNumber", T::Phone, In::Body, "The phone number to dial (E.164)."),
            p("callerId", T::Phone, In::Body, "Caller id phone number for this outbound call."),
            p("callerIdName", T::String, In::Body, "Caller id name."),
            p("callFromQueueId", T::String, In::Body, "Queue id to place the call on behalf of."),
            p("callQueueId", T::String, In::Body, "Queue id to call."),
            p("callUserId", T::String, In::Body, "User id to call."),
            p("priority", T::INT32, In::Body, "Priority, when calling a queue."),
            p("attributes", T::Object, In::Body, "Attributes for the customer participant (string values)."),
            p("languageId", T::String, In::Body, "Language skill id, when calling a queue."),
            p("routingSkillsIds", T::StringList, In::Body, "Skill ids, when calling a queue."),
            p("conversationIds", T::StringList, In::Body, "Existing call conversations to merge into an ad-hoc conference."),
            p("participants", T::List, In::Body, "Destinations `{address, name, userId, queueId}` for an ad-hoc conference."),
            p("uuiData", T::String, In::Body, "User-to-User Information for the SIP session."),
            p("externalContactId", T::String, In::Body, "External contact to associate with the call."),
            p("label", T::String, In::Body, "Label; max utilization can be set per label."),
        ]
    };
}

macro_rules! external_contact_body {
    ($($extra:expr),* $(,)?) => {
        &[
            $($extra,)*
            p("firstName", T::String, In::Body, "First name."),
            p("middleName", T::String, In::Body, "Middle name."),
            p("lastName", T::String, In::Body, "Last name."),
            p("salutation", T::String, In::Body, "Salutation."),
            p("title", T::String, In::Body, "Title."),
            p("workPhone", T::Object, In::Body, "`PhoneNumber` `{display, extension, acceptsSms, normalizationCountryCode}`."),
            p("cellPhone", T::Object, In::Body, "`PhoneNumber`."),
            p("homePhone", T::Object, In::Body, "`PhoneNumber`."),
            p("otherPhone", T::Object, In::Body, "`PhoneNumber`."),
            p("workEmail", T::String, In::Body, "Work email."),
            p("personalEmail", T::String, In::Body, "Personal email."),
            p("otherEmail", T::String, In::Body, "Other email."),
            p("address", T::Object, In::Body, "Postal address `{address1, address2, city, state, postalCode, countryCode}`."),
            p("twitterId", T::Object, In::Body, "Twitter id."),
            p("lineId", T::Object, In::Body, "LINE id."),
            p("whatsAppId", T::Object, In::Body, "WhatsApp id."),
            p("facebookId", T::Object, In::Body, "Facebook id."),
            p("externalIds", T::List, In::Body, "Up to 10 `{externalSource, value}` identifiers."),
            p("externalOrganization", T::Object, In::Body, "The external organization `{id}`."),
            p("externalSystemUrl", T::String, In::Body, "Link to the contact in another system."),
            p("surveyOptOut", T::Boolean, In::Body, "Opted out of surveys."),
            p("schema", T::Object, In::Body, "Custom-field schema `{id, version}`."),
            p("customFields", T::Object, In::Body, "Custom fields, by schema field name."),
            p("division", T::Object, In::Body, "The division `{id}`."),
        ]
    };
}

const CREATE_CALL: &[ParamSpec] = create_call_body!();
const CREATE_CALL_FOR_USER: &[ParamSpec] = create_call_body!(req(
    "user_id",
    T::String,
    In::Path,
    "Id of the user the call is placed on behalf of."
));
const CONVERSATION_ID: ParamSpec = req(
    "conversation_id",
    T::String,
    In::Path,
    "The conversation id (`id` of a create-call response).",
);
const CONTACT_ID: ParamSpec = req(
    "contact_id",
    T::String,
    In::Path,
    "The external contact id.",
);
const USER_ID: ParamSpec = req("user_id", T::String, In::Path, "The user id.");
const EXPAND: ParamSpec = p(
    "expand",
    T::StringList,
    In::Query,
    "Related entities to expand.",
);

/// Every Genesys Cloud action.
pub const ACTIONS: &[ActionSpec] = &[
    ActionSpec::new(
        "calls.create",
        Method::Post,
        "/api/v2/conversations/calls",
        "Place a call as the token's user (needs a user token; a client-credentials token gets 400 `not.a.user`).",
        Effect::Creates,
        CREATE_CALL,
    )
    .needs_user()
    .dials(&["phoneNumber"])
    .exactly_one_of(CALL_DESTINATIONS)
    .needs(&["conversation:conference:add"]),
    ActionSpec::new(
        "calls.create_for_user",
        Method::Post,
        "/api/v2/conversations/calls/user/{user_id}",
        "Place a call on behalf of a user (works with client credentials).",
        Effect::Creates,
        CREATE_CALL_FOR_USER,
    )
    .dials(&["phoneNumber"])
    .exactly_one_of(CALL_DESTINATIONS)
    .needs(&["conversation:agentlessCall:add", "conversation:call:add"]),
    ActionSpec::new(
        "calls.get",
        Method::Get,
        "/api/v2/conversations/calls/{conversation_id}",
        "Read a call conversation (`CallConversation`).",
        Effect::Idempotent,
        &[CONVERSATION_ID],
    ),
    ActionSpec::new(
        "calls.wait",
        Method::Get,
        "/api/v2/conversations/calls/{conversation_id}",
        "Poll a call until a participant reaches a state, or time out.",
        Effect::Idempotent,
        &[
            CONVERSATION_ID,
            p(
                "until",
                T::OneOf(CALL_STATES),
                In::Control,
                "The participant state to wait for (default `connected`).",
            ),
            p(
                "timeout",
                T::Duration,
                In::Control,
                "How long to wait (default `60s`).",
            ),
            p(
                "interval",
                T::Duration,
                In::Control,
                "First polling interval; it backs off up to 5s (default `1s`).",
            ),
            p(
                "participant",
                T::OneOf(PURPOSES),
                In::Control,
                "Purpose of the participant to follow (default `customer`).",
            ),
        ],
    )
    .waits(),
    ActionSpec::new(
        "calls.disconnect",
        Method::Patch,
        "/api/v2/conversations/calls/{conversation_id}",
        "Hang up a call with `{\"state\":\"disconnected\"}` (needs a user token; use `conversations.disconnect` with client credentials).",
        Effect::Idempotent,
        &[CONVERSATION_ID],
    )
    .needs_user()
    .needs(&["conversation:communication:disconnect"]),
    ActionSpec::new(
        "calls.hang_up",
        Method::Get,
        "/api/v2/conversations/calls/{conversation_id}",
        "Hang up a call's customer the normal way, also with client credentials: two requests, `GET /api/v2/conversations/calls/{conversation_id}` to find the participant, then `PATCH /api/v2/conversations/{conversation_id}/participants/{participant_id}` `{\"state\":\"disconnected\"}` (202); a participant already gone passes without the PATCH.",
        Effect::Idempotent,
        &[
            CONVERSATION_ID,
            p(
                "participant",
                T::OneOf(PURPOSES),
                In::Control,
                "Purpose of the participant to hang up (default `customer`).",
            ),
        ],
    )
    .hangs_up()
    .needs(&["conversation:participant:wrapup", "conversation:call:record", "conversation:communication:disconnect"]),
    ActionSpec::new(
        "participants.update",
        Method::Patch,
        "/api/v2/conversations/{conversation_id}/participants/{participant_id}",
        "Update a participant (`MediaParticipantRequest`; 202, no body), e.g. `state: disconnected` to hang it up; works with client credentials.",
        Effect::Idempotent,
        &[
            CONVERSATION_ID,
            req(
                "participant_id",
                T::String,
                In::Path,
                "The participant id (`participants[].id` of the conversation).",
            ),
            p(
                "state",
                T::OneOf(&["connected", "disconnected"]),
                In::Body,
                "`disconnected` hangs the participant up.",
            ),
            p("wrapup", T::Object, In::Body, "Wrap-up (`code`, `notes`, …)."),
            p("held", T::Boolean, In::Body, "Hold or take off hold."),
            p("muted", T::Boolean, In::Body, "Mute or unmute."),
            p("recording", T::Boolean, In::Body, "Start or stop recording."),
        ],
    )
    .needs(&["conversation:participant:wrapup", "conversation:call:record", "conversation:communication:disconnect"]),
    ActionSpec::new(
        "conversations.disconnect",
        Method::Post,
        "/api/v2/conversations/{conversation_id}/disconnect",
        "Tear a whole conversation down (202): Genesys's teardown for stuck conversations, \"not intended to be the normal way of ending interactions\"; hang up with `calls.hang_up`.",
        Effect::Idempotent,
        &[CONVERSATION_ID],
    )
    .needs(&["conversation:communication:disconnect"]),
    ActionSpec::new(
        "external_contacts.create",
        Method::Post,
        "/api/v2/externalcontacts/contacts",
        "Create an external contact (`ExternalContact`).",
        Effect::Creates,
        external_contact_body!(),
    )
    .needs(&["relate:contact:add", "externalContacts:contact:add"]),
    ActionSpec::new(
        "external_contacts.get",
        Method::Get,
        "/api/v2/externalcontacts/contacts/{contact_id}",
        "Read an external contact.",
        Effect::Idempotent,
        &[CONTACT_ID, EXPAND],
    )
    .needs(&["relate:contact:view", "externalContacts:contact:view"]),
    ActionSpec::new(
        "external_contacts.update",
        Method::Put,
        "/api/v2/externalcontacts/contacts/{contact_id}",
        "Replace an external contact (full `ExternalContact`).",
        Effect::Idempotent,
        external_contact_body!(CONTACT_ID),
    ),
    ActionSpec::new(
        "external_contacts.search",
        Method::Get,
        "/api/v2/externalcontacts/contacts",
        "Search external contacts (a paged `ContactListing`).",
        Effect::Idempotent,
        &[
            p("q", T::String, In::Query, "Search keywords."),
            p(
                "pageSize",
                T::Integer { min: 1, max: 1_000 },
                In::Query,
                "Page size (default 20; pageNumber * pageSize <= 1000).",
            ),
            p(
                "pageNumber",
                T::Integer { min: 1, max: 1_000 },
                In::Query,
                "Page number, from 1.",
            ),
            p(
                "sortOrder",
                T::String,
                In::Query,
                "e.g. `firstName:asc`, `title:desc`.",
            ),
            EXPAND,
        ],
    )
    .needs(&["relate:contact:view", "externalContacts:contact:view"]),
    ActionSpec::new(
        "external_contacts.delete",
        Method::Delete,
        "/api/v2/externalcontacts/contacts/{contact_id}",
        "Delete an external contact.",
        Effect::Idempotent,
        &[CONTACT_ID],
    )
    .needs(&["relate:contact:delete", "externalContacts:contact:delete"]),
    ActionSpec::new(
        "callbacks.create",
        Method::Post,
        "/api/v2/conversations/callbacks",
        "Schedule a callback (`CreateCallbackCommand`).",
        Effect::Creates,
        &[
            req(
                "callbackNumbers",
                T::PhoneList,
                In::Body,
                "Numbers to call back (E.164).",
            ),
            p(
                "queueId",
                T::String,
                In::Body,
                "Queue to route the callback to (or `routingData`).",
            ),
            p(
                "routingData",
                T::Object,
                In::Body,
                "Routing data (or `queueId`).",
            ),
            p(
                "scriptId",
                T::String,
                In::Body,
                "Script shown to the agent.",
            ),
            p(
                "callbackUserName",
                T::String,
                In::Body,
                "Name of the person to call back.",
            ),
            p(
                "callbackScheduledTime",
                T::String,
                In::Body,
                "When to call back (ISO-8601).",
            ),
            p(
                "countryCode",
                T::String,
                In::Body,
                "Country code for numbers without one.",
            ),
            p(
                "validateCallbackNumbers",
                T::Boolean,
                In::Body,
                "Validate the numbers.",
            ),
            p("data", T::Object, In::Body, "Participant attributes."),
            p("callerId", T::Phone, In::Body, "Caller id (E.164)."),
            p("callerIdName", T::String, In::Body, "Caller id name."),
        ],
    )
    .dials(&["callbackNumbers"])
    .exactly_one_of(&["queueId", "routingData"])
    .needs(&["conversation:callback:create"]),
    ActionSpec::new(
        "users.get",
        Method::Get,
        "/api/v2/users/{user_id}",
        "Read a user.",
        Effect::Idempotent,
        &[USER_ID, EXPAND],
    ),
    ActionSpec::new(
        "users.routing_status",
        Method::Get,
        "/api/v2/users/{user_id}/routingstatus",
        "Read a user's routing status (`OFF_QUEUE`, `IDLE`, `INTERACTING`, …).",
        Effect::Idempotent,
        &[USER_ID],
    ),
    ActionSpec::request(
        "/api/v2/…",
        "Any other endpoint of the Platform API, with the provider's token.",
    ),
];
