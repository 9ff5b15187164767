"""Each channel's message shape, as pure functions of a digest, with hostile names in it."""

import json

from inventory.notifications import formats

HOSTILE = "<!channel> <https://evil.example|click> *bold* & <script>alert(1)</script> |x>"


def payload(**overrides):
    document = {
        "event": "new_untracked",
        "event_label": "New untracked asset",
        "title": "2 new untracked assets in prod",
        "count": 3,
        "items": [
            {
                "name": HOSTILE,
                "url": "https://daylight.example/assets/1/",
                "detail": "aws · 1111 & <b>",
                "team": "Pay <ops>",
            },
            {
                "name": "quiet",
                "url": "https://daylight.example/assets/2/",
                "detail": "",
                "team": None,
            },
        ],
        "more": 1,
        "link": "https://daylight.example/assets/?tracking=untracked&source=prod",
        "source": "prod",
        "run_url": "https://daylight.example/sources/runs/7/",
    }
    return {**document, **overrides}


def test_the_signature_covers_timestamp_and_body():
    body = formats.webhook_body(7, payload(), "2026-11-01T12:00:00+00:00")
    headers = formats.webhook_headers(7, "new_untracked", body, b"s3cret")
    timestamp, signature = headers[formats.TIMESTAMP_HEADER], headers[formats.SIGNATURE_HEADER]

    assert signature.startswith("sha256=") and len(signature) == 7 + 64
    assert formats.verify(b"s3cret", timestamp, body, signature)
    assert not formats.verify(b"other", timestamp, body, signature)
    assert not formats.verify(b"s3cret", str(int(timestamp) + 1), body, signature)
    assert not formats.verify(b"s3cret", timestamp, body.replace(b"prod", b"dev"), signature)
    assert headers[formats.DELIVERY_HEADER] == "7"
    assert json.loads(body)["items"][0]["name"] == HOSTILE  # JSON carries names as they are


def test_an_unsigned_webhook_has_no_signature_headers():
    headers = formats.webhook_headers(7, "exposed", b"{}", None)
    assert formats.SIGNATURE_HEADER not in headers and formats.TIMESTAMP_HEADER not in headers


def test_slack_escapes_its_control_characters_so_names_cannot_ping_or_link():
    message = formats.slack_message(payload())
    section = next(b for b in message["blocks"] if b["type"] == "section")["text"]["text"]

    assert "<!channel>" not in section and "&lt;!channel&gt;" in section
    assert "<https://evil.example" not in section and "<script>" not in section
    # The only links are the ones Daylight made: one per item, to its page.
    assert section.count("<https://daylight.example/assets/") == 2
    first_line = section.splitlines()[0]
    link_text = first_line.split("|", 1)[1].split(">", 1)[0]
    assert "|" not in link_text and "¦x&gt;" in link_text
    assert "&amp; &lt;b&gt;" in first_line and "(Pay &lt;ops&gt;)" in first_line
    assert section.endswith("…and 1 more")
    assert message["blocks"][0] == {
        "type": "header",
        "text": {"type": "plain_text", "text": "2 new untracked assets in prod"},
    }
    button = message["blocks"][-1]["elements"][0]
    assert button["url"] == payload()["link"]


def test_slack_sections_stay_within_slacks_limit():
    items = [{"name": "n" * 120, "url": "https://d.example/a/", "detail": "d" * 300}] * 20
    message = formats.slack_message(payload(items=items))
    section = next(b for b in message["blocks"] if b["type"] == "section")["text"]["text"]
    assert len(section) <= formats.SLACK_TEXT_LIMIT


def test_teams_gets_an_adaptive_card_with_names_as_plain_text_runs():
    message = formats.teams_message(payload())
    (attachment,) = message["attachments"]
    assert message["type"] == "message"
    assert attachment["contentType"] == "application/vnd.microsoft.card.adaptive"
    card = attachment["content"]
    assert card["type"] == "AdaptiveCard" and card["version"] == "1.4"
    blocks = card["body"]
    assert all(b["type"] == "RichTextBlock" for b in blocks)
    assert blocks[0]["inlines"][0]["text"] == "2 new untracked assets in prod"
    name_run = blocks[1]["inlines"][0]
    assert name_run == {
        "type": "TextRun",
        "text": HOSTILE,
        "selectAction": {"type": "Action.OpenUrl", "url": "https://daylight.example/assets/1/"},
    }
    assert blocks[-1]["inlines"][0]["text"] == "…and 1 more"
    assert card["actions"] == [
        {"type": "Action.OpenUrl", "title": "Open in Daylight", "url": payload()["link"]}
    ]


def test_email_html_escapes_names_and_the_subject_is_one_line():
    text, html = formats.email_bodies(payload(title="3 new\r\nBcc: x@example.com"))
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert "&lt;!channel&gt;" in html
    assert 'href="https://daylight.example/assets/1/"' in html
    assert HOSTILE in text  # plain text is not markup
    assert "…and 1 more" in text and payload()["link"] in text
    subject = formats.email_subject(payload(title="3 new\r\nBcc: x@example.com"))
    assert subject == "[Daylight] 3 new Bcc: x@example.com"
