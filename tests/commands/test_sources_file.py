"""Checking a sources file: every problem found at once, each with its location."""

import pytest

from collectors.base import PROVIDERS
from inventory.credentials import CREDENTIALS_ADVICE, credential_paths, looks_like_secret
from inventory.sources_file import SourcesFileError, parse_sources

VALID = """\
sources:
  - name: lab
    provider: demo
    config: {seed: 3}
"""


def problems_of(text: str) -> list[str]:
    with pytest.raises(SourcesFileError) as caught:
        parse_sources(text)
    return caught.value.problems


def test_a_minimal_entry_gets_every_default():
    assert parse_sources(VALID) == [
        {
            "name": "lab",
            "provider": "demo",
            "config": {"seed": 3},
            "endpoint_url": "",
            "schedule": "0 * * * *",
            "enabled": True,
            "description": "",
        }
    ]


def test_null_optional_values_mean_the_default():
    [source] = parse_sources(
        "sources:\n- name: lab\n  provider: demo\n  config:\n  endpoint_url:\n  schedule:\n"
    )
    assert (source["config"], source["endpoint_url"], source["schedule"]) == ({}, "", "0 * * * *")


def test_unquoted_dates_in_config_are_kept_as_the_text_written():
    [source] = parse_sources("sources:\n- {name: lab, provider: demo, config: {epoch: 2026-01-31}}")
    assert source["config"] == {"epoch": "2026-01-31"}


def test_yaml_syntax_error_names_the_line():
    [problem] = problems_of("sources:\n  - name: lab\n    provider: [demo\n")
    assert problem.startswith("YAML syntax error at line 4")


@pytest.mark.parametrize("text", ["", "- name: lab\n", "just text\n"])
def test_top_level_must_be_a_mapping(text):
    assert problems_of(text) == [
        "the file must be a mapping with a 'sources' list at the top level"
    ]


def test_missing_sources_list_and_unknown_top_level_keys():
    assert problems_of("source:\n  - name: lab\n") == [
        "unknown top-level key 'source' (allowed: sources)",
        "the file has no 'sources' list",
    ]
    assert problems_of("sources: {name: lab}\n") == ["'sources' must be a list of sources"]


def test_entry_must_be_a_mapping():
    assert problems_of("sources:\n  - lab\n  - [a]\n") == [
        "sources[0]: must be a mapping of source settings, not a string",
        "sources[1]: must be a mapping of source settings, not a list",
    ]


def test_unknown_entry_keys_are_named():
    [problem] = problems_of("sources:\n- {name: lab, provider: demo, regions: [x]}\n")
    assert problem.startswith("sources[0] (lab): unknown key 'regions' (allowed: name, provider,")


def test_missing_name_and_provider():
    assert problems_of("sources:\n- {config: {}}\n- {name: lab}\n") == [
        "sources[0]: name is required",
        "sources[0]: provider is required",
        "sources[1] (lab): provider is required",
    ]


@pytest.mark.parametrize("name", ["Aws Prod", "aws/prod", "prod!"])
def test_name_must_be_a_slug(name):
    [problem] = problems_of(f"sources:\n- {{name: '{name}', provider: demo}}\n")
    assert problem == (
        f"sources[0] ({name}): name {name!r} must be a slug: "
        "letters, digits, hyphens and underscores only"
    )


def test_wrong_value_types_are_named():
    text = "sources:\n- {name: lab, provider: demo, enabled: 'yes please', config: [1]}\n"
    assert problems_of(text) == [
        "sources[0] (lab): config must be a mapping, not a list",
        "sources[0] (lab): enabled must be true or false, not a string",
    ]


def test_duplicate_names_point_at_the_first():
    text = "sources:\n- {name: lab, provider: demo}\n- {name: x, provider: demo}\n"
    text += "- {name: lab, provider: demo}\n"
    assert problems_of(text) == ["sources[2] (lab): name 'lab' is used again (first at sources[0])"]


def test_unknown_provider_says_which_are_known():
    [problem] = problems_of("sources:\n- {name: lab, provider: mainframe}\n")
    known = ", ".join(sorted(PROVIDERS))
    assert problem == f"sources[0] (lab): unknown provider 'mainframe' (known: {known})"


