"""The old entry point, kept so ``python -m bench.run [--quick]`` still works: see ``bench/__main__.py``."""

from __future__ import annotations

import sys

from bench.__main__ import main

if __name__ == "__main__":
    sys.exit(main())
