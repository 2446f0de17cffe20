"""Scan history: kubefort remembers what it found, so posture can be followed over time.

`kubefort scan|node|audit --store [URL]` records every finished scan in a database (SQLite by
default, PostgreSQL for teams and fleets); the history commands read it back.

| module | what |
|---|---|
| `schema.py` | the tables (SQLAlchemy Core), one schema for SQLite and PostgreSQL |
| `migrate.py`, `migrations/` | Alembic migrations, run when a store is opened; a newer database is refused |
| `store.py` | `Store`: open a URL, `record` a ScanResult (one transaction, findings tracked by fingerprint), the queries |
| `target.py` | `TargetLabel`: what a scan looked at (git repository + commit, cluster, node, audit source) |
| `diff.py` | `diff(store, a, b)`: new, fixed and unchanged findings between two stored scans |
| `metrics.py`, `frameworks.py`, `view.py` | the key metrics, framework views and the view dict of `report html` |
| `aggregate.py`, `stats.py` | the metrics over the history (per target, fleet, trends); time to remediate and detect |
| `html.py`, `templates/` | the self-contained HTML report |
"""
