"""The OpenAPI schema: generated without a warning, and describing the endpoints clients use."""

import yaml
from django.core.management import call_command


def test_schema_generates_without_warnings_and_lists_key_paths(tmp_path):
    target = tmp_path / "schema.yml"

    # --fail-on-warn makes any warning or error raise.
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(target))

    schema = yaml.safe_load(target.read_text())
    paths = schema["paths"]
    for path in (
        "/api/v1/auth/token/",
        "/api/v1/assets/",
        "/api/v1/assets/{id}/",
        "/api/v1/assets/{id}/decision/",
        "/api/v1/assets/decisions/",
        "/api/v1/teams/{slug}/",
        "/api/v1/rules/{id}/",
        "/api/v1/findings/",
        "/api/v1/sources/{id}/run/",
        "/api/v1/runs/",
        "/api/v1/events/",
        "/api/v1/audit/",
        "/api/v1/reports/",
        "/api/v1/reports/{id}/",
        "/api/v1/reports/{id}/download/{extension}/",
    ):
        assert path in paths, path
    asset_parameters = {p["name"]: p for p in paths["/api/v1/assets/"]["get"]["parameters"]}
    assert set(asset_parameters) >= {
        "owner",
        "state",
        "min_severity",
        "label",
        "runs_on",
        "q",
        "ordering",
        "limit",
    }
    assert asset_parameters["runs_on"]["description"].startswith("Runs on the cluster or Docker")
    assert "post" in paths["/api/v1/assets/{id}/decision/"]
    assert "202" in paths["/api/v1/sources/{id}/run/"]["post"]["responses"]
    assert "tokenAuth" in schema["components"]["securitySchemes"]
    download = paths["/api/v1/reports/{id}/download/{extension}/"]["get"]
    assert set(download["responses"]["200"]["content"]) == {
        "text/html",
        "application/pdf",
        "text/csv",
    }
    extension = next(p for p in download["parameters"] if p["name"] == "extension")
    assert extension["schema"]["enum"] == ["csv", "html", "pdf"]
    report = schema["components"]["schemas"]["Report"]["properties"]
    assert {"id", "scope", "team", "period_start", "period_end", "created_at", "files"} <= set(
        report
    )


def test_schema_and_docs_are_served(api, viewer):
    client = api(viewer)

    assert client.get("/api/schema/").status_code == 200
    assert client.get("/api/docs/").status_code == 200
