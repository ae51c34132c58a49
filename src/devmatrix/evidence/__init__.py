"""Evidence about generated code, gathered without ever running it on the host."""

from devmatrix.evidence.checks import CheckResult, Evidence, gather, gather_files, read_files
from devmatrix.evidence.sandbox import Sandbox, SandboxResult

__all__ = ["CheckResult", "Evidence", "Sandbox", "SandboxResult", "gather", "gather_files", "read_files"]
