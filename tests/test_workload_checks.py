"""The workload checks of issue 12 as classes of inputs: KF-WL-001 (the effective
automountServiceAccountToken, pod and ServiceAccount), KF-WL-004..013 (namespaces, naked pods,
kube-system, Tiller, Dashboard, probes, env, hostAliases) and KF-POD-023..025 (privileged ports,
sudo, SSH servers). The fixtures in tests/fixtures/checks pin examples; these tests sweep the rules."""

from __future__ import annotations

import itertools
import shlex
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import scan_text
from kubefort.checks import containers, hygiene, legacy
from kubefort.checks.pod_security import processes
from kubefort.engine import Engine, EngineSettings
from kubefort.kube.pods import KNOWN_POD_PATHS
from kubefort.loaders.manifests import LoadedInput, add_object
from kubefort.model import InputRecord, Outcome, Source
from kubefort.registry import REGISTRY

NEW_IDS = (
    "KF-WL-004",
    "KF-WL-005",
    "KF-WL-006",
    "KF-WL-007",
    "KF-WL-008",
    "KF-WL-009",
    "KF-WL-010",
    "KF-WL-011",
    "KF-WL-012",
    "KF-WL-013",
    "KF-POD-023",
    "KF-POD-024",
    "KF-POD-025",
)
_ENGINES: dict[str, Engine] = {}


def check_object(check_id: str, obj: dict[str, Any], source: Source | None = None) -> list[Outcome]:
    """The outcomes of one per-object check on one decoded object (no files, no pool)."""
    engine = _ENGINES.get(check_id)
    if engine is None:
        engine = _ENGINES[check_id] = Engine(EngineSettings(check_ids=(check_id,)), REGISTRY)
    return [o for o in engine.check_object(obj, source) if o.check_id == check_id]


def statuses(outcomes: list[Outcome]) -> dict[str | None, str]:
    return {o.container: o.status.value for o in outcomes}


def pod(spec: dict[str, Any], name: str = "p", **meta: Any) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, **meta}, "spec": spec}


# -- documentation --------------------------------------------------------------------------------
NOT_APPLICABLE_REASONS = {
    "KF-WL-004": (hygiene.NO_NAMESPACE, hygiene.NOT_A_WORKLOAD, hygiene.HELM_DEFAULT_NAMESPACE),
    "KF-WL-006": (hygiene.NO_NAMESPACE, hygiene.NOT_A_WORKLOAD),
    "KF-WL-005": ("not a core v1 Pod",),
    "KF-WL-008": ("not a core v1 Service",),
    "KF-WL-009": (legacy.NOT_A_DASHBOARD,),
    "KF-WL-010": (containers.NOT_A_MAIN_CONTAINER, containers.RUNS_TO_COMPLETION),
    "KF-WL-011": (containers.NOT_A_MAIN_CONTAINER, containers.RUNS_TO_COMPLETION),
    "KF-POD-023": (processes.WINDOWS, processes.NO_PORTS),
}


@pytest.mark.parametrize("check_id", sorted(NOT_APPLICABLE_REASONS))
def test_not_applicable_reasons_are_documented(check_id):
    section = " ".join(REGISTRY.get(check_id).sections().get("Not applicable when", "").split())
    for reason in NOT_APPLICABLE_REASONS[check_id]:
        assert reason.lower() in section.lower(), (check_id, reason)


@pytest.mark.parametrize("check_id", [*NEW_IDS, "KF-WL-001"])
def test_new_checks_document_peers_and_what_a_pass_means(check_id):
    meta = REGISTRY.get(check_id)
    peers = meta.mappings
    assert peers.trivy or peers.checkov or peers.kubescape or peers.kube_linter or peers.polaris, check_id
    assert meta.verified and meta.verified != meta.title


# -- KF-WL-001: the effective automountServiceAccountToken ------------------------------------------
POD_VALUES = (True, False, None)
ACCOUNT_VALUES = ("absent", "elsewhere", True, False, None)  # elsewhere: same name, other namespace
KINDS_WITH_PODS = ("Pod", "Deployment", "CronJob")


