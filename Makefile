# Developer entry points. `make test` is exactly what CI runs (after .ci/run installs the peers).
CARGO ?= cargo

.PHONY: all build run test lint fmt bench bench-calls bench-scale conformance fuzz-smoke clean

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
	$(MAKE) fuzz-smoke

# Every fuzz target (fuzz/README.md) for FUZZ_SECONDS from the committed seeds and the inputs of
# past crashes. cargo-fuzz is installed when absent; the sanitizer flags it passes are
# nightly-only, so the fuzz crate builds on the stable toolchain with RUSTC_BOOTSTRAP=1.
FUZZ_TARGETS = isup_decode sip_parse multipart m3ua_decode
FUZZ_SECONDS ?= 20

fuzz-smoke:
	@$(CARGO) fuzz --version >/dev/null 2>&1 || $(CARGO) install cargo-fuzz --locked
	cd fuzz && RUSTC_BOOTSTRAP=1 $(CARGO) fuzz build
	@cd fuzz; for t in $(FUZZ_TARGETS); do \
	  mkdir -p corpus/$$t regressions/$$t; log=target/fuzz-smoke-$$t.log; \
	  if RUSTC_BOOTSTRAP=1 $(CARGO) fuzz run $$t corpus/$$t seeds/$$t regressions/$$t -- \
	       -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 >$$log 2>&1; then \
	    awk -v t=$$t '/^stat::number_of_executed_units/ { n = $$2 } /^stat::average_exec_per_sec/ { r = $$2 } \
	      END { print "fuzz-smoke: " t ": " n " executions, " r " exec/s, no crash" }' $$log; \
	  else \
	    tail -n 40 $$log; echo "fuzz-smoke: $$t failed; the input is under fuzz/artifacts/$$t, the log in fuzz/$$log"; \
	    exit 1; \
	  fi; \
	done

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
# the highest zero-failure call rate per call model, latency, peak RSS, then twice the ip capacity
# through the admission limit (overload) → bench/results/.
bench-calls:
	bash bench/bench-calls.sh

# 50,000 concurrent held calls through mgc (bench/scale.sh; needs sip-tester): memory per call,
# new-call latency with 0 and 50,000 calls held, every circuit idle after → bench/results/scale.json.
bench-scale:
	bash bench/scale.sh

clean:
	$(CARGO) clean
