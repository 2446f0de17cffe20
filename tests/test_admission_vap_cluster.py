"""Proof: every policy of `kubefort admission vap` gives the same verdict as its Python check.

On the real kube-apiserver (tests/kubeapi.py, VAP GA), the generated policies are installed
twice: bound with `Deny` in the namespace `vap-deny` (and `default`, for KF-WL-004), and bound
with `Warn` (`--binding-suffix warn`) in `vap-warn`. Then every object of tests/vapgen.py
(thousands: Pods and every workload kind, valid objects the API server accepts) is created with
server-side dry-run in both:

* in `vap-warn` it is admitted; the response body is the object as the API server stores it
  (defaulted), and the warnings name every policy that failed. kubefort's failed checks on that
  stored object (`Engine.check_object`, the covered checks) must be exactly those policies;
* in its deny namespace the server's allow/deny must be kubefort's verdict on the same stored
  object (in that namespace), and a denial must name a policy of a check kubefort failed.

Ephemeral containers exist only through the `pods/ephemeralcontainers` subresource: a hardened
pod is created in both namespaces and every generated ephemeral container is added to it with a
dry-run update, compared the same way.

kubefort judges the object as the API server stores it, which is also what the webhook and the
policies see: defaulting happens before admission. The verdicts defaulting changes are recorded
and asserted to be the known ones (`explained_by_defaulting`, docs/admission.md): a Pod with
`hostNetwork: true` gets `hostPort = containerPort` (KF-POD-016 fails where the manifest as
written passed), and a Pod that sets some pod-level resources gets the missing pod-level cpu and
memory requests and limits from its containers (KF-RES-001 to -004 may pass).
"""

from __future__ import annotations

import copy
import http.client
import json
import os
import re
import ssl
import threading
import time
import urllib.parse
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

import vapgen
from kubefort.admission.vap import VapOptions, generate, policy_name
from kubefort.admission.vap_rules import COVERED
from kubefort.engine import Engine, EngineSettings
from kubefort.model import Status
from kubefort.registry import REGISTRY

LABEL = "kubefort-vap-test"
WARN_NS, DENY_NS, UPDATE_NS = "vap-warn", "vap-deny", "vap-update"
COUNT = int(os.environ.get("KUBEFORT_VAP_COUNT", "2400"))
MIN_COMPARED = 2000
WORKERS = 6
ADMISSION = "/apis/admissionregistration.k8s.io/v1"
WARNED = re.compile(r"Validation failed for ValidatingAdmissionPolicy '([^']+)' with binding")
DENIED = re.compile(r"ValidatingAdmissionPolicy '([^']+)' with binding '[^']+' denied request")
CHECK_OF = {policy_name(cid): cid for cid in COVERED}
# the API server accepts procMount: Unmasked only with hostUsers: false, which exempts the pod
# from KF-POD-018: no object it admits fails that check
NEVER_FAILS = frozenset({"KF-POD-018"})
pytestmark = pytest.mark.cluster
ENGINE = Engine(EngineSettings(check_ids=tuple(sorted(COVERED))), REGISTRY)

Answer = tuple[int, Any, list[str]]


# ------------------------------------------------------------------------------------- the server


class Client:
    """Keep-alive HTTPS connections to the test API server (one per thread), with the warnings."""

    def __init__(self, cluster: Any) -> None:
        url = urllib.parse.urlsplit(cluster.url)
        self.host, self.port = url.hostname or "127.0.0.1", url.port or 443
        self.ctx = ssl.create_default_context(cafile=str(cluster.ca_file))
        self.token = cluster.TOKENS["admin"][0]
        self.local = threading.local()

    def _conn(self) -> http.client.HTTPSConnection:
        conn = getattr(self.local, "conn", None)
        if conn is None:
            conn = self.local.conn = http.client.HTTPSConnection(self.host, self.port, context=self.ctx, timeout=60)
        return conn

    def request(self, method: str, path: str, body: Any = None, content_type: str = "application/json") -> Answer:
        headers = {"Authorization": f"Bearer {self.token}", "Accept": "application/json"}
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = content_type
        for attempt in (1, 2):
            conn = self._conn()
            try:
                conn.request(method, path, body=data, headers=headers)
                resp = conn.getresponse()
                raw = resp.read()
                return resp.status, json.loads(raw) if raw else None, resp.headers.get_all("Warning") or []
            except (http.client.HTTPException, OSError):
                conn.close()
                self.local.conn = None
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")


