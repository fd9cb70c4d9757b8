# Every target sets up .venv by itself: a fresh machine needs only Python 3.11+ and make.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
SEEDS ?= 20000
STEPS ?= 3000

.PHONY: help install test test-quick flake sim lint clean cluster node demo bench bench-dashboard bench-scale bench-backup \
	chaos fuzz upgrade abuse

CONFIGS := $(sort $(wildcard configs/node*.toml))

help:
	@echo "make cluster        start the four nodes of configs/ in the foreground (Ctrl-C stops them)"
	@echo "make cluster TLS=1  the same over TLS, mutual between peers (certificates made on first run)"
	@echo "make node PORT=4001 start one node (e.g. again, after killing it)"
	@echo "make demo [SLOW=10] the classroom cluster: break it from the page, watch Raft repair it"
	@echo "make test           set up .venv and run every test"
	@echo "make flake RUNS=10  run make test RUNS times in a row and list every failure of every run"
	@echo "make sim SEEDS=N    run N randomized fault schedules through the Raft simulator"
	@echo "make bench          measure a local cluster against its targets (and etcd, if installed)"
	@echo "make bench-dashboard  the dashboard at 100,000 tasks in Chromium: first screen, typed task"
	@echo "make bench-scale    the figures at a million tasks: restart, catch-up, memory, snapshots"
	@echo "make bench-backup   backup and restore at 100,000 and 1,000,000 tasks, and writes meanwhile"
	@echo "make chaos MINUTES=30 SEED=7  faults against real processes (root: namespaces and partitions)"
	@echo "make fuzz EXAMPLES=200 SEED=7  schemathesis against live nodes, far longer than in make test"
	@echo "make upgrade        the long rolling upgrade from the previous release, kill -9 at every step"
	@echo "make abuse          hostile clients against a cluster: write latency, elections, memory per attack"
	@echo "make lint           ruff, and mypy (strict) on src/todonode"

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "todonode needs Python 3.11 or newer"'
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

install: $(STAMP)

# The shipped configs read the cluster secret from this file; each checkout makes its own, private
# from the moment it exists (umask 077), never chmod'ed after.
configs/cluster.secret:
	@umask 077 && $(PYTHON) -c 'import secrets; print(secrets.token_hex(32))' > $@

# TLS=1: the same nodes over TLS, mutual between peers. On first run `todonode certs init` makes a CA
# and a certificate per node in configs/certs/, and configs/tls/ gets an https copy of each config.
TLS_DIR := $(if $(filter 1,$(TLS)),configs/tls/)
TLS_CONFIGS := $(patsubst configs/%,configs/tls/%,$(CONFIGS))

configs/certs/ca.crt: | $(STAMP)
	$(BIN)/todonode certs init --out configs/certs \
		$(foreach config,$(CONFIGS),$(basename $(notdir $(config)))=127.0.0.1,localhost)

configs/tls/%.toml: configs/%.toml configs/certs/ca.crt
	@mkdir -p configs/tls
	@sed -e 's|http://|https://|g' -e 's|^secret_file = "|secret_file = "../|' $< > $@
	@printf '\n[tls]\ncert_file = "../certs/%s.crt"\nkey_file = "../certs/%s.key"\nca_file = "../certs/ca.crt"\n' \
		$* $* >> $@

cluster: $(STAMP) configs/cluster.secret $(if $(TLS_DIR),$(TLS_CONFIGS))
	@$(BIN)/python scripts/cluster.py $(if $(TLS_DIR),$(TLS_CONFIGS),$(CONFIGS))

node: $(STAMP) configs/cluster.secret $(if $(TLS_DIR),$(TLS_CONFIGS))
	@test -n "$(PORT)" || { echo "usage: make node PORT=4001 [TLS=1]"; exit 2; }
	@$(BIN)/python scripts/cluster.py $(or $(TLS_DIR),configs/)node$(PORT).toml

# The four nodes in demo mode (files in data/demo/): the page gets fault buttons, a live view of the
# messages and each election told in words. SLOW=10 multiplies every timing by ten, for a lecture.
demo: $(STAMP) configs/cluster.secret
	@$(BIN)/python scripts/cluster.py --demo --slow $(or $(SLOW),1) $(CONFIGS)

# pytest exits 5 when it collected nothing; make fails on any non-zero status, so that can never pass.
# -rfEs: the summary at the end names every failure, error and skip, each with its reason.
# Two runs: everything in parallel, then the tests marked `alone` one at a time, so that CPU-heavy
# suites never starve the nodes of a test that asserts "no election" or "no error". Both always run.
test: lint
	@status=0; \
	$(BIN)/python -m pytest -n auto -q -rfEs -m "not alone" || status=1; \
	$(BIN)/python -m pytest -q -rfEs -m alone || status=1; \
	exit $$status

