"""Evidence about Python code: does it parse, is it free of error-class lint, does it import,
do its own tests pass. The first two read the code on the host (neither runs it); the last
two run it, only inside the sandbox (devmatrix.evidence.sandbox).

For each Python file: `ast` (parse), `ruff` (RUFF_ERROR_RULES), `import` (not for test
files). Once for the set: `pytest`, on the test files (`test_*.py`, `*_test.py`) and on any
module that defines top-level `test_` functions or `Test` classes; skipped when there are none.
"""

from __future__ import annotations

import ast
import subprocess
import sys
import time
from collections.abc import Collection, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path, PurePosixPath

from devmatrix.deadlines import RUFF_TIMEOUT_S
from devmatrix.errors import EvidenceError
from devmatrix.evidence._constants import (
    EXCERPT_CHARS,
    MAX_FILES,
    MAX_TOTAL_BYTES,
    RUFF_ERROR_RULES,
    SANDBOX_WORKDIR,
    SKIPPED_DIRS,
)
from devmatrix.evidence.sandbox import Sandbox, SandboxResult

# Imports one module inside the sandbox: by its dotted name when it has one (so a package's
# relative imports work), else from its file. argv: name, path relative to the work dir.
_IMPORT = """
import importlib, importlib.util, sys
name, path = sys.argv[1], sys.argv[2]
if all(part.isidentifier() for part in name.split(".")):
    importlib.import_module(name)
else:
    spec = importlib.util.spec_from_file_location(name.replace(".", "_").replace("-", "_"), path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
print("imported", name)
"""


@dataclass(frozen=True)
class CheckResult:
    """One check of one file (or, for pytest, of the set): what ran and what it showed."""

    name: str  # ast | ruff | import | pytest
    target: str  # the file, relative to what was checked; "." for the whole set
    passed: bool
    output: str  # an excerpt: at most EXCERPT_CHARS
    seconds: float
    skipped: bool = False  # not run (e.g. no tests to run, or the file does not parse): passed stays True
    limits_hit: tuple[str, ...] = ()  # sandbox limits the run met (devmatrix.evidence._limits)


@dataclass(frozen=True)
class Evidence:
    """Every check of a file or folder; ``passed`` when none failed."""

    path: str
    checks: tuple[CheckResult, ...]

    @property
    def passed(self) -> bool:
        return all(check.passed for check in self.checks)

    @property
    def failures(self) -> tuple[CheckResult, ...]:
        return tuple(check for check in self.checks if not check.passed)

    def to_dict(self) -> dict:
        return {"path": self.path, "passed": self.passed, "checks": [asdict(check) for check in self.checks]}

    def feedback(self) -> str:
        """What failed, with its output: what a repair round shows the model."""
        return "\n\n".join(f"{check.name} of {check.target} failed:\n{check.output}" for check in self.failures)


def gather(path: Path, sandbox: Sandbox) -> Evidence:
    """The evidence for a Python file, or for every Python file under a folder."""
    return gather_files(read_files(path), sandbox, label=str(path))


def gather_files(files: Mapping[str, str], sandbox: Sandbox, *, label: str = ".",
                 targets: Collection[str] | None = None) -> Evidence:
    """The evidence for files given as text (relative POSIX path → source), e.g. generated ones.
    ``targets``: check only these of ``files``; the others are there to be imported (a generated
    test file beside the implementation it tests, in a workspace)."""
    sources = {name: text for name, text in files.items() if name.endswith(".py")
               and (targets is None or name in targets)}
    if not sources:
        raise EvidenceError(f"{label}: no Python file to check", fix="give a .py file or a folder holding some")
    sandbox.check()  # unavailable → raised before any check, so no half evidence
    payload = {name: text.encode() for name, text in files.items()}
    checks: list[CheckResult] = []
    parsed: dict[str, ast.Module] = {}
    for name, text in sorted(sources.items()):
        result, tree = _parse(name, text)
        checks.append(result)
        if tree is not None:
            parsed[name] = tree
        checks.append(_ruff(name, text))
    for name in sorted(sources):
        if _is_test_file(name) or PurePosixPath(name).stem == "conftest":  # pytest imports those
            continue
        if name not in parsed:
            checks.append(CheckResult("import", name, True, "not imported: it does not parse", 0.0, skipped=True))
            continue
        checks.append(_from_run("import", name, sandbox.run_python(["-c", _IMPORT, _module_name(name), name],
                                                                   payload)))
    checks.append(_pytest(sorted(name for name in sources if _is_test_file(name) or _has_tests(parsed.get(name))),
                          payload, sandbox))
    return Evidence(path=label, checks=tuple(checks))


