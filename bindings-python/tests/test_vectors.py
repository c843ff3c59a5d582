"""Runs every shared test vector in ``tests/vectors/*.json`` through the Python API.

The format is ``tests/vectors/README.md``; this runner interprets every kind and field like the
reference runner ``core/tests/vectors.rs``: unknown kinds and unknown fields are failures, every
vector runs, and the suite fails at the end listing every failing vector by name.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

import pytest

import grantline
from grantline import (
    Client,
    CodeGrant,
    IdTokenCheck,
    IdTokenClaims,
    Jwk,
    JwkSet,
    JwksCache,
    SigningKey,
    UserInfo,
    VerifiedJws,
    DeviceAuthorization,
    DevicePoll,
    GrantlineError,
    HttpRequest,
    HttpResponse,
    Introspection,
    PendingAuthorization,
    Provider,
    SessionState,
    TokenSet,
)

VECTORS = Path(__file__).resolve().parents[2] / "tests" / "vectors"
FORMAT = 1
SEED_FILES = ["libro.json", "bindeo.json", "bookable.json", "apicbase.json", "booking-experts.json"]
EXTRA_FILES = ["lenient.json", "hostile.json"]
MIN_SEED_VECTORS = 37
MIN_EXTRA_VECTORS = 40
COMMON = ["name", "kind", "source", "note"]
ERROR_FIELDS = ["kind", "code", "description", "uri", "status", "excerpt", "grant", "endpoint", "claim", "problem"]
AUTH_METHODS = ("client_secret_basic", "client_secret_post", "none", "private_key_jwt", "client_secret_jwt")
ALGORITHMS = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "EdDSA", "HS256")


class VectorError(Exception):
    """The vector itself cannot be run as written."""


class Fields:
    """A JSON object read strictly: unknown fields are errors."""

    def __init__(self, value: Any, what: str, allowed: Sequence[str]) -> None:
        if not isinstance(value, dict):
            raise VectorError(f"{what}: not a JSON object: {value!r}")
        for key in value:
            if key not in allowed:
                raise VectorError(f"{what}: unknown field `{key}`")
        self.what = what
        self.map: Dict[str, Any] = value

    def has(self, key: str) -> bool:
        return key in self.map

    def get(self, key: str) -> Any:
        return self.map.get(key)

    def value(self, key: str) -> Any:
        if key not in self.map:
            raise VectorError(f"{self.what}: missing field `{key}`")
        return self.map[key]

    def str(self, key: str) -> str:
        v = self.value(key)
        if not isinstance(v, str):
            raise VectorError(f"{self.what}: `{key}` is not a string")
        return v

    def opt_str(self, key: str) -> Optional[str]:
        v = self.map.get(key)
        if v is None or isinstance(v, str):
            return v
        raise VectorError(f"{self.what}: `{key}` is not a string or null")

    def nullable_str(self, key: str) -> Optional[str]:
        self.value(key)
        return self.opt_str(key)

    def u64(self, key: str) -> int:
        v = self.value(key)
        if isinstance(v, bool) or not isinstance(v, int) or v < 0:
            raise VectorError(f"{self.what}: `{key}` is not a non-negative integer")
        return v

    def bool_or(self, key: str, default: bool) -> bool:
        if key not in self.map:
            return default
        v = self.map[key]
        if not isinstance(v, bool):
            raise VectorError(f"{self.what}: `{key}` is not a boolean")
        return v

    def strings(self, key: str) -> List[str]:
        v = self.map.get(key, [])
        if not isinstance(v, list) or not all(isinstance(s, str) for s in v):
            raise VectorError(f"{self.what}: `{key}` is not a list of strings")
        return list(v)

    def pairs(self, key: str) -> List[Tuple[str, str]]:
        v = self.map.get(key, [])
        bad = VectorError(f"{self.what}: `{key}` is not a list of [name, value] pairs")
        if not isinstance(v, list):
            raise bad
        out = []
        for p in v:
            if not (isinstance(p, list) and len(p) == 2 and all(isinstance(x, str) for x in p)):
                raise bad
            out.append((p[0], p[1]))
        return out


def with_common(specific: Sequence[str]) -> List[str]:
    return COMMON + list(specific)


# ------------------------------------------------------------------------------ inputs


def provider(spec: Any) -> Provider:
    f = Fields(spec, "provider", ["preset", "audience", "custom", "metadata", "tenant", "domain",
                                  "authorization_server", "base_url", "realm"])
    forms = [k for k in ("preset", "custom", "metadata") if f.has(k)]
    parameterised = {"entra": ["tenant"], "okta": ["domain", "authorization_server"],
                     "auth0": ["domain", "audience"], "keycloak": ["base_url", "realm"]}
    if forms == ["preset"] and f.str("preset") in parameterised:
        name = f.str("preset")
        extra = [k for k in f.map if k != "preset" and k not in parameterised[name]]
        if extra:
            raise VectorError(f"provider: {extra} are not fields of the {name} preset")
        if name == "entra":
            return Provider.entra(f.str("tenant"))
        if name == "okta":
            return Provider.okta(f.str("domain"), f.opt_str("authorization_server"))
        if name == "auth0":
            return Provider.auth0(f.str("domain"), f.opt_str("audience"))
        return Provider.keycloak(f.str("base_url"), f.str("realm"))
    if any(f.has(k) for k in ("tenant", "domain", "authorization_server", "base_url", "realm")):
        raise VectorError("provider: a parameterised preset's field without its preset")
    if forms == ["preset"]:
        name = f.str("preset")
        audience = f.opt_str("audience")
        if audience is not None:
            if name != "bookable":
                raise VectorError("provider: `audience` is only for the bookable preset")
            return Provider.bookable(audience)
        try:
            return Provider.preset(name)
        except grantline.ConfigurationError as e:
            raise VectorError(f"provider: unknown preset {name!r}") from e
    if forms == ["custom"] and not f.has("audience"):
        return custom_provider(f.value("custom"))
    if forms == ["metadata"] and not f.has("audience"):
        document = f.value("metadata")
        if not isinstance(document, str):
            raise VectorError("provider: `metadata` is not a string")
        return Provider.from_metadata(document.encode())
    raise VectorError("provider: exactly one of `preset`, `custom`, `metadata`")


CUSTOM_FIELDS = [
    "name", "issuer", "authorization_endpoint", "token_endpoint", "token_endpoints_by_grant",
    "introspection_endpoint", "revocation_endpoint", "device_authorization_endpoint",
    "body_encoding", "auth_method", "scope_separator", "extra_token_params", "default_skew",
    "grants", "unsolicited_callbacks", "iss_parameter_supported", "jwks_uri", "userinfo_endpoint",
    "end_session_endpoint", "id_token_algorithms", "assertion_audience",
]
GRANTS = ["authorization_code", "client_credentials", "password", "refresh_token", "device_code"]


def grant(name: str) -> str:
    if name not in GRANTS:
        raise VectorError(f"unknown grant {name!r}")
    return name


def custom_provider(spec: Any) -> Provider:
    f = Fields(spec, "provider.custom", CUSTOM_FIELDS)
    kwargs: Dict[str, Any] = {}
    for key in ("issuer", "authorization_endpoint", "token_endpoint", "introspection_endpoint",
                "revocation_endpoint", "device_authorization_endpoint", "scope_separator", "jwks_uri",
                "userinfo_endpoint", "end_session_endpoint"):
        v = f.opt_str(key)
        if v is not None:
            kwargs[key] = v
    if f.has("token_endpoints_by_grant"):
        by_grant = f.get("token_endpoints_by_grant")
        if not isinstance(by_grant, dict):
            raise VectorError("provider.custom: `token_endpoints_by_grant` is not an object")
        for g, url in by_grant.items():
            if not isinstance(url, str):
                raise VectorError(f"provider.custom: token endpoint for {g} is not a string")
            grant(g)
        kwargs["token_endpoints_by_grant"] = by_grant
    encoding = f.opt_str("body_encoding") or "form"
    if encoding not in ("form", "json"):
        raise VectorError(f"provider.custom: unknown body_encoding {encoding!r}")
    kwargs["body_encoding"] = encoding
    method = f.opt_str("auth_method")
    if method is not None:
        if method not in AUTH_METHODS:
            raise VectorError(f"provider.custom: unknown auth_method {method!r}")
        kwargs["auth_method"] = method
    if f.has("id_token_algorithms"):
        kwargs["id_token_algorithms"] = f.strings("id_token_algorithms")
    audience = f.opt_str("assertion_audience")
    if audience is not None:
        if audience not in ("issuer", "token_endpoint"):
            raise VectorError(f"provider.custom: unknown assertion_audience {audience!r}")
        kwargs["assertion_audience"] = audience
    kwargs["extra_token_params"] = f.pairs("extra_token_params")
    if f.has("default_skew"):
        kwargs["default_skew"] = f.u64("default_skew")
    kwargs["grants"] = [grant(g) for g in f.strings("grants")]
    kwargs["unsolicited_callbacks"] = f.bool_or("unsolicited_callbacks", False)
    kwargs["iss_parameter_supported"] = f.bool_or("iss_parameter_supported", False)
    return Provider.custom(f.opt_str("name") or "custom", **kwargs)


def client(p: Provider, spec: Any) -> Client:
    f = Fields(spec, "client", ["client_id", "client_secret", "redirect_uri", "auth_method", "signing_key"])
    method = f.opt_str("auth_method")
    if method is not None and method not in AUTH_METHODS:
        raise VectorError(f"client: unknown auth_method {method!r}")
    jwk = f.opt_str("signing_key")
    return Client(
        p,
        f.str("client_id"),
        client_secret=f.opt_str("client_secret"),
        redirect_uri=f.opt_str("redirect_uri"),
        auth_method=method,  # type: ignore[arg-type]
        signing_key=SigningKey.from_jwk(jwk) if jwk is not None else None,
    )


def provider_and_client(f: Fields) -> Client:
    return client(provider(f.value("provider")), f.value("client"))


def response(spec: Any) -> HttpResponse:
    f = Fields(spec, "response", ["status", "headers", "body", "body_base64", "body_repeat"])
    status = f.u64("status")
    headers: List[Tuple[str, str]] = []
    if f.has("headers"):
        hs = f.get("headers")
        if not isinstance(hs, dict):
            raise VectorError("response: `headers` is not an object")
        for name, value in hs.items():
            if name != name.lower():
                raise VectorError(f"response: header name {name!r} is not lowercase")
            values = value if isinstance(value, list) else [value]
            for v in values:
                if not isinstance(v, str):
                    raise VectorError(f"response: header {name} is not a string or list")
                headers.append((name, v))
    bodies = [k for k in ("body", "body_base64", "body_repeat") if f.has(k)]
    if len(bodies) != 1:
        raise VectorError("response: exactly one of `body`, `body_base64`, `body_repeat`")
    if f.has("body"):
        body = f.str("body").encode()
    elif f.has("body_base64"):
        body = base64.b64decode(f.str("body_base64"), validate=True)
    else:
        r = Fields(f.value("body_repeat"), "response.body_repeat", ["prefix", "text", "count", "suffix"])
        body = ((r.opt_str("prefix") or "") + r.str("text") * r.u64("count") + (r.opt_str("suffix") or "")).encode()
    return HttpResponse(status, headers, body)


def seed(hex_digits: str) -> bytes:
    if len(hex_digits) not in (128, 192):
        raise VectorError(f"seed_hex has {len(hex_digits)} hex digits, not 128 or 192")
    try:
        return bytes.fromhex(hex_digits)
    except ValueError as e:
        raise VectorError(f"seed_hex: {e}") from e


# ------------------------------------------------------------------------------ outputs


def request_json(r: HttpRequest) -> Dict[str, Any]:
    return {"method": r.method, "url": r.url, "headers": r.headers, "body": r.body.decode()}


def token_set_json(t: TokenSet) -> Dict[str, Any]:
    return {
        "access_token": t.access_token.secret(),
        "token_type": t.token_type,
        "refresh_token": t.refresh_token.secret() if t.refresh_token is not None else None,
        "id_token": t.id_token.secret() if t.id_token is not None else None,
        "expires_at": t.expires_at,
        "expiry_source": t.expiry_source,
        "scopes": t.scopes,
        "extra_names": sorted(t.extra, key=lambda s: s.encode()),
    }


def provider_json(p: Provider) -> Dict[str, Any]:
    return {
        "name": p.name,
        "issuer": p.issuer,
        "authorization_endpoint": p.authorization_endpoint,
        "token_endpoints": {g: p.token_endpoint(g) for g in p.grants},
        "introspection_endpoint": p.introspection_endpoint,
        "revocation_endpoint": p.revocation_endpoint,
        "device_authorization_endpoint": p.device_authorization_endpoint,
        "body_encoding": p.body_encoding,
        "auth_method": p.auth_method,
        "scope_separator": p.scope_separator,
        "extra_token_params": [list(kv) for kv in p.extra_token_params],
        "default_skew": p.default_skew,
        "grants": sorted(p.grants),
        "unsolicited_callbacks": p.unsolicited_callbacks,
        "iss_parameter_supported": p.iss_parameter_supported,
    }


def pending_json(p: PendingAuthorization, oidc: bool = False) -> Dict[str, Any]:
    stored = json.loads(p.to_json())
    out = {
        "state": stored.get("state"),
        "code_verifier": stored.get("code_verifier"),
        "redirect_uri": stored.get("redirect_uri"),
        "issuer": stored.get("issuer"),
        "require_iss": stored.get("require_iss", False),
    }
    if oidc:
        # Through the public getters, which must agree with what is stored.
        out["nonce"] = p.nonce.secret() if p.nonce is not None else None
        out["max_age"] = p.max_age
        assert out["nonce"] == stored.get("nonce") and out["max_age"] == stored.get("max_age"), "pending getters"
    return out


PENDING_FIELDS = ["state", "code_verifier", "redirect_uri", "issuer", "require_iss", "nonce", "max_age"]


def pending_input(spec: Any) -> PendingAuthorization:
    Fields(spec, "pending", PENDING_FIELDS)
    return PendingAuthorization.from_json(json.dumps(spec))


def grant_json(g: CodeGrant) -> Dict[str, Any]:
    return {
        "code": g.code.secret(),
        "code_verifier": g.code_verifier.secret() if g.code_verifier is not None else None,
        "redirect_uri": g.redirect_uri,
    }


def introspection_json(i: Introspection) -> Dict[str, Any]:
    return {
        "active": i.active, "scopes": i.scopes, "client_id": i.client_id, "username": i.username,
        "token_type": i.token_type, "exp": i.exp, "iat": i.iat, "sub": i.sub, "iss": i.iss,
        "extra_names": sorted(i.extra, key=lambda s: s.encode()),
    }


def device_authorization_json(d: DeviceAuthorization) -> Dict[str, Any]:
    return {
        "device_code": d.device_code.secret(), "user_code": d.user_code,
        "verification_uri": d.verification_uri,
        "verification_uri_complete": d.verification_uri_complete,
        "expires_at": d.expires_at, "interval": d.interval,
    }


def poll_json(p: DevicePoll) -> Dict[str, Any]:
    if p.kind == "tokens":
        assert p.tokens is not None
        return {"poll": "tokens", "token_set": token_set_json(p.tokens)}
    if p.kind in ("pending", "slow_down"):
        return {"poll": p.kind, "interval": p.interval}
    return {"poll": p.kind}


def error_json(e: GrantlineError) -> Dict[str, Any]:
    return {
        "kind": e.kind,
        "code": getattr(e, "error", None),
        "description": getattr(e, "description", None),
        "uri": getattr(e, "uri", None),
        "status": e.status,
        "excerpt": getattr(e, "excerpt", None),
        "grant": getattr(e, "grant", None),
        "endpoint": getattr(e, "endpoint", None),
        "claim": getattr(e, "claim", None),
        "problem": getattr(e, "problem", None),
    }


# ------------------------------------------------------------------------------ comparing


def short(v: Any) -> str:
    s = json.dumps(v)
    return s if len(s) <= 300 else f"{s[:300]}... ({len(s)} characters)"


def diff(path: str, expected: Any, actual: Any, out: List[str]) -> None:
    if isinstance(expected, dict) and isinstance(actual, dict):
        for k, ev in expected.items():
            if k in actual:
                diff(f"{path}.{k}", ev, actual[k], out)
            else:
                out.append(f"{path}.{k}: expected {short(ev)}, not produced")
        for k, av in actual.items():
            if k not in expected:
                out.append(f"{path}.{k}: missing from the vector (got {short(av)})")
    elif not same(expected, actual):
        out.append(f"{path}:\n      expected {short(expected)}\n      got      {short(actual)}")


def same(a: Any, b: Any) -> bool:
    """JSON equality: booleans are not numbers, list order matters."""
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    return bool(a == b) and (a is None) == (b is None)


def compare_error(expected: Any, e: GrantlineError) -> None:
    f = Fields(expected, "expect_error", ERROR_FIELDS)
    f.str("kind")
    actual = error_json(e)
    diffs: List[str] = []
    for k, ev in f.map.items():
        diff(f"expect_error.{k}", ev, actual[k], diffs)
    if diffs:
        raise AssertionError("\n    ".join(diffs) + f"\n    (the error: {e})")


def judge(f: Fields, required: Sequence[str], optional: Sequence[str], run: Callable[[], Dict[str, Any]]) -> None:
    expect_error = f.get("expect_error") if f.has("expect_error") else None
    present = [k for k in list(required) + list(optional) if f.has(k)]
    if f.has("expect_error") and present:
        raise VectorError(f"the vector has both `expect_error` and {present}")
    if not f.has("expect_error") and not present:
        raise VectorError(f"the vector has no expectation: one of `expect_error` or {list(required)}")
    if not f.has("expect_error"):
        for k in required:
            if not f.has(k):
                raise VectorError(f"the vector is missing `{k}`")
    try:
        out = run()
    except VectorError:
        raise
    except GrantlineError as e:
        if f.has("expect_error"):
            compare_error(expect_error, e)
            return
        raise AssertionError(f"unexpected error {short(error_json(e))}\n    ({e})") from e
    if f.has("expect_error"):
        raise AssertionError(f"expected the error {short(expect_error)}, but it succeeded with {short(out)}")
    diffs: List[str] = []
    for k in present:
        diff(k, f.value(k), out.get(k), diffs)
    if diffs:
        raise AssertionError("\n    ".join(diffs))


# ------------------------------------------------------------------------------ the kinds


def run_provider(v: Any) -> None:
    f = Fields(v, "vector", with_common(["provider", "expect_provider", "expect_assertion_audience", "expect_error"]))

    def run() -> Dict[str, Any]:
        p = provider(f.value("provider"))
        return {"expect_provider": provider_json(p), "expect_assertion_audience": p.assertion_audience}

    judge(f, ["expect_provider"], ["expect_assertion_audience"], run)


def build_call(c: Client, spec: Any, now: int = 0) -> HttpRequest:
    ty = spec.get("type") if isinstance(spec, dict) else None
    if not isinstance(ty, str):
        raise VectorError("call: missing `type`")
    params_ok = ty in ("client_credentials", "password", "refresh_token", "authorization_code", "device_code",
                       "grant", "token_exchange", "jwt_bearer")

    def fields(allowed: Sequence[str]) -> Fields:
        return Fields(spec, f"call ({ty})", list(allowed) + (["params"] if params_ok else []))

    params = Fields(spec, "call", list(spec)).pairs("params") if params_ok else []

    def hint(value: Optional[str]) -> Optional[str]:
        if value not in (None, "access_token", "refresh_token"):
            raise VectorError(f"unknown token_type_hint {value!r}")
        return value

    if ty == "client_credentials":
        f = fields(["type", "scopes"])
        f.value("scopes")
        return c.client_credentials_request(f.strings("scopes"), params=params, now=now)
    if ty == "password":
        f = fields(["type", "username", "password", "scopes"])
        f.value("scopes")
        return c.password_request(f.str("username"), grantline.Secret(f.str("password")), f.strings("scopes"),
                                  params=params, now=now)
    if ty == "refresh_token":
        f = fields(["type", "refresh_token", "scopes"])
        f.value("scopes")
        return c.refresh_request(f.str("refresh_token"), f.strings("scopes"), params=params, now=now)
    if ty == "authorization_code":
        f = fields(["type", "code", "code_verifier", "redirect_uri"])
        g = CodeGrant(f.str("code"), f.nullable_str("code_verifier"), f.nullable_str("redirect_uri"))
        return c.authorization_code_request(g, params=params, now=now)
    if ty == "device_code":
        f = fields(["type", "device_code"])
        return c.device_token_request(f.str("device_code"), params=params, now=now)
    if ty == "device_authorization":
        f = fields(["type", "scopes"])
        f.value("scopes")
        return c.device_authorization_request(f.strings("scopes"), now=now)
    if ty == "introspection":
        f = fields(["type", "token", "token_type_hint", "refresh_token"])
        return c.introspection_request(
            f.str("token"), hint(f.nullable_str("token_type_hint")), f.nullable_str("refresh_token"),  # type: ignore[arg-type]
            now=now,
        )
    if ty == "revocation":
        f = fields(["type", "token", "token_type_hint"])
        return c.revocation_request(f.str("token"), hint(f.nullable_str("token_type_hint")), now=now)  # type: ignore[arg-type]
    if ty == "grant":
        f = fields(["type", "grant_type", "scopes"])
        return c.grant_request(f.str("grant_type"), f.strings("scopes"), params=params, now=now)
    if ty == "token_exchange":
        f = fields(["type", "subject_token", "subject_token_type", "actor_token", "actor_token_type",
                    "requested_token_type", "resource", "audience", "scopes"])
        return c.token_exchange_request(
            f.str("subject_token"), f.str("subject_token_type"), actor_token=f.opt_str("actor_token"),
            actor_token_type=f.opt_str("actor_token_type"), resource=f.strings("resource"),
            audience=f.strings("audience"), scopes=f.strings("scopes"),
            requested_token_type=f.opt_str("requested_token_type"), params=params, now=now,
        )
    if ty == "jwt_bearer":
        f = fields(["type", "assertion", "scopes"])
        return c.jwt_bearer_request(f.str("assertion"), f.strings("scopes"), params=params, now=now)
    raise VectorError(f"call: unknown type {ty!r}")


def check_assertion(c: Client, out: Dict[str, Any], spec: Any) -> Dict[str, Any]:
    """``expect_assertion``: the client assertion out of the body (exactly once), replaced by
    ``ASSERTION``; its signature checked with the client's key; its header and claims (without
    ``jti``, which must be a non-empty string) returned for comparison."""
    Fields(spec, "expect_assertion", ["header", "claims"])
    body: str = out["body"]
    if body.startswith("{"):
        value = json.loads(body).get("client_assertion")
    else:
        values = [v for k, v in _form_pairs(body) if k == "client_assertion"]
        value = values[0] if len(values) == 1 else None
    assert isinstance(value, str) and value, "no client_assertion in the body"
    assert body.count(value) == 1, "the client assertion is not in the body exactly once"
    out["body"] = body.replace(value, "ASSERTION")
    if c.auth_method == "private_key_jwt":
        assert c.signing_key is not None
        public = c.signing_key.public_jwk()
        assert public is not None
        key = Jwk.from_json(public)
    else:
        assert c.client_secret is not None
        key = Jwk.hmac(c.client_secret.secret())
    verified = key.verify(value, list(ALGORITHMS))
    claims = verified.claims()
    jti = claims.pop("jti", None)
    assert isinstance(jti, str) and jti, "the assertion has no jti"
    return {"header": verified.header, "claims": claims}


def _form_pairs(body: str) -> List[Tuple[str, str]]:
    from urllib.parse import parse_qsl
    return parse_qsl(body, keep_blank_values=True)


def run_request(v: Any) -> None:
    f = Fields(v, "vector", with_common(["provider", "client", "call", "now", "expect_request",
                                         "expect_assertion", "expect_error"]))

    def run() -> Dict[str, Any]:
        c = provider_and_client(f)
        now = f.u64("now") if f.has("now") else 0
        out = request_json(build_call(c, f.value("call"), now))
        result: Dict[str, Any] = {"expect_request": out}
        if f.has("expect_assertion"):
            result["expect_assertion"] = check_assertion(c, out, f.value("expect_assertion"))
        return result

    judge(f, ["expect_request"], ["expect_assertion"], run)


def run_authorization_url(v: Any) -> None:
    f = Fields(v, "vector", with_common(
        ["provider", "client", "request", "seed_hex", "expect_url", "expect_pending", "expect_error"]))

    def run() -> Dict[str, Any]:
        c = provider_and_client(f)
        r = Fields(f.value("request"), "request", ["scopes", "pkce", "redirect_uri", "params", "nonce", "max_age"])
        pkce = r.opt_str("pkce") or "S256"
        if pkce not in ("S256", "plain"):
            raise VectorError(f"request: unknown pkce {pkce!r}")
        auth = c.authorization_url(
            r.strings("scopes"), pkce=pkce,  # type: ignore[arg-type]
            redirect_uri=r.opt_str("redirect_uri"), params=r.pairs("params"),
            nonce=r.opt_str("nonce"), max_age=r.u64("max_age") if r.has("max_age") else None,
            seed=seed(f.str("seed_hex")),
        )
        expected = f.get("expect_pending")
        oidc = isinstance(expected, dict) and "nonce" in expected
        return {"expect_url": auth.url, "expect_pending": pending_json(auth.pending, oidc)}

    judge(f, ["expect_url", "expect_pending"], [], run)


def run_callback(v: Any) -> None:
    f = Fields(v, "vector", with_common(["provider", "client", "pending", "unsolicited", "callback",
                                         "expect_grant", "expect_exchange_request", "expect_error"]))

    def run() -> Dict[str, Any]:
        c = provider_and_client(f)
        cb = f.str("callback")
        unsolicited = f.bool_or("unsolicited", False)
        if unsolicited and not f.has("pending"):
            g = c.unsolicited_callback(cb)
        elif not unsolicited and f.has("pending"):
            g = c.callback(pending_input(f.value("pending")), cb)
        else:
            raise VectorError("callback: `pending`, or `unsolicited: true`, not both")
        out = {"expect_grant": grant_json(g)}
        if f.has("expect_exchange_request"):
            out["expect_exchange_request"] = request_json(c.authorization_code_request(g, now=0))
        return out

    judge(f, ["expect_grant"], ["expect_exchange_request"], run)


def run_token_response(v: Any) -> None:
    f = Fields(v, "vector", with_common(["now", "response", "previous", "provider", "expect_token_set",
                                         "expect_rotated", "expect_issued_token_type", "expect_error"]))
    if f.has("previous") != f.has("expect_rotated") and not f.has("expect_error"):
        raise VectorError("`previous` and `expect_rotated` go together")

    def run() -> Dict[str, Any]:
        p = provider(f.value("provider")) if f.has("provider") else None
        tokens = TokenSet.from_response(response(f.value("response")), f.u64("now"), provider=p)
        out: Dict[str, Any] = {}
        if f.has("previous"):
            p = Fields(f.value("previous"), "previous", ["refresh_token"])
            old = TokenSet("previous-access-token", p.nullable_str("refresh_token"), None, 0)
            out["expect_rotated"] = tokens.inherit_refresh_token(old)
        out["expect_token_set"] = token_set_json(tokens)
        out["expect_issued_token_type"] = tokens.issued_token_type
        return out

    if f.has("previous"):
        judge(f, ["expect_token_set", "expect_rotated"], ["expect_issued_token_type"], run)
    else:
        judge(f, ["expect_token_set"], ["expect_rotated", "expect_issued_token_type"], run)


def run_introspection_response(v: Any) -> None:
    f = Fields(v, "vector", with_common(["response", "expect_introspection", "expect_error"]))
    judge(f, ["expect_introspection"], [],
          lambda: {"expect_introspection": introspection_json(Introspection.from_response(response(f.value("response"))))})


def run_revocation_response(v: Any) -> None:
    f = Fields(v, "vector", with_common(["response", "expect_revoked", "expect_error"]))
    if f.has("expect_revoked") and f.get("expect_revoked") is not True:
        raise VectorError("`expect_revoked` can only be true (use `expect_error`)")

    def run() -> Dict[str, Any]:
        grantline.check_revocation_response(response(f.value("response")))
        return {"expect_revoked": True}

    judge(f, ["expect_revoked"], [], run)


def run_device_authorization_response(v: Any) -> None:
    f = Fields(v, "vector", with_common(["now", "response", "expect_device_authorization", "expect_error"]))
    judge(f, ["expect_device_authorization"], [], lambda: {
        "expect_device_authorization": device_authorization_json(
            DeviceAuthorization.from_response(response(f.value("response")), f.u64("now")))})


def run_device_poll_response(v: Any) -> None:
    f = Fields(v, "vector", with_common(["now", "interval", "response", "expect_poll", "expect_error"]))
    judge(f, ["expect_poll"], [], lambda: {
        "expect_poll": poll_json(DevicePoll.from_response(response(f.value("response")), f.u64("interval"), f.u64("now")))})


def run_www_authenticate(v: Any) -> None:
    f = Fields(v, "vector", with_common(["response", "expect_challenge", "expect_needs_renewal", "expect_challenges"]))

    def run() -> Dict[str, Any]:
        resp = response(f.value("response"))
        c = grantline.bearer_challenge(resp)
        challenge = None if c is None else {
            "realm": c.realm, "scope": c.scope, "error": c.error,
            "error_description": c.error_description, "error_uri": c.error_uri,
        }
        challenges = []
        for name, value in resp.headers:
            if name == "www-authenticate":
                for ch in grantline.parse_www_authenticate(value):
                    challenges.append({"scheme": ch.scheme, "token68": ch.token68,
                                       "params": [list(p) for p in ch.params]})
        return {
            "expect_challenge": challenge,
            "expect_needs_renewal": grantline.needs_renewal(resp),
            "expect_challenges": challenges,
        }

    judge(f, ["expect_challenge", "expect_needs_renewal"], ["expect_challenges"], run)


def run_discovery(v: Any) -> None:
    f = Fields(v, "vector", with_common(["input", "responses", "expect_issuer", "expect_urls",
                                         "expect_provider", "expect_error"]))
    responses = f.value("responses")
    if not isinstance(responses, list):
        raise VectorError("`responses` is not a list")
    expect_error = f.get("expect_error") if f.has("expect_error") else None
    if f.has("expect_error") == f.has("expect_provider"):
        raise VectorError("exactly one of `expect_provider` and `expect_error`")
    try:
        discovery = grantline.Discovery(f.str("input"))
    except GrantlineError as e:
        if responses:
            raise VectorError("`Discovery::new` failed but `responses` is not empty") from e
        if expect_error is None:
            raise AssertionError(f"unexpected error {short(error_json(e))}\n    ({e})") from e
        if f.has("expect_issuer") or f.has("expect_urls"):
            raise AssertionError(f"Discovery::new failed ({short(error_json(e))}), but the vector expects its URLs")
        compare_error(expect_error, e)
        return
    diffs: List[str] = []
    diff("expect_issuer", f.str("expect_issuer"), discovery.issuer, diffs)
    urls = f.value("expect_urls")
    if not isinstance(urls, list) or not all(isinstance(u, str) for u in urls):
        raise VectorError("`expect_urls` is not a list of strings")
    diff("expect_urls", urls, discovery.urls, diffs)
    if diffs:
        raise AssertionError("\n    ".join(diffs))
    if not responses:
        raise VectorError("`Discovery::new` succeeded but there is no response")
    for i, spec in enumerate(responses):
        r = discovery.request()
        if i >= len(urls):
            raise AssertionError(f"responses[{i}]: a request beyond the expected URLs: {r.url}")
        got = request_json(r)
        diff(f"responses[{i}].request", {"method": "GET", "url": urls[i], "headers": {"accept": "application/json"},
                                          "body": ""}, got, diffs)
        if diffs:
            raise AssertionError("\n    ".join(diffs))
        last = i == len(responses) - 1
        try:
            found = discovery.receive(response(spec))
        except GrantlineError as e:
            if not last:
                raise AssertionError(f"responses[{i}]: an error before the last response: {short(error_json(e))}") from e
            if expect_error is None:
                raise AssertionError(f"unexpected error {short(error_json(e))}\n    ({e})") from e
            compare_error(expect_error, e)
            return
        if found is None:
            if last:
                raise AssertionError(f"responses[{i}]: the last response moved on to another URL")
            continue
        if not last:
            raise AssertionError(f"responses[{i}]: a provider before the last response")
        if expect_error is not None:
            raise AssertionError(f"expected the error {short(expect_error)}, but it succeeded with a provider")
        diff("expect_provider", f.value("expect_provider"), provider_json(found), diffs)
        if diffs:
            raise AssertionError("\n    ".join(diffs))


def run_redact_url(v: Any) -> None:
    f = Fields(v, "vector", with_common(["url", "expect_url"]))
    judge(f, ["expect_url"], [], lambda: {"expect_url": grantline.redact_url(f.str("url"))})


SESSION_STEP_FIELDS = {
    "next": ["now", "expect", "expect_error"],
    "waited": ["id", "now", "expect", "expect_error"],
    "receive": ["id", "now", "response", "expect_completion", "expect_error"],
    "fail": ["id", "now", "reason", "expect_completion", "expect_error"],
    "delivered": ["id", "expect"],
    "abandon": ["id", "expect"],
    "reject": ["token", "expect"],
    "ready_until": ["expect"],
}


def session_state(f: Fields) -> SessionState:
    c = provider_and_client(f)
    g = Fields(f.value("grant"), "grant", ["type", "username", "password", "scopes"])
    tokens = None
    if f.has("tokens"):
        if not isinstance(f.get("tokens"), dict):
            raise VectorError("`tokens` is not a JSON object")
        tokens = TokenSet.from_json(json.dumps(f.get("tokens")))
    skew = f.u64("skew") if f.has("skew") else None
    ty = g.str("type")
    if ty == "client_credentials":
        Fields(f.value("grant"), "grant", ["type", "scopes"]).value("scopes")
        return SessionState.client_credentials(c, g.strings("scopes"), tokens=tokens, skew=skew)
    if ty == "password":
        g.value("scopes")
        return SessionState.password(c, g.str("username"), grantline.Secret(g.str("password")),
                                     g.strings("scopes"), tokens=tokens, skew=skew)
    if ty == "refresh_only":
        Fields(f.value("grant"), "grant", ["type"])
        return SessionState.from_tokens(c, tokens, skew=skew)
    raise VectorError(f"grant: unknown type {ty!r}")


def next_json(step: Any, with_request: bool) -> Dict[str, Any]:
    if isinstance(step, grantline.Ready):
        return {"next": "ready", "token": step.token.secret()}
    if isinstance(step, grantline.Wait):
        return {"next": "wait", "id": step.id}
    assert isinstance(step, grantline.Send)
    out: Dict[str, Any] = {"next": "send", "id": step.id,
                           "current": None if step.current is None else step.current.secret()}
    if with_request:
        out["request"] = request_json(step.request)
    return out


def run_session(v: Any) -> None:
    f = Fields(v, "vector", with_common(["provider", "client", "grant", "tokens", "skew", "steps"]))
    steps = f.value("steps")
    if not isinstance(steps, list) or not steps:
        raise VectorError("`steps` is not a non-empty list")
    try:
        state = session_state(f)
    except GrantlineError as e:
        raise AssertionError(f"building the session failed: {short(error_json(e))}\n    ({e})") from e
    for i, spec in enumerate(steps):
        op = spec.get("op") if isinstance(spec, dict) else None
        allowed = SESSION_STEP_FIELDS.get(op) if isinstance(op, str) else None
        if allowed is None:
            raise VectorError(f"steps[{i}]: unknown op {op!r}")
        s = Fields(spec, f"steps[{i}] ({op})", ["op", *allowed])
        where = f"steps[{i}] ({op})"
        expectation = "expect_completion" if op in ("receive", "fail") else "expect"
        if s.has(expectation) == s.has("expect_error"):
            raise VectorError(f"{where}: exactly one of `{expectation}` and `expect_error`")

        def call() -> Any:
            if op == "next":
                return state.next(s.u64("now"))
            if op == "waited":
                return state.waited(s.u64("id"), s.u64("now"))
            if op == "receive":
                return state.receive(s.u64("id"), response(s.value("response")), s.u64("now"))
            if op == "fail":
                return state.fail(s.u64("id"), s.str("reason"), s.u64("now"))
            if op == "delivered":
                return state.delivered(s.u64("id"))
            if op == "abandon":
                return state.abandon(s.u64("id"))
            if op == "reject":
                return state.reject(s.str("token"))
            return state.ready_until

        try:
            result = call()
        except GrantlineError as e:
            if not s.has("expect_error"):
                raise AssertionError(f"{where}: unexpected error {short(error_json(e))}\n    ({e})") from e
            try:
                compare_error(s.value("expect_error"), e)
            except AssertionError as bad:
                raise AssertionError(f"{where}: {bad}") from None
            continue
        if s.has("expect_error"):
            raise AssertionError(f"{where}: expected the error {short(s.value('expect_error'))}, but it succeeded")
        diffs: List[str] = []
        if op in ("next", "waited"):
            expected = s.value("expect")
            with_request = isinstance(expected, dict) and "request" in expected
            diff(f"{where}.expect", expected, next_json(result, with_request), diffs)
        elif op in ("receive", "fail"):
            expected = Fields(s.value("expect_completion"), f"{where}.expect_completion", ["renewed", "error"])
            r = result.renewed
            renewed = None if r is None else {
                "access_token": r.tokens.access_token.secret(),
                "refresh_token": None if r.tokens.refresh_token is None else r.tokens.refresh_token.secret(),
                "rotated": r.refresh_token_rotated,
            }
            diff(f"{where}.expect_completion.renewed", expected.value("renewed"), renewed, diffs)
            expected_error = expected.value("error")
            if expected_error is None:
                if result.error is not None:
                    diffs.append(f"{where}.expect_completion.error: expected null, got {short(error_json(result.error))}")
            elif result.error is None:
                diffs.append(f"{where}.expect_completion.error: expected {short(expected_error)}, got null")
            else:
                try:
                    compare_error(expected_error, result.error)
                except AssertionError as bad:
                    diffs.append(f"{where}.expect_completion.{bad}")
        else:
            diff(f"{where}.expect", s.value("expect"), result, diffs)
        if diffs:
            raise AssertionError("\n    ".join(diffs))


# ------------------------------------------------------------------------------ JOSE and OpenID Connect


def algorithms(f: Fields, key: str = "algorithms") -> List[str]:
    names = f.strings(key)
    for n in names:
        if n not in ALGORITHMS:
            raise VectorError(f"`{key}`: unknown algorithm {n!r}")
    return names


def repeat(spec: Any) -> str:
    r = Fields(spec, "token_repeat", ["prefix", "text", "count", "suffix"])
    return (r.opt_str("prefix") or "") + r.str("text") * r.u64("count") + (r.opt_str("suffix") or "")


def verified_json(j: VerifiedJws) -> Dict[str, Any]:
    return {"alg": j.algorithm, "kid": j.kid, "payload": j.payload.decode()}


def run_jws_verify(v: Any) -> None:
    f = Fields(v, "vector", with_common(["keys", "key", "token", "token_repeat", "algorithms", "expect_jws",
                                         "expect_error"]))
    if f.has("keys") == f.has("key") or f.has("token") == f.has("token_repeat"):
        raise VectorError("exactly one of `keys`/`key` and one of `token`/`token_repeat`")

    def run() -> Dict[str, Any]:
        token = f.str("token") if f.has("token") else repeat(f.value("token_repeat"))
        algs = algorithms(f)
        verifier = JwkSet.from_json(f.str("keys")) if f.has("keys") else Jwk.from_json(f.str("key"))
        return {"expect_jws": verified_json(verifier.verify(token, algs))}

    judge(f, ["expect_jws"], [], run)


def run_jwk_set(v: Any) -> None:
    f = Fields(v, "vector", with_common(["keys", "expect_keys", "expect_skipped", "expect_error"]))

    def run() -> Dict[str, Any]:
        keys = JwkSet.from_json(f.str("keys"))
        assert len(keys) == len(keys.keys)
        return {"expect_keys": keys.keys, "expect_skipped": keys.skipped}

    judge(f, ["expect_keys", "expect_skipped"], [], run)


def run_jws_sign(v: Any) -> None:
    f = Fields(v, "vector", with_common(["signing_key", "signing_key_pem", "algorithm", "kid", "header", "payload",
                                         "expect_token", "expect_verified_by", "expect_header", "expect_error"]))
    if f.has("signing_key") == f.has("signing_key_pem"):
        raise VectorError("exactly one of `signing_key` and `signing_key_pem`")
    if f.has("expect_verified_by") != f.has("expect_header"):
        raise VectorError("`expect_verified_by` and `expect_header` go together")

    def run() -> Dict[str, Any]:
        key = (SigningKey.from_jwk(f.str("signing_key")) if f.has("signing_key")
               else SigningKey.from_pkcs8_pem(f.str("signing_key_pem")))
        alg = f.opt_str("algorithm")
        if alg is not None:
            key = key.with_algorithm(alg)
        kid = f.opt_str("kid")
        if kid is not None:
            key = key.with_kid(kid)
        header = f.value("header")
        if not isinstance(header, dict):
            raise VectorError("`header` is not an object")
        payload = f.str("payload")
        token = key.sign_payload(payload.encode(), header)
        out: Dict[str, Any] = {"expect_token": token}
        if f.has("expect_verified_by"):
            verified = Jwk.from_json(f.str("expect_verified_by")).verify(token, list(ALGORITHMS))
            assert verified.payload == payload.encode(), "the verified payload differs"
            out["expect_verified_by"] = f.str("expect_verified_by")
            out["expect_header"] = verified.header
        return out

    judge(f, [], ["expect_token", "expect_verified_by", "expect_header"], run)


def claims_json(c: IdTokenClaims) -> Dict[str, Any]:
    return {
        "sub": c.sub, "iss": c.iss, "aud": c.aud, "azp": c.azp,
        "nonce": c.nonce.secret() if c.nonce is not None else None,
        "auth_time": c.auth_time, "acr": c.acr, "amr": c.amr, "exp": c.exp, "iat": c.iat,
        "claim_names": sorted(c.claims, key=lambda s: s.encode()),
    }


def adjusted(check: IdTokenCheck, spec: Any) -> IdTokenCheck:
    if spec is None:
        return check
    f = Fields(spec, "check", ["leeway", "algorithms", "access_token", "code"])
    return check.replace(
        leeway=f.u64("leeway") if f.has("leeway") else None,
        algorithms=algorithms(f) if f.has("algorithms") else None,
        access_token=f.opt_str("access_token"), code=f.opt_str("code"),
    )


def run_id_token(v: Any) -> None:
    f = Fields(v, "vector", with_common(["provider", "client", "pending", "check", "jwks", "token", "now",
                                         "expect_claims", "expect_error"]))

    def run() -> Dict[str, Any]:
        c = provider_and_client(f)
        check = adjusted(c.id_token_check(pending_input(f.value("pending"))), f.get("check"))
        verified = JwkSet.from_json(f.str("jwks")).verify(f.str("token"), check.algorithms)
        return {"expect_claims": claims_json(check.validate(verified, f.u64("now")))}

    judge(f, ["expect_claims"], [], run)


def run_id_token_refresh(v: Any) -> None:
    f = Fields(v, "vector", with_common(["provider", "client", "pending", "check", "jwks", "previous_token",
                                         "previous_now", "token", "now", "expect_claims", "expect_error"]))

    def run() -> Dict[str, Any]:
        c = provider_and_client(f)
        keys = JwkSet.from_json(f.str("jwks"))
        first = c.id_token_check(pending_input(f.value("pending")))
        previous = first.validate(keys.verify(f.str("previous_token"), first.algorithms), f.u64("previous_now"))
        check = adjusted(c.refresh_id_token_check(), f.get("check"))
        verified = keys.verify(f.str("token"), check.algorithms)
        return {"expect_claims": claims_json(check.validate_refreshed(verified, previous, f.u64("now")))}

    judge(f, ["expect_claims"], [], run)


def run_userinfo_request(v: Any) -> None:
    f = Fields(v, "vector", with_common(["provider", "client", "access_token", "expect_request", "expect_error"]))
    judge(f, ["expect_request"], [], lambda: {
        "expect_request": request_json(provider_and_client(f).userinfo_request(f.str("access_token")))})


def run_userinfo_response(v: Any) -> None:
    f = Fields(v, "vector", with_common(["response", "expected_sub", "signed", "expect_userinfo", "expect_error"]))

    def run() -> Dict[str, Any]:
        sub = f.str("expected_sub")
        answer = UserInfo.from_response(response(f.value("response")), sub)
        signed = isinstance(answer, str)
        if isinstance(answer, str):
            if not f.has("signed"):
                raise VectorError("a signed answer needs `signed`")
            s = Fields(f.value("signed"), "signed", ["jwks", "algorithms", "issuer", "client_id"])
            verified = JwkSet.from_json(s.str("jwks")).verify(answer, algorithms(s))
            answer = UserInfo.from_verified(verified, sub, s.str("issuer"), s.str("client_id"))
        return {"expect_userinfo": {"signed": signed, "sub": answer.sub,
                                    "claim_names": sorted(answer.claims, key=lambda s: s.encode())}}

    judge(f, ["expect_userinfo"], [], run)


def run_end_session_url(v: Any) -> None:
    f = Fields(v, "vector", with_common(["provider", "client", "request", "expect_url", "expect_error"]))

    def run() -> Dict[str, Any]:
        c = provider_and_client(f)
        r = Fields(f.value("request"), "request", ["id_token_hint", "logout_hint", "post_logout_redirect_uri",
                                                   "state", "ui_locales", "params"])
        return {"expect_url": c.end_session_url(
            id_token_hint=r.opt_str("id_token_hint"), logout_hint=r.opt_str("logout_hint"),
            post_logout_redirect_uri=r.opt_str("post_logout_redirect_uri"), state=r.opt_str("state"),
            ui_locales=r.opt_str("ui_locales"), params=r.pairs("params"))}

    judge(f, ["expect_url"], [], run)


def run_provider_oidc(v: Any) -> None:
    f = Fields(v, "vector", with_common(["provider", "expect_oidc", "expect_error"]))

    def run() -> Dict[str, Any]:
        p = provider(f.value("provider"))
        return {"expect_oidc": {"jwks_uri": p.jwks_uri, "userinfo_endpoint": p.userinfo_endpoint,
                                "end_session_endpoint": p.end_session_endpoint,
                                "id_token_algorithms": p.id_token_algorithms}}

    judge(f, ["expect_oidc"], [], run)


def run_jwks_cache(v: Any) -> None:
    f = Fields(v, "vector", with_common(["jwks_uri", "min_refetch", "max_age", "keys", "steps"]))
    keys = None
    fetched_at = 0
    if f.has("keys"):
        k = Fields(f.value("keys"), "keys", ["jwks", "fetched_at"])
        keys = JwkSet.from_json(k.str("jwks"))
        fetched_at = k.u64("fetched_at")
    cache = JwksCache(
        f.str("jwks_uri"), min_refetch=f.u64("min_refetch") if f.has("min_refetch") else None,
        max_age=f.u64("max_age") if f.has("max_age") else None, keys=keys, fetched_at=fetched_at,
    )
    steps = f.value("steps")
    if not isinstance(steps, list) or not steps:
        raise VectorError("`steps` is not a non-empty list")
    for i, step in enumerate(steps):
        where = f"steps[{i}]"
        op = step.get("op") if isinstance(step, dict) else None
        diffs: List[str] = []
        if op == "request":
            s = Fields(step, where, ["op", "expect_request"])
            diff(f"{where}.expect_request", s.value("expect_request"), request_json(cache.request()), diffs)
        elif op in ("verify", "receive"):
            allowed = ["op", "now", "expect", "expect_error"] + (["token", "algorithms"] if op == "verify" else ["response"])
            s = Fields(step, where, allowed)
            if s.has("expect") == s.has("expect_error"):
                raise VectorError(f"{where}: exactly one of `expect` and `expect_error`")
            try:
                result: Any
                if op == "verify":
                    out = cache.verify(s.str("token"), algorithms(s), s.u64("now"))
                    result = ("fetch" if isinstance(out, HttpRequest)
                              else {"verified": {"alg": out.algorithm, "kid": out.kid}})
                    if isinstance(out, HttpRequest):
                        assert out.url == cache.request().url, "verify's request is not request()"
                else:
                    cache.receive(response(s.value("response")), s.u64("now"))
                    result = "ok"
            except GrantlineError as e:
                if not s.has("expect_error"):
                    raise AssertionError(f"{where}: unexpected error {short(error_json(e))} ({e})") from e
                try:
                    compare_error(s.value("expect_error"), e)
                except AssertionError as a:
                    raise AssertionError(f"{where}: {a}") from a
                continue
            if s.has("expect_error"):
                raise AssertionError(f"{where}: expected an error, got {short(result)}")
            diff(f"{where}.expect", s.value("expect"), result, diffs)
        else:
            raise VectorError(f"{where}: unknown op {op!r}")
        if diffs:
            raise AssertionError("\n    ".join(diffs))


# ------------------------------------------------------------------------------ fleet (a token shared over a store)


def fleet_keys(f: Fields, name: str = "vectors", **more: Any) -> grantline.FleetConfig:
    """The protection of a fleet vector (``keys`` or ``"plaintext": true``), as a FleetConfig."""
    if f.has("keys") == f.has("plaintext"):
        raise VectorError(f"{f.what}: exactly one of `keys` and `plaintext`")
    if f.has("plaintext"):
        if f.get("plaintext") is not True:
            raise VectorError(f"{f.what}: `plaintext` is not true")
        return grantline.FleetConfig(name, plaintext=True, **more)
    keys = f.value("keys")
    if not isinstance(keys, list) or not keys:
        raise VectorError(f"{f.what}: `keys` is not a non-empty list")
    pairs = []
    for i, k in enumerate(keys):
        kf = Fields(k, f"{f.what}.keys[{i}]", ["kid", "key_hex"])
        try:
            key = bytes.fromhex(kf.str("key_hex"))
        except ValueError:
            raise VectorError(f"{f.what}.keys[{i}]: `key_hex` is not hex") from None
        pairs.append((kf.str("kid"), key))
    return grantline.FleetConfig(name, pairs, **more)


def entry_json(e: grantline.Entry) -> Dict[str, Any]:
    t = e.tokens
    return {
        "version": e.version,
        "written_at": e.written_at,
        "expires_at": t.expires_at,
        "access_token": t.access_token.secret(),
        "refresh_token": None if t.refresh_token is None else t.refresh_token.secret(),
    }


def entry_input(spec: Any, what: str) -> grantline.Entry:
    e = Fields(spec, what, ["version", "written_at", "tokens"])
    if not isinstance(e.get("tokens"), dict):
        raise VectorError(f"{what}: `tokens` is not a JSON object")
    return grantline.Entry(e.u64("version"), TokenSet.from_json(json.dumps(e.value("tokens"))), e.u64("written_at"))


def run_store_entry(v: Any) -> None:
    f = Fields(v, "vector", with_common(["keys", "plaintext", "sealed", "entry", "nonce_hex", "expect_entry",
                                         "expect_sealed", "expect_error"]))
    config = fleet_keys(f)
    if f.has("sealed") == f.has("entry"):
        raise VectorError("exactly one of `sealed` and `entry`")
    if f.has("sealed"):
        if f.has("nonce_hex"):
            raise VectorError("`nonce_hex` goes with `entry`")
        judge(f, ["expect_entry"], [], lambda: {"expect_entry": entry_json(grantline.Entry.open(f.str("sealed"), config))})
        return
    try:
        nonce = bytes.fromhex(f.str("nonce_hex"))
    except ValueError:
        raise VectorError("`nonce_hex` is not hex") from None

    def seal() -> Dict[str, Any]:
        entry = entry_input(f.value("entry"), "entry")
        sealed = entry.seal_with_nonce(config, nonce)
        back = grantline.Entry.open(sealed, config)
        if entry_json(back) != entry_json(entry) or back.tokens.to_json() != entry.tokens.to_json():
            raise AssertionError(f"the sealed entry does not round-trip: {short(entry_json(back))}")
        return {"expect_sealed": sealed}

    judge(f, ["expect_sealed"], [], seal)


FLEET_STEP_FIELDS = {
    "next": ["now_ms", "expect", "expect_error"],
    "waited": ["id", "now_ms", "expect", "expect_error"],
    "store_done": ["id", "now_ms", "reply", "expect", "expect_error"],
    "store_failed": ["id", "now_ms", "reason", "expect", "expect_error"],
    "receive": ["id", "now_ms", "response", "expect", "expect_error"],
    "fail": ["id", "now_ms", "reason", "expect", "expect_error"],
    "delivered": ["id", "expect"],
    "abandon": ["id", "expect"],
    "cancellable": ["id", "expect"],
    "reject": ["token", "expect"],
    "version": ["expect"],
    "stats": ["expect"],
}
FLEET_STATS = ("store_ops", "store_failures", "http_renewals", "fallback_renewals", "adopted", "committed", "conflicts")


class FleetRun:
    """One fleet_session vector's state: the machine, its config, the last committed text."""

    def __init__(self, state: grantline.FleetState, config: grantline.FleetConfig) -> None:
        self.state = state
        self.config = config
        self.last_commit: Optional[str] = None

    def stored(self, spec: Any, what: str) -> Optional[str]:
        """An entry ``E`` of a reply: null, a raw text, ``{"seal": ...}`` or ``{"last_commit": true}``."""
        if spec is None or isinstance(spec, str):
            return spec
        if isinstance(spec, dict) and "seal" in spec:
            Fields(spec, what, ["seal"])
            return entry_input(spec["seal"], f"{what}.seal").seal(self.config)
        if isinstance(spec, dict) and "last_commit" in spec:
            Fields(spec, what, ["last_commit"])
            if spec["last_commit"] is not True or self.last_commit is None:
                raise VectorError(f"{what}: `last_commit` without an earlier commit")
            return self.last_commit
        raise VectorError(f"{what}: not an entry (null, a text, seal or last_commit)")

    def reply(self, spec: Any, what: str) -> grantline.StoreReply:
        if not isinstance(spec, dict):
            raise VectorError(f"{what}: not a JSON object")
        keys = set(spec)
        if keys == {"entry"}:
            return grantline.StoreReply.entry(self.stored(spec["entry"], f"{what}.entry"))
        if keys == {"acquired", "lease_ttl_ms", "entry"}:
            r = Fields(spec, what, ["acquired", "lease_ttl_ms", "entry"])
            acquired = r.value("acquired")
            ttl = r.value("lease_ttl_ms")
            if not isinstance(acquired, bool) or not (ttl is None or (isinstance(ttl, int) and not isinstance(ttl, bool))):
                raise VectorError(f"{what}: `acquired` must be a boolean, `lease_ttl_ms` an integer or null")
            return grantline.StoreReply.acquired(acquired, ttl, self.stored(r.value("entry"), f"{what}.entry"))
        if keys == {"committed"} and isinstance(spec["committed"], bool):
            return grantline.StoreReply.committed(spec["committed"])
        if spec == {"released": True}:
            return grantline.StoreReply.released()
        if spec == {"watched": True}:
            return grantline.StoreReply.watched()
        raise VectorError(f"{what}: not a reply: {short(spec)}")

    def action_json(self, action: Any, expected: Any) -> Dict[str, Any]:
        if isinstance(action, grantline.StoreRead):
            return {"action": "store", "op": "read", "key": action.key}
        if isinstance(action, grantline.StoreAcquire):
            return {"action": "store", "op": "acquire", "key": action.key, "lease": action.lease,
                    "owner": action.owner, "ttl_ms": action.ttl_ms}
        if isinstance(action, grantline.StoreCommit):
            self.last_commit = action.entry
            try:
                entry: Any = entry_json(grantline.Entry.open(action.entry, self.config))
            except GrantlineError as e:
                entry = {"unreadable": str(e)}
            return {"action": "store", "op": "commit", "key": action.key, "lease": action.lease,
                    "owner": action.owner, "channel": action.channel, "expected_version": action.expected_version,
                    "version": action.version, "entry": entry}
        if isinstance(action, grantline.StoreRelease):
            return {"action": "store", "op": "release", "lease": action.lease, "owner": action.owner}
        if isinstance(action, grantline.StoreWatch):
            return {"action": "store", "op": "watch", "channel": action.channel, "version": action.version,
                    "timeout_ms": action.timeout_ms}
        if isinstance(action, HttpRequest):
            out: Dict[str, Any] = {"action": "send"}
            if isinstance(expected, dict) and "request" in expected:
                out["request"] = request_json(action)
            return out
        assert isinstance(action, grantline.Completion), action
        r = action.renewed
        return {"action": "done", "completion": {
            "renewed": None if r is None else {
                "access_token": r.tokens.access_token.secret(),
                "refresh_token": None if r.tokens.refresh_token is None else r.tokens.refresh_token.secret(),
                "rotated": r.refresh_token_rotated,
            },
            "error": None if action.error is None else error_json(action.error),
        }}

    def next_json(self, step: Any, expected: Any) -> Dict[str, Any]:
        if isinstance(step, grantline.Ready):
            return {"next": "ready", "token": step.token.secret()}
        if isinstance(step, grantline.Wait):
            return {"next": "wait", "id": step.id}
        assert isinstance(step, grantline.Perform)
        inner = expected.get("action") if isinstance(expected, dict) else None
        return {"next": "perform", "id": step.id, "current": None if step.current is None else step.current.secret(),
                "action": self.action_json(step.action, inner)}


