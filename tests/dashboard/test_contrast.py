"""Every text colour of the stylesheet meets WCAG AA contrast on the backgrounds it is used on,
in the light theme and in the dark one."""

import re
from pathlib import Path

import pytest

CSS = (Path(__file__).resolve().parents[2] / "static/daylight/daylight.css").read_text()
AA_TEXT = 4.5
AA_GRAPHICS = 3.0  # icons, focus rings, status borders and meters

# (foreground, background) pairs as the stylesheet combines them.
TEXT_PAIRS = [
    ("text", "bg"),
    ("text", "panel"),
    ("text", "panel-2"),
    ("text", "hover"),
    ("muted", "bg"),
    ("muted", "panel"),
    ("muted", "panel-2"),
    ("muted", "hover"),
    ("accent", "panel"),
    ("accent", "bg"),
    ("accent", "accent-soft"),
    ("on-accent", "accent"),
    ("untracked", "untracked-bg"),
    ("untracked", "panel"),
    ("exposed", "exposed-bg"),
    ("exposed", "panel"),
    ("eol", "eol-bg"),
    ("eol", "panel"),
    ("accepted", "accepted-bg"),
    ("ok", "ok-bg"),
    ("ok", "panel"),
    ("bad", "bad-bg"),
    ("bad", "panel"),
    ("warn", "warn-bg"),
    ("warn", "panel"),
    ("text", "warn-bg"),
    ("text", "bad-bg"),
    ("muted", "bad-bg"),
    ("text", "untracked-bg"),
]
GRAPHIC_PAIRS = [("accent", "bg"), ("accent", "panel"), ("ok", "panel-2"), ("untracked", "bg")]


def palette(block: str) -> dict[str, str]:
    return dict(re.findall(r"--([a-z0-9-]+):\s*(#[0-9a-fA-F]{6})", block))


def themes():
    light = palette(CSS.split("@media (prefers-color-scheme: dark)")[0])
    dark_block = CSS.split("@media (prefers-color-scheme: dark)")[1].split("}\n}")[0]
    return {"light": light, "dark": {**light, **palette(dark_block)}}


def luminance(colour: str) -> float:
    channels = [int(colour[i : i + 2], 16) / 255 for i in (1, 3, 5)]
    linear = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def contrast(a: str, b: str) -> float:
    high, low = sorted((luminance(a), luminance(b)), reverse=True)
    return (high + 0.05) / (low + 0.05)


def test_both_themes_define_every_colour_used_in_the_pairs():
    for name, colours in themes().items():
        missing = {c for pair in TEXT_PAIRS + GRAPHIC_PAIRS for c in pair} - set(colours)
        assert not missing, f"{name} theme lacks {missing}"
    assert len(palette(CSS.split("@media (prefers-color-scheme: dark)")[1])) >= 30


@pytest.mark.parametrize("theme", ["light", "dark"])
def test_text_colours_meet_wcag_aa(theme):
    colours = themes()[theme]
    failing = [
        f"{fg} on {bg}: {contrast(colours[fg], colours[bg]):.2f}"
        for fg, bg in TEXT_PAIRS
        if contrast(colours[fg], colours[bg]) < AA_TEXT
    ]
    assert not failing, failing


@pytest.mark.parametrize("theme", ["light", "dark"])
def test_graphics_meet_wcag_non_text_contrast(theme):
    colours = themes()[theme]
    for fg, bg in GRAPHIC_PAIRS:
        assert contrast(colours[fg], colours[bg]) >= AA_GRAPHICS, (fg, bg)


# The only outlines taken away, each with what shows focus instead (None: nothing needs to;
# the main content takes focus from the skip link only to move the reading position).
OUTLINES_REPLACED = {
    "main#content:focus { outline: none; }": None,
    # a chart's bar: an outline inside the drawing is cut off by its edges, so the whole bar
    # is outlined and the focused part ringed
    ".bar-svg a:focus { outline: none; }": (
        r"\.bar-svg:has\(a:focus-visible\)\s*\{[^}]*outline:\s*2px solid"
    ),
}


def test_focus_is_always_visible():
    assert re.search(r":focus-visible\s*\{[^}]*outline:\s*2px solid", CSS)
    rest = CSS
    for rule, instead in OUTLINES_REPLACED.items():
        rest = rest.replace(rule, "")
        assert instead is None or re.search(instead, CSS), rule
    assert "outline: none" not in rest