# make flake RUNS=10: make test RUNS times in a row on this machine; no run stops the others, and the
# end lists every failed test of every run (each run's full output stays in test-artifacts/flake/).
flake: $(STAMP)
	$(BIN)/python -m tests.flake --runs $(or $(RUNS),10)

test-quick: $(STAMP)
	$(BIN)/python -m pytest -q -x tests/unit

# make sim SEEDS=20000 runs many schedules; make sim SEED=123 TRACE=1 replays one with every event printed.
sim: $(STAMP)
	$(BIN)/python -m tests.sim --steps $(STEPS) $(if $(SEED),--seed $(SEED),--seeds $(SEEDS)) $(if $(TRACE),--trace)

# make chaos MINUTES=30 SEED=7 runs the fault suite against a real cluster for that long (PROFILE=netns,
# loopback or auto); it prints a live progress line, then the summary table; the files stay in test-artifacts/.
MINUTES ?= 10
chaos: $(STAMP)
	$(BIN)/python -m tests.chaos --minutes $(MINUTES) --seed $(or $(SEED),1) --profile $(or $(PROFILE),auto)

# make bench [QUICK=1] [RUNS=3] [ETCD=0]: a fresh local four-node cluster (and a four-member etcd cluster
# when etcd is installed: apt-get install -y etcd-server) through every workload; prints the table and
# writes bench/results/latest.json and the chart. QUICK=1: tiny sizes, under a minute. ETCD=0: skip etcd.
# TLS=1: what TLS costs instead, writes/s at concurrency 1 and 32 with and without it (bench/results/tls.json).
BENCH_STAMP := $(VENV)/.installed-bench

$(BENCH_STAMP): $(STAMP) pyproject.toml
	$(BIN)/python -m pip install --quiet -e '.[dev,bench]'
	@touch $@

bench: $(BENCH_STAMP)
	$(BIN)/python -m bench $(if $(filter-out 0,$(QUICK)),--quick) $(if $(RUNS),--runs $(RUNS)) \
		$(if $(filter 0,$(ETCD)),--no-etcd) $(if $(TLS_DIR),--tls)

# make bench-dashboard [TASKS=100000] [RUNS=5]: the dashboard with a long list in Chromium: first
# screen, whole list and typed-task times (medians, with the targets); bench/results/dashboard.json.
bench-dashboard: $(STAMP)
	$(BIN)/python -m bench.dashboard $(if $(TASKS),--tasks $(TASKS)) $(if $(RUNS),--runs $(RUNS))

# make bench-scale [QUICK=1] [RUNS=N]: todonode alone, filled to a million tasks (QUICK=1: 5,000), with a
# snapshot of it all taken under load; writes bench/results/scale.json and scale.md. Minutes, and GBs.
bench-scale: $(BENCH_STAMP)
	$(BIN)/python -m bench --scale $(if $(filter-out 0,$(QUICK)),--quick) $(if $(RUNS),--runs $(RUNS))

# make bench-backup [TASKS="100000 1000000"] [RUNS=3]: a fresh three-node cluster per size: backup and
# restore times, file size, and write p99 while a backup streams; bench/results/backup.json.
bench-backup: $(STAMP)
	$(BIN)/python -m bench.backup $(if $(TASKS),--tasks $(TASKS)) $(if $(RUNS),--runs $(RUNS))

# make fuzz [EXAMPLES=200] [SEED=N]: tests/fuzz (a one-node cluster, then a follower of three nodes) with
# many more generated requests per operation than the quick run in make test.
fuzz: $(STAMP)
	TODONODE_FUZZ_EXAMPLES=$(or $(EXAMPLES),200) $(if $(SEED),TODONODE_FUZZ_SEED=$(SEED)) \
		$(BIN)/python -m pytest -q --timeout 7200 tests/fuzz

# make upgrade: tests/compat's rolling upgrade with its long profile (every node killed with kill -9,
# every node taken back to the previous release and forward again, more clients); make test runs the
# short one. The figures are printed at the end and kept in test-artifacts/rolling-upgrade.json.
upgrade: $(STAMP)
	TODONODE_UPGRADE=long $(BIN)/python -m pytest -q tests/compat/test_rolling_upgrade.py

# make abuse [ONLY="idle sockets"]: every attack of tests/abuse, full length, against a fresh
# three-node cluster; prints the table (write p50/p99 before and during, elections, RSS) and writes
# test-artifacts/abuse.json. make test runs the short profile.
abuse: $(STAMP)
	$(BIN)/python -m tests.abuse $(if $(ONLY),--only "$(ONLY)")

lint: $(STAMP)
	$(BIN)/ruff check src tests
	$(BIN)/mypy

clean:
	rm -rf $(VENV) build dist src/*.egg-info .pytest_cache .ruff_cache
