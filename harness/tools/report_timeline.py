"""The report's timeline section: a campaign's cases per second, the quantizer lines it reached and when each finding
was first seen, drawn as one inline SVG chart from ``OUT/timeline.jsonl`` (:mod:`harness.common.timeline`).

The rule: the x axis is seconds since the start; the cases per second are those between two ticks (a step line),
scaled to their own maximum; the lines reached (quantizer campaigns) are a second line scaled to theirs; each
finding first seen is a vertical mark at its time, red for a NEW one, grey otherwise, with its signature as the
mark's tooltip and listed in a table under the chart. No timeline, no section.
"""

from __future__ import annotations

from html import escape
from typing import Optional

from harness.common.timeline import Timeline

__all__ = ["timeline_section"]

_W, _H, _PAD = 760, 220, 40


def _x(t: float, end: float) -> float:
    return _PAD + (_W - 2 * _PAD) * (t / end if end > 0 else 0.0)


def _y(v: float, top: float) -> float:
    return _H - _PAD - (_H - 2 * _PAD) * (v / top if top > 0 else 0.0)


def _rates(timeline: Timeline) -> list[tuple[float, float, float]]:
    """``(start, end, cases per second)`` between consecutive ticks."""
    out, last_t, last_cases = [], 0.0, 0
    for tick in timeline.ticks:
        if tick.t > last_t:
            out.append((last_t, tick.t, max(0, tick.cases - last_cases) / (tick.t - last_t)))
        last_t, last_cases = tick.t, tick.cases
    return out


def _chart(timeline: Timeline) -> list[str]:
    end = max([t.t for t in timeline.ticks] + [f.t for f in timeline.first_seen] + [1.0])
    rates = _rates(timeline)
    top_rate = max([r for _, _, r in rates] + [0.0])
    lines = [(t.t, t.lines) for t in timeline.ticks if t.lines is not None]
    top_lines = max([n for _, n in lines] + [0])
    svg = [f'<svg class="timeline" role="img" aria-label="campaign timeline" width="{_W}" height="{_H}" '
           f'viewBox="0 0 {_W} {_H}">',
           f'<line x1="{_PAD}" y1="{_H - _PAD}" x2="{_W - _PAD}" y2="{_H - _PAD}" stroke="#444"/>',
           f'<text x="{_W / 2:.0f}" y="{_H - 8}" text-anchor="middle" font-size="12">seconds (0 to {end:.0f})</text>']
    if rates:
        points = " ".join(f"{_x(a, end):.1f},{_y(r, top_rate):.1f} {_x(b, end):.1f},{_y(r, top_rate):.1f}"
                          for a, b, r in rates)
        svg.append(f'<polyline class="rate" fill="none" stroke="#2a6fdb" stroke-width="2" points="{points}"/>')
        svg.append(f'<text x="{_PAD}" y="{_PAD - 10}" font-size="12" fill="#2a6fdb">cases/s (max {top_rate:.1f})'
                   '</text>')
    if lines:
        points = " ".join(f"{_x(t, end):.1f},{_y(n, top_lines):.1f}" for t, n in lines)
        svg.append(f'<polyline class="reach" fill="none" stroke="#1a9850" stroke-width="2" points="{points}"/>')
        svg.append(f'<text x="{_W - _PAD}" y="{_PAD - 10}" text-anchor="end" font-size="12" fill="#1a9850">'
                   f'quantizer lines reached (max {top_lines})</text>')
    for f in timeline.first_seen:
        colour = "#d73027" if f.status.upper().startswith("NEW") else "#999"
        x = _x(f.t, end)
        svg.append(f'<line class="finding" x1="{x:.1f}" y1="{_PAD}" x2="{x:.1f}" y2="{_H - _PAD}" stroke="{colour}" '
                   f'stroke-dasharray="4 3"><title>{escape(f.signature)} ({escape(f.status)}, '
                   f'{f.t:.1f} s)</title></line>')
    svg.append("</svg>")
    return svg


def timeline_section(timeline: Optional[Timeline]) -> list[str]:
    """The HTML of the section (empty without a timeline)."""
    if timeline is None:
        return []
    last = timeline.ticks[-1] if timeline.ticks else None
    words = (f"{last.cases} cases in {last.t:.0f} s" + (f", {last.lines} quantizer lines reached" if last.lines
                                                         is not None else "")) if last else "no progress recorded"
    out = ['<section id="timeline"><h2>Campaign timeline</h2>',
           f"<p>{escape(timeline.label)}: {escape(words)}; {len(timeline.first_seen)} finding(s) first seen "
           "(dashed marks: red NEW, grey known or unjudged).</p>"]
    out.extend(_chart(timeline))
    if timeline.first_seen:
        out.append('<table class="first-seen"><tr><th>first seen</th><th>status</th><th>finding</th></tr>')
        out.extend(f"<tr><td>{f.t:.1f} s</td><td>{escape(f.status)}</td><td><code>{escape(f.signature)}</code></td>"
                   "</tr>" for f in timeline.first_seen)
        out.append("</table>")
    out.append("</section>")
    return out
