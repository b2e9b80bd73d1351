//! Providers: the platforms a plan talks to, and the catalogue of actions each one offers.
//!
//! Each vendor is a folder holding everything about it: [`genesys`], [`cxone`] and [`http`], each
//! with its action catalogue, its login, its error hints and, for the contact centres, how it
//! follows a call. What the vendors share sits at this level:
//!
//! - this module: the catalogue's types ([`ActionSpec`], [`ParamSpec`], [`ActionKind`],
//!   [`Effect`]) and [`ProviderKind`];
//! - [`connection`]: a live provider, sending requests with its token;
//! - [`auth`]: credentials, the token cache, and picking the vendor's login;
//! - [`request`]: building a request from an action and its rendered `with:`;
//! - [`wire`]: the request as it goes on the wire (URL and query, headers, body bytes), the
//!   same for a run and a dry run;
//! - [`hints`]: vendor errors as read, picking the vendor's hints, and the hints all share;
//! - [`failure`]: how an attempt failed, for the retry decision;
//! - `wait`: following a call, with the vendor's own way of waiting.
//!
//! The catalogue is data. Every action is a thin, documented mapping from a step's `with:` keys to
//! one real request of the vendor's API (see `docs/actions.md`, generated from these tables). `check`
//! validates `with:` against it; the runner builds requests from it.
//!
//! Naming rule for `with:` keys: path parameters and callplan's own controls are snake_case
//! (`user_id`, `until`); body and query fields are spelled exactly as the vendor's API spells them
//! (`phoneNumber`, `callFromQueueId`, `skillId`), so the vendor's documentation applies unchanged.

pub mod auth;
pub mod connection;
pub mod cxone;
pub mod failure;
pub mod genesys;
pub mod hints;
pub mod http;
pub mod pacing;
pub mod reconcile;
pub mod request;
pub mod transport;
pub(crate) mod wait;
pub mod wire;

/// What a flow step (`steps:` run per `for_each` row) is in place of an action: it sends nothing
/// itself, and no catalogue lists it.
pub const FLOW: ActionSpec = ActionSpec::new(
    "flow",
    Method::Get,
    "",
    "Runs its steps once per row",
    Effect::Idempotent,
    &[],
);

/// How long `calls.wait` waits when its `with:` sets no `timeout`.
pub const WAIT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(60);

/// Which provider types exist, as written in a plan's `type:`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ProviderKind {
    /// Genesys Cloud CX.
    GenesysCloud,
    /// NICE CXone.
    NiceCxone,
    /// Any HTTP API.
    Http,
}

impl ProviderKind {
    /// Every provider type.
    pub const ALL: [ProviderKind; 3] = [
        ProviderKind::GenesysCloud,
        ProviderKind::NiceCxone,
        ProviderKind::Http,
    ];

    /// The name used in plans.
    pub fn name(self) -> &'static str {
        match self {
            ProviderKind::GenesysCloud => "genesys-cloud",
            ProviderKind::NiceCxone => "nice-cxone",
            ProviderKind::Http => "http",
        }
    }

    /// The actions this provider type offers.
    pub fn actions(self) -> &'static [ActionSpec] {
        match self {
            ProviderKind::GenesysCloud => genesys::ACTIONS,
            ProviderKind::NiceCxone => cxone::ACTIONS,
            ProviderKind::Http => http::ACTIONS,
        }
    }

    /// Looks an action up by name.
    pub fn action(self, name: &str) -> Option<&'static ActionSpec> {
        self.actions().iter().find(|a| a.name == name)
    }
}

/// HTTP methods used by actions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// GET
    Get,
    /// HEAD
    Head,
    /// POST
    Post,
    /// PUT
    Put,
    /// PATCH
    Patch,
    /// DELETE
    Delete,
}

impl Method {
    /// The method's name on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Head => "HEAD",
            Method::Post => "POST",
            Method::Put => "PUT",
            Method::Patch => "PATCH",
            Method::Delete => "DELETE",
        }
    }
}

/// Whether repeating a request could do something twice (dial a customer twice, create two
/// callbacks). Decides what the runner may retry on its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Effect {
    /// Reads, or changes that are the same when repeated (disconnect, delete).
    Idempotent,
    /// Creates something: a call, a callback, a contact, a session.
    Creates,
    /// Raw requests: decided by the method (POST and PATCH create; the rest are idempotent).
    ByMethod,
}

/// What running an action does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ActionKind {
    /// Sends its request once, and the answer is judged.
    Request,
    /// Follows a call until it reaches a state: the vendor's own polling, repeated until the
    /// state is reached, the call ends or the wait's `timeout` runs out.
    Wait,
    /// Hangs up one participant of a call: finds it first (a read), then ends its leg (the
    /// vendor's own way, see the provider's `hang_up`).
    HangUp,
}

