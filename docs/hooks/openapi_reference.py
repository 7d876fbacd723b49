"""MkDocs hook: the HTTP API reference page (`api-reference.md`) and `openapi.json`, generated
at build time from the OpenAPI document the server serves (`smfcast.api.openapi.spec`), so the
docs site and the API cannot disagree."""

from __future__ import annotations

import json

from mkdocs.structure.files import File

PAGE = "api-reference.md"


def _schema_text(schema: dict) -> str:
    if "$ref" in schema:
        return schema["$ref"].rsplit("/", 1)[-1]
    kind = schema.get("type", "object" if "properties" in schema else "")
    extra = [f"one of {', '.join(map(str, schema['enum']))}" if "enum" in schema else "",
             f"from {schema['minimum']}" if "minimum" in schema else "", f"to {schema['maximum']}" if "maximum" in schema else "",
             f"pattern `{schema['pattern']}`" if "pattern" in schema else ""]
    return ", ".join([kind] + [e for e in extra if e])


def markdown(spec: dict) -> str:
    """The reference as Markdown: every operation with its parameters, body example and answers."""
    lines = ["# HTTP API reference", "", f"*{spec['info']['title']} {spec['info']['version']}.* {spec['info']['description']}", "",
             "Generated from the OpenAPI document the server answers at `/v1/openapi.json` "
             "(a copy: [openapi.json](openapi.json)).", ""]
    for path, methods in spec["paths"].items():
        for method, op in methods.items():
            lines += [f"## `{method.upper()} {path}`", "", f"`{op['operationId']}`: {op['summary']}", ""]
            if op.get("security"):
                lines += ["Needs the write token (`Authorization: Bearer TOKEN`).", ""]
            if op.get("parameters"):
                lines += ["| parameter | in | schema | description |", "|---|---|---|---|"]
                for p in op["parameters"]:
                    desc = p.get("description", "").replace("|", "\\|").replace("\n", " ")
                    lines.append(f"| `{p['name']}` | {p['in']} | {_schema_text(p.get('schema', {})).replace('|', '/')} | {desc} |")
                lines.append("")
            body = op.get("requestBody")
            if body:
                for mime, content in body["content"].items():
                    example = content.get("example")
                    if example is not None:
                        lines += [f"Body ({mime}), for example:", "", "```json", json.dumps(example, ensure_ascii=False, indent=2), "```", ""]
                    else:
                        lines += [f"Body: {mime}", ""]
            lines += ["| status | answer |", "|---|---|"]
            for status, answer in op["responses"].items():
                lines.append(f"| {status} | {answer.get('description', '').replace('|', '/')} |")
            lines.append("")
    return "\n".join(lines) + "\n"


def on_files(files, config):
    from smfcast.api.openapi import spec
    doc = spec()
    files.append(File.generated(config, PAGE, content=markdown(doc)))
    files.append(File.generated(config, "openapi.json", content=json.dumps(doc, ensure_ascii=False, indent=1)))
    return files
