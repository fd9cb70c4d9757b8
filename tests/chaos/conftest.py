import os

import pytest

from .netns import available

# CHAOS_SEED=N reruns the CI profile with another schedule (a failure prints the seed it used).
SEED = int(os.environ.get("CHAOS_SEED", "1"))

_why_not = available()
needs_netns = pytest.mark.skipif(_why_not is not None, reason=f"needs network namespaces: {_why_not}")
needs_root = pytest.mark.skipif(
    os.geteuid() != 0, reason="mounting a small tmpfs needs root (CI runs as root); run as root to include it"
)
