"""The Python API without a network: secrets that never print, the exception classes and their
attributes, pickling, typed errors for bad input, and TokenSession's waiting driven by an
in-memory transport and clock."""

from __future__ import annotations

import json
import pickle
import threading
from typing import Any, List

import pytest

import grantline
from grantline import (
    Client,
    CodeGrant,
    ConfigurationError,
    GrantlineError,
    HttpRequest,
    HttpResponse,
    MalformedResponseError,
    OAuthError,
    Provider,
    ReauthorizationRequiredError,
    Secret,
    SessionState,
    StateMismatchError,
    TokenSession,
    TokenSet,
    TransportError,
)

SECRETS = {
    "client_secret": "cs-Zq9xLm4TkP",
    "password": "pw-Hn3Vb8YwRe",
    "code": "code-Ut5Jk2MsQa",
    "verifier": "pkce-Xo7Cv1BnLp",
    "refresh": "rt-Gf6Dh0SzWi",
    "access": "at-Ey4Rq8NmKc",
    "device": "dc-Pl2Tw9AxVb",
    "id_token": "idt-Mc5Kz3QyHs",
}

JSON = {"content-type": "application/json"}


def quiet(*objects: Any) -> None:
    for obj in objects:
        for shown in (str(obj), repr(obj)):
            for value in SECRETS.values():
                assert value not in shown, f"{type(obj).__name__} shows a secret: {shown}"


def custom() -> Provider:
    return Provider.custom(
        "t",
        issuer="https://as.example",
        authorization_endpoint="https://as.example/authorize",
        token_endpoint="https://as.example/token",
        introspection_endpoint="https://as.example/introspect",
        revocation_endpoint="https://as.example/revoke",
        device_authorization_endpoint="https://as.example/device",
        grants=["authorization_code", "client_credentials", "password", "refresh_token", "device_code"],
    )


def client(method: str = "client_secret_post") -> Client:
    return Client(
        custom(), "id", client_secret=SECRETS["client_secret"], redirect_uri="https://app.example/cb",
        auth_method=method,  # type: ignore[arg-type]
    )


def token_response(access: str = SECRETS["access"], refresh: Any = SECRETS["refresh"], expires_in: int = 3600) -> HttpResponse:
    body = {"access_token": access, "token_type": "bearer", "expires_in": expires_in, "id_token": SECRETS["id_token"]}
    if refresh:
        body["refresh_token"] = refresh
    return HttpResponse(200, JSON, json.dumps(body).encode())


def test_secrets_print_redacted_compare_in_constant_time_and_pickle() -> None:
    s = Secret(SECRETS["access"])
    assert repr(s) == "Secret('[redacted]')" and str(s) == "[redacted]" == grantline.REDACTED
    assert f"{s}" == "[redacted]" and s.secret() == SECRETS["access"]
    assert s == SECRETS["access"] and s == Secret(SECRETS["access"])
    assert s != "other" and s != Secret("other") and s != 42
    assert len(s) == len(SECRETS["access"])
    with pytest.raises(TypeError):
        hash(s)
    assert pickle.loads(pickle.dumps(s)) == s


def test_no_public_object_prints_a_secret() -> None:
    c = client()
    basic = client("client_secret_basic")
    requests = [
        c.client_credentials_request(["a"]),
        basic.client_credentials_request(),
        c.password_request("alice", SECRETS["password"]),
        c.refresh_request(SECRETS["refresh"]),
        c.authorization_code_request(CodeGrant(SECRETS["code"], SECRETS["verifier"], "https://app.example/cb")),
        c.device_token_request(SECRETS["device"]),
        c.introspection_request(SECRETS["access"], "access_token", SECRETS["refresh"]),
        c.revocation_request(SECRETS["refresh"], "refresh_token"),
        HttpRequest("GET", "https://api.example/x", {"authorization": grantline.authorization_header(SECRETS["access"])}),
    ]
    assert any(SECRETS["client_secret"].encode() in r.body for r in requests), "the secrets are really in there"
    tokens = TokenSet.from_response(token_response())
    grant = CodeGrant(SECRETS["code"], SECRETS["verifier"])
    device = grantline.DeviceAuthorization.from_response(HttpResponse(200, JSON, json.dumps({
        "device_code": SECRETS["device"], "user_code": "ABCD-EFGH", "verification_uri": "https://as.example/device",
    }).encode()))
    state = SessionState.password(c, "alice", SECRETS["password"], tokens=tokens)
    session = TokenSession(state)
    quiet(c, basic, *requests, tokens, grant, device, state, session, tokens.access_token, c.client_secret,
          state.next(), grantline.Renewed, c.authorization_url(["s"]), c.authorization_url().pending)


