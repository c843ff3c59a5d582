"""grantline for your own ``requests`` sessions: :class:`TokenAuth`, a ``requests.auth.AuthBase``.

::

    session = grantline.TokenSession.client_credentials(client, ["read"])
    api = requests.Session()
    api.auth = grantline.requests.TokenAuth(session)
    api.get("https://api.example.com/me")

Importing this module needs ``requests`` (``pip install 'grantline[requests]'``);
``import grantline`` does not.
"""

from __future__ import annotations

import functools
from typing import Any, List

import requests
from requests.cookies import extract_cookies_to_jar
from requests.exceptions import UnrewindableBodyError
from requests.utils import rewind_body

from . import _log
from ._grantline import HttpResponse, Secret, authorization_header, needs_renewal
from ._session import AsyncTokenSession, TokenSession

__all__ = ["TokenAuth"]


def _challenges(response: requests.Response) -> List[str]:
    """Every ``WWW-Authenticate`` value, one per header line when urllib3 kept them apart."""
    raw = getattr(response.raw, "headers", None)
    getlist = getattr(raw, "getlist", None)
    if getlist is not None:
        return list(getlist("www-authenticate"))
    value = response.headers.get("www-authenticate")
    return [] if value is None else [value]


def _rewound(request: requests.PreparedRequest) -> bool:
    """Whether ``request`` can be sent again: a body held in memory, or a file ``requests``
    can seek back to where it started; not a generator."""
    body = request.body
    if body is None or isinstance(body, (bytes, str)):
        return True
    try:
        rewind_body(request)
    except UnrewindableBodyError:
        return False
    return True


class TokenAuth(requests.auth.AuthBase):
    """``requests`` authentication by a :class:`grantline.TokenSession`: every request gets
    ``Authorization: Bearer`` with the session's token (renewed ahead of expiry, one renewal
    however many threads ask). When the API answers 401 with ``invalid_token`` (or a 401 with
    no error code: the core's ``needs_renewal``), a response hook rejects the token, renews it
    once and sends the request again, once, through the same adapter (as ``requests``' own
    digest authentication does: the refused 401 is read, closed, and kept in
    ``response.history``); any other answer, or a second 401, is returned as it came.

    The session's own transport sends its token requests; the API requests go through your
    ``requests.Session``, with its settings (retries, proxies, TLS, cookies). The header is
    never added back to a request that lost it (``requests`` drops it on a redirect to another
    host).

    Bodies stream untouched: with ``stream=True`` the API's body is left for you to read, and
    a request body is never buffered. A request body ``requests`` cannot send again (a
    generator, or a file it cannot seek back) is not retried: on a 401 its token is still
    rejected (the next request gets a renewed one) and the 401 is returned.
    """

    def __init__(self, session: TokenSession) -> None:
        if isinstance(session, AsyncTokenSession) or not isinstance(session, TokenSession):
            raise TypeError(f"TokenAuth needs a TokenSession (requests is blocking), not {type(session).__name__}")
        #: The session the tokens come from.
        self.session = session

    def __call__(self, r: requests.PreparedRequest) -> requests.PreparedRequest:
        token = self.session.token()
        header = authorization_header(token)
        r.headers["Authorization"] = header
        r.register_hook("response", functools.partial(self._on_response, token, header))
        return r

    def _on_response(self, token: Secret, header: str, r: requests.Response, **kwargs: Any) -> requests.Response:
        """The response hook: one renewal and one retry when the core says the token needs it."""
        sent = r.request
        if sent.headers.get("Authorization") != header:
            return r  # redirected to another host, which never saw the token
        if not needs_renewal(HttpResponse(r.status_code, [("www-authenticate", v) for v in _challenges(r)])):
            return r
        self.session.reject(token)
        retry = sent.copy()
        if not _rewound(retry):
            _log.not_retried(retry.method or "")
            return r
        fresh = authorization_header(self.session.token())
        r.content  # read, to hand the connection back for the retry (as digest auth does)
        r.close()
        jar = retry._cookies  # the request's cookies, and those the 401 set
        if jar is not None:
            extract_cookies_to_jar(jar, sent, r.raw)
            retry.prepare_cookies(jar)
        retry.headers["Authorization"] = fresh
        again: requests.Response = r.connection.send(retry, **kwargs)
        again.history.append(r)
        again.request = retry
        return again

    def __repr__(self) -> str:
        return f"<grantline.requests.TokenAuth {self.session!r}>"
