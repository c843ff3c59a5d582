"""The issue 11 surface without servers: keys and JOSE, the JWKS cache, ID tokens, userinfo,
logout, extension grants and JWT client authentication, with hostile inputs, secrets kept out of
every repr/str/message, and the high-level calls (blocking and asyncio) over a scripted
transport."""

from __future__ import annotations

import asyncio
import json
import pickle
import time
from typing import Any, Callable, Dict, List
from urllib.parse import parse_qsl, urlsplit

import pytest

import grantline
from grantline import HttpRequest, HttpResponse, SigningKey
from grantline import aio

ISSUER = "https://as.example"
ED_JWK = json.dumps({
    "kty": "OKP", "crv": "Ed25519", "kid": "k1",
    "d": "nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A", "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo",
})
ED_SECRET = "nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A"
HMAC_SECRET = "a-shared-secret-of-at-least-32-bytes!!"


def provider(**kwargs: Any) -> grantline.Provider:
    return grantline.Provider.custom(
        "oidc", issuer=ISSUER, authorization_endpoint=f"{ISSUER}/auth", token_endpoint=f"{ISSUER}/token",
        jwks_uri=f"{ISSUER}/jwks", userinfo_endpoint=f"{ISSUER}/me", end_session_endpoint=f"{ISSUER}/logout",
        id_token_algorithms=["EdDSA"], grants=["authorization_code", "client_credentials", "refresh_token"],
        **kwargs,
    )


def client(**kwargs: Any) -> grantline.Client:
    return grantline.Client(provider(), "app", client_secret="s3cret-value", redirect_uri="https://app/cb", **kwargs)


def jwks(*keys: SigningKey) -> str:
    return json.dumps({"keys": [json.loads(k.public_jwk() or "{}") for k in keys]})


def id_token(key: SigningKey, nonce: str, now: int, **claims: Any) -> str:
    body = {"iss": ISSUER, "sub": "alice", "aud": "app", "exp": now + 300, "iat": now, "nonce": nonce}
    body.update(claims)
    return key.sign(body, {"typ": "JWT"})


def token_answer(access: str, id_tok: str) -> HttpResponse:
    body = json.dumps({"access_token": access, "token_type": "Bearer", "expires_in": 300, "id_token": id_tok})
    return HttpResponse(200, {"content-type": "application/json"}, body.encode())


class Scripted:
    """A transport answering by path, recording what was asked."""

    def __init__(self, routes: Dict[str, Callable[[HttpRequest], HttpResponse]]) -> None:
        self.routes = routes
        self.paths: List[str] = []

    def send(self, request: HttpRequest) -> HttpResponse:
        path = urlsplit(request.url).path
        self.paths.append(path)
        return self.routes[path](request)


class AsyncScripted(Scripted):
    async def send(self, request: HttpRequest) -> HttpResponse:  # type: ignore[override]
        return Scripted.send(self, request)


# ------------------------------------------------------------------------ keys


def test_signing_key_round_trip_and_redaction() -> None:
    key = SigningKey.from_jwk(ED_JWK)
    assert (key.algorithm, key.kid) == ("EdDSA", "k1")
    public = json.loads(key.public_jwk() or "")
    assert "d" not in public and public["kid"] == "k1"
    token = key.sign({"hello": "world"}, {"typ": "JWT"})
    verified = grantline.Jwk.from_json(key.public_jwk() or "").verify(token, ["EdDSA"])
    assert verified.claims() == {"hello": "world"} and verified.header["typ"] == "JWT"
    assert repr(verified).startswith("VerifiedJws(") and "world" not in repr(verified)
    for shown in (repr(key), str(key), repr(key.with_kid("k2"))):
        assert ED_SECRET not in shown and "[redacted]" in shown
    with pytest.raises(TypeError):
        pickle.dumps(key)
    hmac = SigningKey.hmac(HMAC_SECRET)
    assert hmac.algorithm == "HS256" and hmac.public_jwk() is None and HMAC_SECRET not in repr(hmac)
    assert key.with_kid("k2").kid == "k2" and key.kid == "k1"  # immutable


@pytest.mark.parametrize("bad", ["", "{", "[]", '{"kty":"RSA"}', '{"kty":"oct","k":"c2hvcnQ"}', "x" * 2_000_000,
                                 json.dumps({"kty": "OKP", "crv": "Ed25519", "x": "AAAA", "d": ED_SECRET})])
