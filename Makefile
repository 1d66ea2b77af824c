# smsjourney — `make run` and `make test` are the whole quick start.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cksum requirements.txt | cut -d' ' -f1)

.PHONY: run test lint bench run-services migrate clean

$(STAMP): requirements.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.txt
	rm -f $(VENV)/.installed-*
	touch $(STAMP)

venv: $(STAMP)

# make run's own settings for this machine, written once when there is no .env: DEBUG=1, a
# random SECRET_KEY and PUBLIC_BASE_URL=http://127.0.0.1:8000 (tracked links and status
# callbacks point back here). Every manage.py command reads .env too, so the commands the
# README shows work as written. An existing .env is never touched.
.env:
	@printf '%s\n' \
	  "# Written by 'make run' for this machine (development only; never commit it)." \
	  "# Every manage.py command reads it. Edit freely; .env.example lists every variable." \
	  "DEBUG=1" \
	  "SECRET_KEY=dev-$$(od -An -N24 -tx1 /dev/urandom | tr -d ' \n')" \
	  "PUBLIC_BASE_URL=http://127.0.0.1:8000" > .env
	@echo "Wrote .env (DEBUG=1, a random SECRET_KEY, PUBLIC_BASE_URL=http://127.0.0.1:8000)."

## Serve the product on http://127.0.0.1:8000 with the zero-setup defaults.
# The set-up is quiet; its last words are one block with the URL, the user and the password.
run: $(STAMP) .env
	@DEBUG=1 $(BIN)/python manage.py migrate --noinput -v 0
	@DEBUG=1 $(BIN)/python manage.py load_demo_plan
	@DEBUG=1 $(BIN)/python manage.py ensure_admin --url http://127.0.0.1:8000/admin/
	@DEBUG=1 $(BIN)/python manage.py runserver 127.0.0.1:8000

## The whole test suite (PostgreSQL/Redis tests skip unless DATABASE_URL/CELERY_BROKER_URL say where).
# Tests run with production settings (DEBUG=0, whatever .env says), so they need a key; it is
# not a secret.
test: $(STAMP)
	DEBUG=0 SECRET_KEY=$${SECRET_KEY:-test-only-not-a-secret} $(BIN)/python -m pytest -q -n 2 $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

## Web + worker + beat against PostgreSQL and Redis on this machine (see README "Production").
run-services: $(STAMP)
	bin/run-services

bench: $(STAMP)
	$(BIN)/python bench/webhook.py
	$(BIN)/python bench/send.py
	$(BIN)/python bench/campaign.py
	$(BIN)/python bench/expiry.py
	$(BIN)/python bench/report.py
	$(BIN)/python bench/hand_sql.py
	$(BIN)/python bench/templates.py
	$(BIN)/python bench/plan_page.py

clean:
	rm -rf $(VENV) db.sqlite3 staticfiles