def collection(obj: dict[str, Any], namespace: str) -> str:
    plural = {"PodTemplate": "podtemplates", "ReplicationController": "replicationcontrollers"}.get(obj["kind"])
    plural = plural or obj["kind"].lower() + "s"
    base = f"/api/{obj['apiVersion']}" if "/" not in obj["apiVersion"] else f"/apis/{obj['apiVersion']}"
    return f"{base}/namespaces/{namespace}/{plural}"


def warned(warnings: list[str]) -> set[str]:
    return {CHECK_OF[m] for w in warnings for m in WARNED.findall(w) if m in CHECK_OF}


def denied_check(message: str) -> str | None:
    m = DENIED.search(message)
    return CHECK_OF.get(m.group(1)) if m else None


# ------------------------------------------------------------------------------------- kubefort


def failed(obj: dict[str, Any], namespace: str | None = None) -> frozenset[str]:
    """The covered checks kubefort fails on `obj` (in `namespace`); no check may be not evaluated
    on an object the API server accepted."""
    if namespace is not None:
        obj = {**obj, "metadata": {**obj["metadata"], "namespace": namespace}}
    outcomes = ENGINE.check_object(obj)
    unsure = [f"{o.check_id}: {o.message}" for o in outcomes if o.status is Status.NOT_EVALUATED]
    assert not unsure, f"not evaluated on an object the API server accepts: {unsure}"
    return frozenset(o.check_id for o in outcomes if o.status is Status.FAILED)


def features(obj: dict[str, Any]) -> str:
    return obj["metadata"].get("annotations", {}).get(vapgen.FEATURES_ANNOTATION, "")


# ------------------------------------------------------------------------------------- set-up


def _labelled_namespace(name: str, value: str | None) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {"name": name, "labels": {LABEL: value} if value else {}},
    }


@pytest.fixture(scope="module")
def vap_cluster(apiserver: Any) -> Iterator[Client]:
    """The generated policies, bound Deny in `vap-deny` and `default` and Warn in `vap-warn`;
    everything removed afterwards (the API server is shared by the session)."""
    client = Client(apiserver)
    merge = "application/merge-patch+json"
    for name, value in ((WARN_NS, "warn"), (DENY_NS, "deny"), (UPDATE_NS, None)):
        status, body, _ = client.request("POST", "/api/v1/namespaces", _labelled_namespace(name, value))
        assert status in (201, 409), body
    client.request("PATCH", "/api/v1/namespaces/default", {"metadata": {"labels": {LABEL: "deny"}}}, merge)
    deny = generate(COVERED, REGISTRY, VapOptions(namespace_labels={LABEL: "deny"}))
    warn = generate(
        COVERED, REGISTRY, VapOptions(actions=("Warn",), namespace_labels={LABEL: "warn"}, binding_suffix="warn")
    )
    objects = deny + [o for o in warn if o["kind"] == "ValidatingAdmissionPolicyBinding"]
    try:
        for obj in objects:
            plural = (
                "validatingadmissionpolicies"
                if obj["kind"] == "ValidatingAdmissionPolicy"
                else "validatingadmissionpolicybindings"
            )
            status, body, _ = client.request("POST", f"{ADMISSION}/{plural}", obj)
            assert status == 201, f"{obj['metadata']['name']}: {status} {body}"
        yield client
    finally:
        selector = "?labelSelector=" + urllib.parse.quote("app.kubernetes.io/managed-by=kubefort")
        client.request("DELETE", f"{ADMISSION}/validatingadmissionpolicybindings{selector}")
        client.request("DELETE", f"{ADMISSION}/validatingadmissionpolicies{selector}")
        client.request("PATCH", "/api/v1/namespaces/default", {"metadata": {"labels": {LABEL: None}}}, merge)
        for name in (WARN_NS, DENY_NS, UPDATE_NS):
            client.request("DELETE", f"/api/v1/namespaces/{name}")


