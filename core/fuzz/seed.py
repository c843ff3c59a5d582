#!/usr/bin/env python3
"""Seeds the fuzz corpora (core/fuzz/corpus/<target>/) from the shared vectors (tests/vectors/*.json).

Each target reads its input in its own byte layout (see the doc comment at the top of each
fuzz_targets/*.rs); this script writes the vectors' response bodies, callback URLs, discovery
documents, WWW-Authenticate values, token sets and pending authorizations in those layouts.
Files are named by the SHA-1 of their content, so running it again adds only what is new.

The status and content-type tables are read from src/lib.rs, so the two never drift.

    seed.py VECTORS_DIR CORPUS_DIR [TARGET...]
"""

import base64
import hashlib
import json
import pathlib
import re
import sys
import urllib.parse

HERE = pathlib.Path(__file__).resolve().parent
MAX_SEED = 32 * 1024  # bigger bodies (the 1 MiB cap vectors) are cut: libFuzzer's max_len follows the corpus


def tables():
    lib = (HERE / "src" / "lib.rs").read_text()
    statuses = re.search(r"pub const STATUSES: \[u16; \d+\] = \[(.*?)\];", lib, re.S).group(1)
    statuses = [int(s) for s in re.findall(r"\d+", statuses)]
    cts = re.search(r"pub const CONTENT_TYPES: \[&str; \d+\] = \[(.*?)\];", lib, re.S).group(1)
    cts = re.findall(r'"([^"]*)"', cts)
    return statuses, cts


STATUSES, CONTENT_TYPES = tables()


def status_byte(status):
    if status in STATUSES:
        return STATUSES.index(status)
    if 100 <= status <= 610 and status % 2 == 0 and (status - 100) // 2 >= len(STATUSES):
        return (status - 100) // 2
    return 0


def ct_byte(ct):
    if ct is None:
        return 0
    low = ct.lower()
    for i, known in enumerate(CONTENT_TYPES):
        if known and known.lower() == low:
            return i
    if "json" in low:
        return 1
    if "form" in low:
        return 3
    if "html" in low:
        return 4
    if "xml" in low:
        return 14
    return 5


def header_values(resp, name):
    headers = resp.get("headers") or {}
    v = headers.get(name)
    if v is None:
        return []
    return v if isinstance(v, list) else [v]


def body_bytes(resp):
    if "body" in resp:
        return resp["body"].encode()
    if "body_base64" in resp:
        return base64.b64decode(resp["body_base64"])
    if "body_repeat" in resp:
        r = resp["body_repeat"]
        text = r.get("prefix", "") + r["text"] * min(r["count"], 1000) + r.get("suffix", "")
        return text.encode()
    return b""


def walk(node, found):
    """Every dict in the vector, depth first: responses, pendings, providers..."""
    if isinstance(node, dict):
        found.append(node)
        for v in node.values():
            walk(v, found)
    elif isinstance(node, list):
        for v in node:
            walk(v, found)


def is_response(d):
    return "status" in d and any(k in d for k in ("body", "body_base64", "body_repeat"))


class Corpus:
    def __init__(self, root, targets):
        self.root = pathlib.Path(root)
        self.targets = set(targets)
        self.written = {t: 0 for t in targets}

    def add(self, target, data):
        if target not in self.targets or len(data) > MAX_SEED:
            return
        d = self.root / target
        d.mkdir(parents=True, exist_ok=True)
        f = d / hashlib.sha1(data).hexdigest()
        if not f.exists():
            f.write_bytes(data)
            self.written[target] += 1