def compare_action(where: str, expected: Any, actual: Dict[str, Any], diffs: List[str]) -> None:
    """``diff``, except that a completion's error is compared as ``expect_error`` (only the
    fields the vector lists)."""
    if (isinstance(expected, dict) and expected.get("action") == "done" and actual.get("action") == "done"
            and isinstance(expected.get("completion"), dict)):
        ec = Fields(expected["completion"], f"{where}.completion", ["renewed", "error"])
        ac = actual["completion"]
        diff(f"{where}.completion.renewed", ec.value("renewed"), ac["renewed"], diffs)
        ee, ae = ec.value("error"), ac["error"]
        if ee is None or ae is None:
            diff(f"{where}.completion.error", ee, ae, diffs)
        else:
            f = Fields(ee, f"{where}.completion.error", ERROR_FIELDS)
            f.str("kind")
            for k, ev in f.map.items():
                diff(f"{where}.completion.error.{k}", ev, ae[k], diffs)
        return
    diff(where, expected, actual, diffs)


def run_fleet_session(v: Any) -> None:
    f = Fields(v, "vector", with_common(["provider", "client", "grant", "tokens", "skew", "fleet", "steps"]))
    steps = f.value("steps")
    if not isinstance(steps, list) or not steps:
        raise VectorError("`steps` is not a non-empty list")
    fl = Fields(f.value("fleet"), "fleet", ["name", "owner", "lease_ttl_ms", "renew_alone", "keys", "plaintext"])
    more: Dict[str, Any] = {"owner": fl.str("owner"), "renew_alone_when_store_down": fl.bool_or("renew_alone", False)}
    if fl.has("lease_ttl_ms"):
        more["lease_ttl_ms"] = fl.u64("lease_ttl_ms")
    try:
        config = fleet_keys(fl, fl.str("name"), **more)
        run = FleetRun(grantline.FleetState(session_state(f), config), config)
    except GrantlineError as e:
        raise AssertionError(f"building the fleet session failed: {short(error_json(e))}\n    ({e})") from e
    state = run.state
    for i, spec in enumerate(steps):
        op = spec.get("op") if isinstance(spec, dict) else None
        allowed = FLEET_STEP_FIELDS.get(op) if isinstance(op, str) else None
        if allowed is None:
            raise VectorError(f"steps[{i}]: unknown op {op!r}")
        where = f"steps[{i}] ({op})"
        s = Fields(spec, where, ["op", *allowed])
        if s.has("expect") == s.has("expect_error"):
            raise VectorError(f"{where}: exactly one of `expect` and `expect_error`")

        def call() -> Any:
            if op == "next":
                return state.next(s.u64("now_ms"))
            if op == "waited":
                return state.waited(s.u64("id"), s.u64("now_ms"))
            if op == "store_done":
                return state.store_done(s.u64("id"), run.reply(s.value("reply"), f"{where}.reply"), s.u64("now_ms"))
            if op == "store_failed":
                return state.store_failed(s.u64("id"), s.str("reason"), s.u64("now_ms"))
            if op == "receive":
                return state.receive(s.u64("id"), response(s.value("response")), s.u64("now_ms"))
            if op == "fail":
                return state.fail(s.u64("id"), s.str("reason"), s.u64("now_ms"))
            if op == "delivered":
                return state.delivered(s.u64("id"))
            if op == "abandon":
                return state.abandon(s.u64("id"))
            if op == "cancellable":
                return state.cancellable(s.u64("id"))
            if op == "reject":
                return state.reject(s.str("token"))
            if op == "version":
                return state.version
            return state.stats

        try:
            result = call()
        except GrantlineError as e:
            if not s.has("expect_error"):
                raise AssertionError(f"{where}: unexpected error {short(error_json(e))}\n    ({e})") from e
            try:
                compare_error(s.value("expect_error"), e)
            except AssertionError as bad:
                raise AssertionError(f"{where}: {bad}") from None
            continue
        if s.has("expect_error"):
            raise AssertionError(f"{where}: expected the error {short(s.value('expect_error'))}, but it succeeded")
        expected = s.value("expect")
        diffs: List[str] = []
        if op in ("next", "waited"):
            actual = run.next_json(result, expected)
            if actual.get("next") == "perform" and isinstance(expected, dict) and "action" in expected:
                compare_action(f"{where}.expect.action", expected["action"], actual["action"], diffs)
                diff(f"{where}.expect", {k: x for k, x in expected.items() if k != "action"},
                     {k: x for k, x in actual.items() if k != "action"}, diffs)
            else:
                diff(f"{where}.expect", expected, actual, diffs)
        elif op in ("store_done", "store_failed", "receive", "fail"):
            compare_action(f"{where}.expect", expected, run.action_json(result, expected), diffs)
        elif op == "stats":
            st = Fields(expected, f"{where}.expect", FLEET_STATS)
            for name in st.map:
                diff(f"{where}.expect.{name}", st.u64(name), getattr(result, name), diffs)
        else:
            diff(f"{where}.expect", expected, result, diffs)
        if diffs:
            raise AssertionError("\n    ".join(diffs))