def wait_until_active(client: Client, canaries: dict[str, vapgen.Case], timeout: float = 60) -> float:
    """Policies and bindings take effect asynchronously: poll until every check's canary (an
    object kubefort fails on that check) is warned about in vap-warn and denied in its deny
    namespace. Returns the seconds it took."""
    t0 = time.monotonic()
    pending = dict(canaries)
    while pending:
        for cid, case in list(pending.items()):
            _, _, warnings = client.request("POST", collection(case.obj, WARN_NS) + "?dryRun=All", case.obj)
            ns = "default" if case.default_namespace else DENY_NS
            status, body, _ = client.request("POST", collection(case.obj, ns) + "?dryRun=All", case.obj)
            denied = status == 403 and denied_check(body.get("message", "")) is not None
            if (cid in warned(warnings) or cid == "KF-WL-004") and denied:
                del pending[cid]
        if pending and time.monotonic() - t0 > timeout:
            pytest.fail(f"policies not active after {timeout:.0f} s: {sorted(pending)}")
        time.sleep(0.2 if pending else 0)
    return time.monotonic() - t0


# ------------------------------------------------------------------------------------- comparing


class Tally:
    def __init__(self) -> None:
        self.compared = 0
        self.allowed = 0
        self.failed_by_check: Counter[str] = Counter()
        self.passed_by_check: Counter[str] = Counter()
        self.kinds: Counter[str] = Counter()
        self.mismatches: list[str] = []
        self.errors: list[str] = []
        self.defaulted: list[tuple[str, frozenset[str], dict[str, Any]]] = []

    def compare(
        self, label: str, stored: dict[str, Any], warn_answer: Answer, deny_answer: Answer, deny_ns: str
    ) -> None:
        """One object: the warned checks and the deny verdict against kubefort's on the stored object."""
        _, _, warnings = warn_answer
        status, body, _ = deny_answer
        if len(warnings) >= 16:  # the API server keeps about 16 warnings of a response
            self.errors.append(f"{label}: {len(warnings)} warnings, the API server may have dropped some")
            return
        ours_warn, ours_deny = failed(stored, WARN_NS), failed(stored, deny_ns)
        server_warn = warned(warnings)
        message = body.get("message", "") if isinstance(body, dict) else str(body)
        if status not in (200, 201, 403) or (status == 403 and denied_check(message) is None):
            self.errors.append(f"{label} in {deny_ns}: {status} {message[:300]}")
            return
        server_allowed = status != 403
        self.compared += 1
        self.allowed += server_allowed
        self.kinds[stored["kind"]] += 1
        self.failed_by_check.update(ours_deny | ours_warn)
        self.passed_by_check.update(set(COVERED) - ours_warn)
        problems = []
        if server_warn != ours_warn:
            problems.append(f"warned {sorted(server_warn)}, kubefort failed {sorted(ours_warn)}")
        if server_allowed != (not ours_deny):
            problems.append(f"{'allowed' if server_allowed else message[:300]}; kubefort failed {sorted(ours_deny)}")
        elif not server_allowed and denied_check(message) not in ours_deny:
            problems.append(f"denied by {denied_check(message)}, not among kubefort's {sorted(ours_deny)}")
        if problems:
            self.mismatches.append(f"{label}\n    " + "\n    ".join(problems))