def seed(vectors_dir, corpus, targets):
    c = Corpus(corpus, targets)
    files = sorted(pathlib.Path(vectors_dir).glob("*.json"))
    urls, jwts = set(), set()
    for path in files:
        try:
            doc = json.loads(path.read_text())
        except (OSError, ValueError) as e:
            print(f"seed: skipping {path.name}: {e}", file=sys.stderr)
            continue
        for v in doc.get("vectors", []):
            kind = v.get("kind", "")
            nodes = []
            walk(v, nodes)
            for d in nodes:
                if is_response(d):
                    resp_seeds(c, kind, d, jwts)
                for key in ("url", "callback", "input", "authorization_endpoint", "token_endpoint",
                            "introspection_endpoint", "revocation_endpoint",
                            "device_authorization_endpoint", "issuer", "verification_uri"):
                    if isinstance(d.get(key), str):
                        urls.add(d[key])
                if isinstance(d.get("metadata"), str):
                    metadata_seed(c, d["metadata"])
                if isinstance(d.get("access_token"), str) and d["access_token"].count(".") == 2:
                    jwts.add(d["access_token"])
            if kind == "callback":
                callback_seed(c, v)
            if kind == "discovery":
                discovery_seed(c, v)
            if kind == "token_response" and isinstance(v.get("expect_token_set"), dict):
                t = dict(v["expect_token_set"])
                t.pop("extra_names", None)
                t["issued_at"] = v.get("now", 0)
                c.add("restore", b"\x00" + json.dumps({k: x for k, x in t.items() if x is not None}).encode())
            if kind == "session" and isinstance(v.get("tokens"), dict):
                c.add("restore", b"\x00" + json.dumps(v["tokens"]).encode())
            if isinstance(v.get("pending"), dict):
                c.add("restore", b"\x01" + json.dumps(v["pending"]).encode())
            if isinstance(v.get("expect_pending"), dict):
                c.add("restore", b"\x01" + json.dumps(v["expect_pending"]).encode())
    for u in urls:
        c.add("redact_url", b"\x80\x00" + u.encode())
        c.add("discovery", b"\x00\x00\x01" + u.encode() + b"\n")
    for u in (x for x in urls if "://" in x):
        # The same URL in the planting layout: parts split at NUL.
        p = urllib.parse.urlsplit(u)
        parts = ["", p.netloc.split("@")[-1], p.path, p.query, "", p.fragment, ""]
        c.add("redact_url", b"\x0d\x00" + "\x00".join(parts).encode())
    for t in jwts:
        c.add("jwt", b"\x00" + t.encode())
        parts = t.split(".")
        try:
            payload = base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4))
            c.add("jwt", b"\x01" + payload)
        except ValueError:
            pass
    # A few hand-written starting points for what the vectors do not cover.
    for payload in (b'{"exp":1750241616}', b'{"exp":1.5e9,"sub":"x"}', b'{"exp":-1}', b'{"exp":"1"}'):
        c.add("jwt", b"\x01" + payload)
    c.add("restore", b"\x01" + json.dumps({"state": "s" * 43, "code_verifier": "v" * 43,
                                           "redirect_uri": "https://app.example/cb",
                                           "issuer": "https://as.example", "require_iss": True}).encode())
    c.add("callback", b"\x00\x07" + b"https://app.example/cb?code=abc&state=$S")
    c.add("callback", b"\x01\x07" + b"?code=abc&state=$S&iss=$I")
    c.add("callback", b"\x04\x07" + b"https://app.example/cb?code=P66")
    c.add("www_authenticate", b"\x00" + b'Bearer realm="api", error="invalid_token", error_description="expired"')
    c.add("discovery", b"\x00\x00\x01https://as.example\n"
          + b'{"issuer":"$ISSUER","token_endpoint":"https://as.example/token"}')
    c.add("error_excerpt", bytes(8) + b"<html><body><h1>502 Bad Gateway</h1></body></html>")
    # jose: the RFC 7515 A.1-A.3 and RFC 8037 A.4 tokens (their keys are in the target), headers,
    # and the RFC 7517 A.1 key set.
    for token in JOSE_TOKENS:
        c.add("jose", b"\x00" + token.encode())
    for header in (b'{"alg":"HS256"}', b'{"alg":"none"}', b'{"alg":"HS256","crit":["exp"],"exp":1}',
                   b'{"alg":"HS256","b64":false,"crit":["b64"]}', b'{"alg":"RS256","kid":"k"}'):
        c.add("jose", b"\x01" + header)
    c.add("jose", b"\x02" + JOSE_JWKS.encode())
    c.add("jose", b"\x03" + JOSE_JWKS.encode().split(b"[", 1)[1].rsplit(b"]", 1)[0].split(b"},", 1)[0] + b"}")
    c.add("jose", b"\x05" + b'{"sub":"x"}')
    return c.written


JOSE_TOKENS = (
    "eyJ0eXAiOiJKV1QiLA0KICJhbGciOiJIUzI1NiJ9.eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ.dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk",
    "eyJhbGciOiJFUzI1NiJ9.eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ.DtEhU3ljbEg8L38VWAfUAqOyKAM6-Xx-F4GawxaepmXFCgfTjDxw5djxLa8ISlSApmWQxfKTUJqPP3-Kg6NU1Q",
    "eyJhbGciOiJFZERTQSJ9.RXhhbXBsZSBvZiBFZDI1NTE5IHNpZ25pbmc.hgyY0il_MGCjP0JzlnLWG1PPOt7-09PGcvMg3AIbQR6dWbhijcNR4ki4iylGjg5BhVsPt9g7sVvpAr_MuM0KAg",
)
JOSE_JWKS = ('{"keys":[{"kty":"EC","crv":"P-256","x":"MKBCTNIcKUSDii11ySs3526iDZ8AiTo7Tu6KPAqv7D4",'
             '"y":"4Etl6SRW2YiLUrN5vfvVHuhp7x8PxltmWWlbbM4IFyM","use":"enc","kid":"1"},'
             '{"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}]}')


