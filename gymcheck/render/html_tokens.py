"""The aligned token view as an HTML table: whitespace and special tokens made visible, the
first divergent token in cells of class ``diverge``."""

from __future__ import annotations

from html import escape

from gymcheck.render.tokens import VISIBLE, Token, TokenRow, logprob_text


def _printable(ch: str) -> str:
    return ch if ch.isprintable() else repr(ch)[1:-1]


def piece_html(token: Token | None) -> str:
    """The piece with each space, newline and tab shown as a dim mark; special tokens purple."""
    if token is None:
        return '<span class="ws">(end)</span>'
    if token.piece is None:
        return f'<span class="ws">#{token.id}</span>'
    if token.special:
        return f'<span class="special">{escape(token.piece)}</span>'
    if not token.piece:
        return '<span class="ws">∅</span>'
    return "".join(
        f'<span class="ws">{VISIBLE[ch]}</span>' if ch in VISIBLE else escape(_printable(ch))
        for ch in token.piece
    )


def token_table(rows: list[TokenRow]) -> str:
    """``pos | expected piece, id, logprob | actual piece, id``, one row per position."""
    with_logprobs = any(r.expected and r.expected.logprob is not None for r in rows)
    expected_span = 3 if with_logprobs else 2
    head = (
        '<table class="tokens"><thead><tr><th></th>'
        f'<th class="side" colspan="{expected_span}">expected (previous prompt + generation)</th>'
        '<th class="side gap" colspan="2">actual (this turn\'s prompt)</th></tr>'
        '<tr><th class="num">pos</th><th>piece</th><th class="num">id</th>'
        + ('<th class="num">logprob</th>' if with_logprobs else "")
        + '<th class="gap">piece</th><th class="num">id</th></tr></thead><tbody>'
    )
    body = []
    for row in rows:
        mark = " diverge" if row.diverges else ""
        kind = "diverge-row differs" if row.diverges else ("differs" if row.differs else "same")
        cells = [
            f'<td class="num">{row.position}</td>',
            f'<td class="piece expected{mark}">{piece_html(row.expected)}</td>',
            f'<td class="num">{row.expected.id if row.expected else ""}</td>',
        ]
        if with_logprobs:
            logprob = row.expected.logprob if row.expected else None
            cells.append(f'<td class="num">{logprob_text(logprob)}</td>')
        cells += [
            f'<td class="piece actual gap{mark}">{piece_html(row.actual)}</td>',
            f'<td class="num">{row.actual.id if row.actual else ""}</td>',
        ]
        body.append(f'<tr class="{kind}">{"".join(cells)}</tr>')
    return head + "".join(body) + "</tbody></table>"
