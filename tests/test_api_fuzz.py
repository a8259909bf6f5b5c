"""Property-based fuzzing of the admin API from its own OpenAPI document (schemathesis).

Every generated request must get a documented status (never a 5xx), with a body
that matches the documented schema. Bounded so the whole run takes seconds.
"""

from __future__ import annotations

import pytest
import schemathesis
from api_support import ADMIN, AUTH
from hypothesis import HealthCheck, settings
from schemathesis import checks

pytestmark = pytest.mark.config(admin=ADMIN)  # every core here has the admin token

MAX_EXAMPLES = 60
# The routes this run covers; each resource adds its own prefix as it joins the fuzz run.
FUZZED = (
    r"^/api/(feeds/\{feed\}/(posts|media|stats)|posts/|openapi\.json|webhooks|deliveries/"
    r"|subscribers)"
)
CHECKS = [
    checks.not_a_server_error,
    checks.status_code_conformance,
    checks.content_type_conformance,
    checks.response_headers_conformance,
    checks.response_schema_conformance,
]


@pytest.fixture
def api_schema(app, blog, sync):
    """The document as the app serves it, over a feed with a post from the folder and the API."""
    blog.post("from-a-file", title="From a file", tags=["sea"])
    sync()
    client = app.test_client()
    client.post("/api/feeds/news/posts", json={"title": "From the API"}, headers=AUTH)
    return schemathesis.openapi.from_wsgi("/api/openapi.json", app)


schema = schemathesis.pytest.from_fixture("api_schema").include(path_regex=FUZZED)


@schema.parametrize()
@settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=True,
)
def test_no_input_makes_the_api_fail_or_break_its_document(case):
    if "feed" in (case.path_parameters or {}):
        # A random feed name is just a 404 (tests/test_api_posts.py covers those); aim the
        # generated bodies and filters at the real feed so they reach the code behind it.
        case.path_parameters["feed"] = "news"
    case.call_and_validate(headers=AUTH, checks=CHECKS)
