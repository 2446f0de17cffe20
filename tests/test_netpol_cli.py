"""`kubefort netpol ...` through click.testing: formats, explain, diff, generate (scanned back), exit codes."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from conftest import scan_file
from kubefort.cli.netpol import netpol

APP = """\
apiVersion: v1
kind: Namespace
metadata: {name: shop}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: shop}
spec:
  template:
    metadata: {labels: {app: web}}
    spec: {containers: [{name: app, image: "nginx:1.27", ports: [{name: http, containerPort: 8080}]}]}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: db, namespace: shop}
spec:
  template:
    metadata: {labels: {app: db}}
    spec: {containers: [{name: app, image: "postgres:16", ports: [{name: pg, containerPort: 5432}]}]}
---
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: db, namespace: cache}
spec:
  template:
    metadata: {labels: {app: redis}}
    spec: {containers: [{name: app, image: "redis:7"}]}
"""
POLICIES = """\
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: default-deny, namespace: shop}
spec: {podSelector: {}, policyTypes: [Ingress, Egress]}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: db, namespace: shop}
spec:
  podSelector: {matchLabels: {app: db}}
  ingress:
  - from: [{podSelector: {matchLabels: {app: web}}}]
    ports: [{port: pg}]
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: web, namespace: shop}
spec:
  podSelector: {matchLabels: {app: web}}
  egress:
  - to: [{podSelector: {matchLabels: {app: db}}}]
    ports: [{port: 5432}]
  ingress:
  - ports: [{port: http}]
"""


def run(*args: str) -> tuple[int, str, str]:
    r = CliRunner().invoke(netpol, list(args), catch_exceptions=False)
    return r.exit_code, r.stdout, r.stderr


@pytest.fixture
def app(tmp_path: Path) -> Path:
    d = tmp_path / "app"
    d.mkdir()
    (d / "app.yaml").write_text(APP)
    (d / "policies.yaml").write_text(POLICIES)
    return d


EXPECTED = {
    ("shop/Deployment/web", "shop/Deployment/db"): "TCP/5432",
    ("internet", "shop/Deployment/web"): "TCP/8080",
    ("cloud-metadata", "shop/Deployment/web"): "TCP/8080",
    ("cache/StatefulSet/db", "shop/Deployment/web"): "TCP/8080",  # web's ingress rule has no `from`: every source
}


def _unrestricted_cache() -> dict[tuple[str, str], str]:
    # cache/StatefulSet/db has no policy: it talks to everything and everything to it,
    # except where shop's policies say no (shop pods are isolated both ways)
    c = "cache/StatefulSet/db"
    return {
        (c, c): "all",
        (c, "internet"): "all",
        (c, "cloud-metadata"): "all",
        ("internet", c): "all",
        ("cloud-metadata", c): "all",
    }


def test_matrix_json_is_exact(app):
    code, out, _ = run("matrix", str(app), "-o", "json")
    assert code == 0
    doc = json.loads(out)
    got = {(c["source"], c["destination"]): c for c in doc["connections"]}
    assert set(got) == set(EXPECTED) | set(_unrestricted_cache())
    assert got[("shop/Deployment/web", "shop/Deployment/db")]["ports"] == {"TCP": ["5432"]}
    assert got[("internet", "cache/StatefulSet/db")]["all"] is True
    web = next(w for w in doc["workloads"] if w["name"] == "shop/Deployment/web")
    assert web["isolated"] == {"ingress": True, "egress": True} and web["labels"] == {"app": "web"}


def test_matrix_other_formats(app):
    code, out, _ = run("matrix", str(app), "-o", "csv")
    rows = list(csv.DictReader(io.StringIO(out)))
    assert {(r["source"], r["destination"]): r["ports"] for r in rows} == {**EXPECTED, **_unrestricted_cache()}
    code, out, _ = run("matrix", str(app))
    assert code == 0 and "shop/Deployment/web" in out and "TCP/5432" in out and "pairs not listed are denied" in out
    code, out, _ = run("matrix", str(app), "-o", "dot")
    assert (
        out.startswith("digraph netpol {")
        and '"shop/Deployment/web" -> "shop/Deployment/db" [label="TCP/5432"];' in out
    )
    code, out, _ = run("matrix", str(app), "-o", "md")
    lines = out.splitlines()
    assert lines[0].startswith("| from \\ to | `shop/Deployment/web` |")
    assert "| `shop/Deployment/web` | · | TCP/5432 |" in out


def test_matrix_external_option(app):
    (app / "egress.yaml").write_text("""\
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: db-backup, namespace: shop}
spec:
  podSelector: {matchLabels: {app: db}}
  egress:
  - to: [{ipBlock: {cidr: 10.20.0.0/16}}]
    ports: [{port: 443}]