def test_collector_config_problems_come_from_the_collector():
    [problem] = problems_of("sources:\n- {name: lab, provider: demo, config: {regions: [x]}}\n")
    assert problem == (
        "sources[0] (lab): config.regions is not a demo setting "
        "(allowed: epoch, fail_scopes, scale, scopes, seed)"
    )


@pytest.mark.parametrize(
    ("schedule", "expected"),
    [
        ("hourly", "schedule 'hourly' must have 5 fields: minute hour day month weekday"),
        ("99 * * * *", "schedule '99 * * * *' is not a valid cron expression"),
    ],
)
def test_bad_cron(schedule, expected):
    [problem] = problems_of(f"sources:\n- {{name: lab, provider: demo, schedule: '{schedule}'}}\n")
    assert problem.startswith(f"sources[0] (lab): {expected}")


def test_model_checks_catch_a_bad_endpoint_and_long_names():
    long_name = "x" * 101
    text = "sources:\n- {name: lab, provider: demo, endpoint_url: 'not a url'}\n"
    text += f"- {{name: {long_name}, provider: demo}}\n"
    problems = problems_of(text)
    assert problems[0] == "sources[0] (lab): endpoint_url: Enter a valid URL."
    assert problems[1].startswith(f"sources[1] ({long_name}): name: Ensure this value has at most")


@pytest.mark.parametrize(
    ("config", "path"),
    [
        ("{password: hunter2}", "config.password"),
        ("{auth: {client_secret: s3cr3t}}", "config.auth.client_secret"),
        (
            "{accounts: [{id: 1, role: r}, {aws_secret_access_key: k}]}",
            "config.accounts[1].aws_secret_access_key",
        ),
        ("{privateKey: abc}", "config.privateKey"),
        ("{GITHUB-TOKEN: abc}", "config.GITHUB-TOKEN"),
    ],
)
def test_credentials_in_config_are_rejected_wherever_they_are(config, path):
    problems = problems_of(f"sources:\n- {{name: lab, provider: demo, config: {config}}}\n")
    assert f"sources[0] (lab): {path}: {CREDENTIALS_ADVICE}" in problems


def test_the_credentials_message_says_what_to_do_instead():
    [problem] = problems_of("sources:\n- {name: lab, provider: demo, config: {token: t}}\n")
    assert problem == (
        "sources[0] (lab): config.token: credentials must not be stored in Daylight; "
        "name an environment variable (…_env) or use the provider's default credential chain"
    )


def test_credential_references_are_not_credentials():
    config = {
        "client_secret_env": "AZURE_SECRET",
        "token_env": "KUBE_TOKEN",
        "aws_profile": "prod",
        "credentials_profile": "ci",
        "regions": ["us-east-1"],
        "nested": [{"password_env": "DB"}],
    }
    assert credential_paths(config) == []
    assert not looks_like_secret("accessKeyEnv")
    assert looks_like_secret("accessKey")
    # Only the demo collector's own settings are allowed, so this fails as a config problem,
    # not as a credential.
    [problem] = problems_of("sources:\n- {name: lab, provider: demo, config: {token_env: T}}\n")
    assert "credentials" not in problem
    assert "config.token_env is not a demo setting" in problem


def test_a_password_in_the_endpoint_url_is_a_credential():
    text = "sources:\n- {name: lab, provider: demo, endpoint_url: 'https://u:pw@api.internal'}\n"
    assert problems_of(text) == [
        f"sources[0] (lab): endpoint_url carries a password: {CREDENTIALS_ADVICE}"
    ]


def test_every_problem_of_every_entry_is_reported_at_once():
    text = """\
sources:
  - name: good
    provider: demo
  - name: Bad Name
    provider: demo
  - name: lab
    provider: nope
  - name: lab2
    provider: demo
    schedule: never
    config: {password: x}
"""
    problems = problems_of(text)
    assert [p.split(":")[0] for p in problems] == [
        "sources[1] (Bad Name)",
        "sources[2] (lab)",
        "sources[3] (lab2)",
    ]


def test_a_key_written_twice_is_an_error_not_a_silent_overwrite():
    text = "sources:\n  - name: lab\n    provider: demo\n    config: {seed: 1}\n    config: {}\n"
    assert problems_of(text) == [
        "YAML syntax error at line 5, column 5: key 'config' appears twice"
    ]


def test_yaml_tags_that_build_python_objects_are_refused():
    [problem] = problems_of("sources: !!python/object/apply:os.system ['true']\n")
    assert problem.startswith("YAML syntax error at line 1")
