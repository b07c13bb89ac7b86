# Developer entry points. `make test` is exactly what CI runs (after .ci/run installs the peers).
CARGO ?= cargo

.PHONY: all build run test lint fmt bench bench-calls bench-scale conformance fuzz clean

all: build

build:
	$(CARGO) build --workspace --release

# The gateway on its embedded default configuration (config/default.toml).
run:
	$(CARGO) run --release -p mgc -- run

lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings

test: lint
	$(CARGO) test --workspace --all-targets
	$(CARGO) test --workspace --doc

# ISUP/SIP conformance fixtures (isup-fixtures/, docs/conformance.md) through the gateway core on a
# virtual clock; `make test` runs them too (crates/mgc/tests/conformance.rs).
conformance:
	$(CARGO) run --release -p mgc -- conformance isup-fixtures

fmt:
	$(CARGO) fmt --all

bench:
	$(CARGO) bench -p isup --bench codec
	$(CARGO) bench -p m3ua --bench m3ua
	$(CARGO) bench -p sip --bench parse
	$(CARGO) bench -p ss7sim --bench exchange

# Call-load benchmark against SIPp and Kamailio (bench/bench-calls.sh; needs sip-tester and kamailio):
# the highest zero-failure call rate per call model, latency, peak RSS → bench/results/.
bench-calls:
	bash bench/bench-calls.sh

# 50,000 concurrent held calls through mgc (bench/scale.sh; needs sip-tester): memory per call,
# new-call latency with 0 and 50,000 calls held, every circuit idle after → bench/results/scale.json.
bench-scale:
	bash bench/scale.sh

clean:
	$(CARGO) clean
