"""Server-rendered SVG trend charts: the geometry is computed here, the markup lives in
templates/dashboards/_trend.svg — no chart library, no JavaScript."""

from __future__ import annotations

from dataclasses import dataclass, field

from .kpis import KpiCard

WIDTH, HEIGHT = 560, 180
PAD_LEFT, PAD_RIGHT, PAD_TOP, PAD_BOTTOM = 44, 12, 14, 26


@dataclass
class Point:
    x: float
    y: float
    value: float
    label: str
    health: str


@dataclass
class Chart:
    width: int = WIDTH
    height: int = HEIGHT
    segments: list[str] = field(default_factory=list)  # polyline "x,y x,y" per unbroken stretch
    points: list[Point] = field(default_factory=list)
    x_labels: list[tuple[float, str]] = field(default_factory=list)
    y_ticks: list[tuple[float, str]] = field(default_factory=list)
    healthy_y: float | None = None
    trigger_y: float | None = None
    empty: bool = True
    title: str = ""


def trend_chart(card: KpiCard) -> Chart:
    values = [cell.value for _period, cell in card.trend]
    healthy, trigger = float(card.threshold.healthy_value), float(card.threshold.trigger_value)
    known = [v for v in values if v is not None]
    top = max(known + [healthy, trigger]) * 1.15 or 1.0
    plot_w, plot_h = WIDTH - PAD_LEFT - PAD_RIGHT, HEIGHT - PAD_TOP - PAD_BOTTOM
    step = plot_w / max(1, len(values) - 1)

    def y_of(value: float) -> float:
        return round(PAD_TOP + plot_h * (1 - value / top), 1)

    chart = Chart(title=card.label, empty=not known, healthy_y=y_of(healthy), trigger_y=y_of(trigger))
    stretch: list[str] = []
    for index, ((period, cell), value) in enumerate(zip(card.trend, values)):
        x = round(PAD_LEFT + step * index, 1)
        if index % max(1, len(values) // 6) == 0 or index == len(values) - 1:
            chart.x_labels.append((x, period.label))
        if value is None:
            if stretch:
                chart.segments.append(" ".join(stretch))
            stretch = []
            continue
        y = y_of(value)
        stretch.append(f"{x},{y}")
        chart.points.append(Point(x, y, value, period.title, card.threshold.health(value)))
    if stretch:
        chart.segments.append(" ".join(stretch))
    chart.y_ticks = [(y_of(top * fraction / 1.15), f"{top * fraction / 1.15:.3g}") for fraction in (0, 0.5, 1)]
    return chart