KINDS: Dict[str, Callable[[Any], None]] = {
    "provider": run_provider,
    "request": run_request,
    "authorization_url": run_authorization_url,
    "callback": run_callback,
    "token_response": run_token_response,
    "introspection_response": run_introspection_response,
    "revocation_response": run_revocation_response,
    "device_authorization_response": run_device_authorization_response,
    "device_poll_response": run_device_poll_response,
    "www_authenticate": run_www_authenticate,
    "discovery": run_discovery,
    "redact_url": run_redact_url,
    "session": run_session,
    "jws_verify": run_jws_verify,
    "jwk_set": run_jwk_set,
    "jws_sign": run_jws_sign,
    "id_token": run_id_token,
    "id_token_refresh": run_id_token_refresh,
    "userinfo_request": run_userinfo_request,
    "userinfo_response": run_userinfo_response,
    "end_session_url": run_end_session_url,
    "jwks_cache": run_jwks_cache,
    "provider_oidc": run_provider_oidc,
    "store_entry": run_store_entry,
    "fleet_session": run_fleet_session,
}


def run_vector(v: Any) -> None:
    """Runs one vector; raises ``AssertionError`` (a wrong result) or ``VectorError``."""
    if not isinstance(v, dict):
        raise VectorError("a vector is not a JSON object")
    for key in ("name", "kind", "source"):
        if not isinstance(v.get(key), str) or not v[key].strip():
            raise VectorError(f"`{key}` is missing or not a non-empty string")
    if "note" in v and not isinstance(v["note"], str):
        raise VectorError("`note` is not a string")
    runner = KINDS.get(v["kind"])
    if runner is None:
        raise VectorError(f"unknown kind {v['kind']!r}")
    runner(v)