def run_objects(client: Client, tally: Tally, cases: list[vapgen.Case]) -> None:
    def both(case: vapgen.Case) -> tuple[Answer, Answer]:
        path = "?dryRun=All"
        warn = client.request("POST", collection(case.obj, WARN_NS) + path, case.obj)
        ns = "default" if case.default_namespace else DENY_NS
        return warn, client.request("POST", collection(case.obj, ns) + path, case.obj)

    with ThreadPoolExecutor(max_workers=WORKERS) as pool:
        answers = list(pool.map(both, cases))
    for case, (warn, deny) in zip(cases, answers, strict=True):
        label = f"{case.obj['kind']} {case.obj['metadata']['name']} [{features(case.obj)}]"
        if warn[0] != 201:
            message = warn[1].get("message", "") if isinstance(warn[1], dict) else warn[1]
            tally.errors.append(f"{label}: {warn[0]} {str(message)[:400]}")
            continue
        stored = warn[1]
        deny_ns = "default" if case.default_namespace else DENY_NS
        tally.compare(label, stored, warn, deny, deny_ns)
        written = failed(case.obj, deny_ns)
        if written != failed(stored, deny_ns):
            tally.defaulted.append((label, written ^ failed(stored, deny_ns), case.obj))


def _hardened_pod(name: str) -> dict[str, Any]:
    pod = vapgen.wrap(vapgen.base_pod(name, {"containers": ["app"]}, "full"), "Pod")
    pod["spec"]["volumes"] = [{"name": "host", "hostPath": {"path": "/srv/data"}}]
    pod["spec"]["containers"][0]["volumeMounts"] = [{"name": "host", "mountPath": "/data", "readOnly": True}]
    pod["metadata"]["annotations"].pop(vapgen.FEATURES_ANNOTATION, None)
    return pod


def run_ephemeral(client: Client, tally: Tally) -> int:
    """Every generated ephemeral container added to a running hardened pod (dry-run)."""
    pods = {}
    for ns in (WARN_NS, DENY_NS):
        status, body, _ = client.request("POST", f"/api/v1/namespaces/{ns}/pods", _hardened_pod("eph-base"))
        assert status == 201, f"the hardened pod must be admitted in {ns}: {status} {body}"
        pods[ns] = body

    def add(ns: str, container: dict[str, Any]) -> Answer:
        pod = copy.deepcopy(pods[ns])
        pod["spec"]["ephemeralContainers"] = [container]
        return client.request("PUT", f"/api/v1/namespaces/{ns}/pods/eph-base/ephemeralcontainers?dryRun=All", pod)

    variants = vapgen.ephemeral_containers()
    with ThreadPoolExecutor(max_workers=WORKERS) as pool:
        answers = list(pool.map(lambda v: (add(WARN_NS, v[1]), add(DENY_NS, v[1])), variants))
    for (label, _c), (warn, deny) in zip(variants, answers, strict=True):
        if warn[0] != 200:
            tally.errors.append(f"{label}: {warn[0]} {str(warn[1])[:400]}")
            continue
        tally.compare(label, warn[1], warn, deny, DENY_NS)
    return len(variants)


def test_policies_match_kubefort_on_every_object(vap_cluster: Client) -> None:
    t0 = time.monotonic()
    cases = vapgen.generate(COUNT, judge=lambda o: len(failed(o, "x")))
    t_gen = time.monotonic() - t0
    canaries: dict[str, vapgen.Case] = {}  # an object failing that check alone, where there is one
    for case in cases:
        ns = "default" if case.default_namespace else DENY_NS
        found = failed(case.obj, ns)
        for cid in found:
            if cid == "KF-POD-016" and case.obj["kind"] == "Pod":
                continue  # its verdict may change with defaulting: not a canary
            if cid not in canaries or (len(found) == 1 and len(failed(canaries[cid].obj, ns)) > 1):
                canaries[cid] = case
    missing = set(COVERED) - NEVER_FAILS - set(canaries)
    assert not missing, f"checks no generated object fails: {sorted(missing)}"
    t_active = wait_until_active(vap_cluster, canaries)

    tally = Tally()
    t1 = time.monotonic()
    run_objects(vap_cluster, tally, cases)
    ephemeral = run_ephemeral(vap_cluster, tally)
    elapsed = time.monotonic() - t1

    print(
        f"\n[vap-differential] {tally.compared} objects compared ({tally.allowed} admitted, "
        f"{tally.compared - tally.allowed} denied; {ephemeral} ephemeral containers) in {elapsed:.1f} s "
        f"(+{t_gen:.1f} s generating, policies active after {t_active:.1f} s); kinds {dict(sorted(tally.kinds.items()))}; "
        f"{len(tally.errors)} API errors, {len(tally.mismatches)} mismatches, "
        f"{len(tally.defaulted)} verdicts changed by the API server's defaulting"
    )
    assert not tally.errors, f"{len(tally.errors)} objects were not judged by the policies alone:\n" + "\n".join(
        tally.errors[:10]
    )
    assert tally.compared >= MIN_COMPARED
    assert not tally.mismatches, f"{len(tally.mismatches)} of {tally.compared} objects disagree:\n" + "\n".join(
        tally.mismatches[:10]
    )
    # every covered check failed and passed by some object
    assert set(tally.failed_by_check) == set(COVERED) - NEVER_FAILS, sorted(set(COVERED) - set(tally.failed_by_check))
    assert set(tally.passed_by_check) == set(COVERED), sorted(set(COVERED) - set(tally.passed_by_check))
    unexplained = [label for label, changed, obj in tally.defaulted if not explained_by_defaulting(obj, changed)]
    assert not unexplained, f"verdicts the API server's defaulting does not explain: {unexplained[:10]}"


