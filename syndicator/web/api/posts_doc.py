"""The posts part of the OpenAPI document, built from `fields.FIELDS`.

Request schemas come from the same table the validator uses, so the document
and the checks agree by construction; tests/test_openapi.py checks the routes.
"""

from __future__ import annotations

from typing import Any

from syndicator import slugs
from syndicator.models import PostSource, PostStatus
from syndicator.posts import fields
from syndicator.posts.fields import Field, Kind
from syndicator.web.api import openapi

_JSON = "application/json"
_TIME = {"type": "string", "format": "date-time"}


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {_JSON: {"schema": schema}}}


def _field_schema(spec: Field) -> dict[str, Any]:
    by_kind: dict[Kind, dict[str, Any]] = {
        Kind.TEXT: {"type": "string"},
        Kind.SLUG: {
            "type": "string",
            "pattern": r"^[a-z0-9]+(?:-[a-z0-9]+)*$",
            "not": {"enum": sorted(slugs.RESERVED)},
        },
        Kind.TAGS: {
            "type": "array",
            "maxItems": fields.MAX_TAGS,
            "items": {"type": "string", "maxLength": fields.MAX_TAG_LENGTH},
        },
        Kind.TIMESTAMP: dict(_TIME),
        Kind.STATUS: {"type": "string", "enum": [status.value for status in PostStatus]},
    }
    schema = {**by_kind[spec.kind], "description": spec.description}
    if spec.max_length is not None:
        schema["maxLength"] = spec.max_length
    if spec.nullable:
        schema["type"] = [schema["type"], "null"]
    return schema


def _input_schema(required: tuple[str, ...], description: str) -> dict[str, Any]:
    return {
        "type": "object",
        "description": description,
        "properties": {name: _field_schema(spec) for name, spec in fields.FIELDS.items()},
        "required": list(required),
        "additionalProperties": False,
        "not": {"required": ["content", "content_html"]},
    }


def _nullable(kind: str) -> dict[str, Any]:
    return {"type": [kind, "null"]}


POST_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "id": {"type": "integer", "description": "The API's handle for the post."},
        "guid": {"type": "string", "description": "The entry id in every feed; never changes."},
        "feed": {"type": "string"},
        "url": {"type": "string", "format": "uri", "description": "The permalink."},
        "slug": {"type": "string"},
        "title": {"type": "string"},
        "content": {**_nullable("string"), "description": "Markdown source, when there is one."},
        "content_html": {"type": "string", "description": "The sanitized body."},
        "summary": _nullable("string"),
        "author": _nullable("string"),
        "tags": {"type": "array", "items": {"type": "string"}},
        "status": {"type": "string", "enum": [state.value for state in fields.PostState]},
        "published": _TIME,
        "updated": {**_TIME, "description": "Moves only when what readers see changes."},
        "created": _TIME,
        "source": {"type": "string", "enum": [source.value for source in PostSource]},
        "source_path": {**_nullable("string"), "description": "The file, for folder posts."},
    },
}
POST_SCHEMA["required"] = list(POST_SCHEMA["properties"])

_POST_ID = openapi.id_parameter("post_id")
_FEED = {"name": "feed", "in": "path", "required": True, "schema": {"type": "string"}}
_LIST_PARAMETERS = [
    _FEED,
    {
        "name": "status",
        "in": "query",
        "schema": {"type": "string", "enum": [state.value for state in fields.PostState]},
    },
    {"name": "tag", "in": "query", "schema": {"type": "string"}, "description": "Name or slug."},
    {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 100}},
    {"name": "cursor", "in": "query", "schema": {"type": "string"}},
]


def _body(name: str) -> dict[str, Any]:
    return {"required": True, "content": {_JSON: {"schema": _ref(name)}}}


def paths() -> dict[str, dict[str, Any]]:
    changes = (400, 401, 403, 404, 409, 413, 415, 422)
    return {
        "/api/feeds/{feed}/posts": {
            "get": {
                "summary": "List a feed's posts, newest first",
                "operationId": "listPosts",
                "parameters": _LIST_PARAMETERS,
                "responses": {
                    "200": _json(_ref("PostList"), "One page of posts"),
                    **openapi.error_responses(401, 403, 404, 422),
                },
            },
            "post": {
                "summary": "Create a post",
                "operationId": "createPost",
                "parameters": [_FEED],
                "requestBody": _body("PostCreate"),
                "responses": {
                    "201": {
                        **_json(_ref("Post"), "The new post"),
                        "headers": {"Location": {"schema": {"type": "string"}}},
                    },
                    **openapi.error_responses(*changes),
                },
            },
        },
        "/api/posts/{post_id}": {
            "get": {
                "summary": "Get a post",
                "operationId": "getPost",
                "parameters": [_POST_ID],
                "responses": {
                    "200": _json(_ref("Post"), "The post"),
                    **openapi.error_responses(401, 403, 404),
                },
            },
            "patch": {
                "summary": "Change some fields of a post",
                "operationId": "patchPost",
                "parameters": [_POST_ID],
                "requestBody": _body("PostPatch"),
                "responses": {
                    "200": _json(_ref("Post"), "The changed post"),
                    **openapi.error_responses(*changes),
                },
            },
            "delete": {
                "summary": "Delete a post from every feed and page",
                "operationId": "deletePost",
                "parameters": [_POST_ID],
                "responses": {
                    "204": {"description": "Deleted"},
                    **openapi.error_responses(401, 403, 404, 409),
                },
            },
        },
    }


def register() -> None:
    openapi.SCHEMAS["Post"] = POST_SCHEMA
    openapi.SCHEMAS["PostList"] = {
        "type": "object",
        "required": ["items", "next_cursor"],
        "properties": {
            "items": {"type": "array", "items": _ref("Post")},
            "next_cursor": {**_nullable("string"), "description": "Pass as ?cursor= for more."},
        },
    }
    openapi.SCHEMAS["PostCreate"] = _input_schema(fields.REQUIRED_ON_CREATE, "A new post")
    openapi.SCHEMAS["PostPatch"] = _input_schema((), "Only the fields to change")
    openapi.PATHS.update(paths())
