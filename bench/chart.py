"""The chart: throughput by concurrency, latency percentiles, and the failover timeline, side by side.

With matplotlib (``pip install -e '.[bench]'``, which ``make bench`` does) it is a PNG; without it, an
SVG drawn here by hand, so the benchmark never needs more than the project's own dependencies.
"""

from __future__ import annotations

import math
from html import escape
from pathlib import Path
from typing import Any

COLORS = {"todonode": "#1f6fb4", "etcd": "#e07b18"}
LIGHT = {"todonode": "#8fb7da", "etcd": "#f0bd8b"}
TITLES = (
    "acknowledged writes/s by concurrency",
    "write latency p50 / p99 (ms)",
    "failover: acks per 50 ms around kill -9",
)


def write_chart(data: dict[str, Any], out_dir: Path, stem: str = "latest") -> Path:
    """Write the chart as ``stem.png`` (matplotlib) or ``stem.svg``; remove the other, stale, one."""
    try:
        import matplotlib

        matplotlib.use("Agg")
    except ImportError:
        path = out_dir / f"{stem}.svg"
        path.write_text(render_svg(data))
        other = out_dir / f"{stem}.png"
    else:
        path = out_dir / f"{stem}.png"
        _render_matplotlib(data, path)
        other = out_dir / f"{stem}.svg"
    other.unlink(missing_ok=True)
    return path


def _timeline_xy(timeline: dict[str, Any]) -> tuple[list[float], list[int], list[int]]:
    start, step = timeline["from_s"], timeline["bucket_s"]
    xs = [start + step * (k + 0.5) for k in range(len(timeline["acks"]))]
    return xs, timeline["acks"], timeline["errors"]


def _render_matplotlib(data: dict[str, Any], path: Path) -> None:
    import matplotlib.pyplot as plt

    systems = list(data["throughput"])
    conc = data["concurrency"]
    fig, axes = plt.subplots(1, 3, figsize=(17, 5))
    width = 0.8 / len(systems)
    for k, system in enumerate(systems):
        xs = [i + (k - (len(systems) - 1) / 2) * width for i in range(len(conc))]
        values = [v or 0 for v in data["throughput"][system]]
        axes[0].bar(xs, values, width, label=system, color=COLORS[system])
        for x, v in zip(xs, values, strict=True):
            axes[0].annotate(f"{v:,.0f}", (x, v), ha="center", va="bottom", fontsize=8)
    axes[0].set_xticks(range(len(conc)), [f"c={c}" for c in conc])
    axes[0].set_ylabel("writes/s")

    width = 0.8 / (2 * len(systems))
    for k, system in enumerate(systems):
        for j, pct in enumerate(("p50", "p99")):
            slot = 2 * k + j
            xs = [i + (slot - (2 * len(systems) - 1) / 2) * width for i in range(len(conc))]
            values = [v or 0 for v in data["latency"][system][pct]]
            color = COLORS[system] if pct == "p50" else LIGHT[system]
            axes[1].bar(xs, values, width, label=f"{system} {pct}", color=color)
    axes[1].set_xticks(range(len(conc)), [f"c={c}" for c in conc])
    axes[1].set_ylabel("ms")

    for system in systems:
        timeline = data["failover"].get(system)
        if not timeline:
            continue
        xs, acks, errors = _timeline_xy(timeline)
        failed = sum(errors) + timeline.get("errors_after", 0)
        label = f"{system}: window {timeline['window_s']:.2f} s, {failed} errors"
        axes[2].step(xs, acks, where="mid", color=COLORS[system], label=label)
        if any(errors):
            axes[2].step(
                xs, errors, where="mid", color=COLORS[system], linestyle=":", label=f"{system} errors"
            )
        axes[2].axvline(timeline["window_s"], color=COLORS[system], linestyle="--", linewidth=0.8)
    axes[2].axvline(0, color="#c00", linewidth=1)
    axes[2].annotate("kill -9", (0, 0), xytext=(4, 4), textcoords="offset points", color="#c00", fontsize=8)
    axes[2].set_xlabel("seconds since the kill")
    axes[2].set_ylabel("acknowledged writes per 50 ms")
    for ax, title in zip(axes, TITLES, strict=True):
        ax.set_title(title, fontsize=11)
        ax.legend(fontsize=8)
        ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