def explained_by_defaulting(obj: dict[str, Any], changed: frozenset[str]) -> bool:
    """Verdicts the API server's defaulting of a Pod changes (pkg/apis/core/v1/defaults.go,
    pkg/api/pod/util.go DefaultPodLevelResources; not of templates): hostPort = containerPort with
    hostNetwork (KF-POD-016 fails), and pod-level cpu and memory requests and limits filled from
    the containers' when the pod sets some (KF-RES-001 to -004 may pass)."""
    if obj["kind"] != "Pod":
        return False
    spec = obj["spec"]
    if changed == {"KF-POD-016"}:
        return spec.get("hostNetwork") is True
    return bool(spec.get("resources")) and changed <= {"KF-RES-001", "KF-RES-002", "KF-RES-003", "KF-RES-004"}


def test_update_judges_only_a_changed_pod_template(vap_cluster: Client) -> None:
    """An object admitted before its namespace was bound (a privileged Deployment) can still be
    scaled or relabelled; a change of its pod template is judged, and denied while it fails."""
    client = vap_cluster
    deployment = vapgen.wrap(vapgen.base_pod("legacy", {"containers": ["app"]}, "full"), "Deployment")
    deployment["spec"]["template"]["spec"]["containers"][0]["securityContext"]["privileged"] = True
    deployment["spec"]["template"]["spec"]["containers"][0]["securityContext"].pop("allowPrivilegeEscalation")
    path = f"/apis/apps/v1/namespaces/{UPDATE_NS}/deployments"
    status, body, _ = client.request("POST", path, deployment)
    assert status == 201, body
    merge = "application/merge-patch+json"
    client.request("PATCH", f"/api/v1/namespaces/{UPDATE_NS}", {"metadata": {"labels": {LABEL: "deny"}}}, merge)
    deadline = time.monotonic() + 30
    probe = copy.deepcopy(deployment)
    probe["metadata"]["name"] = "probe"
    while client.request("POST", path + "?dryRun=All", probe)[0] != 403:  # the binding sees the new label
        assert time.monotonic() < deadline, "the namespace's new label never selected the bindings"
        time.sleep(0.2)
    scale = client.request(
        "PATCH", f"{path}/legacy?dryRun=All", {"spec": {"replicas": 3}, "metadata": {"labels": {"tier": "web"}}}, merge
    )
    assert scale[0] == 200, scale[1]
    change = {"spec": {"template": {"metadata": {"labels": {"app": "legacy", "rev": "2"}}}}}
    status, body, _ = client.request("PATCH", f"{path}/legacy?dryRun=All", change, merge)
    assert status == 200, "a label of the template is not the pod spec or its annotations"
    change = {"spec": {"template": {"spec": {"hostAliases": [{"ip": "10.0.0.1", "hostnames": ["db"]}]}}}}
    status, body, _ = client.request("PATCH", f"{path}/legacy?dryRun=All", change, merge)
    assert status == 403 and denied_check(body["message"]) in {"KF-POD-001", "KF-POD-005", "KF-WL-013"}, body