def test_error_classes_and_their_attributes() -> None:
    with pytest.raises(OAuthError) as oauth:
        TokenSet.from_response(HttpResponse(400, JSON, b'{"error":"invalid_grant","error_description":"used","error_uri":"https://e/x"}'))
    e = oauth.value
    assert isinstance(e, GrantlineError) and (e.kind, e.error, e.description, e.uri, e.status) == (
        "oauth", "invalid_grant", "used", "https://e/x", 400)

    with pytest.raises(MalformedResponseError) as malformed:
        TokenSet.from_response(HttpResponse(502, {"content-type": "text/html"}, b"<html><h1>502 Bad Gateway</h1>"))
    assert malformed.value.kind == "unexpected_status" and malformed.value.status == 502
    assert malformed.value.excerpt == "<html><h1>502 Bad Gateway</h1>"

    with pytest.raises(MalformedResponseError) as no_token:
        TokenSet.from_response(HttpResponse(200, JSON, b'{"token_type":"Bearer"}'))
    assert no_token.value.kind == "malformed" and no_token.value.reason

    with pytest.raises(ConfigurationError) as insecure:
        Provider.custom(token_endpoint="http://as.example/token")
    assert insecure.value.kind == "insecure_endpoint" and insecure.value.url == "http://as.example/token"
    assert isinstance(insecure.value, ValueError)

    with pytest.raises(ConfigurationError) as unsupported:
        Client(Provider.libro(), "id").password_request("u", "p")
    assert (unsupported.value.kind, unsupported.value.grant) == ("unsupported_grant", "password")

    with pytest.raises(ConfigurationError) as missing:
        Client(Provider.libro(), "id").revocation_request("t")
    assert (missing.value.kind, missing.value.endpoint) == ("missing_endpoint", "revocation")

    c = client()
    auth = c.authorization_url()
    with pytest.raises(StateMismatchError) as state:
        c.callback(auth.pending, "https://app.example/cb?code=x&state=wrong")
    assert state.value.kind == "state_mismatch"
    good_state = auth.pending.state.secret()
    with pytest.raises(StateMismatchError) as issuer:
        c.callback(auth.pending, f"https://app.example/cb?code=x&state={good_state}&iss=https://evil.example")
    assert (issuer.value.kind, issuer.value.expected, issuer.value.received) == (
        "issuer_mismatch", "https://as.example", "https://evil.example")
    with pytest.raises(OAuthError) as denied:
        c.callback(auth.pending, f"?state={good_state}&error=access_denied")
    assert (denied.value.error, denied.value.status) == ("access_denied", None)

    with pytest.raises(ReauthorizationRequiredError):
        SessionState.from_tokens(c, TokenSet(SECRETS["access"], None, 0, 0)).next(10)

    for err in (e, malformed.value, insecure.value, unsupported.value, state.value, issuer.value):
        copy = pickle.loads(pickle.dumps(err))
        assert type(copy) is type(err) and str(copy) == str(err) and copy.__dict__ == err.__dict__