# ------------------------------------------------------------------------------------------------ SVG


def nice_ticks(top: float, count: int = 5) -> list[float]:
    """Round tick values from 0 to at least ``top``."""
    if top <= 0 or math.isnan(top):
        return [0.0, 1.0]
    raw = top / count
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)
    return [step * i for i in range(math.ceil(top / step - 1e-9) + 1)]


def _fmt(value: float) -> str:
    if value >= 1000:
        return f"{value:,.0f}"
    return f"{value:g}"


class _Svg:
    def __init__(self, width: int, height: int) -> None:
        self.width, self.height = width, height
        self.parts: list[str] = []

    def rect(self, x: float, y: float, w: float, h: float, fill: str) -> None:
        self.parts.append(f'<rect x="{x:.1f}" y="{y:.1f}" width="{w:.1f}" height="{h:.1f}" fill="{fill}"/>')

    def line(
        self,
        x1: float,
        y1: float,
        x2: float,
        y2: float,
        stroke: str = "#444",
        dash: str = "",
        width: float = 1,
    ) -> None:
        extra = f' stroke-dasharray="{dash}"' if dash else ""
        self.parts.append(
            f'<line x1="{x1:.1f}" y1="{y1:.1f}" x2="{x2:.1f}" y2="{y2:.1f}" stroke="{stroke}" '
            f'stroke-width="{width}"{extra}/>'
        )

    def polyline(self, points: list[tuple[float, float]], stroke: str, dash: str = "") -> None:
        pts = " ".join(f"{x:.1f},{y:.1f}" for x, y in points)
        extra = f' stroke-dasharray="{dash}"' if dash else ""
        self.parts.append(
            f'<polyline points="{pts}" fill="none" stroke="{stroke}" stroke-width="1.5"{extra}/>'
        )

    def text(
        self,
        x: float,
        y: float,
        text: str,
        size: int = 11,
        anchor: str = "start",
        fill: str = "#222",
        bold: bool = False,
    ) -> None:
        weight = ' font-weight="bold"' if bold else ""
        self.parts.append(
            f'<text x="{x:.1f}" y="{y:.1f}" font-size="{size}" text-anchor="{anchor}" fill="{fill}"{weight}>'
            f"{escape(text)}</text>"
        )

    def render(self) -> str:
        return (
            f'<svg xmlns="http://www.w3.org/2000/svg" width="{self.width}" height="{self.height}" '
            f'viewBox="0 0 {self.width} {self.height}" font-family="sans-serif">\n'
            f'<rect width="100%" height="100%" fill="white"/>\n' + "\n".join(self.parts) + "\n</svg>\n"
        )


class _Panel:
    """A plot area with a linear y axis from 0 and an x axis from ``x0`` to ``x1``."""

    def __init__(
        self,
        svg: _Svg,
        left: float,
        top: float,
        width: float,
        height: float,
        title: str,
        y_top: float,
        x0: float = 0.0,
        x1: float = 1.0,
    ) -> None:
        self.svg, self.left, self.top, self.width, self.height = svg, left, top, width, height
        self.ticks = nice_ticks(y_top)
        self.y_max = self.ticks[-1]
        self.x0, self.x1 = x0, x1
        svg.text(left + width / 2, top - 12, title, 13, "middle", bold=True)
        for tick in self.ticks:
            y = self.y(tick)
            svg.line(left, y, left + width, y, "#e4e4e4")
            svg.text(left - 6, y + 4, _fmt(tick), 10, "end", "#555")
        svg.line(left, top + height, left + width, top + height, "#444")
        svg.line(left, top, left, top + height, "#444")

    def y(self, value: float) -> float:
        return self.top + self.height - (value / self.y_max) * self.height

    def x(self, value: float) -> float:
        return self.left + (value - self.x0) / (self.x1 - self.x0) * self.width

    def legend(self, entries: list[tuple[str, str]]) -> None:
        for k, (label, color) in enumerate(entries):
            y = self.top + 8 + 16 * k
            self.svg.rect(self.left + 10, y - 8, 10, 10, color)
            self.svg.text(self.left + 25, y + 1, label, 10)


