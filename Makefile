# Seam: the two commands are `make run` and `make test`. See README.md.

CARGO ?= cargo
COMPOSE ?= docker compose -f deploy/docker-compose.yml
SEAM := ./target/debug/seam

.PHONY: help run build test test-doc lint fmt bench migrate migrate-down migrate-status seed services up down clean

help: ## List the targets.
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/' | column -t -s "$$(printf '\t')"

run: build ## Start the API and the order worker on the embedded defaults (SQLite under data/).
	$(SEAM) migrate up
	$(SEAM) seed
	scripts/run.sh

build: ## Build the binaries (debug).
	$(CARGO) build -p seam-api -p seam-order-worker -p seam-cli

test: ## Run the whole suite (needs Postgres, Redis, RabbitMQ: `make services`).
	$(CARGO) nextest run --workspace --no-fail-fast
	$(CARGO) test --workspace --doc --no-fail-fast

lint: ## Formatting and clippy, warnings as errors.
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings

fmt: ## Format the code.
	$(CARGO) fmt --all

bench: ## Run the benchmarks (release build); each prints its figure beside its floor.
	$(CARGO) bench --workspace
	$(CARGO) run --release -p seam-bench-order-flow -- all
	$(CARGO) run --release -p seam-bench-webhook-ingest

migrate: build ## Apply pending migrations to the configured database.
	$(SEAM) migrate up

migrate-down: build ## Revert every migration (or TO=<version> to stop there).
	$(SEAM) migrate down $(if $(TO),--to $(TO),)

migrate-status: build ## Show applied and pending migrations.
	$(SEAM) migrate status

seed: build ## Load demo data (products with stock, a customer).
	$(SEAM) seed

services: ## Start the local servers the tests need, if they are not running.
	scripts/services.sh
	scripts/test-servers.sh

up: ## Start the whole stack with docker compose.
	$(COMPOSE) up -d --build

down: ## Stop the docker compose stack.
	$(COMPOSE) down

clean: ## Remove build output and local data.
	$(CARGO) clean
	rm -rf data
