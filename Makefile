# One entry point for the tasks a developer runs. `make ci` is exactly what CI runs.
.PHONY: dev test ci lint fmt bench migrate

dev:        ## Run the whole platform (router and subgraphs) on the standard ports
	cargo run -- dev

test:       ## Run the whole test suite (format, lints, unit and integration tests)
	scripts/test

ci: test

lint:
	cargo clippy --workspace --all-targets -- -D warnings

fmt:
	cargo fmt --all

bench:      ## Benchmarks; figures go to docs/benchmarks.md
	cargo bench -p tessera-auth --bench auth

migrate:
	cargo run --release -- migrate
