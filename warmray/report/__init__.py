"""The report: blocks rendered as Markdown and HTML, the study's sections and figures.

Importing no stage: the analyze stage and the audit's model card write through this package.
"""

from warmray.report.blocks import (
    Block,
    Bullets,
    Callout,
    Heading,
    Table,
    Text,
    render_html,
    render_markdown,
    write_report,
)
from warmray.report.figures import draw_figures
from warmray.report.provenance import config_info, files_info, run_info, verdict_table
from warmray.report.sections import build_blocks, caveats, terminal_lines

__all__ = [
    "Block",
    "Bullets",
    "Callout",
    "Heading",
    "Table",
    "Text",
    "build_blocks",
    "caveats",
    "config_info",
    "draw_figures",
    "files_info",
    "render_html",
    "render_markdown",
    "run_info",
    "terminal_lines",
    "verdict_table",
    "write_report",
]