# ------------------------------------------------------------------------------ the files


def load_files() -> List[Tuple[str, Any]]:
    files = []
    for path in sorted(VECTORS.glob("*.json")):
        # Integers stay exact (2^64-1 included): json reads them as Python ints.
        files.append((path.name, json.loads(path.read_text(encoding="utf-8"))))
    return files


def file_vectors(name: str, doc: Any) -> List[Any]:
    f = Fields(doc, name, ["format", "description", "vectors"])
    if f.u64("format") != FORMAT:
        raise VectorError(f"{name}: format {f.value('format')} is not {FORMAT}")
    if not f.str("description").strip():
        raise VectorError(f"{name}: empty description")
    vectors = f.value("vectors")
    if not isinstance(vectors, list) or not vectors:
        raise VectorError(f"{name}: `vectors` is not a non-empty list")
    return vectors


def test_every_vector_passes_through_the_python_api() -> None:
    files = load_files()
    names: set[str] = set()
    failures: List[str] = []
    passed = seed_count = extra_count = 0
    for required in SEED_FILES + EXTRA_FILES:
        if required not in [n for n, _ in files]:
            failures.append(f"{required}: missing")
    for file, doc in files:
        try:
            vectors = file_vectors(file, doc)
        except VectorError as e:
            failures.append(str(e))
            continue
        if file in SEED_FILES:
            seed_count += len(vectors)
        else:
            extra_count += len(vectors)
        for i, v in enumerate(vectors):
            name = v.get("name") if isinstance(v, dict) and isinstance(v.get("name"), str) else f"#{i}"
            if name in names:
                failures.append(f"{file}: {name!r}: duplicate name")
                continue
            names.add(name)
            try:
                run_vector(v)
                passed += 1
            except VectorError as e:
                failures.append(f"{file}: {name!r}\n    cannot run the vector: {e}")
            except AssertionError as e:
                failures.append(f"{file}: {name!r}\n    {e}")
    total = seed_count + extra_count
    print(f"vectors: {passed} passed, {len(failures)} failed ({total} vectors)")
    if seed_count < MIN_SEED_VECTORS:
        failures.append(f"only {seed_count} seed vectors, at least {MIN_SEED_VECTORS} expected")
    if extra_count < MIN_EXTRA_VECTORS:
        failures.append(f"only {extra_count} lenient/hostile vectors, at least {MIN_EXTRA_VECTORS} expected")
    assert not failures, f"vectors: {passed} passed, {len(failures)} failed\n\n" + "\n\n".join(failures)