@pytest.mark.parametrize(
    "call",
    [
        lambda: Provider.preset("nope"),
        lambda: Provider.custom(grants=["implicit"]),
        lambda: Provider.custom(body_encoding="xml"),  # type: ignore[arg-type]
        lambda: Provider.from_metadata(b"<html>"),
        lambda: Client(Provider.libro(), "i", auth_method="magic"),  # type: ignore[arg-type]
        lambda: client().authorization_url(pkce="S512"),  # type: ignore[arg-type]
        lambda: client().authorization_url(seed=b"short"),
        lambda: client().authorization_url(params=[("state", "mine")]),
        lambda: client().introspection_request("t", "id_token"),  # type: ignore[arg-type]
        lambda: HttpResponse(200, {"bad name": "x"}, b""),
        lambda: HttpRequest("GET", "not a url"),
        lambda: TokenSet.from_json("{"),
        lambda: grantline.PendingAuthorization.from_json("[]"),
        lambda: client().callback(client().authorization_url().pending, "?code=a&code=b"),
    ],
)
def test_bad_input_is_a_configuration_error(call: Any) -> None:
    with pytest.raises(ConfigurationError) as bad:
        call()
    assert bad.value.kind == "invalid_input"


def test_wrong_python_types_are_type_errors() -> None:
    with pytest.raises(TypeError):
        client().client_credentials_request("a b")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        Client("libro", "id")  # type: ignore[arg-type]
    with pytest.raises(OverflowError):
        HttpResponse(70000, None, b"")


class Memory:
    """An in-memory authorization server: answers token requests from a list of responses."""

    def __init__(self, answers: List[HttpResponse]) -> None:
        self.answers = answers
        self.sent: List[HttpRequest] = []
        self.lock = threading.Lock()

    def send(self, request: HttpRequest) -> HttpResponse:
        with self.lock:
            self.sent.append(request)
            return self.answers.pop(0)


def test_session_renews_before_expiry_with_the_refresh_token_and_reports_rotation() -> None:
    now = [1_000_000]
    persisted: List[TokenSet] = []
    memory = Memory([token_response("at-2", "rt-2"), token_response("at-3", None)])
    first = TokenSet.from_response(token_response("at-1", "rt-1"), now=now[0])
    session = TokenSession.from_tokens(client(), first, transport=memory, on_tokens=persisted.append, clock=lambda: now[0])
    assert session.token() == "at-1" and memory.sent == []
    now[0] += 3600 - 60  # within the default skew of 60 s
    assert session.token() == "at-2"
    assert b"grant_type=refresh_token" in memory.sent[0].body and b"refresh_token=rt-1" in memory.sent[0].body
    assert persisted[-1].refresh_token == "rt-2"
    now[0] += 3600
    assert session.token() == "at-3"
    assert persisted[-1].refresh_token == "rt-2", "a response without refresh_token keeps the old one"
    assert b"refresh_token=rt-2" in memory.sent[1].body


def test_session_invalid_grant_on_refresh_means_reauthorization() -> None:
    memory = Memory([HttpResponse(400, JSON, b'{"error":"invalid_grant"}')])
    session = TokenSession.from_tokens(client(), TokenSet.from_response(token_response()), transport=memory)
    assert session.reject(SECRETS["access"])
    with pytest.raises(OAuthError, match="invalid_grant"):
        session.token()
    with pytest.raises(ReauthorizationRequiredError):
        session.token()
    assert len(memory.sent) == 1