""")
    code, out, _ = run("matrix", str(app), "-o", "json", "--external", "backup=10.20.30.40/32")
    got = {(c["source"], c["destination"]): c["ports"] for c in json.loads(out)["connections"]}
    assert got[("shop/Deployment/db", "backup")] == {"TCP": ["443"]}
    code, _, _err = run("matrix", str(app), "--external", "nope")
    assert code == 2


def test_explain_names_policies_rules_and_verdict(app):
    code, out, _ = run("explain", "shop/web", "shop/db", str(app), "--port", "5432/TCP")
    assert code == 0
    assert "egress of shop/Deployment/web: isolated by shop/default-deny, shop/web" in out
    assert "allowed by shop/web egress[0]: TCP/5432" in out
    assert "allowed by shop/db ingress[0]: TCP/5432" in out
    assert "5432/TCP: allowed" in out
    code, out, _ = run("explain", "shop/Deployment/db", "shop/web", str(app), "--port", "8080")
    assert "egress of shop/Deployment/db: isolated by shop/default-deny; no rule allows this peer: denied" in out
    assert "result: denied" in out and "8080/TCP: denied" in out
    code, out, _ = run("explain", "internet", "shop/web", str(app), "-o", "json", "--port", "8080")
    doc = json.loads(out)
    assert doc["query"] == {"port": 8080, "protocol": "TCP", "allowed": True}
    assert doc["directions"][0]["applies"] is False
    assert doc["directions"][1]["allowed_by"] == [
        {"policy": "shop/web", "rule": "ingress[0]", "ports": {"TCP": ["8080"]}}
    ]


def test_explain_usage_errors(app):
    code, _, err = run("explain", "db", "shop/web", str(app))
    assert code == 2 and "ambiguous" in err and "cache/StatefulSet/db" in err
    code, _, err = run("explain", "shop/nope", "shop/web", str(app))
    assert code == 2 and "no workload" in err
    code, _, err = run("explain", "shop/web", "shop/db", str(app), "--port", "http")
    assert code == 2
    code, _, err = run("explain", "internet", "cloud-metadata", str(app))
    assert code == 2


def test_diff_gained_and_lost(app, tmp_path):
    new = tmp_path / "new"
    new.mkdir()
    (new / "app.yaml").write_text(APP)
    (new / "policies.yaml").write_text(
        POLICIES.replace("ports: [{port: 5432}]", "ports: [{port: 5432}, {port: 6379}]")
        .replace("ports: [{port: pg}]", "ports: [{port: pg}, {port: 6379}]")
        .replace("  ingress:\n  - ports: [{port: http}]\n", "")
    )
    code, out, _err = run("diff", str(app), str(new))
    assert code == 0
    assert "+ shop/Deployment/web -> shop/Deployment/db  TCP/6379" in out
    assert "- internet -> shop/Deployment/web  TCP/8080" in out
    code, out, _ = run("diff", str(app), str(new), "-o", "json", "--exit-code")
    assert code == 1
    changes = {(c["source"], c["destination"]): (c["gained"], c["lost"]) for c in json.loads(out)["changes"]}
    assert changes == {
        ("shop/Deployment/web", "shop/Deployment/db"): ({"TCP": ["6379"]}, {}),
        ("internet", "shop/Deployment/web"): ({}, {"TCP": ["8080"]}),
        ("cloud-metadata", "shop/Deployment/web"): ({}, {"TCP": ["8080"]}),
        ("cache/StatefulSet/db", "shop/Deployment/web"): ({}, {"TCP": ["8080"]}),
    }
    code, out, _ = run("diff", str(app), str(app), "--exit-code")
    assert code == 0 and out == ""


def test_load_problems_are_reported_and_exit_3(app):
    (app / "broken.yaml").write_text("kind: [unclosed\n")
    (app / "bad-policy.yaml").write_text("""\
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: bad, namespace: shop}
spec:
  podSelector: {}
  ingress: [{from: [{}]}]
