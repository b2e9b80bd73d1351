//! Genesys Cloud CX: the action catalogue.
//!
//! Endpoints, bodies and status codes follow the vendor's SDK models (see
//! `shared/reference/genesys-cloud.md`): `CreateCallRequest` for calls, `ExternalContact`,
//! `CreateCallbackCommand`, and the user endpoints. API base `https://api.<region>`, login host
//! `https://login.<region>`.

use super::{ActionSpec, Effect, In, Method, ParamSpec, ParamType as T, REQUEST_PARAMS, p, req};

/// Region domains (`api.<region>` / `login.<region>`), from the SDKs' region tables.
pub const REGIONS: &[&str] = &[
    "mypurecloud.com",
    "mypurecloud.ie",
    "mypurecloud.com.au",
    "mypurecloud.jp",
    "mypurecloud.de",
    "usw2.pure.cloud",
    "cac1.pure.cloud",
    "apne2.pure.cloud",
    "euw2.pure.cloud",
    "aps1.pure.cloud",
    "use2.us-gov-pure.cloud",
    "sae1.pure.cloud",
    "mec1.pure.cloud",
    "apne3.pure.cloud",
    "euc2.pure.cloud",
    "mxc1.pure.cloud",
    "apse1.pure.cloud",
    "edee1.eusc-pure.cloud",
];

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
            p("priority", T::Integer, In::Body, "Priority, when calling a queue."),
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
    ActionSpec {
        name: "calls.create",
        method: Method::Post,
        path: "/api/v2/conversations/calls",
        summary: "Place a call as the token's user (needs a user token; a client-credentials token gets 400 `not.a.user`).",
        effect: Effect::Creates,
        needs_user: true,
        dials: &["phoneNumber"],
        exclusive: CALL_DESTINATIONS,
        destination_required: true,
        params: CREATE_CALL,
    },
    ActionSpec {
        name: "calls.create_for_user",
        method: Method::Post,
        path: "/api/v2/conversations/calls/user/{user_id}",
        summary: "Place a call on behalf of a user (works with client credentials).",
        effect: Effect::Creates,
        needs_user: false,
        dials: &["phoneNumber"],
        exclusive: CALL_DESTINATIONS,
        destination_required: true,
        params: CREATE_CALL_FOR_USER,
    },
    ActionSpec {
        name: "calls.get",
        method: Method::Get,
        path: "/api/v2/conversations/calls/{conversation_id}",
        summary: "Read a call conversation (`CallConversation`).",
        effect: Effect::Idempotent,
        needs_user: false,
        dials: &[],
        exclusive: &[],
        destination_required: false,
        params: &[CONVERSATION_ID],
    },
    ActionSpec {
        name: "calls.wait",
        method: Method::Get,
        path: "/api/v2/conversations/calls/{conversation_id}",
        summary: "Poll a call until a participant reaches a state, or time out.",
        effect: Effect::Idempotent,
        needs_user: false,
        dials: &[],
        exclusive: &[],
        destination_required: false,
        params: &[
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
    },
    ActionSpec {
        name: "calls.disconnect",
        method: Method::Patch,
        path: "/api/v2/conversations/calls/{conversation_id}",
        summary: "Hang up a call with `{\"state\":\"disconnected\"}` (needs a user token; use `conversations.disconnect` with client credentials).",
        effect: Effect::Idempotent,
        needs_user: true,
        dials: &[],
        exclusive: &[],
        destination_required: false,
        params: &[CONVERSATION_ID],
    },
    ActionSpec {
        name: "conversations.disconnect",
        method: Method::Post,
        path: "/api/v2/conversations/{conversation_id}/disconnect",
        summary: "Tear a whole conversation down (202); works with client credentials.",
        effect: Effect::Idempotent,
        needs_user: false,
        dials: &[],
        exclusive: &[],
        destination_required: false,
        params: &[CONVERSATION_ID],
    },
    ActionSpec {
        name: "external_contacts.create",
        method: Method::Post,
        path: "/api/v2/externalcontacts/contacts",
        summary: "Create an external contact (`ExternalContact`).",
        effect: Effect::Creates,
        needs_user: false,
        dials: &[],
        exclusive: &[],
        destination_required: false,
        params: external_contact_body!(),
    },
    ActionSpec {
        name: "external_contacts.get",
        method: Method::Get,
        path: "/api/v2/externalcontacts/contacts/{contact_id}",
        summary: "Read an external contact.",
        effect: Effect::Idempotent,
        needs_user: false,
        dials: &[],
        exclusive: &[],
        destination_required: false,
        params: &[CONTACT_ID, EXPAND],
    },
    ActionSpec {
        name: "external_contacts.update",
        method: Method::Put,
        path: "/api/v2/externalcontacts/contacts/{contact_id}",
        summary: "Replace an external contact (full `ExternalContact`).",
        effect: Effect::Idempotent,
        needs_user: false,
        dials: &[],
        exclusive: &[],
        destination_required: false,
        params: external_contact_body!(CONTACT_ID),
    },
    ActionSpec {
        name: "external_contacts.search",
        method: Method::Get,
        path: "/api/v2/externalcontacts/contacts",
        summary: "Search external contacts (a paged `ContactListing`).",
        effect: Effect::Idempotent,
        needs_user: false,
        dials: &[],
        exclusive: &[],
        destination_required: false,
        params: &[
            p("q", T::String, In::Query, "Search keywords."),
            p(
                "pageSize",
                T::Integer,
                In::Query,
                "Page size (default 20; pageNumber * pageSize <= 1000).",
            ),
            p("pageNumber", T::Integer, In::Query, "Page number, from 1."),
            p(
                "sortOrder",
                T::String,
                In::Query,
                "e.g. `firstName:asc`, `title:desc`.",
            ),
            EXPAND,
        ],
    },
    ActionSpec {
        name: "external_contacts.delete",
        method: Method::Delete,
        path: "/api/v2/externalcontacts/contacts/{contact_id}",
        summary: "Delete an external contact.",
        effect: Effect::Idempotent,
        needs_user: false,
        dials: &[],
        exclusive: &[],
        destination_required: false,
        params: &[CONTACT_ID],
    },
    ActionSpec {
        name: "callbacks.create",
        method: Method::Post,
        path: "/api/v2/conversations/callbacks",
        summary: "Schedule a callback (`CreateCallbackCommand`).",
        effect: Effect::Creates,
        needs_user: false,
        dials: &["callbackNumbers"],
        exclusive: &["queueId", "routingData"],
        destination_required: true,
        params: &[
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
    },
    ActionSpec {
        name: "users.get",
        method: Method::Get,
        path: "/api/v2/users/{user_id}",
        summary: "Read a user.",
        effect: Effect::Idempotent,
        needs_user: false,
        dials: &[],
        exclusive: &[],
        destination_required: false,
        params: &[USER_ID, EXPAND],
    },
    ActionSpec {
        name: "users.routing_status",
        method: Method::Get,
        path: "/api/v2/users/{user_id}/routingstatus",
        summary: "Read a user's routing status (`OFF_QUEUE`, `IDLE`, `INTERACTING`, …).",
        effect: Effect::Idempotent,
        needs_user: false,
        dials: &[],
        exclusive: &[],
        destination_required: false,
        params: &[USER_ID],
    },
    ActionSpec {
        name: "request",
        method: Method::Get,
        path: "/api/v2/…",
        summary: "Any other endpoint of the Platform API, with the provider's token.",
        effect: Effect::ByMethod,
        needs_user: false,
        dials: &[],
        exclusive: &[],
        destination_required: false,
        params: REQUEST_PARAMS,
    },
];
