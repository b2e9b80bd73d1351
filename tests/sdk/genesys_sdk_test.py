#!/usr/bin/env python3
"""Fidelity test: drive the official Genesys Cloud Python SDK against `callplan sandbox`.

Starts the sandbox as a subprocess, points PureCloudPlatformClientV2 at it through the SDK's
gateway configuration (login and API on the same plain-http origin), and checks that every
response deserializes into the SDK's own models, strictly: right model class, no JSON key the
model does not know, JSON types that match the model's declared types, datetimes the SDK parses,
and no enum value the SDK would silently replace with 'outdated_sdk_version'.

Usage (from anywhere):
    pip install -r tests/sdk/requirements.txt     # ideally in a virtualenv outside the repo
    CALLPLAN_BIN=target/debug/callplan python3 tests/sdk/genesys_sdk_test.py

CALLPLAN_BIN defaults to target/debug/callplan, relative to the repo root (two directories
above this file). Prints one line per check and a closing 'genesys-sdk: N passed, N failed'
line; exits 0 only if every check passed.

Uses only the SDK and the standard library.
"""

import ast
import inspect
import json
import os
import queue
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import urllib.parse
from datetime import datetime

SCRIPT_DIR = os.path.dirname(os.path.abspath(__file__))
REPO_ROOT = os.path.dirname(os.path.dirname(SCRIPT_DIR))
CONFIG_PATH = os.path.join(SCRIPT_DIR, "sandbox.yaml")

CLIENT_ID = "sandbox-client"
CLIENT_SECRET = "sandbox-secret"
USER_ID = "00000000-0000-4000-8000-000000000001"
USER_NAME = "Sandbox Agent"
USER_TOKEN = "sandbox-user-token"
PHONE = "+13175550100"

STARTUP_TIMEOUT_S = 30.0  # for the sandbox to print its URL
POLL_TIMEOUT_S = 10.0  # for a call to reach a state
POLL_INTERVAL_S = 0.02
OVERALL_TIMEOUT_S = 180.0  # the whole run; the sandbox is killed past this
HTTP_TIMEOUT_S = 15.0  # per socket operation (the SDK sets none of its own)

# What the SDK puts in an enum field whose value it does not know.
SDK_PLACEHOLDER = "outdated_sdk_version"

# Genesys' own format for datetimes: ISO-8601 in UTC, e.g. 2024-01-01T12:00:00.000Z.
# (The SDK itself also accepts offsets and, through a lenient fallback, much else; a sandbox
# emulating Genesys should send what Genesys sends.)
ISO_DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$")
ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")

# ---------------------------------------------------------------------------------------------
# Isolate the SDK from the machine's own SDK config: importing PureCloudPlatformClientV2 builds a
# Configuration singleton that reads ~/.genesyscloudpython/config (which can set host, gateway,
# logging...) and starts a watchdog observer on that directory (or the nearest existing parent,
# recursively). Point HOME at an empty temporary directory for the import.
# ---------------------------------------------------------------------------------------------
ORIGINAL_ENV = dict(os.environ)
SDK_HOME = tempfile.mkdtemp(prefix="genesys-sdk-home-")
os.environ["HOME"] = SDK_HOME

try:
    import PureCloudPlatformClientV2 as sdk
    from PureCloudPlatformClientV2 import models as sdk_models
    from PureCloudPlatformClientV2.rest import ApiException
except ImportError as exc:  # pragma: no cover - environment problem
    print(
        "FAIL cannot import the Genesys SDK (PureCloudPlatformClientV2): %s\n"
        "     install it with: python3 -m pip install -r %s"
        % (exc, os.path.join(SCRIPT_DIR, "requirements.txt")),
        file=sys.stderr,
    )
    sys.exit(2)

try:
    from dateutil.parser import isoparse  # a dependency of the SDK
except ImportError:  # pragma: no cover
    isoparse = None


class CheckFailed(Exception):
    pass