# ------------------------------------------------------------------------------ the runner itself


def libro_cc_vector() -> Dict[str, Any]:
    return {
        "name": "self-test", "kind": "request", "source": "runner self-test",
        "provider": {"preset": "libro"},
        "client": {"client_id": "YOUR_CLIENT_ID", "client_secret": "YOUR_CLIENT_SECRET"},
        "call": {"type": "client_credentials", "scopes": []},
        "expect_request": {
            "method": "POST",
            "url": "https://api.libroreserve.com/oauth/token",
            "headers": {"accept": "application/json", "content-type": "application/x-www-form-urlencoded"},
            "body": "grant_type=client_credentials&client_id=YOUR_CLIENT_ID&client_secret=YOUR_CLIENT_SECRET",
        },
    }


def test_runner_passes_a_right_vector() -> None:
    run_vector(libro_cc_vector())


def test_runner_fails_an_unknown_kind() -> None:
    with pytest.raises(VectorError, match="unknown kind"):
        run_vector({"name": "x", "kind": "no_such_kind", "source": "test"})


def test_runner_fails_a_wrong_expectation() -> None:
    v = libro_cc_vector()
    v["expect_request"]["body"] = "grant_type=client_credentials"
    with pytest.raises(AssertionError, match=r"expect_request\.body"):
        run_vector(v)
    v = libro_cc_vector()
    del v["expect_request"]["headers"]["accept"]
    with pytest.raises(AssertionError, match=r"expect_request\.headers\.accept"):
        run_vector(v)


