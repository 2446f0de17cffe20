# kubefort developer entry points. Everything a fresh machine needs is installed from here.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test install bench tools clean docs

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

$(STAMP): $(BIN)/python pyproject.toml
	$(BIN)/pip install -q -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

## demo: set up and scan the bundled examples (an insecure and a hardened app)
demo: $(STAMP)
	@echo "== kubefort scan examples/hardened-app (expect: clean) =="
	$(BIN)/kubefort scan examples/hardened-app
	@echo
	@echo "== kubefort scan examples/insecure-app (expect: findings, exit code 1) =="
	@$(BIN)/kubefort scan examples/insecure-app; code=$$?; \
	  if [ $$code -eq 1 ]; then echo "(exit code 1, as expected: findings at or above --fail-on high)"; else exit $$code; fi

## tools: build real helm and kustomize (renderer tests), a real kube-apiserver + etcd
## (cluster tests) and an OCI registry, crane and cosign (signature tests), all cached outside the repo
tools:
	bash tools/install-test-tools.sh
	bash tools/install-test-cluster.sh
	bash tools/install-test-registry.sh

## test: set up and run the whole suite
test: $(STAMP)
	bash tools/install-test-tools.sh || { [ -z "$$KUBEFORT_REQUIRE_TOOLS" ] && echo "warning: helm/kustomize could not be built; renderer tests will skip"; }
	bash tools/install-test-cluster.sh || { [ -z "$$KUBEFORT_REQUIRE_TOOLS" ] && echo "warning: kube-apiserver/etcd could not be built; cluster tests will skip"; }
	bash tools/install-test-chromium.sh || { [ -z "$$KUBEFORT_REQUIRE_TOOLS" ] && echo "warning: chromium/chromedriver could not be installed; HTML report browser tests will skip"; }
	bash tools/install-test-postgres.sh || { [ -z "$$KUBEFORT_REQUIRE_TOOLS" ] && echo "warning: postgresql could not be installed; PostgreSQL store tests will skip"; }
	bash tools/install-test-registry.sh || { [ -z "$$KUBEFORT_REQUIRE_TOOLS" ] && echo "warning: registry/crane/cosign/trivy could not be built; image signature and scanner tests will skip"; }
	$(MAKE) --no-print-directory lint
	$(BIN)/python -m pytest -m "not cluster" -n auto  # on every core
	$(BIN)/python -m pytest -m cluster  # one real kube-apiserver + etcd for the whole session

bench: $(STAMP)
	$(BIN)/python bench/bench_scan.py
	bash tools/install-test-cluster.sh && $(BIN)/python bench/bench_cluster.py

clean:
	rm -rf $(VENV) build *.egg-info src/*.egg-info .pytest_cache

## docs: regenerate docs/checks.md from the check registry
docs: $(STAMP)
	$(BIN)/python -c "from kubefort import docs; from kubefort.registry import load_builtin_checks as l; open('docs/checks.md','w').write(docs.checks_page(list(l())))"

.PHONY: test-fast lint

## test-fast: the inner loop: the suite without the real-cluster (kube-apiserver) and slow tests;
## builds nothing: the helm/kustomize tests run if tools/install-test-tools.sh built them, else skip
test-fast: $(STAMP)
	$(BIN)/python -m pytest -m "not cluster and not slow" -q -n auto

## lint: the lint and type gate (ruff check, ruff format --check, mypy --strict); runs all three
## and fails if any failed. The same commands run as .pre-commit-config.yaml hooks.
lint: $(STAMP)
	@status=0; \
	  echo "== ruff check src tests bench"; $(BIN)/ruff check src tests bench || status=1; \
	  echo "== ruff format --check src tests bench"; $(BIN)/ruff format --check src tests bench || status=1; \
	  echo "== mypy (src/kubefort, strict)"; $(BIN)/mypy || status=1; \
	  exit $$status
