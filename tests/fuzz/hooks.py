"""Schemathesis hooks for the fuzz runs (loaded with SCHEMATHESIS_HOOKS=tests.fuzz.hooks).

Two checks of our own on top of schemathesis' built-in ones:

* every error response, whatever caused it, is JSON of the shape docs/api.md#errors promises,
  ``{"error": code, "message": text, ...}``; and a 503 always says when to retry;
* a request the schema allows is refused only for the reasons schemathesis.toml declares, each with
  its own code: 400 for a ``min_index`` too far ahead, 412 for a stale ``If-Match``, 421 for a write
  a follower was asked not to forward (``?redirect=true``), 422 for a reused ``Idempotency-Key``. A
  schema-valid request refused for anything else is a contract the server does not keep.
"""

from __future__ import annotations

import json

import schemathesis

# Status -> (error code, field) a schema-valid request may be refused with; None: any field.
DECLARED = {
    400: ("validation_error", "min_index"),
    412: ("precondition_failed", None),
    421: ("not_leader", None),
    422: ("idempotency_key_reused", None),
}


def _header(response, name: str) -> str:
    values = response.headers.get(name.lower()) or [""]  # schemathesis keeps header names lower case
    return values[0]


def _json(response):
    try:
        return json.loads(response.content)
    except ValueError:
        return None


@schemathesis.check
def errors_are_json_with_error_and_message(ctx, response, case) -> None:
    status = response.status_code
    if status < 400:
        return
    content_type = _header(response, "Content-Type")
    assert content_type.split(";")[0].strip() == "application/json", (
        f"a {status} came as {content_type or 'no content type'}, not JSON"
    )
    body = _json(response)
    assert isinstance(body, dict), f"a {status} body is not a JSON object: {response.content[:200]!r}"
    assert isinstance(body.get("error"), str) and body["error"], f"no error code: {body!r:.200}"
    assert isinstance(body.get("message"), str) and body["message"], f"no message: {body!r:.200}"
    if status == 503:
        assert _header(response, "Retry-After").isdigit(), f"a 503 without Retry-After: {body!r:.200}"


@schemathesis.check
def valid_requests_are_refused_only_for_declared_reasons(ctx, response, case) -> None:
    meta = case.meta
    if meta is None or not meta.generation.mode.is_positive or response.status_code not in DECLARED:
        return
    code, field = DECLARED[response.status_code]
    body = _json(response) or {}
    assert body.get("error") == code, f"a schema-valid request refused {response.status_code}: {body!r:.300}"
    if field is not None:
        assert body.get("field") == field, (
            f"a schema-valid request refused for {body.get('field')!r}: {body!r:.300}"
        )