# ---------------------------------------------------------------------------------------------
# The sandbox process
# ---------------------------------------------------------------------------------------------
class Sandbox:
    def __init__(self):
        binary = ORIGINAL_ENV.get("CALLPLAN_BIN", os.path.join("target", "debug", "callplan"))
        if not os.path.isabs(binary):
            binary = os.path.join(REPO_ROOT, binary)
        self.binary = binary
        self.proc = None
        self.url = None
        self.host = None
        self.port = None
        self.stdout_tail = []
        self.stderr_tail = []
        self._lines = queue.Queue()

    def command(self):
        return [self.binary, "sandbox", "--addr", "127.0.0.1:0", "--config", CONFIG_PATH]

    def start(self):
        if not os.path.exists(self.binary):
            raise CheckFailed(
                "sandbox binary not found at %s (build it with `cargo build`, or set CALLPLAN_BIN)"
                % self.binary
            )
        self.proc = subprocess.Popen(
            self.command(),
            cwd=REPO_ROOT,
            env=ORIGINAL_ENV,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            errors="replace",
        )
        threading.Thread(target=self._drain, args=(self.proc.stdout, self.stdout_tail, True), daemon=True).start()
        threading.Thread(target=self._drain, args=(self.proc.stderr, self.stderr_tail, False), daemon=True).start()

        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        first_line = None
        lines_read = 0
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise CheckFailed(
                    "sandbox printed no URL on stdout within %.0f s (first line: %r)%s"
                    % (STARTUP_TIMEOUT_S, first_line, self.diagnostics())
                )
            try:
                line = self._lines.get(timeout=min(left, 0.5))
            except queue.Empty:
                if self.proc.poll() is not None and self._lines.empty():
                    raise CheckFailed(
                        "sandbox exited with status %s before printing its URL%s"
                        % (self.proc.returncode, self.diagnostics())
                    )
                continue
            if line is None:  # stdout closed
                raise CheckFailed("sandbox closed stdout before printing its URL%s" % self.diagnostics())
            lines_read += 1
            if first_line is None:
                first_line = line
            match = re.search(r"http://[^\s()<>\"']+", line)
            if match:
                self.url = match.group(0).rstrip("/.,;")
                break
        parts = urllib.parse.urlsplit(self.url)
        if not parts.hostname or not parts.port:
            raise CheckFailed("cannot read host and port from the sandbox URL %r" % self.url)
        self.host, self.port = parts.hostname, parts.port
        if lines_read > 1:
            print("note the sandbox URL was not on its first stdout line (first line: %r)" % first_line)

    def _drain(self, stream, tail, feed_queue):
        for line in stream:
            line = line.rstrip("\n")
            tail.append(line)
            del tail[:-40]
            if feed_queue:
                self._lines.put(line)
        if feed_queue:
            self._lines.put(None)

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self):
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=5)

    def diagnostics(self):
        out = ["", "     command: %s" % " ".join(self.command())]
        if self.proc is not None and self.proc.poll() is not None:
            out.append("     exit status: %s" % self.proc.returncode)
        for name, tail in (("stdout", self.stdout_tail), ("stderr", self.stderr_tail)):
            if tail:
                out.append("     sandbox %s (last lines):" % name)
                out.extend("       | " + l for l in tail[-15:])
        return "\n".join(out)


# ---------------------------------------------------------------------------------------------
# Strict checks of a raw JSON response against the SDK's model declarations
# ---------------------------------------------------------------------------------------------
def model_class(name):
    cls = getattr(sdk_models, name, None)
    if cls is None:
        raise CheckFailed("the SDK has no model named %s" % name)
    return cls


def strict_problems(value, type_name, path, problems):
    """Compare raw JSON `value` with the SDK's declared type `type_name`; append problems."""
    if value is None:
        return  # the SDK accepts null for every non-enum field; enum nulls crash it earlier
    m = re.match(r"^list\[(.*)\]$", type_name)
    if m:
        if not isinstance(value, list):
            problems.append("%s: expected a JSON array (%s), got %s" % (path, type_name, type(value).__name__))
            return
        for i, item in enumerate(value):
            strict_problems(item, m.group(1), "%s[%d]" % (path, i), problems)
        return
    m = re.match(r"^dict\(([^,]*), (.*)\)$", type_name)
    if m:
        if not isinstance(value, dict):
            problems.append("%s: expected a JSON object (%s), got %s" % (path, type_name, type(value).__name__))
            return
        for k, v in value.items():
            strict_problems(v, m.group(2), "%s[%r]" % (path, k), problems)
        return
    if type_name == "object":
        return
    if type_name == "str":
        if not isinstance(value, str):
            problems.append("%s: expected a string, got %s %r (the SDK would stringify it)" % (path, type(value).__name__, value))
        return
    if type_name == "int":
        if not isinstance(value, int) or isinstance(value, bool):
            problems.append("%s: expected an integer, got %s %r" % (path, type(value).__name__, value))
        return
    if type_name == "float":
        if not isinstance(value, (int, float)) or isinstance(value, bool):
            problems.append("%s: expected a number, got %s %r" % (path, type(value).__name__, value))
        return
    if type_name == "bool":
        if not isinstance(value, bool):
            problems.append("%s: expected true/false, got %s %r (the SDK would apply Python's bool())" % (path, type(value).__name__, value))
        return
    if type_name in ("datetime", "LocalDateTime"):
        if not isinstance(value, str) or not ISO_DATETIME.match(value):
            problems.append("%s: expected an ISO-8601 UTC datetime like 2024-01-01T12:00:00.000Z, got %r" % (path, value))
        elif isoparse is not None:
            try:
                isoparse(value)
            except (ValueError, OverflowError) as exc:
                problems.append("%s: datetime %r does not parse: %s" % (path, value, exc))
        return
    if type_name == "date":
        if not isinstance(value, str) or not ISO_DATE.match(value):
            problems.append("%s: expected an ISO-8601 date like 2024-01-01, got %r" % (path, value))
        return
    if type_name == "YearMonth":
        if not isinstance(value, str) or not re.match(r"^\d{4}-\d{2}$", value):
            problems.append("%s: expected YYYY-MM, got %r" % (path, value))
        return
    # A model.
    cls = model_class(type_name)
    if not isinstance(value, dict):
        problems.append("%s: expected a JSON object (%s), got %s %r (the SDK would return an empty %s)"
                        % (path, type_name, type(value).__name__, value, type_name))
        return
    instance = cls()
    enums = enum_values(cls)
    json_to_attr = {json_key: attr for attr, json_key in instance.attribute_map.items()}
    for key, item in value.items():
        attr = json_to_attr.get(key)
        if attr is None:
            problems.append("%s.%s: key unknown to the SDK model %s (the SDK drops it silently)" % (path, key, type_name))
            continue
        strict_problems(item, instance.swagger_types[attr], "%s.%s" % (path, key), problems)
        allowed = enums.get(attr)
        if allowed and isinstance(item, str) and item not in allowed:
            same_but_case = [a for a in allowed if a.lower() == item.lower()]
            if same_but_case:
                # The SDK compares enums case-insensitively and keeps the server's spelling.
                problems.append("%s.%s: enum value %r is spelled %r by Genesys and the SDK"
                                % (path, key, item, same_but_case[0]))
            else:
                problems.append("%s.%s: %r is not one of the SDK's values %s" % (path, key, item, allowed))


