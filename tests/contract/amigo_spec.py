"""The Amigo OpenAPI specs in this folder, as JSON Schema validators.

Both spec files are loaded from this folder. Their local references
(``#/components/schemas/...``) are rewritten to absolute ones within each
file's own URI, so any schema taken out of the document (an inline request
body, a parameter) still resolves its references through the registry.

``date-time`` formats are checked (RFC 3339, with an offset), which jsonschema
only does with an optional package. A query parameter whose schema is an object
(``request_audio_config``) is sent as JSON, as Amigo's own SDK sends it.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator, FormatChecker
from jsonschema.exceptions import ValidationError
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

HERE = Path(__file__).resolve().parent
SPEC_FILES = {
    "urn:amigo:conversation": HERE / "amigo-openapi.json",
    "urn:amigo:users": HERE / "amigo-openapi-users.json",
}

FAKE_OPERATIONS = {
    "signin": "sign-in-with-api-key",
    "create_user": "create-invited-user",
    "get_users": "get-users",
    "create_conversation": "create-conversation",
    "interact": "interact-with-conversation",
    "finish": "finish-conversation",
    "tags": "modify-tags-of-conversation",
    "recommend": "recommend-responses-for-interaction",
    "get_conversations": "get-conversations",
    "get_messages": "get-conversation-messages",
    "conversation_starter": "generate-conversation-starter",
    "insights": "get-interaction-insights",
    "message_source": "retrieve-message-source",
}
"""The fake's endpoint names and the spec's operationIds."""

STREAMING = {"create-conversation", "interact-with-conversation"}

_RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$")
FORMAT_CHECKER = FormatChecker(Draft202012Validator.FORMAT_CHECKER.checkers)
"""Draft 2020-12's format checks, plus ``date-time``."""


@FORMAT_CHECKER.checks("date-time", raises=ValueError)
def _is_date_time(value: object) -> bool:
    if not isinstance(value, str):
        return True
    if not _RFC3339.match(value):
        return False
    datetime.fromisoformat(value.upper())
    return True


def _absolute_refs(node: Any, uri: str) -> Any:
    if isinstance(node, dict):
        out = {}
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str) and value.startswith("#"):
                out[key] = uri + value
            else:
                out[key] = _absolute_refs(value, uri)
        return out
    if isinstance(node, list):
        return [_absolute_refs(item, uri) for item in node]
    return node


@dataclass(frozen=True)
class Operation:
    operation_id: str
    method: str
    path: str
    pattern: re.Pattern[str]
    spec: dict[str, Any]

    @property
    def parameters(self) -> list[dict[str, Any]]:
        return list(self.spec.get("parameters", []))

    def parameter(self, where: str, name: str) -> dict[str, Any] | None:
        for param in self.parameters:
            if param["in"] == where and param["name"].lower() == name.lower():
                return param
        return None


def _path_pattern(template: str) -> re.Pattern[str]:
    parts = re.split(r"(\{[^}]+\})", template)
    regex = "".join(
        f"(?P<{part[1:-1]}>[^/]+)" if part.startswith("{") else re.escape(part) for part in parts
    )
    return re.compile(f"^{regex}$")


def _types(schema: dict[str, Any]) -> set[str]:
    found = set()
    if isinstance(schema.get("type"), str):
        found.add(schema["type"])
    for branch in schema.get("anyOf", []) + schema.get("oneOf", []):
        found |= _types(branch)
    return found


def _coerce(value: str, schema: dict[str, Any]) -> Any:
    """A query or path string as the JSON value its schema expects."""
    types = _types(schema)
    if "string" not in types and value.startswith("{"):
        try:
            return json.loads(value)
        except ValueError:
            return value
    if "integer" in types and re.fullmatch(r"-?\d+", value):
        return int(value)
    if "number" in types:
        try:
            return float(value)
        except ValueError:
            pass
    if "boolean" in types and value in ("true", "false"):
        return value == "true"
    return value


