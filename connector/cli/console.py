"""The commands' rich Console: wrapped to the terminal on a terminal, never wrapped in a pipe.

rich wraps at 80 columns whenever it cannot ask a terminal for its width, so `connector status |
grep …`, a cron mail or a CI log got every long reason (JDE's error texts) broken over lines and
table cells folded. Piped or redirected, lines are as long as they are.
"""
from __future__ import annotations

import rich.console
from rich.console import ConsoleDimensions

# Not a terminal: wide enough that no table is folded (tables take only the width they need).
PIPED_WIDTH = 10_000


class Console(rich.console.Console):
    @property
    def size(self) -> ConsoleDimensions:
        # Asked at each print, not when the console was made: stdout can be replaced meanwhile
        # (click's CliRunner), and `console` in connector/cli/operations.py is made at import.
        size = rich.console.Console.size.fget(self)
        return size if self.is_terminal else ConsoleDimensions(PIPED_WIDTH, size.height)

    @size.setter
    def size(self, new_size) -> None:
        rich.console.Console.size.fset(self, new_size)

    def print(self, *objects, soft_wrap: bool | None = None, **kwargs) -> None:
        if soft_wrap is None and not self.is_terminal:
            soft_wrap = True   # a long text line is one line, whatever its length
        super().print(*objects, soft_wrap=soft_wrap, **kwargs)