""")
    code, out, err = run("matrix", str(app), "-o", "json")
    assert code == 3
    assert "broken.yaml" in err and "NetworkPolicy/shop/bad" in err and "a peer needs" in err
    assert json.loads(out)["connections"]  # still computed without what could not be read


def _intent_of(out: str) -> dict[tuple[str, str], str]:
    return {(c["source"], c["destination"]): c for c in json.loads(out)["connections"]}


def test_generate_scans_back_to_exactly_the_intent(app, tmp_path):
    allows = [
        "shop/web:shop/db:5432/TCP",
        "internet:shop/web:8080/TCP,8443/TCP",
        "shop/web:cache/db:6379",
        "cache/db:shop/db",
        "shop/db:backup:443/TCP",
    ]
    args = ["generate", str(app / "app.yaml"), "--external", "backup=10.20.30.40/32"]
    for a in allows:
        args += ["--allow", a]
    code, out, err = run(*args)
    assert code == 0, err
    docs = list(yaml.safe_load_all(out))
    assert {d["metadata"]["name"] for d in docs if d["metadata"]["name"] == "default-deny"} == {"default-deny"}
    assert {(d["metadata"]["namespace"], d["metadata"]["name"]) for d in docs} >= {
        ("shop", "default-deny"),
        ("cache", "default-deny"),
    }
    back = tmp_path / "back"
    back.mkdir()
    (back / "app.yaml").write_text(APP)
    (back / "generated.yaml").write_text(out)
    code, out2, err = run("matrix", str(back), "-o", "json", "--external", "backup=10.20.30.40/32")
    assert code == 0, err
    got = {k: (v["all"], v["ports"]) for k, v in _intent_of(out2).items()}
    web, db, cache = "shop/Deployment/web", "shop/Deployment/db", "cache/StatefulSet/db"
    assert got == {
        (web, db): (False, {"TCP": ["5432"]}),
        ("internet", web): (False, {"TCP": ["8080", "8443"]}),
        ("cloud-metadata", web): (False, {"TCP": ["8080", "8443"]}),  # 169.254.169.254 is inside 0.0.0.0/0
        (web, cache): (False, {"TCP": ["6379"]}),
        (cache, db): (True, {"TCP": ["1-65535"], "UDP": ["1-65535"], "SCTP": ["1-65535"]}),
        (db, "backup"): (False, {"TCP": ["443"]}),
        # an external peer counts when its range overlaps: backup lies inside 0.0.0.0/0 and vice versa
        ("backup", web): (False, {"TCP": ["8080", "8443"]}),
        (db, "internet"): (False, {"TCP": ["443"]}),
    }
    # the generated file is valid for the scanner too: no input problem, namespaces default-deny both ways
    import kubefort.checks.network  # noqa: F401

    outs = scan_file(back / "generated.yaml", ("KF-NET-001", "KF-NET-002", "KF-NET-004", "KF-NET-005"))
    assert not [o for o in outs if o.check_id.startswith("KF-INPUT")]
    assert {o.status.value for o in outs if o.check_id in ("KF-NET-004", "KF-NET-005")} == {"passed"}


def test_generate_tells_apart_workloads_whose_labels_nest(tmp_path):
    (tmp_path / "a.yaml").write_text(
        APP
        + """\
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web-canary, namespace: shop}
spec:
  template:
    metadata: {labels: {app: web, track: canary}}
    spec: {containers: [{name: app, image: "nginx:1.27"}]}
"""
    )
    code, out, err = run("generate", str(tmp_path), "--allow", "shop/web:shop/db:5432")
    assert code == 0, err
    sel = next(d for d in yaml.safe_load_all(out) if d["metadata"]["name"] == "allow-from-deployment-web")["spec"][
        "podSelector"
    ]
    assert sel == {"matchLabels": {"app": "web"}, "matchExpressions": [{"key": "track", "operator": "DoesNotExist"}]}


def test_generate_refuses_what_policies_cannot_express(tmp_path):
    (tmp_path / "a.yaml").write_text(APP.replace("labels: {app: db}", "labels: {app: web}"))
    code, _, err = run("generate", str(tmp_path), "--allow", "shop/web:cache/db")
    assert code == 2 and "no policy can tell them apart" in err
    code, _, err = run("generate", str(tmp_path), "--allow", "internet:cloud-metadata")
    assert code == 2 and "both ends are external" in err
    code, _, err = run("generate", str(tmp_path), "--allow", "shop/web")
    assert code == 2
    code, _, err = run("generate", str(tmp_path), "--allow", "cache/db:shop/web:99999")
    assert code == 2


def test_generate_warns_when_it_must_select_unlabelled_pods(tmp_path):
    """A workload without pod labels can only be selected as 'none of the others' labels': any
    other unlabelled pod added later gets its access. generate says so, for each such workload
    of the intents, and only for those."""
    (tmp_path / "a.yaml").write_text(
        """\
