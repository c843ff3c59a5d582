# grantline — the two commands a newcomer needs:
#   make test   installs what is missing, builds everything, runs every test suite
#   make demo   starts local authorization servers and walks every grant against them
# Everything installs idempotently into ignored project-local folders (.tools/, .venv/, node_modules/).

SHELL := bash
.SHELLFLAGS := -euo pipefail -c
CARGO ?= cargo
SERVERS := tests/interop/servers.sh
WASM_TARGET := wasm32-unknown-unknown

.PHONY: test demo setup lint unit wasm js python kotlin interop vectors bench load fuzz fmt fleet fleet-demo

test: setup lint unit js python kotlin interop fleet
	@echo "make test: all suites passed"

# The grants against the local servers, then the fleet demo: Rust and Python processes sharing
# one token over Redis (it builds the Python extension into .venv the first time).
demo: setup
	$(SERVERS) run -- $(CARGO) run --quiet -p grantline-examples --bin demo
	bindings-python/test.sh build
	$(CARGO) build --quiet -p grantline-examples --bin fleet-worker
	$(SERVERS) run -- python3 tests/fleet/demo.py

setup:
	@rustup target list --installed | grep -qx $(WASM_TARGET) || rustup target add $(WASM_TARGET)
	@$(SERVERS) install

lint:
	$(CARGO) fmt --all --check
	$(CARGO) clippy --workspace --all-targets --all-features -- -D warnings
	RUSTDOCFLAGS=-Dwarnings $(CARGO) doc --workspace --no-deps --quiet

# Unit tests, doctests, the shared vectors, the session and no-secret tests.
unit:
	$(CARGO) test --workspace

vectors:
	$(CARGO) test -p grantline --test vectors -- --nocapture

# The core must build for wasm32-unknown-unknown (the JavaScript binding's target). `make test`
# does not run this target: `js` builds the core for wasm32 twice already (the npm package, and
# the wasm-bindgen tests with another feature set), so this build was 30 s of a cold run for
# nothing.
wasm:
	$(CARGO) build -p grantline --target $(WASM_TARGET)

# The bindings: each script installs what it needs, builds its package and runs its suites
# (vectors, interop against the servers of tests/interop, no-secret checks).
js:
	bindings-wasm/test.sh

python:
	bindings-python/test.sh

kotlin:
	bindings-uniffi/test.sh

# Interop against real authorization servers on 127.0.0.1, and the examples' transport against
# the hostile server (tests/hostile), all stopped when done.
interop:
	$(SERVERS) run -- $(CARGO) test -p grantline-examples --features interop --test interop --test oidc --test hostile --test async_session --test fleet

# Benchmarks, each against its anchor library in the same run: the core against the oauth2
# crate, the npm package against oauth4webapi (throughput, size, and cold start in Node, Deno,
# Bun and workerd, each with the issue-13 budget's verdict), the Python package against
# oauthlib, the Kotlin binding's cached token and round across the FFI. Figures are never
# asserted in tests.
bench: setup
	$(CARGO) bench -p grantline --bench round
	$(CARGO) bench -p grantline-async --bench async_round
	CARGO_TARGET_DIR=$(CURDIR)/target/bench-oidc $(CARGO) bench --manifest-path bench/oidc/Cargo.toml --bench id_token
	bindings-wasm/test.sh bench
	bindings-wasm/size.sh
	scripts/tools.sh runtimes >/dev/null
	node bindings-wasm/bench/cold.mjs
	bindings-python/test.sh bench
	bindings-uniffi/test.sh bench

# Faults under load, every binding: many callers share one session against the rotating token
# server of tests/load (reuse revokes the family, a share of requests fails). Figures printed;
# a run fails only on a correctness failure (invalid_grant, a lost refresh token, an error while
# a valid token existed). LOAD_SECONDS (default 20) sets each run's length.
load: setup
	$(CARGO) build --release -p grantline-examples --bin load
	$(SERVERS) run -- bash -c 'rc=0; for run in target/release/load "bindings-wasm/test.sh load" \
	  "bindings-python/test.sh load" "bindings-uniffi/test.sh load"; do $$run || rc=1; done; exit $$rc'

# One token for a whole fleet (issue 12): processes in Rust, Python and Node share one token
# session over Redis against the rotating token server of tests/load; the harness starts its own
# redis-server and kills the lease holder, restarts Redis (tests/fleet/README.md). The Python and
# Node workers need their bindings built (make python, make js); a missing one fails the run.
# `fleet` runs the quick subset (about 70 s), FLEET="all" everything; FLEET_ARGS adds options.
FLEET ?= quick
fleet:
	$(CARGO) build -p grantline-examples --features interop --bin fleet-worker
	$(SERVERS) run -- python3 tests/fleet/fleet.py $(FLEET) $(FLEET_ARGS)

# 3 Rust and 2 Python (or Node) processes, one client_credentials session, printed as they run.
fleet-demo:
	$(CARGO) build -p grantline-examples --features interop --bin fleet-worker
	$(SERVERS) run -- python3 tests/fleet/demo.py

# Fuzz every parser and the token session (cargo-fuzz on the installed nightly; not part of
# `make test`): FUZZ_SECONDS (60) per target, FUZZ_JOBS at a time; TARGETS="jwt session" for
# some. See core/fuzz/README.md.
fuzz:
	scripts/fuzz.sh $(TARGETS)

fmt:
	$(CARGO) fmt --all
