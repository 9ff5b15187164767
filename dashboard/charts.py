"""Charts drawn on the server as inline SVG: the geometry is worked out here, the templates draw
it. Each chart answers one question and shows its numbers without hovering."""

from dataclasses import dataclass, field
from datetime import date

# Drawn about the size they are shown beside each other on a laptop, so that their text stays
# readable when the page is projected (an SVG's text shrinks with it).
TREND_WIDTH, TREND_HEIGHT = 560, 180
TREND_PAD = {"left": 44, "right": 56, "top": 14, "bottom": 26}
BAR_WIDTH = 520
BAR_ROW, BAR_GAP = 22, 14
BAR_LABEL = 104  # room for the provider's name on the left
BAR_NUMBERS = 176  # room for the numbers on the right


def nice_ceiling(value: int) -> int:
    """The smallest of 1, 2, 2.5 or 5 times a power of ten that is at least ``value`` (and at
    least 1): a round top for an axis."""
    value = max(int(value), 1)
    magnitude = 1
    while magnitude * 10 <= value:
        magnitude *= 10
    for step in (1, 2, 2.5, 5, 10):
        if step * magnitude >= value:
            return int(step * magnitude)
    return 10 * magnitude  # pragma: no cover - the loop always returns


def _day(day: date) -> str:
    return f"{day:%b} {day.day}"


@dataclass
class Trend:
    """A line of daily values: its path, the area under it, axis ticks and labelled ends."""

    width: int
    height: int
    line: str
    area: str
    points: list[dict]
    y_ticks: list[dict]
    x_ticks: list[dict]
    first: dict
    last: dict
    peak: dict
    change: int
    summary: str
    baseline: float
    plot_left: int
    plot_right: int


def trend(series: list[tuple[date, int]], what: str = "untracked assets") -> Trend | None:
    """The geometry of a line chart of ``series`` (oldest first); None when there is nothing."""
    if not series:
        return None
    top = nice_ceiling(max(value for _, value in series))
    left, right = TREND_PAD["left"], TREND_WIDTH - TREND_PAD["right"]
    upper, lower = TREND_PAD["top"], TREND_HEIGHT - TREND_PAD["bottom"]
    step = (right - left) / max(len(series) - 1, 1)

    def y(value):
        return round(lower - (lower - upper) * value / top, 1)

    points = [
        {"x": round(left + index * step, 1), "y": y(value), "day": day, "value": value}
        for index, (day, value) in enumerate(series)
    ]
    line = "M" + " L".join(f"{p['x']},{p['y']}" for p in points)
    area = f"{line} L{points[-1]['x']},{lower} L{points[0]['x']},{lower} Z"
    steps = next(n for n in (4, 5, 2, 1) if top % n == 0)
    y_ticks = [{"y": y(top * i / steps), "value": top * i // steps} for i in range(steps + 1)]
    marks = sorted({0, len(points) // 2, len(points) - 1})
    x_ticks = [{"x": points[i]["x"], "day": points[i]["day"]} for i in marks]
    peak = max(points, key=lambda p: (p["value"], p["day"]))
    first, last = points[0], points[-1]
    change = last["value"] - first["value"]
    summary = (
        f"{what.capitalize()}: {first['value']} on {_day(first['day'])}, "
        f"{last['value']} on {_day(last['day'])} ({change:+d}); "
        f"highest {peak['value']} on {_day(peak['day'])}."
    )
    return Trend(
        TREND_WIDTH,
        TREND_HEIGHT,
        line,
        area,
        points,
        y_ticks,
        x_ticks,
        first,
        last,
        peak,
        change,
        summary,
        lower,
        left,
        right,
    )


@dataclass
class Bar:
    """One row of a stacked bar: a label and its segments, each with its share of the width."""

    label: str
    total: int
    y: int
    url: str = ""  # the list behind the row's numbers
    segments: list[dict] = field(default_factory=list)

    @property
    def parts_total(self) -> int:
        """What the named parts add up to (everything but the rest)."""
        return sum(s["count"] for s in self.segments if s["key"] != "rest")

    @property
    def share(self) -> int:
        return round(100 * self.parts_total / self.total) if self.total else 0


@dataclass
class Bars:
    width: int
    height: int
    track: int
    left: int
    rows: list[Bar]


def stacked_bars(rows: list[dict], parts: list[tuple[str, str]], shares=True) -> Bars | None:
    """Horizontal bars, one per row, split into ``parts`` ((key, name) pairs, in drawing order)
    with what is left of the row's ``total`` as the last segment. With ``shares`` every bar is
    the whole of its row (small rows stay readable); otherwise all share one scale. Each row is
    a dict with "label", "total", the part keys and optionally "url" (the numbers' link) and
    "urls" (part key to link)."""
    if not rows:
        return None
    biggest = max(row["total"] for row in rows) or 1
    track = BAR_WIDTH - BAR_LABEL - BAR_NUMBERS
    bars = []
    for index, row in enumerate(rows):
        bar = Bar(row["label"], row["total"], index * (BAR_ROW + BAR_GAP), row.get("url", ""))
        x = BAR_LABEL
        rest = row["total"]
        for key, name in [*parts, ("rest", "other")]:
            count = rest if key == "rest" else row.get(key, 0)
            rest -= 0 if key == "rest" else count
            scale = (row["total"] or 1) if shares else biggest
            width = round(track * count / scale, 1)
            bar.segments.append(
                {
                    "key": key,
                    "name": name,
                    "count": count,
                    "x": round(x, 1),
                    "width": width,
                    "url": row.get("urls", {}).get(key, ""),
                }
            )
            x += width
        bars.append(bar)
    height = len(rows) * (BAR_ROW + BAR_GAP) - BAR_GAP
    return Bars(BAR_WIDTH, height, track, BAR_LABEL, bars)
