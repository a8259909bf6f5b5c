"""The OpenAPI document says exactly what the API does: same routes, same methods."""

from __future__ import annotations

import re

import pytest
from api_support import ADMIN
from openapi_spec_validator import validate

pytestmark = pytest.mark.config(admin=ADMIN)  # every core here has the admin token

IGNORED_METHODS = {"HEAD", "OPTIONS"}
HTTP_METHODS = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}
_VARIABLE = re.compile(r"<(?:[^:<>]+:)?([^<>]+)>")


@pytest.fixture
def document(client) -> dict:
    response = client.get("/api/openapi.json")
    assert response.status_code == 200
    return response.get_json()


def routed(app) -> set[tuple[str, str]]:
    """(path in OpenAPI spelling, method) of every Flask route under /api/."""
    return {
        (_VARIABLE.sub(r"{\1}", rule.rule), method.lower())
        for rule in app.url_map.iter_rules()
        if rule.rule.startswith("/api/")
        for method in rule.methods - IGNORED_METHODS
    }


def documented(document: dict) -> set[tuple[str, str]]:
    return {
        (path, method)
        for path, operations in document["paths"].items()
        for method in operations
        if method in HTTP_METHODS
    }


def operations(document: dict):
    for path, item in document["paths"].items():
        for method, operation in item.items():
            if method in HTTP_METHODS:
                yield path, method, operation


def test_the_document_is_valid_openapi_3_1(document):
    assert document["openapi"].startswith("3.1")
    validate(document)


def test_every_api_route_is_documented_and_every_documented_route_exists(app, document):
    routes, described = routed(app), documented(document)
    assert routes - described == set(), "routes missing from the OpenAPI document"
    assert described - routes == set(), "documented operations with no route"


def test_every_protected_operation_documents_the_auth_errors(document):
    protected = [op for op in operations(document) if op[2].get("security") != []]
    assert len(protected) > 10  # posts, webhooks, deliveries, subscribers
    for path, method, operation in protected:
        assert {"401", "403"} <= set(operation["responses"]), (method, path)


def test_every_operation_with_a_body_documents_the_body_errors(document):
    with_body = [op for op in operations(document) if "requestBody" in op[2]]
    assert len(with_body) > 3  # creating and patching posts, webhooks, subscribers
    for path, method, operation in with_body:
        assert {"400", "413", "415", "422"} <= set(operation["responses"]), (method, path)


def test_every_path_parameter_is_declared(document):
    assert any("{" in path for path in document["paths"])
    for path, method, operation in operations(document):
        shared = document["paths"][path].get("parameters", [])
        parameters = shared + operation.get("parameters", [])
        declared = {p["name"] for p in parameters if p["in"] == "path"}
        assert declared == set(re.findall(r"{([^}]+)}", path)), (method, path)


def test_the_server_is_the_configured_base_url(document):
    assert document["servers"] == [{"url": "http://127.0.0.1:8000"}]


def test_every_list_documents_paging_and_the_answer_to_a_bad_cursor(document):
    lists = [
        (path, operation)
        for path, method, operation in operations(document)
        if method == "get" and "next_cursor" in str(operation["responses"].get("200"))
    ]
    assert {path for path, _ in lists} == {
        "/api/feeds/{feed}/posts",
        "/api/feeds/{feed}/media",
        "/api/webhooks",
        "/api/webhooks/{endpoint_id}/deliveries",
        "/api/subscribers",
        "/api/websub/subscriptions",
        "/api/websub/subscriptions/{subscription_id}/deliveries",
    }
    for path, operation in lists:
        assert {"limit", "cursor"} <= {p["name"] for p in operation["parameters"]}, path
        assert "400" in operation["responses"], path


def test_request_schemas_come_from_the_same_table_as_the_checks(document):
    """A field the table marks read-only or write-only is documented on one side only."""
    schemas = document["components"]["schemas"]
    assert schemas["PostCreate"]["required"] == ["title"]
    assert "id" not in schemas["PostCreate"]["properties"]
    assert "confirmed" in schemas["SubscriberCreate"]["properties"]
    assert "confirmed" not in schemas["Subscriber"]["properties"]
    assert schemas["WebhookEndpointCreate"]["required"] == ["url"]
    assert schemas["Post"]["properties"]["status"]["enum"] == ["draft", "scheduled", "published"]
    assert schemas["PostPatch"]["properties"]["status"]["enum"] == ["draft", "published"]