def _workload(kind: str, name: str, ns: str, spec: dict[str, Any]) -> dict[str, Any]:
    meta = {"name": name, "namespace": ns}
    if kind == "Pod":
        return {"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": spec}
    if kind == "Deployment":
        return {"apiVersion": "apps/v1", "kind": kind, "metadata": meta, "spec": {"template": {"spec": spec}}}
    return {
        "apiVersion": "batch/v1",
        "kind": kind,
        "metadata": meta,
        "spec": {"schedule": "@daily", "jobTemplate": {"spec": {"template": {"spec": spec}}}},
    }


def test_automount_is_judged_on_the_effective_value(tmp_path):
    """Every combination of the pod's field, the ServiceAccount's field and where the account is:
    the pod's value wins when set, else the account's (when it is in the same namespace), else true."""
    docs: list[dict[str, Any]] = []
    expected: dict[str, tuple[str, str]] = {}
    for n, (kind, own, account, legacy_field) in enumerate(
        itertools.product(KINDS_WITH_PODS, POD_VALUES, ACCOUNT_VALUES, (False, True))
    ):
        ns, sa = f"ns{n}", f"sa{n}"
        spec: dict[str, Any] = {"containers": [{"name": "c", "image": "busybox:1.36"}]}
        spec["serviceAccount" if legacy_field else "serviceAccountName"] = sa
        if own is not None:
            spec["automountServiceAccountToken"] = own
        if account != "absent":
            sa_obj: dict[str, Any] = {
                "apiVersion": "v1",
                "kind": "ServiceAccount",
                "metadata": {"name": sa, "namespace": ns if account != "elsewhere" else f"other{n}"},
            }
            if account not in ("elsewhere", None):
                sa_obj["automountServiceAccountToken"] = account
            docs.append(sa_obj)
        name = f"w{n}"
        docs.append(_workload(kind, name, ns, spec))
        account_value = None if account in ("absent", "elsewhere") else account
        effective = own if own is not None else (account_value if account_value is not None else True)
        if own is True:
            words = "pod sets automountServiceAccountToken=true"
        elif account in ("absent", "elsewhere"):
            words = "is not among the scanned objects: judged as unset"
        elif account is True:
            words = "sets it to true"
        else:
            words = "leaves it unset too"
        expected[name] = ("failed" if effective else "passed", words)
    outcomes = scan_text(tmp_path, yaml.safe_dump_all(docs), checks=("KF-WL-001",))
    got = {o.resource.name: o for o in outcomes if o.check_id == "KF-WL-001"}
    assert set(got) == set(expected)
    for name, (status, words) in expected.items():
        assert got[name].status.value == status, (name, got[name].message)
        if status == "failed":
            assert words in got[name].message, (name, got[name].message)


def test_automount_not_evaluated_when_service_accounts_could_not_be_listed():
    obj = _workload("Deployment", "web", "shop", {"containers": [{"name": "c", "image": "x"}]})
    engine = Engine(EngineSettings(check_ids=("KF-WL-001",)), REGISTRY)
    assert [o for o in engine.check_object(obj) if o.check_id == "KF-WL-001"] == []  # a cross-object check
    li = LoadedInput(InputRecord("cluster://c/apis/apps/v1/deployments", "cluster"))
    add_object(li, obj, Source("cluster://c/x"), "cluster://c/x")
    collected = [(r, True) for r in li.resources]
    out = engine.cross_object(collected, gaps={"ServiceAccount": {"shop": ("forbidden: serviceaccounts", False)}})
    assert [(o.check_id, o.status.value) for o in out] == [("KF-WL-001", "not-evaluated")]
    assert "forbidden: serviceaccounts" in out[0].message
    out = engine.cross_object(collected)
    assert [
        (
            o.status.value,
            "ServiceAccount shop/default (which Kubernetes creates with the field unset) is not among" in o.message,
        )
        for o in out
    ] == [("failed", True)]


