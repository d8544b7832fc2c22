# Entry points for development and CI; `make` alone lists them. Every cargo command uses the
# same target folder, so builds are reused across clones on one machine.
# ARGS passes options to scripts/test.sh and scripts/demo.sh, for example
#   make test ARGS='-p fechatter_core -- --nocapture'

ifeq ($(strip $(CARGO_TARGET_DIR)),)
CARGO_TARGET_DIR := /var/tmp/fechatter-target
endif
export CARGO_TARGET_DIR

.DEFAULT_GOAL := help
.PHONY: help dev test lint fmt demo

help:
	@echo 'Targets:'
	@echo '  make dev   Start PostgreSQL, Redis and NATS if needed, build, and run fechatter_server'
	@echo '             (http://127.0.0.1:6688) and notify_server (http://127.0.0.1:6687) until Ctrl-C'
	@echo '  make test  Run the workspace tests against local services; options in ARGS=...'
	@echo '  make lint  Check formatting with rustfmt and run clippy with warnings as errors'
	@echo '  make fmt   Format the workspace with rustfmt'
	@echo '  make demo  Replay chat conversations through a system started by make dev; options in ARGS=...'
	@echo '  make help  Show this list'
	@echo 'Cargo target folder: $(CARGO_TARGET_DIR)'

dev:
	scripts/dev.sh

test:
	scripts/test.sh $(ARGS)

lint:
	cargo fmt --all --check
	cargo clippy --workspace --all-targets --locked -- -D warnings

fmt:
	cargo fmt --all

demo:
	scripts/demo.sh $(ARGS)