def read_files(path: Path, *, max_files: int = MAX_FILES, max_bytes: int = MAX_TOTAL_BYTES,
               also_skipped: Collection[str] = ()) -> dict[str, str]:
    """A file, or a folder's regular files (no symlinks, no caches or VCS data, no directory
    named in ``also_skipped``), as text."""
    skipped_dirs = SKIPPED_DIRS | set(also_skipped)
    if not path.exists():
        raise EvidenceError(f"{path} does not exist", fix="give the path of a .py file or of a folder")
    if path.is_file():
        return {path.name: _text(path)}
    found: dict[str, str] = {}
    total = 0
    for file in sorted(path.rglob("*")):
        relative = file.relative_to(path)
        if any(part in skipped_dirs for part in relative.parts) or file.is_symlink() or not file.is_file():
            continue  # a symlink is never followed: it could point at a secret
        total += file.stat().st_size
        if len(found) >= max_files or total > max_bytes:
            raise EvidenceError(f"{path} holds more than {max_files} files or {max_bytes / 2**20:g} MB:"
                                " more than generated code", fix="check the folder of the generated code only")
        found[relative.as_posix()] = _text(file)
    return found


def _text(file: Path) -> str:
    return file.read_bytes().decode("utf-8", errors="replace")


def _parse(name: str, text: str) -> tuple[CheckResult, ast.Module | None]:
    start = time.monotonic()
    try:
        tree = ast.parse(text, filename=name)
    except (SyntaxError, ValueError) as error:  # ValueError: a NUL byte in the source
        where = f"line {error.lineno}: " if isinstance(error, SyntaxError) and error.lineno else ""
        return CheckResult("ast", name, False, f"{type(error).__name__}: {where}{error}",
                           time.monotonic() - start), None
    return CheckResult("ast", name, True, "", time.monotonic() - start), tree


def _ruff(name: str, text: str) -> CheckResult:
    """ruff reads the source from stdin: it parses, never runs it. --isolated: no config file
    of the checked folder changes the rules."""
    command = [sys.executable, "-m", "ruff", "check", "--isolated", "--no-cache", "--output-format", "concise",
               "--select", ",".join(RUFF_ERROR_RULES), "--stdin-filename", name, "-"]
    start = time.monotonic()
    try:
        done = subprocess.run(command, input=text, capture_output=True, text=True, timeout=RUFF_TIMEOUT_S,
                              check=False)
    except subprocess.TimeoutExpired:
        raise EvidenceError(f"ruff did not finish checking {name} in {RUFF_TIMEOUT_S:.0f} s",
                            fix="see whether the machine is overloaded, then run the check again") from None
    if done.returncode not in (0, 1):  # 2: ruff itself failed, which says nothing about the code
        raise EvidenceError(f"ruff failed on {name} (exit {done.returncode}): {done.stderr.strip()[:300]}",
                            fix="reinstall DevMatrix's pinned ruff: pip install -e .")
    return CheckResult("ruff", name, done.returncode == 0, excerpt(done.stdout + done.stderr),
                       time.monotonic() - start)


def _pytest(targets: list[str], payload: Mapping[str, bytes], sandbox: Sandbox) -> CheckResult:
    if not targets:
        return CheckResult("pytest", ".", True, "no tests found (no test_*.py, no test_ functions)", 0.0,
                           skipped=True)
    # Files named on the command line are collected whatever their name; bare pytest, no plugins
    # of the host's (PYTEST_DISABLE_PLUGIN_AUTOLOAD), no cache to write, no config file above.
    args = ["-m", "pytest", "-q", "-p", "no:cacheprovider", f"--rootdir={SANDBOX_WORKDIR}", "-c", "/dev/null",
            *targets]
    return _from_run("pytest", " ".join(targets), sandbox.run_python(args, payload))


def _from_run(name: str, target: str, run: SandboxResult) -> CheckResult:
    limits = f"\n[stopped by the sandbox: {', '.join(run.limits_hit)}]" if run.limits_hit else ""
    return CheckResult(name, target, run.ok, excerpt(run.stdout + run.stderr) + limits, run.seconds,
                       limits_hit=run.limits_hit)


def excerpt(text: str, limit: int = EXCERPT_CHARS) -> str:
    """The head and the tail of ``text`` (a traceback ends with its error, pytest with its summary)."""
    text = text.strip()
    if len(text) <= limit:
        return text
    head = limit // 4
    tail = limit - head
    return f"{text[:head]}\n… [{len(text) - limit} characters cut] …\n{text[-tail:]}"


def _module_name(name: str) -> str:
    parts = list(PurePosixPath(name).with_suffix("").parts)
    if parts[-1] == "__init__" and len(parts) > 1:
        parts.pop()
    return ".".join(parts)


def _is_test_file(name: str) -> bool:
    stem = PurePosixPath(name).stem
    return stem.startswith("test_") or stem.endswith("_test")


def _has_tests(tree: ast.Module | None) -> bool:
    if tree is None:
        return False
    return any((isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name.startswith("test"))
               or (isinstance(node, ast.ClassDef) and node.name.startswith("Test")) for node in tree.body)