def test_automount_reports_each_pod_of_a_multi_pod_object(tmp_path):
    text = """
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata: {name: wf}
spec:
  entrypoint: a
  templates:
  - name: a
    container: {image: busybox:1.36}
  - name: b
    automountServiceAccountToken: false
    container: {image: busybox:1.36}
  - name: c
    automountServiceAccountToken: true
    container: {image: busybox:1.36}
"""
    got = [o for o in scan_text(tmp_path, text, checks=("KF-WL-001",)) if o.check_id == "KF-WL-001"]
    assert [o.status.value for o in got] == ["failed"]
    assert got[0].message.count("spec.templates[") == 2
    assert "spec.templates[0]: automountServiceAccountToken is unset" in got[0].message
    assert "spec.templates[2]: pod sets automountServiceAccountToken=true" in got[0].message


# -- KF-WL-004 / KF-WL-006: where workloads run -------------------------------------------------------
NAMESPACES = (None, "default", "kube-system", "shop")


def _any_kind(kind: str, ns: str | None, name: str) -> dict[str, Any]:
    """An object of a pod-bearing kind, its pod spec at the kind's real path."""
    spec_path, _meta_path = KNOWN_POD_PATHS[kind]
    group = {"Deployment": "apps/v1", "ReplicaSet": "apps/v1", "StatefulSet": "apps/v1", "DaemonSet": "apps/v1"}
    api = group.get(kind) or ("batch/v1" if kind in ("Job", "CronJob") else "v1")
    obj: dict[str, Any] = {"apiVersion": api, "kind": kind, "metadata": {"name": name}}
    if ns is not None:
        obj["metadata"]["namespace"] = ns
    cur = obj
    for key in spec_path[:-1]:
        cur = cur.setdefault(key, {})
    cur[spec_path[-1]] = {"containers": [{"name": "c", "image": "registry.example.com/app:1.0"}]}
    return obj


@pytest.mark.parametrize(("kind", "ns"), list(itertools.product(sorted(KNOWN_POD_PATHS), NAMESPACES)))
def test_namespace_placement_of_every_workload_kind(kind, ns):
    obj = _any_kind(kind, ns, "billing-api")
    default = statuses(check_object("KF-WL-004", obj))
    system = statuses(check_object("KF-WL-006", obj))
    if ns is None:  # decided when applied: not judged
        assert default == {} and system == {}
    else:
        assert default == {None: "failed" if ns == "default" else "passed"}
        assert system == {None: "failed" if ns == "kube-system" else "passed"}


@pytest.mark.parametrize("ns", ["default", "kube-system", "shop"])
def test_helm_release_namespace_default_is_not_the_charts_choice(ns):
    """`namespace: {{ .Release.Namespace }}` rendered without -n is `default`: not judged by KF-WL-004;
    any other namespace a chart renders is (KF-WL-006 judges kube-system whatever rendered it)."""
    obj = _any_kind("Deployment", ns, "web")
    rendered = Source("charts/web", 0, None, (), "helm", "templates/deployment.yaml")
    default = statuses(check_object("KF-WL-004", obj, rendered))
    system = statuses(check_object("KF-WL-006", obj, rendered))
    assert default == ({} if ns == "default" else {None: "passed"})
    assert system == {None: "failed" if ns == "kube-system" else "passed"}
    kustomized = Source("overlays/prod", 0, None, (), "kustomize")
    assert statuses(check_object("KF-WL-004", obj, kustomized)) == {None: "failed" if ns == "default" else "passed"}


@pytest.mark.parametrize("kind", ["ConfigMap", "Secret", "Service", "ServiceAccount", "Role", "NetworkPolicy"])
@pytest.mark.parametrize("ns", ["default", "kube-system"])
def test_objects_without_pods_are_not_workloads(kind, ns):
    obj = {"apiVersion": "v1", "kind": kind, "metadata": {"name": "x", "namespace": ns}}
    assert check_object("KF-WL-004", obj) == []
    assert check_object("KF-WL-006", obj) == []