class AmigoSpec:
    """Operations and schemas of both Amigo spec files."""

    def __init__(self) -> None:
        registry: Registry[Any] = Registry()
        self.operations: dict[str, Operation] = {}
        self.documents: dict[str, dict[str, Any]] = {}
        for uri, path in SPEC_FILES.items():
            document = _absolute_refs(json.loads(path.read_text()), uri)
            self.documents[uri] = document
            resource = Resource.from_contents(document, default_specification=DRAFT202012)
            registry = registry.with_resource(uri, resource)
            for template, methods in document["paths"].items():
                for method, spec in methods.items():
                    op = Operation(
                        spec["operationId"], method.upper(), template, _path_pattern(template), spec
                    )
                    self.operations[op.operation_id] = op
        self.registry = registry.crawl()

    def validator(self, schema: dict[str, Any]) -> Draft202012Validator:
        return Draft202012Validator(schema, registry=self.registry, format_checker=FORMAT_CHECKER)

    def component(self, name: str, uri: str = "urn:amigo:conversation") -> Draft202012Validator:
        return self.validator({"$ref": f"{uri}#/components/schemas/{name}"})

    def match(self, method: str, path: str) -> tuple[Operation, dict[str, str]] | None:
        """The operation a concrete request path belongs to (fewest templated parts first)."""
        candidates = []
        for op in self.operations.values():
            found = op.pattern.match(path)
            if found and op.method == method.upper():
                candidates.append((len(found.groupdict()), op, found.groupdict()))
        if not candidates:
            return None
        candidates.sort(key=lambda item: item[0])
        return candidates[0][1], candidates[0][2]

    def response_schema(
        self, operation_id: str, status: int, media_type: str = "application/json"
    ) -> dict[str, Any] | None:
        responses = self.operations[operation_id].spec.get("responses", {})
        content = responses.get(str(status), {}).get("content", {})
        schema = content.get(media_type, {}).get("schema")
        return dict(schema) if schema is not None else None

    @cache  # noqa: B019 - one spec per session
    def event_validator(self, operation_id: str) -> Draft202012Validator:
        """Validates one NDJSON event of a streaming operation's success answer."""
        op = self.operations[operation_id]
        status = "201" if "201" in op.spec["responses"] else "200"
        schema = op.spec["responses"][status]["content"]["application/x-ndjson"]["schema"]
        return self.validator(schema)

    def check_event(self, fake_name: str, event: dict[str, Any]) -> None:
        """The fake's ``event_validator`` hook: raises ValidationError if invalid."""
        self.event_validator(FAKE_OPERATIONS[fake_name]).validate(event)

    def request_problems(
        self,
        method: str,
        path: str,
        query: dict[str, list[str]],
        headers: dict[str, str],
        json_body: Any | None,
        form: dict[str, Any] | None,
        files: dict[str, Any] | None = None,
    ) -> list[str]:
        """What in a request does not fit the spec (empty when it all fits).

        ``files`` are the multipart file parts (anything with a ``data`` attribute of
        bytes): each is checked as the string of its bytes, as OpenAPI describes
        binary parts.
        """
        if files:
            form = dict(form or {})
            for name, part in files.items():
                form[name] = bytes(part.data).decode("latin-1")
        where = f"{method} {path}"
        matched = self.match(method, path)
        if matched is None:
            return [f"{where}: no such path and method in the spec"]
        op, path_params = matched
        problems: list[str] = []

        def check(value: Any, schema: dict[str, Any], what: str) -> None:
            for error in self.validator(schema).iter_errors(value):
                problems.append(f"{where}: {what}: {error.message}")

        for name, value in path_params.items():
            param = op.parameter("path", name)
            if param is None:
                problems.append(f"{where}: path parameter {name} not in the spec")
            else:
                check(_coerce(value, param["schema"]), param["schema"], f"path {name}")

        for name, values in query.items():
            param = op.parameter("query", name)
            if param is None:
                problems.append(f"{where}: query parameter {name} not in the spec")
                continue
            schema = param["schema"]
            if "array" in _types(schema):
                items = schema.get("items", {})
                check([_coerce(v, items) for v in values], schema, f"query {name}")
            elif len(values) != 1:
                problems.append(f"{where}: query {name} repeated but not an array")
            else:
                check(_coerce(values[0], schema), schema, f"query {name}")

        lowered = {key.lower(): value for key, value in headers.items()}
        for param in op.parameters:
            if not param.get("required"):
                continue
            if param["in"] == "query" and param["name"] not in query:
                problems.append(f"{where}: required query parameter {param['name']} missing")
            if param["in"] == "header":
                header = lowered.get(param["name"].lower())
                if header is None:
                    problems.append(f"{where}: required header {param['name']} missing")
                else:
                    check(header, param["schema"], f"header {param['name']}")

        body_spec = op.spec.get("requestBody")
        if body_spec is None:
            if json_body is not None or form is not None:
                problems.append(f"{where}: sends a body the spec does not take")
            return problems
        content = body_spec.get("content", {})
        if form is not None:
            schema = content.get("multipart/form-data", {}).get("schema")
            if schema is None:
                problems.append(f"{where}: multipart body, spec takes {list(content)}")
            else:
                check(form, schema, "form body")
        elif json_body is not None:
            schema = content.get("application/json", {}).get("schema")
            if schema is None:
                problems.append(f"{where}: JSON body, spec takes {list(content)}")
            else:
                check(json_body, schema, "JSON body")
        elif body_spec.get("required"):
            problems.append(f"{where}: required request body missing")
        return problems


def is_valid(validator: Draft202012Validator, value: Any) -> bool:
    try:
        validator.validate(value)
    except ValidationError:
        return False
    return True