def test_runner_fails_unknown_fields_and_missing_expectations() -> None:
    v = libro_cc_vector()
    v["expect_requst"] = {}
    with pytest.raises(VectorError, match="unknown field"):
        run_vector(v)
    v = libro_cc_vector()
    del v["expect_request"]
    with pytest.raises(VectorError, match="no expectation"):
        run_vector(v)
    v = libro_cc_vector()
    v["expect_error"] = {"kind": "oauth"}
    with pytest.raises(VectorError, match="both"):
        run_vector(v)
    v = libro_cc_vector()
    v["call"]["type"] = "implicit"
    with pytest.raises(VectorError, match="unknown type"):
        run_vector(v)
    v = libro_cc_vector()
    v["provider"]["colour"] = "blue"
    with pytest.raises(VectorError, match="unknown field `colour`"):
        run_vector(v)


def test_runner_fails_an_error_where_success_was_expected_and_back() -> None:
    v = libro_cc_vector()
    v["call"] = {"type": "password", "username": "u", "password": "p", "scopes": []}
    with pytest.raises(AssertionError, match="unsupported_grant"):
        run_vector(v)
    v = libro_cc_vector()
    del v["expect_request"]
    v["expect_error"] = {"kind": "unsupported_grant"}
    with pytest.raises(AssertionError, match="succeeded"):
        run_vector(v)