def test_bad_keys_raise_invalid_key_without_key_material(bad: str) -> None:
    with pytest.raises(grantline.InvalidKeyError) as e:
        SigningKey.from_jwk(bad)
    assert e.value.kind == "invalid_key" and isinstance(e.value, grantline.ConfigurationError)
    assert ED_SECRET not in str(e.value) and ED_SECRET not in repr(e.value)
    with pytest.raises(grantline.InvalidKeyError):
        SigningKey.hmac(b"short")


def test_wrong_types_from_python_are_type_errors() -> None:
    key = SigningKey.from_jwk(ED_JWK)
    with pytest.raises(TypeError):
        key.sign(["not", "a", "dict"])  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        key.sign({"when": object()})
    with pytest.raises(TypeError):
        SigningKey.from_jwk(42)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        client().client_credentials_request(["a"], params={"resource": "x"})  # type: ignore[arg-type]
    with pytest.raises((TypeError, ValueError)):
        client().grant_request("urn:x", params=[("a",)])  # type: ignore[list-item]
    with pytest.raises(grantline.ConfigurationError):
        key.with_algorithm("none")
    with pytest.raises(grantline.ConfigurationError):
        grantline.JwkSet.from_json(jwks(key)).verify("a.b.c", ["HS999"])


def test_jws_errors_carry_the_problem_and_never_the_token() -> None:
    key = SigningKey.from_jwk(ED_JWK)
    keys = grantline.JwkSet.from_json(jwks(key))
    assert keys.keys == [{"kty": "OKP", "crv": "Ed25519", "kid": "k1", "alg": "EdDSA", "use": "sig"}]
    token = key.sign({"secret-claim": "do-not-print"})
    tampered = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")
    cases = {
        "bad_signature": tampered,
        "malformed": "not-a-jws",
        "too_large": "e" * (10 * 1024 * 1024),  # 10 MB
        "algorithm_not_accepted": token,
    }
    for problem, bad in cases.items():
        with pytest.raises(grantline.JwsError) as e:
            keys.verify(bad, ["RS256"] if problem == "algorithm_not_accepted" else ["EdDSA"])
        assert e.value.problem == problem and e.value.kind == "jws"
        assert bad[:40] not in str(e.value) and "do-not-print" not in repr(e.value)
        assert pickle.loads(pickle.dumps(e.value)).problem == problem


# ------------------------------------------------------------------------ OpenID Connect, sans-IO


def test_authorization_url_nonce_max_age_and_repeated_params() -> None:
    auth = client().authorization_url(["openid"], max_age=300, params=[("resource", "https://a"), ("resource", "https://b")])
    query = parse_qsl(urlsplit(auth.url).query)
    assert [v for k, v in query if k == "resource"] == ["https://a", "https://b"]
    nonce = auth.pending.nonce
    assert nonce is not None and ("nonce", nonce.secret()) in query and ("max_age", "300") in query
    assert nonce.secret() not in repr(auth.pending) and auth.pending.max_age == 300
    restored = pickle.loads(pickle.dumps(auth.pending))
    assert restored.nonce == nonce and restored.max_age == 300
    assert client().authorization_url(["profile"]).pending.nonce is None
    # A 64-byte seed (from before nonces) keeps the URLs it always made: no nonce (the vectors).
    assert client().authorization_url(["openid"], seed=bytes(64)).pending.nonce is None
    assert client().authorization_url(["openid"], seed=bytes(96)).pending.nonce is not None
    with pytest.raises(grantline.ConfigurationError):
        client().authorization_url(["openid"], seed=bytes(65))


def test_id_token_check_and_claims_never_print_the_nonce() -> None:
    key = SigningKey.from_jwk(ED_JWK)
    now = 1_700_000_000
    auth = client().authorization_url(["openid"], nonce="n-0S6_WzA2Mj")
    check = client().id_token_check(auth.pending, leeway=5)
    assert (check.issuer, check.client_id, check.algorithms, check.leeway) == (ISSUER, "app", ["EdDSA"], 5)
    assert "n-0S6_WzA2Mj" not in repr(check)
    verified = grantline.JwkSet.from_json(jwks(key)).verify(id_token(key, "n-0S6_WzA2Mj", now), check.algorithms)
    claims = check.validate(verified, now)
    assert (claims.sub, claims.aud, claims.algorithm) == ("alice", ["app"], "EdDSA")
    assert "n-0S6_WzA2Mj" not in repr(claims) and "alice" not in repr(claims)
    with pytest.raises(grantline.IdTokenError) as wrong:
        check.validate(grantline.JwkSet.from_json(jwks(key)).verify(id_token(key, "other", now), ["EdDSA"]), now)
    assert wrong.value.claim == "nonce" and "other" not in str(wrong.value)
    with pytest.raises(grantline.IdTokenError) as late:
        check.validate(verified, now + 400)
    assert late.value.claim == "exp"