/// Where a `with:` parameter goes in the request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum In {
    /// Substituted into the path.
    Path,
    /// A query-string parameter.
    Query,
    /// A field of the JSON body.
    Body,
    /// Controls callplan's own behaviour (polling, waiting); never sent as such.
    Control,
}

/// The type a `with:` parameter must have. Templated strings are checked when rendered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParamType {
    /// Any string.
    String,
    /// An integer from `min` to `max`, both included (the vendor's own range when it documents
    /// one, else the width of its type).
    Integer {
        /// The smallest value.
        min: i64,
        /// The largest value.
        max: i64,
    },
    /// true or false.
    Boolean,
    /// A phone number in E.164 (`+13175550100`).
    Phone,
    /// A list of E.164 phone numbers.
    PhoneList,
    /// A list of strings.
    StringList,
    /// A humantime duration (`15s`, `1m30s`), at most `24h`.
    Duration,
    /// A mapping.
    Object,
    /// A list.
    List,
    /// Any value (a raw request body).
    Any,
    /// One of a fixed set of strings.
    OneOf(&'static [&'static str]),
}

const I32_MIN: i64 = i32::MIN as i64;
const I32_MAX: i64 = i32::MAX as i64;

impl ParamType {
    /// A vendor's id of a 32-bit type (a skill, an agent).
    pub(crate) const ID32: ParamType = ParamType::Integer {
        min: 1,
        max: I32_MAX,
    };
    /// A vendor's id of a 64-bit type (a contact).
    pub(crate) const ID64: ParamType = ParamType::Integer {
        min: 1,
        max: i64::MAX,
    };
    /// A number of the vendor's 32-bit type with no documented range.
    pub(crate) const INT32: ParamType = ParamType::Integer {
        min: I32_MIN,
        max: I32_MAX,
    };

    /// Whether `n` is in the range of an integer parameter (any number for other types).
    pub(crate) fn admits(self, n: i64) -> bool {
        match self {
            ParamType::Integer { min, max } => (min..=max).contains(&n),
            _ => true,
        }
    }

    /// How the type is named in messages and docs.
    pub fn describe(self) -> String {
        match self {
            ParamType::String => "a string".into(),
            ParamType::Integer { min, max } => match (min, max) {
                (1, i64::MAX) => "a positive integer".into(),
                (1, I32_MAX) => "a positive 32-bit integer".into(),
                (0, I32_MAX) => "a 32-bit integer, 0 or more".into(),
                (I32_MIN, I32_MAX) => "a 32-bit integer".into(),
                (min, max) => format!("an integer from {min} to {max}"),
            },
            ParamType::Boolean => "true or false".into(),
            ParamType::Phone => "an E.164 phone number".into(),
            ParamType::PhoneList => "a list of E.164 phone numbers".into(),
            ParamType::StringList => "a list of strings".into(),
            ParamType::Duration => "a duration like `15s`, at most `24h`".into(),
            ParamType::Object => "a mapping".into(),
            ParamType::List => "a list".into(),
            ParamType::Any => "any value".into(),
            ParamType::OneOf(values) => format!(
                "one of {}",
                values
                    .iter()
                    .map(|v| format!("`{v}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        }
    }
}

/// One parameter of an action.
#[derive(Debug, Clone, Copy)]
pub struct ParamSpec {
    /// The key under `with:`.
    pub name: &'static str,
    /// Its type.
    pub ty: ParamType,
    /// Whether the step must set it.
    pub required: bool,
    /// Where it goes in the request.
    pub location: In,
    /// One line for docs and hints.
    pub doc: &'static str,
}

/// One action: a name, the real request it maps to, and its parameters.
#[derive(Debug, Clone, Copy)]
pub struct ActionSpec {
    /// The name used in `action:`.
    pub name: &'static str,
    /// The HTTP method.
    pub method: Method,
    /// The vendor's path, with `{name}` placeholders for path parameters.
    pub path: &'static str,
    /// One line saying what it does.
    pub summary: &'static str,
    /// Whether repeating it could do something twice.
    pub effect: Effect,
    /// What running it does: one request, or a wait.
    pub kind: ActionKind,
    /// The request needs a user context: a client-credentials token is refused.
    pub needs_user: bool,
    /// The parameters holding numbers this action dials (the guard judges these, not caller ids).
    pub dials: &'static [&'static str],
    /// At most one of these may be set (the vendor refuses more than one); at least one when
    /// `destination_required` is set.
    pub exclusive: &'static [&'static str],
    /// One of `exclusive` must be set.
    pub destination_required: bool,
    /// The parameters.
    pub params: &'static [ParamSpec],
    /// The permissions the vendor asks for (any one of them), when its docs name them
    /// (Genesys: `x-inin-requires-permissions`).
    pub permissions: &'static [&'static str],
}

impl ActionSpec {
    /// An action that sends one request, with no user-context requirement, nothing dialed and no
    /// exclusive parameters.
    pub(crate) const fn new(
        name: &'static str,
        method: Method,
        path: &'static str,
        summary: &'static str,
        effect: Effect,
        params: &'static [ParamSpec],
    ) -> Self {
        ActionSpec {
            name,
            method,
            path,
            summary,
            effect,
            kind: ActionKind::Request,
            needs_user: false,
            dials: &[],
            exclusive: &[],
            destination_required: false,
            params,
            permissions: &[],
        }
    }