apiVersion: apps/v1
kind: Deployment
metadata: {name: bare, namespace: shop}
spec:
  template:
    spec: {containers: [{name: app, image: "nginx:1.27"}]}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: db, namespace: shop}
spec:
  template:
    metadata: {labels: {app: db}}
    spec: {containers: [{name: db, image: "postgres:16"}]}
"""
    )
    code, _out, err = run("generate", str(tmp_path), "--allow", "shop/bare:shop/db:5432")
    assert code == 0, err
    warned = [ln for ln in err.splitlines() if "has no pod labels" in ln]
    assert len(warned) == 1 and "shop/Deployment/bare" in warned[0]
    code, _out, err = run("generate", str(tmp_path), "--allow", "shop/db:shop/db:5432")
    assert code == 0 and "has no pod labels" not in err


def test_separate_units_are_analysed_apart(app, tmp_path):
    """Two PATHs are two analysis units: one unit's policies never isolate the other's workloads
    (the same app deployed without policies stays fully open)."""
    bare = tmp_path / "bare"
    bare.mkdir()
    (bare / "app.yaml").write_text(APP)
    code, out, _ = run("matrix", str(app), str(bare), "-o", "json")
    assert code == 0
    units = json.loads(out)["units"]
    assert [u["unit"] for u in units] == [str(app), str(bare)]
    isolated = [{w["name"]: w["isolated"]["ingress"] for w in u["workloads"]} for u in units]
    assert isolated[0]["shop/Deployment/db"] is True and isolated[1]["shop/Deployment/db"] is False
    code, out, _ = run("matrix", str(app), str(bare))
    assert code == 0 and f"== {app} ==" in out and f"== {bare} ==" in out
    # commands that answer about one world refuse several
    code, _, err = run("explain", "shop/web", "shop/db", str(app), str(bare))
    assert code == 2 and "needs one analysis unit" in err
    code, _, err = run("matrix", str(app), str(bare), "-o", "csv")
    assert code == 2 and "-o csv needs one analysis unit" in err


def test_items_of_a_typed_list_take_the_lists_kind_and_version(tmp_path: Path) -> None:
    """A PodList as the API returns it: items without kind and apiVersion are Pods of the list's
    version (apimachinery's decoder), in every command; an item that names its own keeps it."""
    (tmp_path / "pods.json").write_text(
        json.dumps(
            {
                "apiVersion": "v1",
                "kind": "PodList",
                "items": [
                    {
                        "metadata": {"name": "web", "namespace": "shop", "labels": {"app": "web"}},
                        "spec": {"containers": [{"name": "web", "image": "nginx"}]},
                    },
                    {
                        "apiVersion": "v1",
                        "kind": "Pod",
                        "metadata": {"name": "db", "namespace": "shop"},
                        "spec": {"containers": [{"name": "db", "image": "postgres"}]},
                    },
                ],
            }
        )
    )
    code, out, _ = run("matrix", str(tmp_path), "-o", "json")
    assert code == 0
    names = {w["name"] for w in json.loads(out)["workloads"]}
    assert names == {"shop/Pod/web", "shop/Pod/db"}


@pytest.mark.parametrize("content", ["", "foo: bar\n", "- 1\n- 2\n"])
def test_a_command_that_read_no_object_says_so_and_exits_3(tmp_path: Path, content: str) -> None:
    (tmp_path / "x.yaml").write_text(content)
    code, _, err = run("matrix", str(tmp_path))
    assert code == 3
    assert "no Kubernetes objects found" in err


def test_a_policy_kind_not_modelled_is_reported_and_exits_3(tmp_path: Path, app: Path) -> None:
    (app / "antrea.yaml").write_text(
        "apiVersion: crd.antrea.io/v1beta1\nkind: ClusterNetworkPolicy\nmetadata: {name: lockdown}\nspec: {}\n"
    )
    code, _, err = run("matrix", str(app))
    assert code == 3
    assert "ClusterNetworkPolicy lockdown (crd.antrea.io/v1beta1)" in err and "every namespace" in err