_ENUM_CACHE = {}


def enum_values(cls):
    """attribute -> allowed values, read from the generated setters (`allowed_values = [...]`)."""
    if cls not in _ENUM_CACHE:
        found = {}
        try:
            source = inspect.getsource(cls)
        except (OSError, TypeError):
            source = ""
        setter = re.compile(r"@(\w+)\.setter\s+def \w+\(self[^)]*\)[^:]*:(.*?)(?=\n    @|\n    def |\Z)", re.S)
        for match in setter.finditer(source):
            allowed = re.search(r"allowed_values = (\[[^\]]*\])", match.group(2))
            if allowed:
                try:
                    found[match.group(1)] = ast.literal_eval(allowed.group(1))
                except (ValueError, SyntaxError):
                    pass
        _ENUM_CACHE[cls] = found
    return _ENUM_CACHE[cls]


def placeholder_problems(obj, path, problems, seen=None):
    """Find enum fields the SDK replaced with its 'outdated_sdk_version' placeholder."""
    if seen is None:
        seen = set()
    if obj is None or id(obj) in seen:
        return
    if isinstance(obj, list):
        for i, item in enumerate(obj):
            placeholder_problems(item, "%s[%d]" % (path, i), problems, seen)
        return
    if isinstance(obj, dict):
        for k, item in obj.items():
            placeholder_problems(item, "%s[%r]" % (path, k), problems, seen)
        return
    if not hasattr(obj, "swagger_types"):
        return
    seen.add(id(obj))
    for attr in obj.swagger_types:
        item = getattr(obj, attr, None)
        if isinstance(item, str) and item == SDK_PLACEHOLDER:
            problems.append("%s.%s: the SDK did not know the value and replaced it with %r"
                            % (path, obj.attribute_map[attr], SDK_PLACEHOLDER))
        else:
            placeholder_problems(item, "%s.%s" % (path, obj.attribute_map[attr]), problems, seen)


