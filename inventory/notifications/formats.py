"""A delivery's digest as each channel wants it: pure functions of the stored payload.

Names in a payload are collected from clouds and so attacker-controlled; each format escapes
them for its own markup (Slack mrkdwn, HTML e-mail) or carries them where no markup applies
(JSON strings, Adaptive Card text runs), and the events module has already bounded them.
"""

import hashlib
import hmac
import json
import time

from django.template.loader import render_to_string

SIGNATURE_HEADER = "X-Daylight-Signature"
TIMESTAMP_HEADER = "X-Daylight-Timestamp"
DELIVERY_HEADER = "X-Daylight-Delivery"
EVENT_HEADER = "X-Daylight-Event"
SLACK_TEXT_LIMIT = 3000  # characters in one section block


# --- generic JSON webhook -----------------------------------------------------------------------


def json_bytes(document: dict) -> bytes:
    return json.dumps(document, sort_keys=True, ensure_ascii=False).encode()


def webhook_body(delivery_id: int, payload: dict, created_at: str) -> bytes:
    return json_bytes({"delivery": delivery_id, "created_at": created_at, **payload})


def sign(secret: bytes, timestamp: str, body: bytes) -> str:
    """``sha256=`` and the hex HMAC-SHA256 of ``timestamp.body``: the timestamp is signed too,
    so a captured request cannot be replayed later with a fresh one."""
    digest = hmac.new(secret, timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def webhook_headers(delivery_id: int, event: str, body: bytes, secret: bytes | None) -> dict:
    headers = {DELIVERY_HEADER: str(delivery_id), EVENT_HEADER: event}
    if secret:
        timestamp = str(int(time.time()))
        headers[TIMESTAMP_HEADER] = timestamp
        headers[SIGNATURE_HEADER] = sign(secret, timestamp, body)
    return headers


def verify(secret: bytes, timestamp: str, body: bytes, signature: str) -> bool:
    """What a receiver does (and the tests do): recompute, compare in constant time."""
    return hmac.compare_digest(sign(secret, timestamp, body), signature or "")


# --- Slack ------------------------------------------------------------------------------------


def slack_escape(text: str) -> str:
    """Slack's control characters: with these escaped, a name can't link, mention or ping."""
    return str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _slack_line(item: dict) -> str:
    # Inside <url|text> a literal "|" or ">" would end the text early; both are neutralised.
    name = slack_escape(item["name"]).replace("|", "¦")
    line = f"• <{item['url']}|{name}>"
    if item.get("detail"):
        line += " — " + slack_escape(item["detail"])
    if item.get("team"):
        line += f" ({slack_escape(item['team'])})"
    return line


def slack_message(payload: dict) -> dict:
    """An incoming-webhook message: plain ``text`` for notifications, Block Kit for the body."""
    lines = [_slack_line(item) for item in payload["items"]]
    if payload.get("more"):
        lines.append(f"…and {payload['more']:,} more")
    body = "\n".join(lines)
    if len(body) > SLACK_TEXT_LIMIT:
        body = body[: SLACK_TEXT_LIMIT - 1] + "…"
    blocks = [
        {"type": "header", "text": {"type": "plain_text", "text": payload["title"][:150]}},
    ]
    if body:
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": body}})
    blocks.append(
        {
            "type": "actions",
            "elements": [
                {
                    "type": "button",
                    "text": {"type": "plain_text", "text": "Open in Daylight"},
                    "url": payload["link"],
                }
            ],
        }
    )
    return {"text": slack_escape(payload["title"]), "blocks": blocks}


# --- Microsoft Teams --------------------------------------------------------------------------


def _text_run(text: str, url: str | None = None, **style) -> dict:
    run = {"type": "TextRun", "text": text, **style}
    if url:
        run["selectAction"] = {"type": "Action.OpenUrl", "url": url}
    return run


def teams_message(payload: dict) -> dict:
    """A message with one Adaptive Card, as Teams' Workflows webhooks take it. Names go into
    RichTextBlock text runs, which Teams shows as plain text (no Markdown is interpreted)."""
    body = [
        {
            "type": "RichTextBlock",
            "inlines": [_text_run(payload["title"], weight="Bolder", size="Medium")],
        }
    ]
    for item in payload["items"]:
        inlines = [_text_run(item["name"], item["url"])]
        if item.get("detail"):
            inlines.append(_text_run(" — " + item["detail"]))
        if item.get("team"):
            inlines.append(_text_run(f" ({item['team']})", isSubtle=True))
        body.append({"type": "RichTextBlock", "inlines": inlines})
    if payload.get("more"):
        body.append(
            {"type": "RichTextBlock", "inlines": [_text_run(f"…and {payload['more']:,} more")]}
        )
    card = {
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "type": "AdaptiveCard",
        "version": "1.4",
        "body": body,
        "actions": [
            {"type": "Action.OpenUrl", "title": "Open in Daylight", "url": payload["link"]}
        ],
    }
    return {
        "type": "message",
        "attachments": [
            {"contentType": "application/vnd.microsoft.card.adaptive", "content": card}
        ],
    }


# --- e-mail -----------------------------------------------------------------------------------


def email_subject(payload: dict) -> str:
    # One line: a header can't be split by a name with a newline in it.
    return "[Daylight] " + " ".join(payload["title"].split())[:200]


def email_bodies(payload: dict) -> tuple[str, str]:
    """Plain text and HTML (autoescaped by the template engine)."""
    context = {"payload": payload}
    return (
        render_to_string("notifications/email.txt", context),
        render_to_string("notifications/email.html", context),
    )