@pytest.mark.parametrize(
    ("labels", "name", "kind", "spec_extra", "status"),
    [
        ({"k8s-app": "kube-dns"}, "dns", "Deployment", {}, "passed"),
        ({"component": "kube-apiserver", "tier": "control-plane"}, "apiserver", "Pod", {}, "passed"),
        ({"app.kubernetes.io/name": "metrics-server"}, "metrics", "Deployment", {}, "passed"),
        ({"kubernetes.io/cluster-service": "true"}, "addon", "Deployment", {}, "passed"),
        ({}, "coredns", "Deployment", {}, "passed"),
        ({}, "kube-proxy-x7f2k", "Pod", {}, "passed"),  # a pod named after its DaemonSet
        ({}, "kube-proxy-backup", "Deployment", {}, "failed"),  # only pods carry generated suffixes
        ({}, "svclb-traefik", "DaemonSet", {}, "passed"),
        ({}, "vendor", "DaemonSet", {"priorityClassName": "system-cluster-critical"}, "passed"),
        ({}, "vendor", "DaemonSet", {"priorityClassName": "high-priority"}, "failed"),
        ({"app": "my-cronjob"}, "my-cronjob", "Deployment", {}, "failed"),
    ],
)
def test_kube_system_recognises_system_components(labels, name, kind, spec_extra, status):
    obj = _any_kind(kind, "kube-system", name)
    spec_path, meta_path = KNOWN_POD_PATHS[kind]
    cur = obj
    for key in spec_path:
        cur = cur[key]
    cur.update(spec_extra)
    if labels:
        meta = obj
        for key in meta_path or ("metadata",):
            meta = meta.setdefault(key, {})
        meta["labels"] = labels
    assert statuses(check_object("KF-WL-006", obj)) == {None: status}


# -- KF-WL-005: naked pods ------------------------------------------------------------------------
owner_refs = st.lists(
    st.fixed_dictionaries(
        {"apiVersion": st.just("apps/v1"), "kind": st.sampled_from(["ReplicaSet", "Job", "Node", "ConfigMap"])},
        optional={"controller": st.booleans()},
    ),
    max_size=4,
)


@given(refs=owner_refs, static=st.sampled_from([None, "kubernetes.io/config.mirror", "kubernetes.io/config.source"]))
@settings(max_examples=80, deadline=None)
def test_naked_pod_is_a_pod_without_a_controller_reference(refs, static):
    meta: dict[str, Any] = {"name": "p"}
    if refs:
        meta["ownerReferences"] = [{**r, "name": "o", "uid": "u"} for r in refs]
    if static:
        meta["annotations"] = {static: "x"}
    obj = {"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": {"containers": [{"name": "c", "image": "x"}]}}
    managed = any(r.get("controller") is True for r in refs) or static is not None
    assert statuses(check_object("KF-WL-005", obj)) == {None: "passed" if managed else "failed"}


# -- KF-WL-007 / 008 / 009: legacy components ---------------------------------------------------------
@pytest.mark.parametrize(
    ("image", "env", "labels", "cname", "tiller"),
    [
        ("gcr.io/kubernetes-helm/tiller:v2.17.0", [], {}, "c", True),
        ("ghcr.io/helm/tiller@sha256:" + "a" * 64, [], {}, "c", True),
        ("registry.example.com:5000/mirror/TILLER:v2", [], {}, "c", True),
        ("registry.example.com/app:1.0", [{"name": "TILLER_NAMESPACE", "value": "x"}], {}, "c", True),
        ("registry.example.com/app:1.0", [], {"app": "helm", "name": "tiller"}, "tiller", True),
        ("registry.example.com/app:1.0", [], {"app": "helm", "name": "tiller"}, "other", False),
        ("registry.example.com/tiller-exporter:1.0", [], {}, "c", False),
        ("alpine/helm:3.16.2", [], {"app": "helm"}, "tiller", False),
    ],
)
def test_tiller_is_recognised_by_image_env_or_helm_init_labels(image, env, labels, cname, tiller):
    obj = pod({"containers": [{"name": cname, "image": image, "env": env}]}, labels=labels)
    assert statuses(check_object("KF-WL-007", obj)) == {cname: "failed" if tiller else "passed"}


