"""Public machine-readable credentials and the key set that verifies them.

- ``/certificates/<code>/credential.json``: the certificate as a signed Open Badges 3.0
  credential, for anyone holding the code, like the verify page, and sharing its rate limit
  (LMS_VERIFY_RATE_LIMIT per client address: one budget for every look-up by code).
  Unknown code: 404. Revoked, or superseded by a reissue: 410 Gone with a small JSON status
  and the verify page's address, not the credential: a withdrawn certificate is not handed
  out again as a signed file that would verify offline. Expired: 200, the credential's
  ``validUntil`` says it.
- ``/.well-known/lms-keys.json``: the public keys (JWKS), current and retired.
"""
from __future__ import annotations

import hashlib
import json

from flask import Response, current_app, request

from lms.certificates import services
from lms.certificates.credentials import credential_for, iso_utc, verify_url
from lms.certificates.keys import key_ring
from lms.certificates.views import bp
from lms.certificates.views.public import VERIFY_SCOPE, verify_rate_limit
from lms.db import db
from lms.extensions import limiter

JSON_TYPE = "application/json"


def _json(payload: object, status: int = 200) -> Response:
    body = json.dumps(payload, ensure_ascii=False, indent=2).encode("utf-8")
    return Response(body, status=status, mimetype=JSON_TYPE)


@bp.route("/certificates/<code>/credential.json")
@limiter.shared_limit(verify_rate_limit, scope=VERIFY_SCOPE)
def credential(code: str):
    certificate = services.by_code(db.session, code)
    if certificate is None:
        response = _json({"status": "unknown"}, 404)
    elif (status := services.status_of(certificate)) in (services.REVOKED, services.SUPERSEDED):
        payload: dict[str, str] = {"status": status}
        if certificate.revoked_at is not None:
            payload["revokedAt"] = iso_utc(certificate.revoked_at)
        payload["verify"] = verify_url(current_app.config["BASE_URL"], certificate.code)
        response = _json(payload, 410)
    else:
        response = _json(credential_for(certificate, current_app.config["BASE_URL"]))
        response.headers["Content-Disposition"] = (
            f'inline; filename="{certificate.serial}.credential.json"')
        # Personal data: browsers may keep it, shared caches may not; revalidate each time
        # (a 304 is cheap) so that a revocation shows at once.
        response.headers["Cache-Control"] = "private, no-cache"
        response.set_etag(hashlib.sha256(response.get_data()).hexdigest())
        return response.make_conditional(request)
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.route("/.well-known/lms-keys.json")
def keys():
    response = _json(key_ring().jwks())
    response.headers["Cache-Control"] = "public, max-age=3600"
    response.headers["Access-Control-Allow-Origin"] = "*"
    response.set_etag(hashlib.sha256(response.get_data()).hexdigest())
    return response.make_conditional(request)
