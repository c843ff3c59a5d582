"""A scripted browser for the interop tests: urllib with a cookie jar, redirects followed by
hand, to play the user's part (log in, consent, approve a device code) against the local test
servers, which approve at once. Not a transport: token requests go through grantline's."""

from __future__ import annotations

import html
import http.cookiejar
import re
import urllib.error
import urllib.parse
import urllib.request
from typing import Optional, Tuple

from grantline.transports import _NoRedirect

MAX_HOPS = 20


class Browser:
    def __init__(self) -> None:
        self.jar = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.jar), _NoRedirect())

    def _open(self, request: urllib.request.Request) -> Tuple[int, Optional[str], bytes]:
        try:
            resp = self.opener.open(request, timeout=30)
        except urllib.error.HTTPError as e:
            resp = e
        with resp:
            return resp.status or resp.code, resp.headers.get("location"), resp.read()

    def get(self, url: str) -> Tuple[int, Optional[str], bytes]:
        return self._open(urllib.request.Request(url))

    def post_form(self, url: str, fields: dict[str, str]) -> Tuple[int, Optional[str], bytes]:
        data = urllib.parse.urlencode(fields).encode()
        return self._open(urllib.request.Request(url, data=data, method="POST"))

    def follow(self, url: str, answer: Tuple[int, Optional[str], bytes], stop_at: Optional[str]) -> Tuple[str, bytes]:
        """Follows redirects from ``answer`` (received for ``url``) until one points at
        ``stop_at`` (returned as ``("stopped", url)`` in the first slot) or a page comes."""
        for _ in range(MAX_HOPS):
            status, location, body = answer
            if not (300 <= status < 400 and location):
                return url, body
            nxt = urllib.parse.urljoin(url, location)
            if stop_at is not None and nxt.startswith(stop_at):
                return "stopped", nxt.encode()
            url, answer = nxt, self.get(nxt)
        raise AssertionError(f"more than {MAX_HOPS} redirects")

    def authorize(self, url: str, redirect_uri: str, fetch_callback: bool = False) -> str:
        """GET the authorization URL, follow login and consent to the redirect URI; return the
        callback URL (and, with ``fetch_callback``, GET it, as a real browser would)."""
        where, what = self.follow(url, self.get(url), redirect_uri)
        assert where == "stopped", f"the authorization ended on a page at {where}: {what[:200]!r}"
        callback = what.decode()
        if fetch_callback:
            self.get(callback)
        return callback

    def approve_device(self, verification_uri: str, verification_uri_complete: str, user_code: str) -> None:
        """Opens ``verification_uri_complete``, confirms the code, follows to the end."""
        _, page = self.follow(verification_uri_complete, self.get(verification_uri_complete), None)
        text = page.decode("utf-8", "replace")
        xsrf = form_input(text, "xsrf")
        code = form_input(text, "user_code")
        assert xsrf and code, "the confirm page has an xsrf field and the user code"
        assert code.replace("-", "") == user_code.replace("-", "")
        answer = self.post_form(verification_uri, {"xsrf": xsrf, "user_code": code, "confirm": "yes"})
        where, _ = self.follow(verification_uri, answer, None)
        assert where != "stopped"


def form_input(page: str, name: str) -> Optional[str]:
    for tag in re.findall(r"<input[^>]*>", page):
        if re.search(r"""\sname=["']%s["']""" % re.escape(name), tag):
            m = re.search(r"""\svalue=(["'])(.*?)\1""", tag)
            return html.unescape(m.group(2)) if m else None
    return None
