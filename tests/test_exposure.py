"""kube/exposure/ and the KF-NET exposure and reference checks (010-018) beyond their fixtures:
the resolution rules as classes (Ingress TLS host coverage, Istio host and gateway names, Gateway
API listener admission), what "exposed" means to KF-NET-010, and when a reference is judged (a
cluster listing vs manifests, gaps). tests/test_fuzz_checks.py feeds these checks malformed objects."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kubefort.engine import Engine, EngineSettings
from kubefort.kube.exposure import (
    ATTACHED,
    REFUSED,
    UNKNOWN,
    ParentRef,
    Route,
    admission,
    istio_gateway,
    istio_service,
    parse_listeners,
)
from kubefort.kube.pods import type_name
from kubefort.loaders.manifests import LoadedInput, add_object
from kubefort.model import InputRecord, NotEvaluated, Outcome, Resource, ResourceId, Source, Status
from kubefort.registry import REGISTRY

EXPOSURE_IDS = tuple(f"KF-NET-{i:03d}" for i in range(10, 19))

label = st.from_regex(r"[a-z]([a-z0-9-]{0,6}[a-z0-9])?", fullmatch=True)
hostname = st.lists(label, min_size=2, max_size=4).map(".".join)


@pytest.fixture(autouse=True, scope="module")
def _network_checks() -> None:
    import kubefort.checks.network  # noqa: F401


def _scan(
    objs: list[dict[str, Any]], checks: tuple[str, ...], *, cluster: bool = False, gaps: Any = None
) -> list[Outcome]:
    """Objects as one analysis unit: read from a cluster listing (`cluster://`) or from a file."""
    engine = Engine(EngineSettings(check_ids=checks), REGISTRY)
    li = LoadedInput(InputRecord("cluster://test" if cluster else "in.yaml", "cluster" if cluster else "file"))
    for i, obj in enumerate(objs):
        file = f"cluster://test/objects/{i}" if cluster else "in.yaml"
        add_object(li, obj, Source(file, doc_index=i), file)
    part = engine.evaluate(li)
    return part.outcomes + engine.cross_object(part.collected, gaps=gaps)


def _by_name(outcomes: list[Outcome], check_id: str) -> dict[str, Outcome]:
    return {o.resource.name: o for o in outcomes if o.check_id == check_id and o.resource is not None}


def _obj(api_version: str, kind: str, name: str, namespace: str | None = "shop", **body: Any) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name}
    if namespace is not None:
        meta["namespace"] = namespace
    return {"apiVersion": api_version, "kind": kind, "metadata": meta, **body}


def _deployment(name: str, labels: dict[str, str], namespace: str = "shop") -> dict[str, Any]:
    return _obj(
        "apps/v1",
        "Deployment",
        name,
        namespace,
        spec={
            "selector": {"matchLabels": labels},
            "template": {"metadata": {"labels": labels}, "spec": {"containers": [{"name": "a", "image": "nginx:1"}]}},
        },
    )


def _service(name: str, selector: dict[str, str] | None = None, namespace: str = "shop", **spec: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"ports": [{"port": 80}], **spec}
    if selector is not None:
        body["selector"] = selector
    return _obj("v1", "Service", name, namespace, spec=body)


def _ingress(name: str, service: str, namespace: str = "shop") -> dict[str, Any]:
    backend = {"service": {"name": service, "port": {"number": 80}}}
    return _obj("networking.k8s.io/v1", "Ingress", name, namespace, spec={"defaultBackend": backend})


# ------------------------------------------------------------------------------------------------
# Ingress TLS coverage (KF-NET-011)
# ------------------------------------------------------------------------------------------------
def _tls_outcome(hosts: list[str], tls: list[dict[str, Any]]) -> Outcome:
    rules = [{"host": h, "http": {"paths": [{"path": "/", "pathType": "Prefix", "backend": {}}]}} for h in hosts]
    ing = _obj("networking.k8s.io/v1", "Ingress", "ing", spec={"rules": rules, "tls": tls})
    return _by_name(_scan([ing], ("KF-NET-011",)), "KF-NET-011")["ing"]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(host=hostname, upper=st.booleans())
def test_a_host_is_covered_by_itself_in_any_case_by_its_parent_wildcard_and_by_a_hostless_entry(host: str, upper: bool):
    listed = host.upper() if upper else host
    parent_wildcard = "*." + host.partition(".")[2]
    for tls in ([{"hosts": [listed]}], [{"hosts": [parent_wildcard]}], [{"secretName": "default"}]):
        assert _tls_outcome([host], tls).status is Status.PASSED, tls


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(host=hostname, extra=label, other=hostname)
def test_a_wildcard_covers_one_label_only_and_other_hosts_cover_nothing(host: str, extra: str, other: str):
    deeper = f"{extra}.{host}"  # two labels below *.<parent of host>
    wildcard = "*." + host.partition(".")[2]
    out = _tls_outcome([deeper], [{"hosts": [wildcard]}])
    assert out.status is Status.FAILED and repr(deeper) in out.message
    if other != host:
        assert _tls_outcome([host], [{"hosts": [other]}]).status is Status.FAILED
    # a wildcard rule host is covered by the same wildcard only, never by a concrete name
    assert _tls_outcome([wildcard], [{"hosts": [host]}]).status is Status.FAILED


def test_every_uncovered_host_is_reported():
    out = _tls_outcome(["a.example.com", "b.example.com", "c.example.org"], [{"hosts": ["a.example.com"]}])
    assert out.status is Status.FAILED
    assert (
        "'b.example.com'" in out.message and "'c.example.org'" in out.message and "'a.example.com'" not in out.message
    )


# ------------------------------------------------------------------------------------------------
# Istio names (as istio's ResolveShortnameToFQDN and resolveGatewayName)
# ------------------------------------------------------------------------------------------------
@given(name=label, ns=label, other=label)
def test_istio_gateway_names_resolve_as_istio_does(name: str, ns: str, other: str):
    assert istio_gateway(name, ns) == ((ns, name) if name != "mesh" else None)
    assert istio_gateway(f"{other}/{name}", ns) == (other, name)
    assert istio_gateway(f"./{name}", ns) == (ns, name)
    assert istio_gateway(f"{name}.{other}.svc.cluster.local", ns) == (other, name)
    assert istio_gateway(f"{name}.{other}", ns) == (other, name)


@given(name=label, ns=label, other=label, domain=st.sampled_from(["cluster.local", "corp.internal"]))
def test_istio_hosts_name_services_only_when_short_or_cluster_fqdn(name: str, ns: str, other: str, domain: str):
    assert istio_service(name, ns) == (ns, name)  # a short name: the VirtualService's namespace
    assert istio_service(f"{name}.{other}.svc.{domain}", ns) == (other, name)
    # `name.namespace` is not expanded by Istio: a ServiceEntry host or an external name
    assert istio_service(f"{name}.{other}", ns) is None
    assert istio_service(f"{name}.example.com", ns) is None
    assert istio_service("*", ns) is None and istio_service(f"*.{other}.svc.{domain}", ns) is None


# ------------------------------------------------------------------------------------------------
# Gateway API listener admission
# ------------------------------------------------------------------------------------------------
HOSTS = ["a.example.com", "b.a.example.com", "*.example.com", "*.a.example.com", "example.com", "a.example.org"]


def _reference_intersect(listener: str, route: str) -> bool:
    """Hostname intersection as the Gateway API docs state it: equal names; a wildcard `*.S` stands
    for every name ending in `.S` (any depth, never S itself), wildcards included."""

    def names(h: str) -> set[str]:
        # the concrete names of a small universe that a hostname stands for
        universe = {
            "a.example.com",
            "b.a.example.com",
            "c.b.a.example.com",
            "example.com",
            "a.example.org",
            "x.example.com",
        }
        return {n for n in universe if (n.endswith(h[1:]) if h.startswith("*.") else n == h)}

    return bool(names(listener) & names(route))


listener_st = st.fixed_dictionaries(
    {
        "name": st.sampled_from(["a", "b", "c"]),
        "protocol": st.sampled_from(["HTTP", "HTTPS", "TLS", "TCP"]),
        "port": st.sampled_from([80, 443]),
    },
    optional={
        "hostname": st.sampled_from(HOSTS),
        "allowedRoutes": st.fixed_dictionaries(
            {},
            optional={
                "namespaces": st.one_of(
                    st.just({"from": "Same"}),
                    st.just({"from": "All"}),
                    st.sampled_from(["shop", "infra"]).map(
                        lambda n: {"from": "Selector", "selector": {"matchLabels": {"team": n}}}
                    ),
                ),
                "kinds": st.lists(
                    st.sampled_from([{"kind": "HTTPRoute"}, {"kind": "GRPCRoute"}]), min_size=1, max_size=2
                ),
            },
        ),
    },
)


def _reference_admits(
    li: dict[str, Any], kind: str, route_ns: str, gw_ns: str, labels: dict[str, str] | None, hosts: list[str]
) -> bool | None:
    """The Gateway API's rules, written from the spec: kinds (default by protocol), hostnames
    (either side open, or one intersecting pair), namespaces (default Same)."""
    if li.get("hostname") and hosts and not any(_reference_intersect(li["hostname"], h) for h in hosts):
        return False
    allowed = li.get("allowedRoutes") or {}
    kinds = [k["kind"] for k in allowed.get("kinds") or []]
    if kinds and kind not in kinds:
        return False
    if not kinds and li["protocol"] not in ("HTTP", "HTTPS"):
        return False
    nss = allowed.get("namespaces") or {"from": "Same"}
    if nss["from"] == "All":
        return True
    if nss["from"] == "Same":
        return route_ns == gw_ns
    if labels is None:
        return None
    return all(labels.get(k) == v for k, v in nss["selector"]["matchLabels"].items())


@settings(max_examples=150, deadline=None)
@given(
    listeners=st.lists(listener_st, min_size=1, max_size=3, unique_by=lambda li: li["name"]),
    kind=st.sampled_from(["HTTPRoute", "GRPCRoute"]),
    route_ns=st.sampled_from(["shop", "infra"]),
    labels_known=st.booleans(),
    section=st.sampled_from([None, "a", "b", "z"]),
    port=st.sampled_from([None, 80, 443]),
    hosts=st.lists(st.sampled_from(HOSTS), max_size=2, unique=True),
)
def test_admission_follows_the_gateway_api_rules(listeners, kind, route_ns, labels_known, section, port, hosts):
    gw = Resource(
        ResourceId("gateway.networking.k8s.io/v1", "Gateway", "infra", "gw"),
        {"spec": {"listeners": listeners}},
        Source("in.yaml"),
    )
    route_res = Resource(ResourceId("gateway.networking.k8s.io/v1", kind, route_ns, "r"), {}, Source("in.yaml"))
    parent = ParentRef("gateway.networking.k8s.io", "infra", "gw", section, port, ("spec", "parentRefs", 0))
    labels = {"team": route_ns, "kubernetes.io/metadata.name": route_ns} if labels_known else None
    got = admission(Route(route_res, route_ns, hostnames=tuple(hosts)), parent, parse_listeners(gw), labels)
    candidates = [li for li in listeners if section in (None, li["name"]) and port in (None, li["port"])]
    answers = [_reference_admits(li, kind, route_ns, "infra", labels, hosts) for li in candidates]
    if True in answers:
        assert got.state == ATTACHED
        assert {li.name for li in got.listeners} == {li["name"] for li, a in zip(candidates, answers, strict=True) if a}
    elif None in answers:
        assert got.state == UNKNOWN
    else:
        assert got.state == REFUSED and got.reason


# ------------------------------------------------------------------------------------------------
# exposure (KF-NET-010)
# ------------------------------------------------------------------------------------------------
NAMESPACE = _obj("v1", "Namespace", "shop", None)


def test_route_exposure_needs_an_attached_gateway_and_counts_unknown_gateways():
    objs = [
        NAMESPACE,
        _deployment("web", {"app": "web"}),
        _service("by-ingress", {"app": "web"}),
        _service("by-unknown-gateway", {"app": "web"}),
        _service("internal", {"app": "web"}),
        _ingress("ing", "by-ingress"),
        _obj(
            "gateway.networking.k8s.io/v1",
            "HTTPRoute",
            "r",
            spec={
                "parentRefs": [{"name": "gw", "namespace": "elsewhere"}],
                "rules": [{"backendRefs": [{"name": "by-unknown-gateway", "port": 80}]}],
            },
        ),
    ]
    got = _by_name(_scan(objs, ("KF-NET-010",)), "KF-NET-010")
    assert set(got) == {"by-ingress", "by-unknown-gateway"}
    assert got["by-ingress"].message.startswith("Ingress shop/ing exposes Deployment/web")
    assert "(not in the scan)" in got["by-unknown-gateway"].message
    # read from a cluster, a Gateway missing from a listed namespace is known to be absent: nothing is exposed
    objs.append(_obj("v1", "Namespace", "elsewhere", None))
    got = _by_name(_scan(objs, ("KF-NET-010",), cluster=True), "KF-NET-010")
    assert set(got) == {"by-ingress"}


def test_several_exposures_are_named_together():
    objs = [
        NAMESPACE,
        _deployment("web", {"app": "web"}),
        _service("lb", {"app": "web"}, type="LoadBalancer"),
        _ingress("ing", "lb"),
    ]
    out = _by_name(_scan(objs, ("KF-NET-010",)), "KF-NET-010")["lb"]
    assert out.message.startswith("LoadBalancer Service and Ingress shop/ing expose Deployment/web")
    assert out.path == ("spec", "type")


def test_exposures_are_computed_once_per_scan(monkeypatch):
    from kubefort.kube import exposure

    built = []
    real = exposure.Exposures.__init__

    def counting(self, index):
        built.append(index)
        real(self, index)

    monkeypatch.setattr(exposure.Exposures, "__init__", counting)
    objs = [NAMESPACE, _deployment("web", {"app": "web"}), _service("a", {"app": "web"}), _ingress("ing", "a")]
    outs = _scan(objs, EXPOSURE_IDS)
    assert len(built) == 1 and {o.check_id for o in outs} >= {"KF-NET-010", "KF-NET-011", "KF-NET-013", "KF-NET-015"}


# ------------------------------------------------------------------------------------------------
# when a reference is judged
# ------------------------------------------------------------------------------------------------
def test_manifests_judge_a_reference_only_where_the_scan_holds_the_kind():
    objs = [_ingress("to-shop", "ghost"), _ingress("to-billing", "ghost", "billing"), _service("web", {"app": "web"})]
    got = _by_name(_scan(objs, ("KF-NET-015",)), "KF-NET-015")
    assert got["to-shop"].status is Status.FAILED
    assert got["to-billing"].status is Status.NOT_EVALUATED
    assert "no Services of namespace 'billing'" in got["to-billing"].message


def test_a_cluster_listing_judges_every_listed_namespace():
    objs = [
        _obj("v1", "Namespace", "billing", None),
        _ingress("to-billing", "ghost", "billing"),
        _ingress("to-other", "x", "other"),
    ]
    got = _by_name(_scan(objs, ("KF-NET-015",), cluster=True), "KF-NET-015")
    assert got["to-billing"].status is Status.FAILED  # billing was listed and holds no Service at all
    assert got["to-other"].status is Status.NOT_EVALUATED  # `other` was not listed (no Namespace read)
    assert "namespace 'other' was not listed" in got["to-other"].message


@pytest.mark.parametrize("check_id", ["KF-NET-013", "KF-NET-015", "KF-NET-017", "KF-NET-018"])
def test_a_listing_gap_makes_the_reference_checks_not_evaluated(check_id):
    objs = [
        _obj("v1", "Namespace", "shop", None),
        _service("web", {"app": "nothing"}),
        _ingress("ing", "ghost"),
        _obj(
            "autoscaling/v2",
            "HorizontalPodAutoscaler",
            "hpa",
            spec={"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "x"}},
        ),
        _obj("policy/v1", "PodDisruptionBudget", "pdb", spec={"selector": {"matchLabels": {"app": "x"}}}),
    ]
    judged = _scan(objs, (check_id,), cluster=True)
    assert [o.status for o in judged if o.check_id == check_id] == [Status.FAILED]
    kind = {"KF-NET-015": "Service"}.get(check_id, "Deployment")
    gapped = _scan(objs, (check_id,), cluster=True, gaps={kind: {"shop": ("cannot list: 403", False)}})
    outs = [o for o in gapped if o.check_id == check_id]
    assert [o.status for o in outs] == [Status.NOT_EVALUATED] and "403" in outs[0].message


def test_plain_http_listener_is_not_evaluated_when_the_scan_holds_no_route():
    gw = _obj(
        "gateway.networking.k8s.io/v1",
        "Gateway",
        "gw",
        "infra",
        spec={"listeners": [{"name": "http", "protocol": "HTTP", "port": 80}]},
    )
    out = _by_name(_scan([gw], ("KF-NET-012",)), "KF-NET-012")["gw"]
    assert out.status is Status.NOT_EVALUATED and "holds no HTTPRoute or GRPCRoute" in out.message
    assert _by_name(_scan([gw], ("KF-NET-012",), cluster=True), "KF-NET-012")["gw"].status is Status.PASSED


def test_service_selector_ignores_other_namespaces_and_reports_unreadable_labels():
    objs = [
        _deployment("web", {"app": "web"}, "other"),
        _deployment("x", {"app": "x"}),
        _service("web", {"app": "web"}),
    ]
    assert _by_name(_scan(objs, ("KF-NET-013",)), "KF-NET-013")["web"].status is Status.FAILED
    broken = _deployment("broken", {"app": "broken"})
    broken["spec"]["template"]["metadata"]["labels"] = {"app": 3}
    out = _by_name(_scan([*objs, broken], ("KF-NET-013",)), "KF-NET-013")["web"]
    assert out.status is Status.NOT_EVALUATED and "Deployment/shop/broken" in out.message


# ------------------------------------------------------------------------------------------------
# the labels controllers add to their pods (KF-NET-013, KF-NET-018)
# ------------------------------------------------------------------------------------------------
POD_NAME, POD_INDEX = "statefulset.kubernetes.io/pod-name", "apps.kubernetes.io/pod-index"
sts_value = {
    "app": st.sampled_from(["db", "web"]),
    POD_NAME: st.sampled_from(["db-0", "db-1", "db-2", "web-0"]),
    POD_INDEX: st.sampled_from(["0", "1", "2", "3"]),
}


@st.composite
def sts_selector(draw: Any) -> dict[str, Any]:
    keys = draw(st.lists(st.sampled_from(sorted(sts_value)), min_size=1, max_size=3, unique=True))
    sel: dict[str, Any] = {"matchLabels": {}, "matchExpressions": []}
    for k in keys:
        op = draw(st.sampled_from(["eq", "In", "NotIn", "Exists", "DoesNotExist"]))
        if op == "eq":
            sel["matchLabels"][k] = draw(sts_value[k])
        elif op in ("In", "NotIn"):
            sel["matchExpressions"].append(
                {"key": k, "operator": op, "values": draw(st.lists(sts_value[k], min_size=1, max_size=2))}
            )
        else:
            sel["matchExpressions"].append({"key": k, "operator": op})
    return sel


@settings(max_examples=300, deadline=None)
@given(replicas=st.integers(1, 3), sel=sts_selector())
def test_generated_labels_never_hide_a_matching_pod(replicas: int, sel: dict[str, Any]):
    """For a StatefulSet `db`, a selector matches some real pod (template labels plus the pod name
    and index of each ordinal) exactly when the template may match it; correlated keys (name and
    index together) may only over-approximate, never miss a pod."""
    from kubefort.kube.exposure import template_of
    from kubefort.kube.pods import Fields
    from kubefort.kube.selectors import parse_selector

    res = Resource(
        ResourceId("apps/v1", "StatefulSet", "shop", "db"), {"spec": {"replicas": replicas}}, Source("in.yaml")
    )
    template = template_of(res, Fields({"labels": {"app": "db"}}, ()))
    selector = parse_selector(sel)
    pods = [
        {"app": "db", POD_NAME: f"db-{i}", POD_INDEX: str(i), "controller-revision-hash": "h"} for i in range(replicas)
    ]
    real = any(selector.matches(p) for p in pods)
    assert template.may_match(selector) or not real
    used = {k for k, _ in selector.labels} | {k for k, _, _ in selector.exprs}
    if not {POD_NAME, POD_INDEX} <= used:
        assert template.may_match(selector) is real
    service = dict(selector.labels)
    if not selector.exprs and service:
        selected = any(all(p.get(k) == v for k, v in service.items()) for p in pods)
        assert template.may_select(service) or not selected
        if not {POD_NAME, POD_INDEX} <= used:
            assert template.may_select(service) is selected


small_labels = st.dictionaries(st.sampled_from(["app", "tier", "job-name"]), st.sampled_from(["a", "b"]), max_size=2)


@settings(max_examples=150, deadline=None)
@given(
    workloads=st.lists(
        st.tuples(
            st.sampled_from(["Deployment", "Job", "StatefulSet"]), small_labels, st.sampled_from(["shop", "other"])
        ),
        max_size=6,
    ),
    selector=st.dictionaries(
        st.sampled_from(["app", "tier", "job-name", "statefulset.kubernetes.io/pod-name"]),
        st.sampled_from(["a", "b", "w0", "w1-0"]),
        min_size=1,
        max_size=3,
    ),
)
def test_the_label_index_finds_every_template_a_service_can_select(workloads, selector):
    """`Exposures.selected` looks only at templates that can carry the selector's rarest label:
    it must find exactly what checking every template of the namespace finds."""
    from kubefort.engine.index import Index
    from kubefort.kube.exposure import Exposures

    objs = []
    for i, (kind, labels, ns) in enumerate(workloads):
        api = "batch/v1" if kind == "Job" else "apps/v1"
        spec = {"template": {"metadata": {"labels": labels}, "spec": {"containers": [{"name": "c", "image": "x:1"}]}}}
        objs.append(
            Resource(
                ResourceId(api, kind, ns, f"w{i}"),
                {"apiVersion": api, "kind": kind, "metadata": {"name": f"w{i}", "namespace": ns}, "spec": spec},
                Source("in.yaml", i),
            )
        )
    svc = Resource(ResourceId("v1", "Service", "shop", "s"), {"spec": {"selector": selector}}, Source("in.yaml", 99))
    ex = Exposures(Index([(r, True) for r in objs] + [(svc, False)]))
    hits, unknown = ex.selected(svc)
    assert unknown == []
    assert hits == [t.resource for t in ex.templates.get("shop", []) if t.may_select(selector)]


# ------------------------------------------------------------------------------------------------
# null and wrong-typed label values (map[string]string, read by Fields.str_map): KF-NET-010, 013, 014
# ------------------------------------------------------------------------------------------------
NULL_KEYS = st.sampled_from(["app", "tier"])
nullable_value = st.sampled_from(["a", "b", ""]) | st.none()
WRONG_VALUES = st.integers() | st.booleans() | st.lists(st.text(max_size=2), max_size=1) | st.just({"x": "y"})


def _blank(labels: dict[str, str | None]) -> dict[str, str]:
    return {k: "" if v is None else v for k, v in labels.items()}


def _controller(name: str, selector: Any, labels: Any) -> dict[str, Any]:
    return _obj(
        "apps/v1",
        "Deployment",
        name,
        spec={
            "selector": {"matchLabels": selector},
            "template": {"metadata": {"labels": labels}, "spec": {"containers": [{"name": "a", "image": "nginx:1"}]}},
        },
    )


def _selection_outcomes(sel: Any, labels: Any, exposed: bool) -> dict[str, tuple[Status, str]]:
    """KF-NET-010, 013 and 014 on one Deployment `web` (matchLabels and template labels) and one
    Service `s` (selector; exposed: LoadBalancer, with a NetworkPolicy of the namespace in the scan)."""
    objs = [_controller("web", sel, labels), _service("s", sel, type="LoadBalancer" if exposed else "ClusterIP")]
    if exposed:
        objs.append(
            _obj("networking.k8s.io/v1", "NetworkPolicy", "other", spec={"podSelector": {"matchLabels": {"x": "y"}}})
        )
    out = _scan(objs, ("KF-NET-010", "KF-NET-013", "KF-NET-014"))
    return {o.check_id: (o.status, o.message) for o in out if o.check_id.startswith("KF-NET-01")}


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    sel=st.dictionaries(NULL_KEYS, nullable_value, min_size=1, max_size=2),
    labels=st.dictionaries(NULL_KEYS, nullable_value, max_size=2),
    exposed=st.booleans(),
)
def test_null_selector_and_label_values_are_empty_strings(
    sel: dict[str, str | None], labels: dict[str, str | None], exposed: bool
):
    """A null value in a Service selector, a controller's matchLabels or a pod template's labels
    is "" (the API server decodes a map[string]string so): every check reaches exactly the
    outcome of the same objects with "" written, and that outcome follows equality on "" values."""
    got = _selection_outcomes(sel, labels, exposed)
    assert got == _selection_outcomes(_blank(sel), _blank(labels), exposed)
    s, t = _blank(sel), _blank(labels)
    selected = all(t.get(k) == v for k, v in s.items())
    assert got["KF-NET-014"][0] is (Status.PASSED if selected else Status.FAILED)
    shared = [k for k in s if k in t]
    partial = not selected and shared and all(t[k] == s[k] for k in shared)  # labels set at runtime, maybe
    assert got["KF-NET-013"][0] is (
        Status.PASSED if selected else Status.NOT_EVALUATED if partial else Status.FAILED
    ), got["KF-NET-013"]
    # exposed and selected: no policy isolates `web` for ingress; otherwise out of scope
    assert ("KF-NET-010" in got) is (exposed and selected)
    if exposed and selected:
        assert got["KF-NET-010"][0] is Status.FAILED


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(key=NULL_KEYS, value=WRONG_VALUES, where=st.sampled_from(["selector", "labels"]))
def test_wrong_typed_selector_or_label_values_are_not_evaluated(key: str, value: object, where: str):
    """Any other non-string value is refused, as the API server refuses the object: never judged,
    the field named (the Service selector, the matchLabels, or the unreadable template labels).
    A Deployment whose labels are refused has no pods the netpol model knows: KF-NET-010 finds no
    workload the exposed Service selects (out of its scope) and leaves it to KF-NET-013."""
    good = {"app": "web", "tier": "front"}
    bad = {**good, key: value}
    got = _selection_outcomes(bad if where == "selector" else good, bad if where == "labels" else good, True)
    judged = ("KF-NET-010", "KF-NET-013", "KF-NET-014") if where == "selector" else ("KF-NET-013", "KF-NET-014")
    assert {c: s for c, (s, _) in got.items()} == dict.fromkeys(judged, Status.NOT_EVALUATED)
    if where == "selector":
        field = f"spec.selector.{key} is {type_name(value)}, expected a string"
        assert got["KF-NET-013"][1] == got["KF-NET-010"][1] == field
        assert (
            got["KF-NET-014"][1] == f"spec.selector.matchLabels has {key!r}: {value!r}; keys and values must be strings"
        )
    else:
        field = f"spec.template.metadata.labels.{key} is {type_name(value)}, expected a string"
        assert got["KF-NET-014"][1] == field
        assert got["KF-NET-013"][1] == f"the pod template labels of Deployment/shop/web could not be read: {field}"


@given(labels=st.dictionaries(st.text(max_size=3), st.none() | st.text(max_size=2) | WRONG_VALUES, max_size=3))
def test_template_labels_read_null_as_empty_and_refuse_other_types(labels: dict[str, Any]):
    """`template_of` reads a template's labels as `Fields.str_map`: null is "", another type
    leaves the labels unknown (None) with the field's path in `problem`."""
    from kubefort.kube.exposure import template_of
    from kubefort.kube.pods import Fields

    res = Resource(ResourceId("apps/v1", "Deployment", "shop", "web"), {}, Source("in.yaml"))
    t = template_of(res, Fields({"labels": labels}, ("spec", "template", "metadata")))
    bad = [k for k, v in labels.items() if v is not None and not isinstance(v, str)]
    if bad:
        assert t.labels is None and t.problem.startswith(f"spec.template.metadata.labels.{bad[0]} is ")
    else:
        assert t.labels == _blank(labels) and t.problem == "" and t.generated == {"pod-template-hash": None}
    assert template_of(res, None).labels == template_of(res, Fields({"labels": None}, ())).labels == {}


def test_route_hostnames_are_read_and_refused_when_mistyped():
    from kubefort.kube.exposure.routes import parse_gateway_route

    def route(hosts: object) -> Resource:
        return Resource(
            ResourceId("gateway.networking.k8s.io/v1", "HTTPRoute", "shop", "r"),
            {"spec": {"hostnames": hosts, "parentRefs": [{"name": "gw"}]}},
            Source("in.yaml"),
        )

    assert parse_gateway_route(route(["Shop.Example.com", "*.example.org"])).hostnames == (
        "shop.example.com",
        "*.example.org",
    )
    assert parse_gateway_route(route(None)).hostnames == ()
    with pytest.raises(NotEvaluated) as exc:
        parse_gateway_route(route("shop.example.com"))
    assert exc.value.path == ("spec", "hostnames")
