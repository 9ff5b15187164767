"""Charts drawn on the server: the geometry is worked out here, the templates draw it as inline
SVG. Each chart answers one question and shows its numbers without hovering.

Their text is never scaled with the drawing: a chart fills whatever width it is given, from a
phone's 330 px to a wide screen's 780, and its labels and numbers keep the stylesheet's size.
Across, positions are percentages (of the trend's plot, which the stylesheet narrows to leave
its axis labels room; of a bar's track, whose label and numbers are text beside it); down, the
trend's are pixels."""

from dataclasses import dataclass, field
from datetime import date

TREND_HEIGHT = 180
TREND_PAD = {"top": 14, "bottom": 26}  # room for the top label; for the dates under the axis
GUTTER_MAX = 9  # the widest axis label the stylesheet makes room for: 1,000,000


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
    """A line of daily values: its path, the area under it, axis ticks and labelled ends. An x is
    a percentage of the plot's width (0 to 100), a y a pixel from the top."""

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
    gutter: int  # characters of the longest axis label: the room the stylesheet leaves for it


def trend(series: list[tuple[date, int]], what: str = "untracked assets") -> Trend | None:
    """The geometry of a line chart of ``series`` (oldest first); None when there is nothing."""
    if not series:
        return None
    top = nice_ceiling(max(value for _, value in series))
    upper, lower = TREND_PAD["top"], TREND_HEIGHT - TREND_PAD["bottom"]
    step = 100 / max(len(series) - 1, 1)

    def y(value):
        return round(lower - (lower - upper) * value / top, 1)

    points = [
        {"x": round(index * step, 2), "y": y(value), "day": day, "value": value}
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
        min(len(f"{top:,}"), GUTTER_MAX),
    )


@dataclass
class Bar:
    """One row of a stacked bar: a label and its segments, each with its share of the track
    (x and width in percent)."""

    label: str
    total: int
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
    rows: list[Bar]


def stacked_bars(rows: list[dict], parts: list[tuple[str, str]], shares=True) -> Bars | None:
    """Horizontal bars, one per row, split into ``parts`` ((key, name) pairs, in drawing order)
    with what is left of the row's ``total`` as the last segment. With ``shares`` every bar is
    the whole of its row (small rows stay readable); otherwise all share one scale. Each row is
    a dict with "label", "total", the part keys and optionally "url" (the numbers' link) and
    "urls" (part key to link). The labels and numbers are drawn as text beside each bar."""
    if not rows:
        return None
    biggest = max(row["total"] for row in rows) or 1
    bars = []
    for row in rows:
        bar = Bar(row["label"], row["total"], row.get("url", ""))
        x = 0.0
        rest = row["total"]
        for key, name in [*parts, ("rest", "other")]:
            count = rest if key == "rest" else row.get(key, 0)
            rest -= 0 if key == "rest" else count
            scale = (row["total"] or 1) if shares else biggest
            width = round(100 * count / scale, 2)
            bar.segments.append(
                {
                    "key": key,
                    "name": name,
                    "count": count,
                    "x": round(x, 2),
                    "width": width,
                    "url": row.get("urls", {}).get(key, ""),
                }
            )
            x += width
        bars.append(bar)
    return Bars(bars)