def test_runner_runs_the_discovery_redact_url_and_session_kinds() -> None:
    doc = '{"issuer":"https://as.example/t1","token_endpoint":"https://as.example/t1/token"}'
    run_vector({
        "name": "self-test discovery", "kind": "discovery", "source": "runner self-test",
        "input": "https://as.example/t1", "expect_issuer": "https://as.example/t1",
        "expect_urls": ["https://as.example/.well-known/oauth-authorization-server/t1",
                        "https://as.example/t1/.well-known/openid-configuration"],
        "responses": [{"status": 404, "body": ""}, {"status": 200, "body": doc}],
        "expect_provider": provider_json(Provider.from_metadata(doc)),
    })
    run_vector({"name": "self-test discovery refused", "kind": "discovery", "source": "runner self-test",
                "input": "http://as.example", "responses": [], "expect_error": {"kind": "insecure_endpoint"}})
    with pytest.raises(AssertionError, match="issuer_mismatch"):
        run_vector({"name": "self-test mix-up", "kind": "discovery", "source": "runner self-test",
                    "input": "https://as.example/.well-known/openid-configuration",
                    "expect_issuer": "https://as.example",
                    "expect_urls": ["https://as.example/.well-known/openid-configuration"],
                    "responses": [{"status": 200, "body": doc}], "expect_provider": {}})
    run_vector({"name": "self-test redact", "kind": "redact_url", "source": "runner self-test",
                "url": "https://u:p@a.example/cb#code=x", "expect_url": "https://a.example/cb#code=[redacted]"})
    ok = '{"access_token":"at-1","expires_in":100,"refresh_token":"rt-1"}'
    session = {
        "name": "self-test session", "kind": "session", "source": "runner self-test",
        "provider": {"custom": {"token_endpoint": "https://as.example/token",
                                "grants": ["client_credentials", "refresh_token"]}},
        "client": {"client_id": "id", "client_secret": "s", "auth_method": "client_secret_post"},
        "grant": {"type": "client_credentials", "scopes": []},
        "steps": [
            {"op": "ready_until", "expect": None},
            {"op": "next", "now": 1000, "expect": {"next": "send", "id": 1, "current": None, "request": {
                "method": "POST", "url": "https://as.example/token",
                "headers": {"accept": "application/json", "content-type": "application/x-www-form-urlencoded"},
                "body": "grant_type=client_credentials&client_id=id&client_secret=s"}}},
            {"op": "next", "now": 1000, "expect": {"next": "wait", "id": 1}},
            {"op": "receive", "id": 2, "now": 1000, "response": {"status": 200, "body": ok},
             "expect_error": {"kind": "unexpected_response"}},
            {"op": "receive", "id": 1, "now": 1000, "response": {"status": 200, "body": ok},
             "expect_completion": {"renewed": {"access_token": "at-1", "refresh_token": "rt-1", "rotated": True},
                                   "error": None}},
            {"op": "next", "now": 1000, "expect": {"next": "ready", "token": "at-1"}},
            {"op": "delivered", "id": 1, "expect": True},
            {"op": "waited", "id": 1, "now": 1000, "expect": {"next": "ready", "token": "at-1"}},
            {"op": "next", "now": 1050, "expect": {"next": "send", "id": 2, "current": "at-1"}},
            {"op": "fail", "id": 2, "now": 1050, "reason": "reset",
             "expect_completion": {"renewed": None, "error": {"kind": "transport"}}},
            {"op": "waited", "id": 2, "now": 1050, "expect": {"next": "ready", "token": "at-1"}},
            {"op": "reject", "token": "at-1", "expect": True},
            {"op": "next", "now": 1050, "expect_error": {"kind": "transport"}},
            {"op": "abandon", "id": 2, "expect": False},
        ],
    }
    run_vector(session)
    session["steps"][-1] = {"op": "abandon", "id": 2, "expect": True}
    with pytest.raises(AssertionError, match=r"steps\[13\] \(abandon\)"):
        run_vector(session)
    session["steps"][-2] = {"op": "next", "now": 1050, "expect": {"next": "ready", "token": "at-1"}}
    with pytest.raises(AssertionError, match=r"steps\[12\] \(next\)"):
        run_vector(session)
