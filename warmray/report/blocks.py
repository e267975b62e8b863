"""A report as a list of blocks, rendered twice: Markdown (figures linked) and HTML (figures embedded).

One document model keeps report.md and report.html saying the same things; the HTML needs nothing but
itself (inline CSS, PNGs as base64), so it can be mailed or opened from any folder.
"""

from __future__ import annotations

import base64
import html
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from warmray.statistics import Stat


@dataclass(frozen=True)
class Heading:
    """A section title."""

    text: str
    level: int = 2


@dataclass(frozen=True)
class Text:
    """A paragraph of plain text."""

    text: str


@dataclass(frozen=True)
class Callout:
    """A paragraph the reader must not miss (shown boxed in HTML, quoted in Markdown)."""

    text: str


@dataclass(frozen=True)
class Bullets:
    """A bulleted list."""

    items: tuple[str, ...]


@dataclass(frozen=True)
class Table:
    """A table of values, formatted for reading (full precision stays in tables/*.csv)."""

    frame: pd.DataFrame
    caption: str = ""


@dataclass(frozen=True)
class Image:
    """A PNG figure on disk."""

    path: Path
    caption: str


@dataclass(frozen=True)
class Link:
    """A paragraph that links a file beside the report (a table's CSV), by a path relative to it."""

    text: str
    href: str


Block = Heading | Text | Callout | Bullets | Table | Image | Link
_P_COLUMNS = ("p_value", Stat.MCNEMAR_P, Stat.Q_VALUE)  # p_value: the GLM tables'; the rest: paired


def format_value(column: str, value: object) -> str:
    """A cell as text: p-values as p-values, rates and effects to one or two decimals, NaN as a dash."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    if isinstance(value, bool | np.bool_):
        return "yes" if value else "no"
    if isinstance(value, float):
        if column in _P_COLUMNS:
            return "<0.001" if value < 0.001 else f"{value:.3f}"
        if math.isinf(value):
            return "∞" if value > 0 else "-∞"
        digits = (
            2
            if column.endswith(("_pp", "ratio", "_g", "warmth_mean", "warmth_sd", "ci_low", "ci_high"))
            else 1
        )
        text = f"{value:.{digits}f}"
        return text[1:] if text.startswith("-") and float(text) == 0 else text  # no "-0.00"
    return str(value)


def _text_rows(frame: pd.DataFrame) -> list[list[str]]:
    return [
        [format_value(str(c), v) for c, v in zip(frame.columns, row, strict=True)]
        for row in frame.itertuples(False)
    ]


def render_markdown(blocks: list[Block], base: Path) -> str:
    """Markdown, with figure paths relative to `base` (the report's folder)."""
    out: list[str] = []
    for b in blocks:
        if isinstance(b, Heading):
            out.append("#" * b.level + " " + b.text)
        elif isinstance(b, Text):
            out.append(b.text)
        elif isinstance(b, Callout):
            out.append("> **" + b.text + "**")
        elif isinstance(b, Bullets):
            out.append("\n".join("- " + i for i in b.items))
        elif isinstance(b, Link):
            out.append(f"[{b.text}]({b.href})")
        elif isinstance(b, Table):
            out.append(_markdown_table(b))
        elif isinstance(b, Image):
            rel = b.path.relative_to(base) if b.path.is_relative_to(base) else b.path
            out.append(f"![{b.caption.split('.')[0]}]({rel.as_posix()})\n\n*{b.caption}*")
    return "\n\n".join(out) + "\n"


def _markdown_table(t: Table) -> str:
    def cell(s: str) -> str:
        return s.replace("|", "\\|").replace("\n", " ")

    head = "| " + " | ".join(cell(str(c)) for c in t.frame.columns) + " |"
    rule = "|" + "|".join("---" for _ in t.frame.columns) + "|"
    body = ["| " + " | ".join(cell(v) for v in row) + " |" for row in _text_rows(t.frame)]
    caption = [f"*{t.caption}*", ""] if t.caption else []
    return "\n".join([*caption, head, rule, *body])


_CSS = """
body{font-family:-apple-system,"Segoe UI",Helvetica,Arial,sans-serif;max-width:1180px;margin:2em auto;
padding:0 1.2em;color:#1a1a1a;line-height:1.45}
h1{border-bottom:3px solid #d95f02;padding-bottom:.2em}h2{margin-top:1.8em;border-bottom:1px solid #ddd}
table{border-collapse:collapse;margin:.6em 0 1.4em;font-size:.86em}
th,td{border:1px solid #d0d0d0;padding:.25em .55em}th{background:#f3f3f3}.n{text-align:right}
.t{text-align:left}caption{caption-side:top;text-align:left;font-style:italic;
padding:.3em 0}.callout{background:#fff4e5;border-left:6px solid #d95f02;padding:.8em 1em;font-weight:600}
figure{margin:1.2em 0}figure img{max-width:100%;border:1px solid #eee}figcaption{font-style:italic;color:#444}
.scroll{overflow-x:auto}
"""


def render_html(blocks: list[Block], title: str) -> str:
    """One self-contained HTML page: inline CSS, figures embedded as base64 PNG."""
    out = [f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>{html.escape(title)}</title>"]
    out.append(f"<meta name='viewport' content='width=device-width'><style>{_CSS}</style></head><body>")
    for b in blocks:
        if isinstance(b, Heading):
            out.append(f"<h{b.level}>{html.escape(b.text)}</h{b.level}>")
        elif isinstance(b, Text):
            out.append(f"<p>{html.escape(b.text)}</p>")
        elif isinstance(b, Callout):
            out.append(f"<p class='callout'>{html.escape(b.text)}</p>")
        elif isinstance(b, Bullets):
            out.append("<ul>" + "".join(f"<li>{html.escape(i)}</li>" for i in b.items) + "</ul>")
        elif isinstance(b, Link):
            out.append(f"<p><a href='{html.escape(b.href, quote=True)}'>{html.escape(b.text)}</a></p>")
        elif isinstance(b, Table):
            out.append(_html_table(b))
        elif isinstance(b, Image):
            data = base64.b64encode(b.path.read_bytes()).decode("ascii")
            alt = html.escape(b.caption, quote=True)
            out.append(
                f"<figure><img alt='{alt}' src='data:image/png;base64,{data}'>"
                f"<figcaption>{html.escape(b.caption)}</figcaption></figure>"
            )
    out.append("</body></html>")
    return "\n".join(out)


def _html_table(t: Table) -> str:
    caption = f"<caption>{html.escape(t.caption)}</caption>" if t.caption else ""
    # Numbers right-aligned so digits line up; words left-aligned.
    align = ["n" if pd.api.types.is_numeric_dtype(t.frame[c]) else "t" for c in t.frame.columns]
    head = "".join(
        f"<th class='{a}'>{html.escape(str(c))}</th>" for c, a in zip(t.frame.columns, align, strict=True)
    )
    rows = "".join(
        "<tr>"
        + "".join(f"<td class='{a}'>{html.escape(v)}</td>" for v, a in zip(r, align, strict=True))
        + "</tr>"
        for r in _text_rows(t.frame)
    )
    table = f"<table>{caption}<thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>"
    return f"<div class='scroll'>{table}</div>"


def write_report(blocks: list[Block], out_dir: Path, title: str) -> tuple[Path, Path]:
    """Write report.md and report.html into `out_dir`."""
    md, page = out_dir / "report.md", out_dir / "report.html"
    md.write_text(render_markdown(blocks, out_dir), encoding="utf-8")
    page.write_text(render_html(blocks, title), encoding="utf-8")
    return md, page
