# coalwatch: two commands do all the set-up on a fresh machine.
#   make demo   installs into .venv, builds the web assets and starts the embedded demo
#   make test   installs, builds, then runs every check and test (browser tests included)
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# front-end libraries (npm, pinned by package-lock.json), copied into the package
VENDOR := src/coalwatch/web/static/vendor
VENDOR_STAMP := $(VENDOR)/.built
LOCALE := src/coalwatch/locale
CATALOGS := $(wildcard $(LOCALE)/*/LC_MESSAGES/messages.po)
COMPILED := $(CATALOGS:.po=.mo)

# Python writes the bytecode of what it compiles: every process the tests start (centers,
# stations, commands) would otherwise compile the whole package again, and each pytest
# worker rewrite the asserts of every test module again
unexport PYTHONDONTWRITEBYTECODE

.PHONY: install assets i18n i18n-extract browser demo test lint typecheck pytest bench clean

install: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

assets: $(VENDOR_STAMP) $(COMPILED)

$(VENDOR_STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	mkdir -p $(VENDOR)
	cp node_modules/htmx.org/dist/htmx.min.js node_modules/echarts/dist/echarts.min.js \
	   node_modules/bulma/css/bulma.min.css node_modules/swagger-ui-dist/swagger-ui-bundle.js \
	   node_modules/swagger-ui-dist/swagger-ui.css $(VENDOR)/
	for lib in htmx.org echarts bulma swagger-ui-dist; do cp node_modules/$$lib/LICENSE $(VENDOR)/LICENSE.$$lib; done
	touch $@

# the translation catalogs: .po in git, .mo compiled here
i18n: $(COMPILED)

$(LOCALE)/%/LC_MESSAGES/messages.mo: $(LOCALE)/%/LC_MESSAGES/messages.po $(STAMP)
	$(BIN)/pybabel compile --statistics -D messages -d $(LOCALE) -l $*

# after changing texts: refresh the catalogs from the code and templates, then translate
i18n-extract: install
	$(BIN)/python -m coalwatch.web.catalog
	$(BIN)/pybabel update --no-fuzzy-matching -D messages \
	  -i $(LOCALE)/messages.pot -d $(LOCALE)

# Debian packages the tests need (as root, only when missing): Chromium and CJK fonts
# for the browser tests, Pango for PDF documents, poppler-utils to read PDFs back, ffmpeg
# for RTSP cameras, the PostgreSQL server binaries for the tests' private clusters
# (initdb, pg_ctl; run as the postgres user through util-linux's runuser), the Mosquitto
# MQTT broker for station uploads over MQTT (.ci/run starts it), socat for the virtual
# serial pair of the Modbus RTU test
SYSTEM_PACKAGES := chromium fonts-noto-cjk libpango-1.0-0 libpangoft2-1.0-0 poppler-utils \
	ffmpeg postgresql util-linux socat mosquitto
browser:
	@missing=""; for p in $(SYSTEM_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; \
	  else \
	    echo "the tests need: apt-get install$$missing (as root)"; exit 1; \
	  fi; \
	fi

demo: install assets
	$(BIN)/coalwatch demo

lint: install
	$(BIN)/ruff format --check src tests bench
	$(BIN)/ruff check src tests bench

typecheck: install
	$(BIN)/mypy

# four workers on two cores: the tests wait on browsers, servers, brokers and simulated
# instruments more than they compute (tests/conftest.py deals the long cases to two of them)
pytest: install assets browser
	$(BIN)/pytest -n 4

# the checks run beside the tests: mypy without its cache costs half a minute of one core,
# which the tests leave idle while they wait on browsers and servers; when one of the three
# fails, make waits for the other two and fails, each one's output in full
test: install assets browser
	@$(MAKE) --no-print-directory -j3 lint typecheck pytest

bench: install
	$(BIN)/python bench/ingest_throughput.py
	$(BIN)/python bench/month_table.py
	$(BIN)/python bench/alarm_latency.py
	$(BIN)/python bench/station_throughput.py
	$(BIN)/python bench/video_snapshots.py
	$(BIN)/python bench/batch_cost.py
	$(BIN)/python bench/verify_year.py
	$(BIN)/python bench/storage.py
	$(BIN)/python bench/province_load.py --minutes 5

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache .hypothesis node_modules $(VENDOR) $(COMPILED)