# ---------------------------------------------------------------------------------------------
# Running checks
# ---------------------------------------------------------------------------------------------
class Runner:
    def __init__(self, sandbox):
        self.sandbox = sandbox
        self.passed = 0
        self.failed = 0

    def ok(self, message):
        self.passed += 1
        print("ok   %s" % message, flush=True)

    def expect(self, condition, message, detail=""):
        if not condition:
            raise CheckFailed("%s%s" % (message, (": " + detail) if detail else ""))
        self.ok(message)

    def section(self, name, fn):
        """Run one group of dependent checks; the first failure ends the group."""
        try:
            fn()
            return True
        except CheckFailed as exc:
            self.failed += 1
            print("FAIL [%s] %s" % (name, exc), flush=True)
        except Exception as exc:  # a bug here or in the SDK: still a failure, with a trace
            self.failed += 1
            print("FAIL [%s] unexpected %s: %s" % (name, type(exc).__name__, exc), flush=True)
            traceback.print_exc()
        if self.sandbox.url is not None and not self.sandbox.alive():
            print("     the sandbox is no longer running%s" % self.sandbox.diagnostics(), flush=True)
        return False

    def call(self, api_client, what, fn, model_name, quiet=False):
        """Call the SDK, then check the result strictly against `model_name`.

        `what` names the request (e.g. 'GET /api/v2/users/{id}'). Returns the SDK's object.
        """
        try:
            result = fn()
        except ApiException as exc:
            raise CheckFailed("%s -> HTTP %s %s; body: %s" % (what, exc.status, exc.reason, _clip(exc.body)))
        except CheckFailed:
            raise
        except Exception as exc:
            last = getattr(api_client, "last_response", None)
            raw = getattr(last, "data", None)
            raise CheckFailed(
                "%s: the SDK could not handle the response (%s: %s); raw response: %s"
                % (what, type(exc).__name__, exc, _clip(raw))
            )
        response = api_client.last_response
        problems = []
        content_type = response.getheader("Content-Type") or ""
        if not content_type.lower().startswith("application/json"):
            problems.append("Content-Type is %r, not application/json" % content_type)
        try:
            raw = json.loads(response.data)
        except ValueError as exc:
            raise CheckFailed("%s: response body is not JSON (%s): %s" % (what, exc, _clip(response.data)))
        cls = model_class(model_name)
        if not isinstance(result, cls):
            problems.append("the SDK returned %s, not %s" % (type(result).__name__, model_name))
        strict_problems(raw, model_name, model_name, problems)
        placeholder_problems(result, model_name, problems)
        if problems:
            raise CheckFailed(
                "%s -> %s does not match the SDK model:\n       - %s\n       raw response: %s"
                % (what, model_name, "\n       - ".join(problems), _clip(response.data))
            )
        if not quiet:
            self.ok("%s -> %s (HTTP %s, strict model check)" % (what, model_name, response.status))
        return result

    def expect_api_error(self, what, fn, statuses):
        """Call the SDK expecting an ApiException with one of `statuses`; return (exc, json body)."""
        try:
            fn()
        except ApiException as exc:
            if exc.status not in statuses:
                raise CheckFailed("%s: expected HTTP %s, got HTTP %s; body: %s"
                                  % (what, "/".join(map(str, statuses)), exc.status, _clip(exc.body)))
            body = None
            if exc.body:
                try:
                    body = json.loads(exc.body)
                except ValueError:
                    body = None
            return exc, body
        except Exception as exc:
            raise CheckFailed("%s: expected the SDK's ApiException, got %s: %s" % (what, type(exc).__name__, exc))
        raise CheckFailed("%s: expected HTTP %s, but the call succeeded"
                          % (what, "/".join(map(str, statuses))))

    def check_error_body(self, what, body, status):
        """The JSON body of an error must be a strict Genesys ErrorBody; return the SDK object."""
        if not isinstance(body, dict):
            raise CheckFailed("%s: error body is not a JSON object" % what)
        problems = []
        strict_problems(body, "ErrorBody", "ErrorBody", problems)
        if problems:
            raise CheckFailed("%s: error body does not match ErrorBody:\n       - %s\n       body: %s"
                              % (what, "\n       - ".join(problems), _clip(json.dumps(body))))
        err = deserialize(body, "ErrorBody")
        if err.status is not None and err.status != status:
            raise CheckFailed("%s: ErrorBody.status is %r but the HTTP status is %s" % (what, err.status, status))
        return err


def _clip(text, limit=1500):
    if text is None:
        return "<none>"
    text = str(text)
    return text if len(text) <= limit else text[:limit] + "...(%d more chars)" % (len(text) - limit)


_DESERIALIZER = None


def deserialize(data, type_name):
    """Deserialize already-parsed JSON into an SDK model the way the SDK does for responses."""
    global _DESERIALIZER
    if _DESERIALIZER is None:
        _DESERIALIZER = sdk.ApiClient()
    return _DESERIALIZER._ApiClient__deserialize(data, type_name)


def make(model_name, **attrs):
    """SDK models take no constructor arguments: build one and set its attributes."""
    obj = model_class(model_name)()
    for attr, value in attrs.items():
        if attr not in obj.swagger_types:
            raise CheckFailed("the SDK model %s has no attribute %s" % (model_name, attr))
        setattr(obj, attr, value)
    return obj


def new_api_client(sandbox, access_token=None):
    client = sdk.ApiClient()
    # The SDK's gateway configuration: every login URL is
    #   {protocol}://{host}[:{port}][/{path_params_login}]/oauth/token
    # and every API URL is
    #   {protocol}://{host}[:{port}][/{path_params_api}]/api/v2/...
    client.set_gateway(sandbox.host, "http", sandbox.port, "", "")
    if access_token is not None:
        client.access_token = access_token
    return client


