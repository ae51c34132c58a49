"""The docs, followed word by word: every `invoke`, `devmatrix` and `nox -s` command written in
README.md, RUNBOOK.md and docs/ parses against the real tasks, CLI and sessions, with the values
it gives (a placeholder such as `<service>`, `DIR` or `…` stands for any value). A rehearsal
that says `invoke chaos -s chroma -f freeze` cannot come back.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
from invoke.parser import ParseError, Parser

from devmatrix import cli
from devmatrix.errors import UsageError
from devmatrix.tasks import namespace

pytestmark = pytest.mark.unit

ROOT = Path(__file__).parents[2]
DOCS = [ROOT / "README.md", ROOT / "RUNBOOK.md", *sorted((ROOT / "docs").glob("*.md"))]
_FENCE = re.compile(r"^```[a-z]*\n(.*?)^```", re.M | re.S)
_SPAN = re.compile(r"`([^`\n]+)`")
_COMMAND = re.compile(r"(?:^|(?<=[\s(]))(?:\.venv/bin/)?(invoke|devmatrix|nox)(?=\s|$)(.*)")
_SHELL_END = re.compile(r"\s(?:&&|\|\||\||;|#|>|2>)|\)\s*$|\)\s")
_PLACEHOLDER = re.compile(r"[<…*]|^[A-Z][A-Z_]*$|^wf-…$|^N$")
# invoke's own options a doc may show before the task (`invoke --help rag.query`, `invoke --list`)
INVOKE_CORE = {"--list", "-l", "--help", "-h", "--version"}
SESSIONS = set(re.findall(r"^def (\w+)\(session", (ROOT / "noxfile.py").read_text(), re.M))


def _snippets(text: str) -> list[str]:
    """Shell text of the fenced blocks (line by line) and of the inline code spans."""
    blocks = [re.sub(r"(^|\s)#.*$", "", line)  # a comment names commands, it does not run them
              for match in _FENCE.finditer(text) for line in match.group(1).splitlines()]
    outside = _FENCE.sub("", text)
    return blocks + _SPAN.findall(outside)


def _commands() -> list[tuple[str, str, list[str]]]:
    found = []
    for doc in DOCS:
        for snippet in _snippets(doc.read_text(encoding="utf-8")):
            for match in _COMMAND.finditer(snippet):
                rest = _SHELL_END.split(match.group(2), maxsplit=1)[0]
                try:
                    words = shlex.split(rest)
                except ValueError:  # an unbalanced quote in prose: not a command
                    continue
                found.append((doc.name, f"{match.group(1)} {rest.strip()}", [match.group(1), *words]))
    return found


COMMANDS = _commands()


def test_the_docs_hold_commands_of_each_kind():
    kinds = {words[0] for _, _, words in COMMANDS}
    assert kinds == {"invoke", "devmatrix", "nox"} and len(COMMANDS) > 80


@pytest.mark.parametrize(("doc", "line", "words"), [c for c in COMMANDS if c[2][0] == "invoke"],
                         ids=[f"{d}: {line}" for d, line, w in COMMANDS if w[0] == "invoke"])
def test_every_invoke_command_in_the_docs_parses(doc, line, words):
    args = words[1:]
    if not args or args[0] in INVOKE_CORE or any("…" in a or "*" in a for a in args[:1]):
        return  # `invoke --list`, `invoke …`, `invoke infra.*`: not a task call
    try:
        parsed = Parser(contexts=namespace.to_contexts()).parse_argv(args)
    except ParseError as error:
        pytest.fail(f"{doc}: `{line}` does not parse: {error}")
    for context in parsed:
        task = namespace[context.name]
        values = {name: arg.value for name, arg in context.args.items()
                  if arg.got_value and not _PLACEHOLDER.search(str(arg.value))}
        try:
            task.check_flags(values)
        except UsageError as error:
            pytest.fail(f"{doc}: `{line}`: {error}")


@pytest.mark.parametrize(("doc", "line", "words"), [c for c in COMMANDS if c[2][0] == "devmatrix"],
                         ids=[f"{d}: {line}" for d, line, w in COMMANDS if w[0] == "devmatrix"])
def test_every_devmatrix_command_in_the_docs_parses(doc, line, words):
    args = [("x" if _PLACEHOLDER.search(a) and not a.startswith("-") else a) for a in words[1:]]
    if len(args) < 2:
        return  # `devmatrix generate`: the command named in prose
    try:
        cli._parser().parse_args(args)
    except SystemExit as ended:
        pytest.fail(f"{doc}: `{line}` does not parse (exit {ended.code})")


@pytest.mark.parametrize(("doc", "line", "words"), [c for c in COMMANDS if c[2][0] == "nox"],
                         ids=[f"{d}: {line}" for d, line, w in COMMANDS if w[0] == "nox"])
def test_every_nox_session_in_the_docs_exists(doc, line, words):
    named = [words[i + 1] for i, w in enumerate(words[:-1]) if w == "-s"]
    assert set(named) <= SESSIONS, f"{doc}: `{line}` names a session noxfile.py does not have"


def test_a_wrong_flag_in_a_doc_would_be_caught():
    with pytest.raises(ParseError, match="No idea what '-f' is"):
        Parser(contexts=namespace.to_contexts()).parse_argv(["chaos", "-s", "chroma", "-f", "freeze", "-d", "rag"])


def test_every_shell_variable_a_doc_block_uses_is_set_in_that_block():
    """A block copied into a fresh shell works: `$API_TOKEN` that nothing sets gave 401."""
    unset = []
    for doc in DOCS:
        for block in re.findall(r"^```(?:bash|sh)\n(.*?)^```", doc.read_text(encoding="utf-8"), re.M | re.S):
            for used in re.finditer(r"\$\{?([A-Za-z_]\w*)(:-)?", block):
                name, has_default = used.groups()
                if not has_default and not re.search(rf"(^|\s|export ){name}=", block, re.M):
                    unset.append(f"{doc.name}: ${name}")
    assert unset == []


def test_no_doc_hides_an_authenticated_error_with_curl_f():
    hidden = [line for doc in DOCS for line in doc.read_text(encoding="utf-8").splitlines()
              if re.search(r"curl -f\S*\s.*Authorization", line)]
    assert hidden == []


def test_readme_activates_the_venv_before_its_first_bare_command():
    """After the two commands (`.venv/bin/…`), README says once to activate the venv; every bare
    `invoke`, `devmatrix`, `nox` or `pre-commit` it shows comes after that line."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    activate = text.index("source .venv/bin/activate")
    assert text.index("bash scripts/bootstrap.sh") < activate
    blocks = [(m.start(), m.group(1)) for m in _FENCE.finditer(text)]
    spans = [(m.start(), m.group(1)) for m in _SPAN.finditer(_FENCE.sub(lambda m: " " * len(m.group(0)), text))]
    bare = [(at, code) for at, code in blocks + spans
            if re.search(r"(^|\n|\s)(invoke|devmatrix|nox|pre-commit) ", re.sub(r"(^|\s)#.*", "", code))]
    first = min(at for at, _ in bare)
    assert first > activate, f"a bare command before `source .venv/bin/activate`: {min(bare)[1]!r}"
