.PHONY: run test lint format bench

run:   ## app + worker together (SQLite, local Redis)
	bash scripts/run.sh

test:  ## install, start services, lint, type-check, every test
	bash scripts/test.sh

lint:
	uv run ruff check src tests bench
	uv run ruff format --check src tests bench
	uv run mypy

format:
	uv run ruff format src tests bench
	uv run ruff check --fix src tests bench
