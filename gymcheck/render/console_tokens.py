"""The aligned token view in the console: a narrow table that fits 80 columns."""

from __future__ import annotations

from rich import box
from rich.table import Table
from rich.text import Text

from gymcheck.render.tokens import Token, TokenRow, logprob_text

PIECE_WIDTH = 14


def token_table(rows: list[TokenRow]) -> Table:
    """``pos | expected | id | logprob | actual | id``, the first divergent row marked ``▶``."""
    with_logprobs = any(r.expected and r.expected.logprob is not None for r in rows)
    table = Table(box=box.SIMPLE_HEAD, padding=(0, 1), show_edge=False, pad_edge=False)
    table.add_column("", width=1)
    table.add_column("pos", justify="right")
    table.add_column("expected", max_width=PIECE_WIDTH, overflow="ellipsis", no_wrap=True)
    table.add_column("id", justify="right")
    if with_logprobs:
        table.add_column("logprob", justify="right")
    table.add_column("actual", max_width=PIECE_WIDTH, overflow="ellipsis", no_wrap=True)
    table.add_column("id", justify="right")
    for row in rows:
        style = "bold red" if row.diverges else ("yellow" if row.differs else "dim")
        cells: list[str | Text] = [
            "▶" if row.diverges else "",
            str(row.position),
            _piece(row.expected),
            _id(row.expected),
        ]
        if with_logprobs:
            logprob = row.expected.logprob if row.expected else None
            cells.append(logprob_text(logprob))
        cells += [_piece(row.actual), _id(row.actual)]
        table.add_row(*cells, style=style)
    return table


def _piece(token: Token | None) -> Text:
    if token is None:
        return Text("(end)", style="italic")
    return Text(token.shown)


def _id(token: Token | None) -> str:
    return "" if token is None else str(token.id)