@pytest.mark.parametrize(
    ("argv", "verify", "words"),
    [
        ([], None, "accepts gRPC from any pod on port 44134, without client certificate verification"),
        (["--listen=:44134"], "1", "accepts gRPC from any pod on port 44134, verifies client certificates"),
        (["--listen", "127.0.0.1:44134"], "0", "listens on the loopback interface only, without client"),
        (["--listen=[::1]:44134"], None, "listens on the loopback interface only"),
        (["--listen=localhost:44134", "--listen=0.0.0.0:44134"], None, "accepts gRPC from any pod"),
    ],
)
def test_tiller_message_says_how_it_listens(argv, verify, words):
    env = [{"name": "TILLER_TLS_VERIFY", "value": verify}] if verify is not None else []
    c = {"name": "tiller", "image": "gcr.io/kubernetes-helm/tiller:v2.17.0", "args": argv, "env": env}
    (o,) = check_object("KF-WL-007", pod({"containers": [c]}))
    assert o.status.value == "failed" and words in o.message


DASHBOARD_BOOLS = (
    "enable-skip-login",
    "enable-insecure-login",
    "disable-settings-authorizer",
    "auto-generate-certificates",
)
flag_spellings = st.lists(
    st.tuples(st.sampled_from(DASHBOARD_BOOLS), st.sampled_from([None, "true", "false", "True", "0", "1", "t", "F"])),
    max_size=6,
)


@given(
    flags=flag_spellings,
    bind=st.sampled_from([None, "127.0.0.1", "0.0.0.0", "::1", "10.0.0.5"]),  # noqa: S104 - flag values, nothing binds
    tls_files=st.booleans(),
    tag=st.sampled_from(["v2.7.0", "v1.10.1", "v1.10.0", "v1.6.3", "latest"]),
)
@settings(max_examples=150, deadline=None)
def test_dashboard_flags_are_read_as_pflag_reads_them(flags, bind, tls_files, tag):
    argv = [f"--{name}" if value is None else f"--{name}={value}" for name, value in flags]
    if bind is not None:
        argv += ["--insecure-bind-address", bind]
    if tls_files:
        argv += ["--tls-cert-file=tls.crt", "--tls-key-file=tls.key"]
    last: dict[str, bool] = {}
    for name, value in flags:  # the last occurrence wins; strconv.ParseBool spellings
        last[name] = value is None or value in ("true", "True", "1", "t")
    image = f"kubernetesui/dashboard:{tag}" if tag.startswith("v2") else f"k8s.gcr.io/kubernetes-dashboard-amd64:{tag}"
    (o,) = check_object("KF-WL-009", pod({"containers": [{"name": "d", "image": image, "args": argv}]}))
    https = last.get("auto-generate-certificates", False) or tls_files
    open_http = not https and not last.get("enable-insecure-login") and bind not in (None, "127.0.0.1", "::1")
    legacy = tag in ("v1.10.0", "v1.6.3")
    bad = legacy or open_http or any(last.get(f) for f in DASHBOARD_BOOLS[:3])
    assert o.status.value == ("failed" if bad else "passed"), (argv, o.message)
    assert ("without any login" in o.message) == open_http
    assert ("--enable-skip-login" in o.message) == bool(last.get("enable-skip-login"))


def test_dashboard_scope_is_the_v1_and_v2_images():
    for image in ("kubernetesui/dashboard-api:1.10.1", "kubernetesui/dashboard-web:1.6.0", "nginx:1.27"):
        obj = pod({"containers": [{"name": "c", "image": image, "args": ["--enable-skip-login"]}]})
        assert check_object("KF-WL-009", obj) == [], image


@pytest.mark.parametrize(
    ("service", "status"),
    [
        ({"metadata": {"name": "tiller-deploy"}, "spec": {"ports": [{"port": 80}]}}, "failed"),
        ({"metadata": {"name": "x"}, "spec": {"selector": {"app": "helm", "name": "tiller"}}}, "failed"),
        ({"metadata": {"name": "x"}, "spec": {"selector": {"app": "helm"}}}, "passed"),
        ({"metadata": {"name": "x"}, "spec": {"ports": [{"port": 44134}]}}, "failed"),
        ({"metadata": {"name": "x"}, "spec": {"ports": [{"port": 80, "targetPort": 44134}]}}, "failed"),
        ({"metadata": {"name": "x"}, "spec": {"ports": [{"port": 80, "targetPort": "tiller"}]}}, "passed"),
        ({"metadata": {"name": "x"}, "spec": {}}, "passed"),
    ],
)
def test_tiller_service(service, status):
    obj = {"apiVersion": "v1", "kind": "Service", **service}
    assert statuses(check_object("KF-WL-008", obj)) == {None: status}


