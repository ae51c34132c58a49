"""`python -m devmatrix.llm.double`: see devmatrix.llm.double.cli."""

import sys

from devmatrix.llm.double.cli import main

sys.exit(main(sys.argv[1:]))