def customer_of(conversation):
    customers = [p for p in (conversation.participants or []) if p.purpose == "customer"]
    return customers[0] if len(customers) == 1 else None


# ---------------------------------------------------------------------------------------------
# The checks
# ---------------------------------------------------------------------------------------------
def run_checks(runner, sandbox):
    state = {}

    def login():
        client = new_api_client(sandbox)
        runner.expect(
            client.get_conf_url("login", client.host) == sandbox.url.rstrip("/")
            and client.get_conf_url("api", client.host) == sandbox.url.rstrip("/"),
            "SDK gateway points login and API at %s" % sandbox.url,
            "login %s, api %s" % (client.get_conf_url("login", client.host), client.get_conf_url("api", client.host)),
        )
        try:
            returned = client.get_client_credentials_token(CLIENT_ID, CLIENT_SECRET)
        except ApiException as exc:
            raise CheckFailed("POST /oauth/token (client credentials) -> HTTP %s %s; body: %s"
                              % (exc.status, exc.reason, _clip(exc.body)))
        except Exception as exc:
            raise CheckFailed("POST /oauth/token: the SDK could not read the token response (%s: %s)"
                              % (type(exc).__name__, exc))
        runner.expect(returned is client and isinstance(client.access_token, str) and client.access_token,
                      "POST /oauth/token (client credentials, Basic auth, form body) -> access_token",
                      "access_token is %r" % (client.access_token,))
        state["client"] = client

    if not runner.section("login", login):
        return  # nothing else can work
    client = state["client"]
    conversations = sdk.ConversationsApi(client)
    external_contacts = sdk.ExternalContactsApi(client)
    users = sdk.UsersApi(client)
    tokens = sdk.TokensApi(client)

    def call_lifecycle():
        created = runner.call(
            client, "POST /api/v2/conversations/calls/user/{userId}",
            lambda: conversations.post_conversations_calls_user_user_id(
                user_id=USER_ID, body=make("CreateCallRequest", phone_number=PHONE)),
            "CreateCallResponse")
        runner.expect(isinstance(created.id, str) and created.id, "CreateCallResponse has an id", repr(created.id))
        conversation_id = created.id

        conversation = poll_customer_state(conversation_id, "connected")
        runner.expect(conversation.id == conversation_id, "CallConversation.id is the created id",
                      "%r != %r" % (conversation.id, conversation_id))
        runner.expect(
            isinstance(conversation.participants, list) and conversation.participants
            and all(isinstance(p, sdk_models.CallMediaParticipant) for p in conversation.participants),
            "CallConversation.participants are CallMediaParticipant objects",
            repr([type(p).__name__ for p in (conversation.participants or [])]))
        for p in conversation.participants:
            runner.expect(isinstance(p.start_time, datetime) and p.start_time.tzinfo is not None,
                          "participant %s (%s) has a timezone-aware datetime start_time" % (p.id, p.purpose),
                          repr(p.start_time))
            runner.expect(isinstance(p.purpose, str) and p.purpose and p.purpose != SDK_PLACEHOLDER,
                          "participant %s has a purpose (%r)" % (p.id, p.purpose))
            runner.expect(p.direction in ("inbound", "outbound"),
                          "participant %s has a known direction (%r)" % (p.id, p.direction))
            runner.expect(isinstance(p.state, str) and p.state != SDK_PLACEHOLDER,
                          "participant %s has a known state (%r)" % (p.id, p.state))
        customer = customer_of(conversation)
        runner.expect(customer.address is None or PHONE in customer.address or customer.address.endswith(PHONE.lstrip("+")),
                      "customer participant address is the dialled number (%r)" % customer.address)

        # With client credentials, the calls-specific PATCH needs a user ...
        what = "PATCH /api/v2/conversations/calls/{id} with a client-credentials token"
        exc, body = runner.expect_api_error(
            what,
            lambda: conversations.patch_conversations_call(
                conversation_id, make("Conversation", state="disconnected")),
            (400,))
        err = runner.check_error_body(what, body, 400)
        runner.expect(err.code == "not.a.user", "%s -> not.a.user" % what, repr(err.code))
        # ... and the generic participant PATCH hangs the customer up (what callplan's
        # calls.hang_up sends).
        try:
            result = conversations.patch_conversation_participant(
                conversation_id, customer.id, make("MediaParticipantRequest", state="disconnected"))
        except ApiException as exc:
            raise CheckFailed("PATCH /api/v2/conversations/{id}/participants/{pid} -> HTTP %s %s; body: %s"
                              % (exc.status, exc.reason, _clip(exc.body)))
        status = client.last_response.status
        runner.expect(status == 202 and result is None,
                      "PATCH /api/v2/conversations/{id}/participants/{pid} (client credentials) -> HTTP 202, no body",
                      "HTTP %s, %r" % (status, result))

        conversation = poll_customer_state(conversation_id, "disconnected")
        customer = customer_of(conversation)
        runner.expect(customer.disconnect_type is not None and customer.disconnect_type != SDK_PLACEHOLDER,
                      "disconnected customer has a known disconnect_type (%r)" % customer.disconnect_type)
        runner.expect(isinstance(customer.end_time, datetime),
                      "disconnected customer has a datetime end_time", repr(customer.end_time))

    def poll_customer_state(conversation_id, wanted):
        deadline = time.monotonic() + POLL_TIMEOUT_S
        polls = 0
        last_states = None
        while True:
            polls += 1
            conversation = runner.call(
                client, "GET /api/v2/conversations/calls/{id}",
                lambda: conversations.get_conversations_call(conversation_id), "CallConversation", quiet=True)
            states = [(p.purpose, p.state) for p in (conversation.participants or [])]
            last_states = states
            customer = customer_of(conversation)
            if customer is not None and customer.state == wanted:
                runner.ok("GET /api/v2/conversations/calls/{id} -> CallConversation, customer %s after %d poll(s) "
                          "(strict model check on every poll)" % (wanted, polls))
                return conversation
            if time.monotonic() > deadline:
                raise CheckFailed("customer participant not %s within %.0f s (%d polls); participants (purpose, state): %r"
                                  % (wanted, POLL_TIMEOUT_S, polls, last_states))
            time.sleep(POLL_INTERVAL_S)

    def runner_disconnect(conversation_id):
        try:
            result = conversations.post_conversation_disconnect(conversation_id)
        except ApiException as exc:
            raise CheckFailed("POST /api/v2/conversations/{id}/disconnect -> HTTP %s %s; body: %s"
                              % (exc.status, exc.reason, _clip(exc.body)))
        status = client.last_response.status
        if status not in (200, 202, 204):
            raise CheckFailed("POST /api/v2/conversations/{id}/disconnect -> HTTP %s (expected 202)" % status)
        if result is not None and not isinstance(result, str):
            raise CheckFailed("post_conversation_disconnect returned %s, not str" % type(result).__name__)
        return result

    def teardown():
        # The teardown for stuck conversations still works with client credentials.
        created = runner.call(
            client, "POST /api/v2/conversations/calls/user/{userId} (to tear down)",
            lambda: conversations.post_conversations_calls_user_user_id(
                user_id=USER_ID, body=make("CreateCallRequest", phone_number=PHONE)),
            "CreateCallResponse")
        result = runner_disconnect(created.id)
        runner.ok("POST /api/v2/conversations/{id}/disconnect -> %r" % (result,))
        poll_customer_state(created.id, "disconnected")

    def analytics_reconcile():
        # A call whose create answer a client lost: found again, read-only, by the analytics
        # conversation-detail query (user, number, direction, media type), as callplan will.
        analytics = sdk.AnalyticsApi(client)
        created = runner.call(
            client, "POST /api/v2/conversations/calls/user/{userId} (to find again)",
            lambda: conversations.post_conversations_calls_user_user_id(
                user_id=USER_ID, body=make("CreateCallRequest", phone_number=PHONE)),
            "CreateCallResponse", quiet=True)
        conversation_id = created.id

        def query_for(dnis):
            now = time.time()
            interval = "%s/%s" % (
                time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime(now - 3600)),
                time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime(now + 60)))

            def predicate(dimension, value):
                return make("SegmentDetailQueryPredicate", type="dimension", dimension=dimension,
                            operator="matches", value=value)
            return make(
                "ConversationQuery", interval=interval, order="desc", order_by="conversationStart",
                paging=make("PagingSpec", page_size=25, page_number=1),
                segment_filters=[make("SegmentDetailQueryFilter", type="and", predicates=[
                    predicate("userId", USER_ID), predicate("dnis", dnis),
                    predicate("direction", "outbound"), predicate("mediaType", "voice")])])

        what = "POST /api/v2/analytics/conversations/details/query"
        deadline = time.monotonic() + POLL_TIMEOUT_S
        polls = 0
        while True:
            polls += 1
            answer = runner.call(
                client, what,
                lambda: analytics.post_analytics_conversations_details_query(query_for(PHONE)),
                "AnalyticsConversationQueryResponse", quiet=True)
            found = [c for c in (answer.conversations or []) if c.conversation_id == conversation_id]
            if found:
                break
            if time.monotonic() > deadline:
                raise CheckFailed("%s never listed conversation %s within %.0f s (%d polls); last total_hits %r"
                                  % (what, conversation_id, POLL_TIMEOUT_S, polls, answer.total_hits))
            time.sleep(POLL_INTERVAL_S)
        runner.ok("%s -> AnalyticsConversationQueryResponse listing the call after %d poll(s) "
                  "(strict model check on every poll)" % (what, polls))
        found = found[0]
        # The call-lifecycle check dialled the same number as the same user: both match.
        runner.expect(answer.total_hits == len(answer.conversations) >= 1,
                      "total_hits counts every match (%r)" % answer.total_hits)
        runner.expect(answer.conversations[0].conversation_id == conversation_id,
                      "order desc by conversationStart puts the newest call first",
                      repr([c.conversation_id for c in answer.conversations]))
        runner.expect(isinstance(found.conversation_start, datetime) and found.conversation_start.tzinfo is not None
                      and found.conversation_end is None,
                      "the live conversation has a timezone-aware conversation_start and no conversation_end",
                      repr((found.conversation_start, found.conversation_end)))
        runner.expect(found.originating_direction == "outbound", "originating_direction is outbound",
                      repr(found.originating_direction))
        purposes = sorted(p.purpose for p in (found.participants or []))
        runner.expect(purposes == ["customer", "user"], "participants are the user and the customer", repr(purposes))
        user = [p for p in found.participants if p.purpose == "user"][0]
        runner.expect(user.user_id == USER_ID, "the user participant has the user's id", repr(user.user_id))
        for p in found.participants:
            sessions = p.sessions or []
            runner.expect(
                len(sessions) == 1 and sessions[0].media_type == "voice" and sessions[0].direction == "outbound"
                and (sessions[0].dnis or "").endswith(PHONE),
                "%s session is voice, outbound, to %s (%r)" % (p.purpose, PHONE, sessions[0].dnis if sessions else None))
            segments = sessions[0].segments or []
            runner.expect(
                segments and all(isinstance(s.segment_start, datetime) for s in segments)
                and segments[-1].segment_end is None,
                "%s segments have datetime starts and the last one is still open" % p.purpose,
                repr([(s.segment_type, s.segment_start, s.segment_end) for s in segments]))

        empty = runner.call(
            client, "%s for another number" % what,
            lambda: analytics.post_analytics_conversations_details_query(query_for("+13175550199")),
            "AnalyticsConversationQueryResponse")
        runner.expect(empty.total_hits == 0 and not empty.conversations,
                      "nothing matches another number: total_hits 0, no conversations",
                      repr((empty.total_hits, empty.conversations)))

        exc, body = runner.expect_api_error(
            "%s without an interval" % what,
            lambda: analytics.post_analytics_conversations_details_query(
                make("ConversationQuery", order="asc")), (400,))
        err = runner.check_error_body("%s without an interval" % what, body, 400)
        runner.expect(err.code == "bad.request", "a query without an interval is bad.request", repr(err.code))
        runner_disconnect(conversation_id)

    def external_contact():
        first, last = "Ada", "Lovelace"
        body = make("ExternalContact", first_name=first, last_name=last,
                    cell_phone=make("PhoneNumber", display=PHONE))
        created = runner.call(
            client, "POST /api/v2/externalcontacts/contacts",
            lambda: external_contacts.post_externalcontacts_contacts(body), "ExternalContact")
        runner.expect(isinstance(created.id, str) and created.id, "created ExternalContact has an id", repr(created.id))
        fetched = runner.call(
            client, "GET /api/v2/externalcontacts/contacts/{contactId}",
            lambda: external_contacts.get_externalcontacts_contact(created.id), "ExternalContact")
        runner.expect(fetched.id == created.id, "fetched ExternalContact has the same id",
                      "%r != %r" % (fetched.id, created.id))
        runner.expect((fetched.first_name, fetched.last_name) == (first, last),
                      "ExternalContact names round-trip", repr((fetched.first_name, fetched.last_name)))
        phone = fetched.cell_phone
        runner.expect(isinstance(phone, sdk_models.PhoneNumber) and PHONE in (phone.display, phone.e164),
                      "ExternalContact.cell_phone round-trips as a PhoneNumber",
                      repr(phone.to_dict() if hasattr(phone, "to_dict") else phone))
        state["contact_id"] = created.id
        state["contact_last_name"] = last

    def contact_search():
        if "contact_id" not in state:
            raise CheckFailed("skipped: no external contact was created")
        listing = runner.call(
            client, "GET /api/v2/externalcontacts/contacts?q=...",
            lambda: external_contacts.get_externalcontacts_contacts(q=state["contact_last_name"]), "ContactListing")
        entities = listing.entities or []
        runner.expect(all(isinstance(e, sdk_models.ExternalContact) for e in entities)
                      and state["contact_id"] in [e.id for e in entities],
                      "ContactListing.entities holds the created contact",
                      repr([e.id if hasattr(e, "id") else e for e in entities]))

    def not_a_user():
        what = "POST /api/v2/conversations/calls with a client-credentials token"
        exc, body = runner.expect_api_error(
            what, lambda: conversations.post_conversations_calls(make("CreateCallRequest", phone_number=PHONE)), (400,))
        runner.expect(isinstance(body, dict), "%s -> HTTP 400 with a JSON body" % what, _clip(exc.body))
        err = runner.check_error_body(what, body, 400)
        runner.expect(err.code == "not.a.user", "error code is not.a.user", repr(err.code))
        runner.expect(isinstance(err.context_id, str) and err.context_id, "error has a contextId", repr(err.context_id))

    def token_info():
        info = runner.call(client, "GET /api/v2/tokens/me", lambda: tokens.get_tokens_me(), "TokenInfo")
        del info

    def user_info():
        user = runner.call(client, "GET /api/v2/users/{userId}", lambda: users.get_user(USER_ID), "User")
        runner.expect(user.id == USER_ID, "User.id is the requested id", repr(user.id))
        runner.expect(user.name == USER_NAME, "User.name is %r" % USER_NAME, repr(user.name))
        status = runner.call(client, "GET /api/v2/users/{userId}/routingstatus",
                             lambda: users.get_user_routingstatus(USER_ID), "RoutingStatus")
        runner.expect(status.status is not None, "RoutingStatus.status is set (%r)" % status.status)

    def user_token_call():
        user_client = new_api_client(sandbox, access_token=USER_TOKEN)
        user_conversations = sdk.ConversationsApi(user_client)
        created = runner.call(
            user_client, "POST /api/v2/conversations/calls with the user token",
            lambda: user_conversations.post_conversations_calls(make("CreateCallRequest", phone_number=PHONE)),
            "CreateCallResponse")
        runner.expect(isinstance(created.id, str) and created.id, "user-token call has an id", repr(created.id))
        try:
            user_conversations.post_conversation_disconnect(created.id)
        except ApiException as exc:
            raise CheckFailed("disconnecting the user-token call -> HTTP %s; body: %s" % (exc.status, _clip(exc.body)))
        runner.ok("user-token call disconnected")

    def bad_credentials():
        what = "POST /oauth/token with a wrong secret"
        exc, _body = runner.expect_api_error(
            what, lambda: new_api_client(sandbox).get_client_credentials_token(CLIENT_ID, "wrong-secret"), (400, 401))
        runner.ok("%s -> HTTP %s" % (what, exc.status))
        what = "GET /api/v2/tokens/me with an unknown bearer token"
        bad = sdk.TokensApi(new_api_client(sandbox, access_token="not-a-real-token"))
        exc, body = runner.expect_api_error(what, lambda: bad.get_tokens_me(), (401,))
        if body is not None:
            runner.check_error_body(what, body, 401)
        runner.ok("%s -> HTTP 401%s" % (what, " with an ErrorBody" if body is not None else ""))

    runner.section("call lifecycle", call_lifecycle)
    runner.section("analytics reconcile", analytics_reconcile)
    runner.section("teardown (bonus)", teardown)
    runner.section("external contact", external_contact)
    runner.section("not.a.user", not_a_user)
    runner.section("contact search (bonus)", contact_search)
    runner.section("tokens/me (bonus)", token_info)
    runner.section("users (bonus)", user_info)
    runner.section("user token (bonus)", user_token_call)
    runner.section("bad credentials (bonus)", bad_credentials)