def resp_seeds(c, kind, resp, jwts):
    status = resp["status"]
    body = body_bytes(resp)
    cts = header_values(resp, "content-type")
    s, ct = status_byte(status), ct_byte(cts[0] if cts else None)
    c.add("token_response", bytes([s, ct, 0]) + body)
    c.add("introspection", bytes([s, ct]) + body)
    c.add("device", bytes([s, ct, 5, 0]) + body)
    c.add("session", body)
    if kind == "introspection_response":
        c.add("token_response", bytes([s, ct, 4]) + body)
    stripped = body.lstrip()
    if not stripped.startswith((b"{", b"[")):
        # Excerpt seeds: the planted secret first, in a syntax chosen by the body's hash.
        h = hashlib.sha1(body).digest()
        c.add("error_excerpt", bytes([h[0], h[1], h[2], h[3], ((ct & 0x1f) << 3) | 0, 0, 0, 0]) + body)
    for value in header_values(resp, "www-authenticate"):
        sb = 0 if status == 401 else 2 * status_byte(status) + 1
        c.add("www_authenticate", bytes([sb % 256]) + value.encode())
    wa = header_values(resp, "www-authenticate")
    if len(wa) > 1:
        c.add("www_authenticate", b"\x00" + b"\x00".join(v.encode() for v in wa))
    try:
        o = json.loads(body)
        if isinstance(o, dict) and isinstance(o.get("access_token"), str) and o["access_token"].count(".") == 2:
            jwts.add(o["access_token"])
    except ValueError:
        pass


def metadata_seed(c, metadata):
    try:
        issuer = json.loads(metadata).get("issuer")
    except (ValueError, AttributeError):
        issuer = None
    if isinstance(issuer, str) and issuer:
        c.add("discovery", b"\x00\x00\x01" + issuer.encode() + b"\n"
              + metadata.replace(issuer, "$ISSUER").encode())
    c.add("discovery", b"\x00\x00\x01https://as.example\n" + metadata.encode())


def discovery_seed(c, v):
    inp = v.get("input", "")
    responses = v.get("responses") or []
    if not responses:
        c.add("discovery", b"\x00\x00\x01" + inp.encode() + b"\n")
        return
    last = responses[-1]
    body = body_bytes(last).decode("utf-8", "replace")
    issuer = v.get("expect_issuer")
    if isinstance(issuer, str) and issuer:
        body = body.replace(issuer, "$ISSUER")
    flags = 1 if len(responses) > 1 and responses[0].get("status") == 404 else 0
    cts = header_values(last, "content-type")
    c.add("discovery", bytes([flags, status_byte(last.get("status", 200)), ct_byte(cts[0] if cts else None)])
          + inp.encode() + b"\n" + body.encode())


def callback_seed(c, v):
    cb = v.get("callback")
    if not isinstance(cb, str):
        return
    pending = v.get("pending") or {}
    state = pending.get("state")
    issuer = pending.get("issuer")
    if v.get("unsolicited"):
        setup = 4
    elif issuer and pending.get("require_iss"):
        setup = 1
    elif issuer:
        setup = 2
    else:
        setup = 0
    if state:
        cb = cb.replace(urllib.parse.quote(state, safe=""), "$S").replace(state, "$S")
    if issuer:
        cb = cb.replace(urllib.parse.quote(issuer, safe=""), "$I").replace(issuer, "$I")
    c.add("callback", bytes([setup, 7]) + cb.encode())
    c.add("callback", bytes([3, 7]) + cb.encode())


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    vectors, corpus, *targets = sys.argv[1:]
    if not targets:
        targets = sorted(p.stem for p in (HERE / "fuzz_targets").glob("*.rs"))
    written = seed(vectors, corpus, targets)
    for t in targets:
        n = len(list((pathlib.Path(corpus) / t).glob("*"))) if (pathlib.Path(corpus) / t).is_dir() else 0
        print(f"seed: {t}: {written[t]} new seed(s), {n} file(s) in the corpus")


if __name__ == "__main__":
    main()