def render_svg(data: dict[str, Any]) -> str:
    systems = list(data["throughput"])
    conc = data["concurrency"]
    svg = _Svg(1500, 440)
    tops = 50.0
    pw, ph = 400.0, 320.0
    lefts = (70.0, 570.0, 1070.0)

    # throughput
    values = {s: [v or 0.0 for v in data["throughput"][s]] for s in systems}
    panel = _Panel(svg, lefts[0], tops, pw, ph, TITLES[0], max((max(v) for v in values.values()), default=1))
    group = pw / len(conc)
    bar = group * 0.7 / len(systems)
    for i, c in enumerate(conc):
        for k, system in enumerate(systems):
            x = panel.left + group * i + group * 0.15 + bar * k
            v = values[system][i]
            svg.rect(x, panel.y(v), bar - 2, panel.top + ph - panel.y(v), COLORS[system])
            svg.text(x + bar / 2, panel.y(v) - 3, f"{v:,.0f}", 9, "middle")
        svg.text(panel.left + group * (i + 0.5), tops + ph + 16, f"c={c}", 11, "middle")
    panel.legend([(s, COLORS[s]) for s in systems])

    # latency
    lat = {(s, p): [v or 0.0 for v in data["latency"][s][p]] for s in systems for p in ("p50", "p99")}
    panel = _Panel(svg, lefts[1], tops, pw, ph, TITLES[1], max((max(v) for v in lat.values()), default=1))
    bar = group * 0.8 / (2 * len(systems))
    for i, c in enumerate(conc):
        for k, (system, pct) in enumerate((s, p) for s in systems for p in ("p50", "p99")):
            x = panel.left + group * i + group * 0.1 + bar * k
            v = lat[(system, pct)][i]
            color = COLORS[system] if pct == "p50" else LIGHT[system]
            svg.rect(x, panel.y(v), bar - 2, panel.top + ph - panel.y(v), color)
            svg.text(x + bar / 2, panel.y(v) - 3, f"{v:.1f}", 8, "middle")
        svg.text(panel.left + group * (i + 0.5), tops + ph + 16, f"c={c}", 11, "middle")
    panel.legend(
        [(f"{s} {p}", COLORS[s] if p == "p50" else LIGHT[s]) for s in systems for p in ("p50", "p99")]
    )

    # failover timeline
    timelines = {s: t for s, t in data["failover"].items() if t}
    top = max((max(t["acks"] + t["errors"]) for t in timelines.values()), default=1)
    first = next(iter(timelines.values()), {"from_s": -1.0, "bucket_s": 0.05, "acks": [0] * 80})
    x0 = first["from_s"]
    x1 = x0 + first["bucket_s"] * len(first["acks"])
    panel = _Panel(svg, lefts[2], tops, pw, ph, TITLES[2], top, x0, x1)
    for tick in range(math.ceil(x0), math.floor(x1) + 1):
        svg.text(panel.x(tick), tops + ph + 16, f"{tick:g} s", 10, "middle")
    svg.line(panel.x(0), tops, panel.x(0), tops + ph, "#c00", width=1.5)
    svg.text(panel.x(0) + 4, tops + ph - 6, "kill -9", 10, fill="#c00")
    entries = []
    for system, timeline in timelines.items():
        xs, acks, errors = _timeline_xy(timeline)
        svg.polyline([(panel.x(x), panel.y(a)) for x, a in zip(xs, acks, strict=True)], COLORS[system])
        if any(errors):
            svg.polyline(
                [(panel.x(x), panel.y(e)) for x, e in zip(xs, errors, strict=True)], COLORS[system], "2,2"
            )
        window = timeline["window_s"]
        if x0 <= window <= x1:
            svg.line(panel.x(window), tops, panel.x(window), tops + ph, COLORS[system], "5,3")
        failed = sum(errors) + timeline.get("errors_after", 0)
        entries.append((f"{system}: window {window:.2f} s, {failed} errors", COLORS[system]))
    panel.legend(entries)
    svg.text(
        panel.left + pw / 2, tops + ph + 34, "seconds since the kill (dotted: errors)", 10, "middle", "#555"
    )
    return svg.render()
