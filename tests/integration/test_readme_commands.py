"""Every `connector …` command the README shows exists, with the options it shows."""
import re
import shlex

import pytest
from click.testing import CliRunner

from connector.cli import main
from tests.conftest import ROOT

_COMMAND = re.compile(r"`(connector [^`]+)`")


def _readme_commands() -> list[list[str]]:
    found = set()
    for text in _COMMAND.findall((ROOT / "README.md").read_text(encoding="utf-8")):
        words = shlex.split(text.replace("\\|", "|").replace("…", "").replace("[", " ").replace("]", " "))[1:]
        if words:
            found.add(tuple(w for w in words if w not in ("|",)))
    return sorted(map(list, found))


def _path_and_options(words: list[str]) -> tuple[list[str], list[str]]:
    """The subcommand path (known groups walked) and the options named after it."""
    command, path = main, []
    for word in words:
        sub = getattr(command, "commands", {}).get(word)
        if sub is None:
            break
        command, path = sub, path + [word]
    options = [w.split("=")[0] for w in words[len(path):] if w.startswith("--")]
    return path, options


@pytest.mark.parametrize("words", _readme_commands(), ids=" ".join)
def test_readme_command_exists_with_its_options(words):
    path, options = _path_and_options(words)
    assert path or words[0].startswith("--"), f"`connector {' '.join(words)}`: no such command"
    result = CliRunner().invoke(main, path + ["--help"])
    assert result.exit_code == 0, result.output
    for option in options:
        assert option in result.output, f"`connector {' '.join(path)}` has no option {option}"