# -- KF-WL-010 / 011: probes --------------------------------------------------------------------------
@pytest.mark.parametrize("check_id", ["KF-WL-010", "KF-WL-011"])
@pytest.mark.parametrize("kind", sorted(KNOWN_POD_PATHS))
@pytest.mark.parametrize("restart", [None, "Always", "OnFailure", "Never"])
def test_probes_are_judged_only_for_long_running_main_containers(check_id, kind, restart):
    obj = _any_kind(kind, "shop", "w")
    spec_path, _ = KNOWN_POD_PATHS[kind]
    spec = obj
    for key in spec_path:
        spec = spec[key]
    spec["initContainers"] = [{"name": "init", "image": "busybox:1.36"}]
    if restart is not None:
        spec["restartPolicy"] = restart
    got = statuses(check_object(check_id, obj))
    batch = kind in ("Job", "CronJob") or restart in ("OnFailure", "Never")
    assert got == ({} if batch else {"c": "failed"})
    field = "livenessProbe" if check_id == "KF-WL-010" else "readinessProbe"
    for handler in (
        {"exec": {"command": ["true"]}},
        {"httpGet": {"port": 80}},
        {"tcpSocket": {"port": 80}},
        {"grpc": {"port": 9}},
    ):
        spec["containers"][0][field] = handler
        assert statuses(check_object(check_id, obj)) == ({} if batch else {"c": "passed"})


# -- KF-WL-012: duplicate env vars ---------------------------------------------------------------------
env_items = st.lists(
    st.tuples(
        st.sampled_from(["A", "B", "PATH"]),
        st.one_of(
            st.none(),
            st.sampled_from(["x", "", "$(A)", "$(B)", "$(PATH)", "$(PATH):/opt", "pre-$(A)", "$$(A)"]),
        ),
        st.booleans(),
    ),
    max_size=6,
)


@given(items=env_items)
@settings(max_examples=200, deadline=None)
def test_duplicate_env_follows_the_api_server_warning(items):
    env = []
    for name, value, from_field in items:
        item: dict[str, Any] = {"name": name}
        if from_field:
            item["valueFrom"] = {"fieldRef": {"fieldPath": "metadata.name"}}
        elif value is not None:
            item["value"] = value
        env.append(item)
    # pkg/api/pod/warnings.go: a repeated name warns unless it has no valueFrom and its value
    # contains "$(NAME)" and is not exactly "$(NAME)"
    seen: set[str] = set()
    hidden = []
    for i, item in enumerate(env):
        name, ref = item["name"], f"$({item['name']})"
        value = item.get("value", "")
        if name in seen:
            if "valueFrom" in item or value == ref or ref not in value:
                hidden.append((name, i))
        else:
            seen.add(name)
    (o,) = check_object("KF-WL-012", pod({"containers": [{"name": "c", "image": "x", "env": env}]}))
    assert o.status.value == ("failed" if hidden else "passed")
    for name, i in hidden:
        assert f"{name!r} (env[{i}] hides env[" in o.message
    if hidden:
        assert o.path == ("spec", "containers", 0, "env", hidden[0][1], "name")


# -- KF-POD-023: privileged ports ------------------------------------------------------------------------
CONTAINERD_DEFAULT = frozenset(
    {
        "CHOWN",
        "DAC_OVERRIDE",
        "FSETID",
        "FOWNER",
        "MKNOD",
        "NET_RAW",
        "SETGID",
        "SETUID",
        "SETFCAP",
        "SETPCAP",
        "NET_BIND_SERVICE",
        "SYS_CHROOT",
        "KILL",
        "AUDIT_WRITE",
    }
)
EVERY_CAP = CONTAINERD_DEFAULT | {"SYS_ADMIN", "NET_ADMIN", "SYS_PTRACE"}
cap_names = st.lists(
    st.sampled_from(["NET_BIND_SERVICE", "cap_net_bind_service", "ALL", "CHOWN", "NET_RAW"]), max_size=3
)


