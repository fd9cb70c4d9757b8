import os

# CHAOS_SEED=N reruns the CI profile with another schedule (a failure prints the seed it used).
SEED = int(os.environ.get("CHAOS_SEED", "1"))
