"""Property-based tests from the OpenAPI document: no 5xx, every answer as documented.

Schemathesis generates requests for every operation (valid and edge-case values) and
checks that the app never fails with a 5xx, that status codes, content types, headers
and bodies match the schema. Bounded: a few dozen examples per operation.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import schemathesis
from hypothesis import HealthCheck, settings

from tests.api.conftest import SECRET, make_jwt
from ttsqueue.api.app import create_app
from ttsqueue.settings import Settings

_DATA = Path(tempfile.gettempdir()) / "ttsqueue-schema-test"
app = create_app(
    Settings(
        _env_file=None,  # type: ignore[call-arg]
        database_url="memory://",
        data_dir=_DATA,
        jwt_secret=SECRET,
        default_format="mp3",
        max_body_bytes=256 * 1024,
        submissions_per_minute=1_000_000,  # let valid submissions through (201s)
        max_active_jobs=1_000_000,
    )
)
schema = schemathesis.openapi.from_asgi("/openapi.json", app)
USER = make_jwt("schema-user", exp_in=24 * 3600)
ADMIN = make_jwt("schema-admin", role="service_role", exp_in=24 * 3600)

CHECKS = [
    schemathesis.checks.not_a_server_error,
    schemathesis.checks.status_code_conformance,
    schemathesis.checks.content_type_conformance,
    schemathesis.checks.response_schema_conformance,
    schemathesis.checks.response_headers_conformance,
]


@schema.parametrize()
@settings(
    max_examples=20,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=True,
)
def test_api_matches_its_schema(case: schemathesis.Case) -> None:
    # admins for their own routes (otherwise only 403s), a plain user everywhere else
    admin = case.operation.method.upper() == "PATCH" or "/admin/" in case.operation.path
    token = ADMIN if admin else USER
    case.call_and_validate(headers={"Authorization": f"Bearer {token}"}, checks=CHECKS)