def test_session_state_by_hand_and_unexpected_responses() -> None:
    state = SessionState.client_credentials(client(), ["a"], skew=5)
    assert state.skew == 5 and not state.renewing and state.tokens is None
    assert (state.failures, state.retry_at, state.ready_until) == (0, None, None)
    send = state.next(100)
    assert isinstance(send, grantline.Send) and state.renewing and send.current is None
    wait = state.next(100)
    assert isinstance(wait, grantline.Wait) and wait.id == send.id
    with pytest.raises(ConfigurationError) as unexpected:
        state.receive(send.id + 1, token_response(), 100)
    assert unexpected.value.kind == "unexpected_response"
    done = state.receive(send.id, token_response(refresh=None), 100)
    assert isinstance(done, grantline.Completion) and done.error is None
    assert done.renewed is not None and not done.renewed.refresh_token_rotated
    assert done.renewed.tokens.access_token == SECRETS["access"]
    # Until the set is delivered, no caller without a token gets past the renewal.
    assert state.delivered(send.id) and not state.delivered(send.id)
    ready = state.waited(wait.id, 100)
    assert isinstance(ready, grantline.Ready) and ready.token == SECRETS["access"]
    assert state.ready_until == 100 + 3600 - 5
    # Inside the skew: a renewal, and the still-valid token comes with it.
    ahead = state.next(100 + 3600 - 5)
    assert isinstance(ahead, grantline.Send) and ahead.current == SECRETS["access"]
    assert isinstance(state.next(100 + 3600 - 5), grantline.Ready), "others keep the valid token"
    failed = state.fail(ahead.id, "timed out", 100 + 3600 - 4)
    assert failed.renewed is None and isinstance(failed.error, TransportError)
    assert failed.error.reason == "timed out" and failed.error.kind == "transport"
    # The failure reaches nobody while the token is valid, and the core backs off.
    assert isinstance(state.waited(ahead.id, 100 + 3600 - 4), grantline.Ready)
    assert state.failures == 1 and state.retry_at is not None and state.retry_at > 100 + 3600 - 4
    quiet(ahead, failed, done, done.renewed, state)


def test_discovery_by_hand() -> None:
    d = grantline.Discovery("https://as.example/tenant1")
    assert d.issuer == "https://as.example/tenant1"
    assert d.urls == [
        "https://as.example/.well-known/oauth-authorization-server/tenant1",
        "https://as.example/tenant1/.well-known/openid-configuration",
    ]
    first = d.request()
    assert (first.method, first.url, first.headers, first.body) == (
        "GET", d.urls[0], {"accept": "application/json"}, b"")
    assert d.receive(HttpResponse(404, {}, b"")) is None
    assert d.request().url == d.urls[1]
    doc = b'{"issuer":"https://as.example/tenant1","token_endpoint":"https://as.example/tenant1/token"}'
    provider = d.receive(HttpResponse(200, JSON, doc))
    assert provider is not None and provider.token_endpoint("client_credentials") == "https://as.example/tenant1/token"
    assert grantline.Discovery("https://as.example/.well-known/openid-configuration").issuer == "https://as.example"
    forged = grantline.Discovery("https://as.example")
    with pytest.raises(StateMismatchError) as mixup:
        forged.receive(HttpResponse(200, JSON, b'{"issuer":"https://evil.example","token_endpoint":"https://evil.example/t"}'))
    assert (mixup.value.kind, mixup.value.expected, mixup.value.received) == (
        "issuer_mismatch", "https://as.example", "https://evil.example")
    with pytest.raises(ConfigurationError) as insecure:
        grantline.Discovery("http://as.example")
    assert insecure.value.kind == "insecure_endpoint"
    with pytest.raises(MalformedResponseError) as missing:
        grantline.Discovery("https://as.example/.well-known/oauth-authorization-server").receive(
            HttpResponse(404, {}, b"<html>Not Found</html>"))
    assert (missing.value.kind, missing.value.status, missing.value.excerpt) == (
        "unexpected_status", 404, "<html>Not Found</html>")


def test_auth_methods_grantline_does_not_speak_are_a_configuration_error() -> None:
    provider = Provider.from_metadata(
        b'{"issuer":"https://as.example","token_endpoint":"https://as.example/t",'
        b'"token_endpoint_auth_methods_supported":["private_key_jwt","tls_client_auth"]}'
    )
    assert provider.auth_method is None and provider.auth_methods_offered == ["private_key_jwt", "tls_client_auth"]
    confidential = Client(provider, "id", client_secret="s")
    assert confidential.auth_method is None
    with pytest.raises(ConfigurationError) as refused:
        confidential.client_credentials_request()
    assert refused.value.kind == "unsupported_auth_method"
    assert refused.value.offered == ["private_key_jwt", "tls_client_auth"]
    assert pickle.loads(pickle.dumps(refused.value)).offered == refused.value.offered
    assert Client(provider, "id").auth_method == "none", "a public client needs no method"
    chosen = Client(provider, "id", client_secret="s", auth_method="client_secret_post")
    assert b"client_secret=s" in chosen.client_credentials_request().body


