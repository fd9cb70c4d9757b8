"""Schemathesis hooks for the fuzz runs (loaded with SCHEMATHESIS_HOOKS=tests.fuzz.hooks).

One check of our own on top of schemathesis' built-in ones: every error response, whatever caused it,
is JSON of the shape SPEC §3 promises, ``{"error": code, "message": text, ...}``; and a 503, the one
server-side status the API may answer (overloaded, no leader, not caught up), always says when to retry.
"""

from __future__ import annotations

import json

import schemathesis


def _header(response, name: str) -> str:
    values = response.headers.get(name.lower()) or [""]  # schemathesis keeps header names lower case
    return values[0]


@schemathesis.check
def errors_are_json_with_error_and_message(ctx, response, case) -> None:
    status = response.status_code
    if status < 400:
        return
    content_type = _header(response, "Content-Type")
    assert content_type.split(";")[0].strip() == "application/json", (
        f"a {status} came as {content_type or 'no content type'}, not JSON"
    )
    try:
        body = json.loads(response.content)
    except ValueError as exc:
        raise AssertionError(f"a {status} body is not JSON: {exc}") from None
    assert isinstance(body, dict), f"a {status} body is not an object: {body!r:.200}"
    assert isinstance(body.get("error"), str) and body["error"], f"no error code: {body!r:.200}"
    assert isinstance(body.get("message"), str) and body["message"], f"no message: {body!r:.200}"
    if status == 503:
        assert _header(response, "Retry-After").isdigit(), f"a 503 without Retry-After: {body!r:.200}"