def test_userinfo_and_end_session_sans_io() -> None:
    c = client()
    request = c.userinfo_request("at-123")
    assert request.method == "GET" and request.headers["authorization"] == "Bearer at-123"
    assert "at-123" not in repr(request) and "at-123" not in str(request)
    answer = grantline.UserInfo.from_response(HttpResponse(200, {"content-type": "application/json"},
                                                           b'{"sub":"alice","email":"a@x"}'), "alice")
    assert isinstance(answer, grantline.UserInfo) and answer.claims["email"] == "a@x"
    assert "a@x" not in repr(answer)
    signed = grantline.UserInfo.from_response(HttpResponse(200, {"content-type": "application/jwt"}, b"a.b.c"), "alice")
    assert signed == "a.b.c"
    url = c.end_session_url(id_token_hint="eyJ.x.y", post_logout_redirect_uri="https://app/bye", state="st",
                            params=[("x", "1"), ("x", "2")])
    assert url.startswith(f"{ISSUER}/logout?") and parse_qsl(urlsplit(url).query)[-2:] == [("x", "1"), ("x", "2")]
    with pytest.raises(grantline.ConfigurationError):
        c.end_session_url(params=[("client_id", "evil")])


# ------------------------------------------------------------------------ grants and JWT client auth


def test_extension_grants_and_params() -> None:
    c = client()
    body = parse_qsl(c.token_exchange_request("subj", "urn:ietf:params:oauth:token-type:access_token",
                                              resource=["https://a", "https://b"], audience=["x", "y"], now=0).body.decode())
    assert [v for k, v in body if k == "resource"] == ["https://a", "https://b"]
    assert [v for k, v in body if k == "audience"] == ["x", "y"]
    assert "subj" not in repr(c.token_exchange_request("subj", "t"))
    generic = parse_qsl(c.grant_request("urn:my:grant", ["a"], params=[("p", "1"), ("p", "2")]).body.decode())
    assert generic[0] == ("grant_type", "urn:my:grant") and [v for k, v in generic if k == "p"] == ["1", "2"]
    for refused in ("grant_type", "client_id", "client_assertion", "scope"):
        with pytest.raises(grantline.ConfigurationError):
            c.client_credentials_request(params=[(refused, "x")])
    bearer = parse_qsl(c.jwt_bearer_request("a.b.c", ["s"]).body.decode())
    assert ("grant_type", "urn:ietf:params:oauth:grant-type:jwt-bearer") in bearer and ("assertion", "a.b.c") in bearer


def test_private_key_jwt_assertion() -> None:
    key = SigningKey.from_jwk(ED_JWK)
    c = grantline.Client(provider(), "app", signing_key=key, auth_method="private_key_jwt")
    assert c.auth_method == "private_key_jwt" and c.signing_key is not None and c.signing_key.kid == "k1"
    request = c.client_credentials_request(["read"], now=1_700_000_000)
    assertion = dict(parse_qsl(request.body.decode()))["client_assertion"]
    assert assertion not in str(request) and assertion not in repr(request)
    claims = grantline.Jwk.from_json(key.public_jwk() or "").verify(assertion, ["EdDSA"]).claims()
    assert (claims["iss"], claims["sub"], claims["aud"], claims["iat"], claims["exp"]) == (
        "app", "app", ISSUER, 1_700_000_000, 1_700_000_060)
    second = dict(parse_qsl(c.client_credentials_request(["read"]).body.decode()))["client_assertion"]
    assert second != assertion  # a fresh jti
    with pytest.raises(grantline.InvalidKeyError):  # client_secret_jwt wants 32 bytes
        grantline.Client(provider(), "app", client_secret="short", auth_method="client_secret_jwt").client_credentials_request()


def test_presets() -> None:
    assert grantline.Provider.google().jwks_uri and grantline.Provider.preset("github").name
    assert grantline.Provider.entra("contoso.onmicrosoft.com").issuer is None  # issuers name the tenant id
    assert grantline.Provider.entra("9188040d-6c67-4c5b-b112-36a304b66dad").issuer
    assert grantline.Provider.keycloak("https://sso.example.com", "main").end_session_endpoint
    assert grantline.Provider.okta("dev-1.okta.com", "default").issuer
    assert grantline.Provider.auth0("t.eu.auth0.com", "https://api").assertion_audience in ("issuer", "token_endpoint")
    with pytest.raises(grantline.GrantlineError):
        grantline.Provider.entra("evil/../tenant?x")