    /// The permissions the vendor asks for (any one of them).
    pub(crate) const fn needs(mut self, permissions: &'static [&'static str]) -> Self {
        self.permissions = permissions;
        self
    }

    /// The raw `request` action of a provider: any path below its API base.
    pub(crate) const fn request(path: &'static str, summary: &'static str) -> Self {
        let mut action = ActionSpec::new(
            "request",
            Method::Get,
            path,
            summary,
            Effect::ByMethod,
            REQUEST_PARAMS,
        );
        // A request has one body.
        action.exclusive = &["body", "form"];
        action
    }

    /// The request needs a user context.
    pub(crate) const fn needs_user(mut self) -> Self {
        self.needs_user = true;
        self
    }

    /// The action follows a call until it reaches a state (see [`ActionKind::Wait`]).
    pub(crate) const fn waits(mut self) -> Self {
        self.kind = ActionKind::Wait;
        self
    }

    /// The action finds a participant and hangs it up (see [`ActionKind::HangUp`]).
    pub(crate) const fn hangs_up(mut self) -> Self {
        self.kind = ActionKind::HangUp;
        self
    }

    /// These parameters hold the numbers the action dials.
    pub(crate) const fn dials(mut self, params: &'static [&'static str]) -> Self {
        self.dials = params;
        self
    }

    /// Exactly one of these parameters must be set.
    pub(crate) const fn exactly_one_of(mut self, params: &'static [&'static str]) -> Self {
        self.exclusive = params;
        self.destination_required = true;
        self
    }

    /// Looks a parameter up by name.
    pub fn param(&self, name: &str) -> Option<&'static ParamSpec> {
        self.params.iter().find(|p| p.name == name)
    }
}

/// Shorthand constructors keep the catalogue tables readable.
pub(crate) const fn p(
    name: &'static str,
    ty: ParamType,
    location: In,
    doc: &'static str,
) -> ParamSpec {
    ParamSpec {
        name,
        ty,
        required: false,
        location,
        doc,
    }
}

/// A required parameter.
pub(crate) const fn req(
    name: &'static str,
    ty: ParamType,
    location: In,
    doc: &'static str,
) -> ParamSpec {
    ParamSpec {
        name,
        ty,
        required: true,
        location,
        doc,
    }
}

/// The methods a raw `request` action accepts.
pub const METHODS: &[&str] = &["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"];

/// Parameters of the raw `request` action, the same for every provider.
pub(crate) const REQUEST_PARAMS: &[ParamSpec] = &[
    req(
        "method",
        ParamType::OneOf(METHODS),
        In::Control,
        "HTTP method.",
    ),
    req(
        "path",
        ParamType::String,
        In::Control,
        "Path below the provider's API base, starting with `/` (may include a query string).",
    ),
    p(
        "query",
        ParamType::Object,
        In::Control,
        "Query-string parameters, added to any query string `path` has (a list repeats its key).",
    ),
    p(
        "headers",
        ParamType::Object,
        In::Control,
        "Extra request headers; one with the name of a provider header replaces it (names in any case).",
    ),
    p(
        "body",
        ParamType::Any,
        In::Control,
        "Request body. A string is sent byte for byte, as written, with the `Content-Type` of `headers` (`text/plain; charset=utf-8` when none is given): XML, text, a form written by hand. A mapping, list, number or boolean is sent as JSON (`application/json` unless `headers` give another type).",
    ),
    p(
        "form",
        ParamType::Object,
        In::Control,
        "Form fields (strings, numbers, booleans; a list repeats its key), sent as an `application/x-www-form-urlencoded` body.",
    ),
];