def _bounding_set(add: list[str], drop: list[str]) -> set[str]:
    """containerd's WithCapabilities on sets: add ALL, drop ALL, add each, drop each."""
    norm = [c.upper().removeprefix("CAP_") for c in add], [c.upper().removeprefix("CAP_") for c in drop]
    caps = set(CONTAINERD_DEFAULT)
    if "ALL" in norm[0]:
        caps = set(EVERY_CAP)
    if "ALL" in norm[1]:
        caps = set()
    caps |= {c for c in norm[0] if c != "ALL"}
    caps -= {c for c in norm[1] if c != "ALL"}
    return caps


@given(
    uid=st.sampled_from([None, 0, 1000]),
    pod_uid=st.sampled_from([None, 0, 1000]),
    non_root=st.sampled_from([None, True, False]),
    privileged=st.sampled_from([None, True, False]),
    add=cap_names,
    drop=cap_names,
    sysctl=st.sampled_from([None, "0", "80", "443", "1024", "2000"]),
    slashed=st.booleans(),
    host_network=st.booleans(),
    ports=st.lists(st.sampled_from([22, 80, 443, 1023, 1024, 8080]), min_size=1, max_size=3, unique=True),
)
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_privileged_ports_follow_the_kernel_and_the_runtime(
    uid, pod_uid, non_root, privileged, add, drop, sysctl, slashed, host_network, ports
):
    sc: dict[str, Any] = {"capabilities": {"add": add, "drop": drop}}
    if uid is not None:
        sc["runAsUser"] = uid
    if non_root is not None:
        sc["runAsNonRoot"] = non_root
    if privileged is not None:
        sc["privileged"] = privileged
    psc: dict[str, Any] = {}
    if pod_uid is not None:
        psc["runAsUser"] = pod_uid
    if sysctl is not None:
        name = "net/ipv4/ip_unprivileged_port_start" if slashed else "net.ipv4.ip_unprivileged_port_start"
        psc["sysctls"] = [{"name": name, "value": sysctl}]
    spec = {
        "hostNetwork": host_network,
        "securityContext": psc,
        "containers": [
            {"name": "c", "image": "x", "securityContext": sc, "ports": [{"containerPort": p} for p in ports]}
        ],
    }
    (o,) = check_object("KF-POD-023", pod(spec))
    # the oracle: the kernel asks for CAP_NET_BIND_SERVICE below ip_unprivileged_port_start
    start = 1024 if host_network or sysctl is None else int(sysctl)
    low = [p for p in ports if p < start]
    caps = _bounding_set(add, drop)
    user = uid if uid is not None else pod_uid
    explicit = "NET_BIND_SERVICE" in caps and any(
        c.upper() in ("NET_BIND_SERVICE", "CAP_NET_BIND_SERVICE", "ALL") for c in add
    )
    if privileged:
        can = True
    elif "NET_BIND_SERVICE" not in caps:
        can = False
    elif explicit or user == 0:
        can = True
    else:
        can = not (user is not None or non_root is True)  # unknown user: the image decides
    assert o.status.value == ("failed" if low and not can else "passed"), (spec, o.message)
    if o.status.value == "failed":
        assert f"declares containerPort {', '.join(map(str, low))}" in o.message
        assert f"below {start} (privileged)" in o.message


# -- KF-POD-024 / 025: what the container runs ------------------------------------------------------------
plain_words = st.sampled_from(["echo", "ls", "app", "grep", "cat", "apt-get"])
args_words = st.lists(st.sampled_from(["-x", "sudo-mode", "/data", "--user=sudo", "value"]), max_size=3)
operators = st.sampled_from([" ; ", " && ", " || ", " | ", "\n", " & "])