def test_token_types_other_than_bearer_are_never_sent_as_bearer() -> None:
    dpop = TokenSet.from_response(HttpResponse(200, JSON, b'{"access_token":"at-dpop-x1","token_type":"DPoP"}'))
    assert not dpop.is_bearer and dpop.token_type == "DPoP"
    with pytest.raises(ConfigurationError) as refused:
        grantline.authorization_header(dpop)
    assert (refused.value.kind, refused.value.token_type) == ("unsupported_token_type", "DPoP")
    bearer = TokenSet.from_response(token_response())
    assert bearer.is_bearer and grantline.authorization_header(bearer) == f"Bearer {SECRETS['access']}"
    with pytest.raises(ConfigurationError) as session_refused:
        SessionState.from_tokens(client(), dpop).next()
    assert session_refused.value.kind == "unsupported_token_type"


def test_token_responses_for_a_provider_split_its_own_scope_separator() -> None:
    body = b'{"access_token":"a","scope":"x,y z"}'
    assert TokenSet.from_response(HttpResponse(200, JSON, body)).scopes == ["x,y", "z"]
    comma = Provider.custom(token_endpoint="https://as.example/t", scope_separator=",")
    assert TokenSet.from_response(HttpResponse(200, JSON, body), provider=comma).scopes == ["x", "y", "z"]
    late = TokenSet.from_response(HttpResponse(200, JSON, b'{"access_token":"a","expires_in":0}'), now=50)
    assert late.expired_on_arrival and not TokenSet.from_response(token_response(), now=50).expired_on_arrival


def test_http_types() -> None:
    r = HttpResponse(401, [("WWW-Authenticate", 'Bearer realm="x", error="invalid_token"'), ("x-a", "1"), ("x-a", "2")], b"no")
    assert r.status == 401 and r.body == b"no" and r.header("www-authenticate") is not None
    assert r.headers == [("www-authenticate", 'Bearer realm="x", error="invalid_token"'), ("x-a", "1"), ("x-a", "2")]
    assert grantline.needs_renewal(r)
    challenge = grantline.bearer_challenge(r)
    assert challenge is not None and (challenge.realm, challenge.error) == ("x", "invalid_token")
    assert [c.scheme for c in grantline.parse_www_authenticate('Basic realm="a", Bearer error="x"')] == ["Basic", "Bearer"]
    q = HttpRequest("POST", "https://api.example/x?code=abc&state=def&page=2", {"content-type": "text/plain"}, b"hi")
    assert q.headers == {"content-type": "text/plain"} and q.body == b"hi" and q.method == "POST"
    assert repr(q) == "<HttpRequest POST https://api.example/x?code=[redacted]&state=[redacted]&page=2>"
    assert grantline.redact_url("https://a/cb?code=x") == "https://a/cb?code=[redacted]"
    assert grantline.authorization_header("t") == "Bearer t"
    with pytest.raises(ConfigurationError):
        grantline.authorization_header("bad token\n")


def test_providers() -> None:
    libro = Provider.libro()
    assert libro.token_endpoint("client_credentials") == "https://api.libroreserve.com/oauth/token"
    assert libro.token_endpoint("refresh_token") == "https://accounts.libroreserve.com/oauth/token"
    assert Provider.preset("bindeo").body_encoding == "json"
    assert Provider.bookable("aud").extra_token_params == [("audience", "aud")]
    assert Provider.booking_experts().unsolicited_callbacks
    assert Provider.apicbase().introspection_endpoint == "https://api.apicbase.com/oauth/introspect/"
    assert Provider.libro_staging().name == "libro-staging" and Provider.bindeo() == Provider.preset("bindeo")
    changed = libro.replace(auth_method="client_secret_basic", grants=["password"])
    assert changed.auth_method == "client_secret_basic" and changed.supports("password")
    assert not libro.supports("password"), "replace() made a copy"