# ------------------------------------------------------------------------ high level, both colours


def routes(key: SigningKey, nonce_of: Callable[[], str], now: int) -> Dict[str, Callable[[HttpRequest], HttpResponse]]:
    return {
        "/token": lambda r: token_answer("at-1", id_token(key, nonce_of(), now)),
        "/jwks": lambda r: HttpResponse(200, {"content-type": "application/json"}, jwks(key).encode()),
        "/me": lambda r: HttpResponse(200, {"content-type": "application/json"}, b'{"sub":"alice","name":"A"}'),
    }


@pytest.mark.parametrize("colour", ["blocking", "asyncio"])
def test_high_level_login_validate_userinfo(colour: str) -> None:
    key = SigningKey.from_jwk(ED_JWK)
    now = int(time.time())
    c = client()
    auth = c.authorization_url(["openid"])
    nonce = auth.pending.nonce
    assert nonce is not None
    transport = (Scripted if colour == "blocking" else AsyncScripted)(routes(key, nonce.secret, now))
    grant = grantline.CodeGrant("code-1", auth.pending.code_verifier, "https://app/cb")

    if colour == "blocking":
        tokens = grantline.exchange_code(c, grant, transport=transport)
        claims = grantline.validate_id_token(c, tokens, auth.pending, transport=transport)
        again = grantline.validate_id_token(c, tokens, auth.pending, transport=transport)
        info = grantline.userinfo(c, tokens, claims, transport=transport)
    else:
        async def go() -> Any:
            t = await aio.exchange_code(c, grant, transport=transport)  # type: ignore[arg-type]
            cl = await aio.validate_id_token(c, t, auth.pending, transport=transport)  # type: ignore[arg-type]
            ag = await aio.validate_id_token(c, t, auth.pending, transport=transport)  # type: ignore[arg-type]
            inf = await aio.userinfo(c, t, cl, transport=transport)  # type: ignore[arg-type]
            return t, cl, ag, inf
        tokens, claims, again, info = asyncio.run(go())
    assert claims.sub == again.sub == info.sub == "alice"
    assert transport.paths == ["/token", "/jwks", "/me"]  # one JWKS fetch: the client's cache


def test_high_level_without_an_id_token_or_a_jwks_uri() -> None:
    c = client()
    auth = c.authorization_url(["openid"])
    plain = grantline.TokenSet("at")
    with pytest.raises(grantline.IdTokenError) as no_id_token:
        grantline.validate_id_token(c, plain, auth.pending, transport=Scripted({}))
    assert no_id_token.value.claim == "id_token"
    assert grantline.validate_refreshed_id_token(c, plain, None, transport=Scripted({})) is None  # type: ignore[arg-type]
    bare = grantline.Client(grantline.Provider.custom("x", issuer=ISSUER, token_endpoint=f"{ISSUER}/token"), "app")
    with pytest.raises(grantline.ConfigurationError) as missing:
        bare.jwks_cache
    assert missing.value.endpoint == "jwks"


def test_claims_are_stored_and_restored_for_the_refresh_check() -> None:
    key = SigningKey.from_jwk(ED_JWK)
    now = 1_700_000_000
    c = client()
    auth = c.authorization_url(["openid"], nonce="n-stored")
    keys = grantline.JwkSet.from_json(jwks(key))
    first = c.id_token_check(auth.pending).validate(keys.verify(id_token(key, "n-stored", now), ["EdDSA"]), now)
    stored = first.to_json()
    restored = grantline.IdTokenClaims.from_json(stored)
    assert (restored.sub, restored.aud, restored.algorithm) == ("alice", ["app"], "EdDSA")
    refresh = c.refresh_id_token_check()
    later = keys.verify(id_token(key, "n-stored", now + 60, iat=now + 60), ["EdDSA"])
    assert refresh.validate_refreshed(later, restored, now + 60).sub == "alice"
    other_user = keys.verify(id_token(key, "n-stored", now + 60, sub="mallory"), ["EdDSA"])
    with pytest.raises(grantline.IdTokenError) as wrong:
        refresh.validate_refreshed(other_user, restored, now + 60)
    assert wrong.value.claim == "sub"
    with pytest.raises(grantline.ConfigurationError) as bad:
        grantline.IdTokenClaims.from_json('{"alg":"EdDSA","claims":"n-stored"}')
    assert "n-stored" not in str(bad.value)