/// The action catalogue as Markdown: `docs/actions.md` is this text (a test keeps them equal).
pub fn catalogue_markdown() -> String {
    use std::fmt::Write as _;
    let mut out = String::from(
        "# Actions\n\n\
         Every action a step can name in `action:`, by provider type: the real request it sends and \
         the parameters it takes under `with:`. Generated from the catalogue in `src/provider/`; \
         `callplan check` validates `with:` against it.\n\n\
         Naming: path parameters and callplan's own controls are snake_case (`user_id`, `until`); \
         body and query fields are spelled exactly as the vendor's API spells them \
         (`phoneNumber`, `skillId`), so the vendor's documentation applies unchanged. String values \
         are templates. Actions marked *creates* may place a call or create something: they are \
         never retried after a failure that may have reached the provider unless the step sets \
         `retry.unsafe: true`.\n",
    );
    for kind in ProviderKind::ALL {
        let _ = write!(out, "\n## `{}`\n", kind.name());
        if kind == ProviderKind::NiceCxone {
            let _ = write!(
                out,
                "\nPaths are below `{{api_endpoint}}{}{{api_version}}` (default version `{}`).\n",
                cxone::SERVICES_PREFIX,
                cxone::DEFAULT_API_VERSION
            );
        }
        for action in kind.actions() {
            let effect = match action.effect {
                Effect::Creates => " · *creates*",
                Effect::Idempotent => "",
                Effect::ByMethod => " · POST and PATCH *create*",
            };
            let method = if action.name == "request" {
                "any"
            } else {
                action.method.as_str()
            };
            let _ = write!(
                out,
                "\n### `{}`\n\n`{method} {}`{effect}\n\n{}\n",
                action.name, action.path, action.summary
            );
            if action.needs_user {
                out.push_str("\nNeeds a user token: `check` refuses it with a `client_credentials` provider.\n");
            }
            if !action.permissions.is_empty() {
                let names: Vec<String> = action
                    .permissions
                    .iter()
                    .map(|n| format!("`{n}`"))
                    .collect();
                let _ = writeln!(
                    out,
                    "\nPermissions (the role needs any one): {}.",
                    names.join(", ")
                );
            }
            if !action.exclusive.is_empty() {
                let names: Vec<String> =
                    action.exclusive.iter().map(|n| format!("`{n}`")).collect();
                let _ = write!(
                    out,
                    "\n{} of {}.\n",
                    if action.destination_required {
                        "Exactly one"
                    } else {
                        "At most one"
                    },
                    names.join(", ")
                );
            }
            out.push_str("\n| parameter | type | required | sent as | description |\n|---|---|---|---|---|\n");
            for param in action.params {
                let location = match param.location {
                    In::Path => "path",
                    In::Query => "query",
                    In::Body => "body",
                    In::Control => "control",
                };
                let _ = writeln!(
                    out,
                    "| `{}` | {} | {} | {location} | {} |",
                    param.name,
                    param.ty.describe(),
                    if param.required { "yes" } else { "" },
                    param.doc.replace('|', "\\|")
                );
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn catalogue_is_consistent() {
        for kind in ProviderKind::ALL {
            let mut names = HashSet::new();
            for action in kind.actions() {
                assert!(
                    names.insert(action.name),
                    "duplicate action {}",
                    action.name
                );
                let mut params = HashSet::new();
                for param in action.params {
                    assert!(
                        params.insert(param.name),
                        "{}: duplicate {}",
                        action.name,
                        param.name
                    );
                    if param.location == In::Path {
                        assert!(
                            action.path.contains(&format!("{{{}}}", param.name)),
                            "{}: path parameter {} not in {}",
                            action.name,
                            param.name,
                            action.path
                        );
                        assert!(
                            param.required,
                            "{}: path parameter {} optional",
                            action.name, param.name
                        );
                    }
                }
                for name in action.dials {
                    let param = action.param(name);
                    assert!(
                        param.is_some_and(|p| matches!(
                            p.ty,
                            ParamType::Phone | ParamType::PhoneList
                        )),
                        "{}: dials {name} is not a phone parameter",
                        action.name
                    );
                    assert_eq!(
                        action.effect,
                        Effect::Creates,
                        "{} dials but does not create",
                        action.name
                    );
                }
                if action.kind == ActionKind::Wait {
                    assert!(
                        wait::default_until(kind).is_some(),
                        "{}: {} has no way to wait",
                        action.name,
                        kind.name()
                    );
                    for control in ["until", "timeout"] {
                        assert!(
                            action
                                .param(control)
                                .is_some_and(|p| p.location == In::Control),
                            "{}: a wait without `{control}`",
                            action.name
                        );
                    }
                }
                for name in action.exclusive {
                    assert!(
                        action.param(name).is_some(),
                        "{}: exclusive {name} unknown",
                        action.name
                    );
                }
                // Every placeholder in the path is a parameter.
                for piece in action.path.split('{').skip(1) {
                    let name = piece.split('}').next().unwrap_or_default();
                    assert!(
                        action.param(name).is_some(),
                        "{}: {{{name}}} has no parameter",
                        action.name
                    );
                }
            }
            assert!(
                kind.action("request").is_some(),
                "{} has no raw request",
                kind.name()
            );
        }
    }
}