@st.composite
def scripts(draw):
    """A shell script of simple commands; returns (script, does a command run sudo, does one start sshd)."""
    parts, sudo, sshd = [], False, False
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["plain", "sudo", "sshd", "quoted", "wrapped"]))
        args = " ".join(shlex.quote(a) for a in draw(args_words))
        if kind == "plain":
            parts.append(f"{draw(plain_words)} {args}")
        elif kind == "sudo":
            parts.append(f"{draw(st.sampled_from(['sudo', '/usr/bin/sudo', 'doas']))} {draw(plain_words)} {args}")
            sudo = True
        elif kind == "sshd":
            parts.append(
                draw(
                    st.sampled_from(["/usr/sbin/sshd -D", "dropbear -F", "service ssh start", "rc-service sshd start"])
                )
            )
            sshd = True
        elif kind == "quoted":
            parts.append(f"echo {shlex.quote('sudo sshd ' + args)}")
        else:
            prefix = draw(st.sampled_from(["exec", "nohup", "env FOO=1", "FOO=1", "time"]))
            word = draw(st.sampled_from(["sudo", "sshd", "app"]))
            parts.append(f"{prefix} {word} {args}")
            sudo |= word == "sudo"
            sshd |= word == "sshd"
    script = ""
    for i, part in enumerate(parts):
        script += (draw(operators) if i else "") + part
    return script, sudo, sshd


@given(
    case=scripts(),
    shell=st.sampled_from(
        [["sh", "-c"], ["/bin/bash", "-ec"], ["bash", "-o", "pipefail", "-c"], ["tini", "--", "sh", "-c"]]
    ),
)
@settings(max_examples=200, deadline=None)
def test_commands_of_shell_scripts(case, shell):
    script, sudo, sshd = case
    obj = pod({"containers": [{"name": "c", "image": "x", "command": shell, "args": [script]}]})
    assert statuses(check_object("KF-POD-024", obj)) == {"c": "failed" if sudo else "passed"}, script
    assert statuses(check_object("KF-POD-025", obj)) == {"c": "failed" if sshd else "passed"}, script
    # the same script nested in another shell's -c is read the same way
    nested = pod(
        {"containers": [{"name": "c", "image": "x", "command": ["sh", "-c", f"bash -c {shlex.quote(script)}"]}]}
    )
    assert statuses(check_object("KF-POD-024", nested)) == {"c": "failed" if sudo else "passed"}, script


def test_sudo_finding_points_at_the_element_that_runs_it():
    obj = pod({"containers": [{"name": "c", "image": "x", "command": ["sh", "-c"], "args": ["ls", "echo; sudo id"]}]})
    (o,) = check_object("KF-POD-024", obj)
    # `sh -c SCRIPT`: the script is the argument after -c, the rest are $0, $1 ...
    assert o.status.value == "passed"
    obj = pod({"containers": [{"name": "c", "image": "x", "command": ["sh", "-c"], "args": ["echo; sudo id"]}]})
    (o,) = check_object("KF-POD-024", obj)
    assert o.status.value == "failed" and o.path == ("spec", "containers", 0, "args", 0)


@pytest.mark.parametrize(
    ("port", "status"),
    [
        ({"containerPort": 22}, "failed"),
        ({"containerPort": 2222, "name": "SSH"}, "failed"),
        ({"containerPort": 2222}, "passed"),
    ],
)
def test_ssh_ports(port, status):
    obj = pod({"containers": [{"name": "c", "image": "x", "ports": [port]}]})
    assert statuses(check_object("KF-POD-025", obj)) == {"c": status}


@pytest.mark.parametrize(
    ("name", "dotted"),
    [
        ("net.ipv4.ip_unprivileged_port_start", "net.ipv4.ip_unprivileged_port_start"),
        ("net/ipv4/ip_unprivileged_port_start", "net.ipv4.ip_unprivileged_port_start"),
        ("net/ipv4/conf/eno2.100/rp_filter", "net.ipv4.conf.eno2/100.rp_filter"),
        ("kernel.shm_rmid_forced", "kernel.shm_rmid_forced"),
    ],
)
def test_sysctl_names_in_both_separator_forms(name, dotted):
    assert processes.sysctl_name(name) == dotted