def main():
    # The SDK sets no HTTP timeouts of its own; never hang on a stuck sandbox.
    socket.setdefaulttimeout(HTTP_TIMEOUT_S)
    sandbox = Sandbox()
    runner = Runner(sandbox)
    watchdog = None
    timed_out = threading.Event()

    def on_timeout():
        timed_out.set()
        print("FAIL the run took longer than %.0f s; stopping the sandbox" % OVERALL_TIMEOUT_S, flush=True)
        sandbox.stop()

    try:
        watchdog = threading.Timer(OVERALL_TIMEOUT_S, on_timeout)
        watchdog.daemon = True
        watchdog.start()

        def start():
            sandbox.start()
            runner.ok("sandbox started: %s (SDK PureCloudPlatformClientV2 %s)" % (sandbox.url, sdk_version()))

        if runner.section("start sandbox", start):
            run_checks(runner, sandbox)
    finally:
        if watchdog is not None:
            watchdog.cancel()
        sandbox.stop()
        shutil.rmtree(SDK_HOME, ignore_errors=True)
    if timed_out.is_set():
        runner.failed += 1
    print("genesys-sdk: %d passed, %d failed" % (runner.passed, runner.failed), flush=True)
    return 0 if runner.failed == 0 and runner.passed > 0 else 1


def sdk_version():
    try:
        from importlib.metadata import version
        return version("PureCloudPlatformClientV2")
    except Exception:
        return "unknown"


if __name__ == "__main__":
    sys.exit(main())
