"""Deterministic generator of workloads for the ValidatingAdmissionPolicy differential test.

tests/test_admission_vap_cluster.py sends every object to a real kube-apiserver on which the
policies of `kubefort admission vap` are installed, and requires the server's verdict to equal
kubefort's, check by check.

An object is made as tests/pssgen.py makes a pod, then wrapped in a kind:

* a *base* pod (pssgen's container layouts) at one of three hardenings: ``full`` (passes every
  covered check: the restricted securityContext, a read-only root file system, requests and
  limits, probes, its own ServiceAccount), ``pss`` (pssgen's restricted settings only) and
  ``bare`` (nothing set);
* *features*: every pssgen feature (the Pod Security fields), plus those reading what the other
  covered checks read (resources, probes and restart policies, ServiceAccounts and token
  mounts, duplicate env entries, Secret references, hostAliases, writable hostPath mounts,
  low IDs, shareProcessNamespace, capability spellings, owner references of Pods);
* a *kind*: Pod, Deployment, ReplicaSet, StatefulSet, DaemonSet, ReplicationController, Job,
  CronJob or PodTemplate (the pod becomes the template; a restart policy the kind refuses is
  repaired);
* about one object in ten is sent to the ``default`` namespace (KF-WL-004).

Every object must pass API validation: combinations the API rejects are repaired (pssgen's
``_finalize`` and :func:`_finalize` here) or re-drawn (pssgen's ``_invalid`` and
:func:`_invalid` here). :func:`ephemeral_containers` makes the containers the test adds to a
running pod through the ``pods/ephemeralcontainers`` subresource, the only way they exist.
"""

from __future__ import annotations

import copy
import json
import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pssgen
from pssgen import FEATURES_ANNOTATION, IMAGE, Feature

Obj = dict[str, Any]
SERVICE_ACCOUNT = "app"
MAX_FAILED_CHECKS = 12  # keep the Warn namespace's warnings attributable (the API server keeps ~16)

# ------------------------------------------------------------------------------------- features

EXTRA: list[Feature] = []


def feature(name: str, variants, wheres=("",)):
    def deco(fn: Callable[[Obj, random.Random, Any], None]) -> Callable[[Obj, random.Random, Any], None]:
        EXTRA.append(Feature(name, tuple(variants), fn, tuple(wheres)))
        return fn

    return deco


def _main(pod: Obj) -> list[dict]:
    return pod["spec"]["containers"]


def _all(pod: Obj) -> list[dict]:
    return pssgen._containers(pod)


def _pick(pod: Obj, rng: random.Random, where: str) -> list[dict]:
    cs = _all(pod)
    if where == "all":
        return cs
    if where == "init":
        return [rng.choice(pod["spec"].get("initContainers") or cs)]
    return [rng.choice(cs)]


CPU, MEMORY, STORAGE = "cpu", "memory", "ephemeral-storage"
REQUEST = {CPU: "100m", MEMORY: "128Mi", STORAGE: "512Mi"}
LIMIT = {CPU: "500m", MEMORY: "256Mi", STORAGE: "1Gi"}


@feature(
    "resources",
    [
        (section, resource, op)
        for section in ("requests", "limits")
        for resource in (CPU, MEMORY, STORAGE)
        for op in ("drop", "zero")
    ]
    + [("none", "", "drop"), ("requests-only", "", "drop"), ("limits-only", "", "drop")],
    wheres=("one", "all", "init"),
)
def f_resources(pod, rng, v):
    section, resource, op = v
    for c in _pick(pod, rng, pod["_where"]):
        res = c.setdefault("resources", {})
        if section == "none":
            c.pop("resources", None)
        elif section in ("requests-only", "limits-only"):
            res.pop("limits" if section == "requests-only" else "requests", None)
        elif op == "drop":
            res.get(section, {}).pop(resource, None)
        else:  # a zero quantity is still a value
            res.setdefault(section, {})[resource] = "0"
            other = "limits" if section == "requests" else "requests"
            if section == "limits":
                res.get(other, {}).pop(resource, None)  # a request above a zero limit is invalid
        for key in ("requests", "limits"):
            if res.get(key) == {}:
                del res[key]
        if c.get("resources") == {}:
            del c["resources"]


@feature("podResources", [(section, r) for section in ("requests", "limits") for r in (CPU, MEMORY)] + [("both", "")])
def f_pod_resources(pod, rng, v):
    section, resource = v
    big = {"requests": {CPU: "4", MEMORY: "8Gi"}, "limits": {CPU: "8", MEMORY: "16Gi"}}
    if section == "both":
        pod["spec"]["resources"] = copy.deepcopy(big)
    else:
        pod["spec"].setdefault("resources", {}).setdefault(section, {})[resource] = big[section][resource]
    for c in _all(pod):  # containers without their own cpu/memory: the pod's apply
        res = c.get("resources") or {}
        for key in ("requests", "limits"):
            for r in (CPU, MEMORY):
                if rng.random() < 0.5:
                    (res.get(key) or {}).pop(r, None)
            if res.get(key) == {}:
                res.pop(key)
        if c.get("resources") == {}:
            del c["resources"]


@feature("probes", [(p, op) for p in ("livenessProbe", "readinessProbe") for op in ("drop", "drop-all")])
def f_probes(pod, rng, v):
    probe, op = v
    for c in _main(pod) if op == "drop-all" else [rng.choice(_main(pod))]:
        c.pop(probe, None)


@feature("restartPolicy", ["Always", "OnFailure", "Never", None])
def f_restart_policy(pod, rng, v):
    pssgen._set(pod["spec"], "restartPolicy", v)


@feature(
    "serviceAccount",
    [
        ("serviceAccountName", "default"),
        ("serviceAccountName", ""),
        ("serviceAccountName", None),
        ("serviceAccount", "app"),
        ("serviceAccount", "default"),
        ("both", ("", "legacy")),
        ("both", ("default", "other")),
    ],
)
def f_service_account(pod, rng, v):
    key, value = v
    spec = pod["spec"]
    if key == "both":
        spec["serviceAccountName"], spec["serviceAccount"] = value
    elif key == "serviceAccount":
        spec.pop("serviceAccountName", None)
        spec["serviceAccount"] = value
    else:
        pssgen._set(spec, key, value)


@feature("automount", [(True, None), (False, None), (False, "token"), (False, "configMap"), (None, "token")])
def f_automount(pod, rng, v):
    automount, projected = v
    spec = pod["spec"]
    pssgen._set(spec, "automountServiceAccountToken", automount)
    if projected:
        source = (
            {"serviceAccountToken": {"path": "token", "audience": "api"}}
            if projected == "token"
            else {"configMap": {"name": "cm"}}
        )
        name = f"proj-{pssgen._counter(pod, 'vol')}"
        spec.setdefault("volumes", []).append({"name": name, "projected": {"sources": [source]}})


_ENV_SETS = {
    "hides": [{"name": "A", "value": "1"}, {"name": "A", "value": "2"}],
    "extends": [{"name": "PATH", "value": "/bin"}, {"name": "PATH", "value": "$(PATH):/opt/bin"}],
    "self-ref": [{"name": "A", "value": "1"}, {"name": "A", "value": "$(A)"}],
    "valueFrom": [
        {"name": "A", "value": "1"},
        {"name": "A", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
    ],
    "first-from": [
        {"name": "A", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
        {"name": "A", "value": "$(A)x"},
    ],
    "apart": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}, {"name": "A", "value": ""}],
    "triple": [{"name": "A", "value": "1"}, {"name": "A", "value": "$(A):x"}, {"name": "A", "value": "$(A):y"}],
    "triple-last": [{"name": "A", "value": "1"}, {"name": "A", "value": "$(A):x"}, {"name": "A", "value": "z"}],
    "empty-first": [{"name": "A"}, {"name": "A", "value": "$(A)"}],
    "distinct": [{"name": "A", "value": "1"}, {"name": "B", "value": "$(A)"}],
    "secretKeyRef": [{"name": "PASSWORD", "valueFrom": {"secretKeyRef": {"name": "db", "key": "password"}}}],
    "configMapKeyRef": [{"name": "MODE", "valueFrom": {"configMapKeyRef": {"name": "cm", "key": "mode"}}}],
}


@feature("env", list(_ENV_SETS), wheres=("one", "all", "init"))
def f_env(pod, rng, v):
    for c in _pick(pod, rng, pod["_where"]):
        c.setdefault("env", []).extend(copy.deepcopy(_ENV_SETS[v]))


@feature("envFrom", ["secretRef", "configMapRef", "both"], wheres=("one", "init"))
def f_env_from(pod, rng, v):
    refs = {
        "secretRef": {"secretRef": {"name": "db"}},
        "configMapRef": {"configMapRef": {"name": "cm"}, "prefix": "CM_"},
    }
    for c in _pick(pod, rng, pod["_where"]):
        for key in ("secretRef", "configMapRef") if v == "both" else (v,):
            c.setdefault("envFrom", []).append(copy.deepcopy(refs[key]))


@feature("hostAliases", [["10.0.0.1", ["db.local"]], ["127.0.0.2", []]])
def f_host_aliases(pod, rng, v):
    pod["spec"].setdefault("hostAliases", []).append({"ip": v[0], **({"hostnames": v[1]} if v[1] else {})})


@feature("hostPathMount", [True, False, None, "twice"], wheres=("one", "all", "init"))
def f_host_path_mount(pod, rng, v):
    name = f"host-{pssgen._counter(pod, 'vol')}"
    pod["spec"].setdefault("volumes", []).append({"name": name, "hostPath": {"path": "/srv/data"}})
    for i, c in enumerate(_pick(pod, rng, pod["_where"])):
        mounts = c.setdefault("volumeMounts", [])
        if v == "twice":  # one read-only mount, one writable: the writable one fails
            mounts.append({"name": name, "mountPath": f"/ro-{i}", "readOnly": True})
            mounts.append({"name": name, "mountPath": f"/rw-{i}"})
        else:
            mounts.append({"name": name, "mountPath": f"/data-{i}", **({} if v is None else {"readOnly": v})})


@feature(
    "ids",
    [("runAsUser", n) for n in (1, 9999, 10000)] + [("runAsGroup", n) for n in (1, 9999, 10000, 0)],
    wheres=("pod", "one", "all"),
)
def f_ids(pod, rng, v):
    key, value = v
    for sc in pssgen._targets(pod, rng, pod["_where"]):
        sc[key] = value


@feature("privilegedOnly", [True], wheres=("one", "all", "init"))
def f_privileged_only(pod, rng, v):
    """privileged alone (pssgen's leaves allowPrivilegeEscalation: false, which the API refuses with it)."""
    for sc in pssgen._targets(pod, rng, pod["_where"]):
        sc["privileged"] = v
        sc.pop("allowPrivilegeEscalation", None)


@feature("shareProcessNamespace", [True, False])
def f_share_process_namespace(pod, rng, v):
    pod["spec"]["shareProcessNamespace"] = v


# spellings the runtimes read as dangerous (or not): case, CAP_, whitespace, Unicode case folding
CAP_SPELLINGS = (
    "sys_admin",
    "Cap_Net_Raw",
    " NET_ADMIN ",
    "\tcap_bpf",
    "PERFMON\u2003",
    "\u017fys_module",  # LATIN SMALL LETTER LONG S: str.upper() gives "S"
    "CAP_CAP_SYS_ADMIN",
    "SYS_ADMINX",
    "all",
    "CAP_ALL",
    "SYS_NICE",
    "mac_override",
    "K\u0131LL",  # dotless i upper-cases to I: KILL is not dangerous
)


@feature("capSpelling", [(c,) for c in CAP_SPELLINGS], wheres=("one", "all", "init"))
def f_cap_spelling(pod, rng, v):
    for sc in pssgen._targets(pod, rng, pod["_where"]):
        sc.setdefault("capabilities", {})["add"] = list(v)


@feature("appArmorAnnotationMore", ["", "localhost/custom"])
def f_apparmor_annotation_more(pod, rng, v):
    c = rng.choice(_all(pod))
    pod["metadata"].setdefault("annotations", {})[pssgen.APPARMOR_PREFIX + c["name"]] = v


@feature("owner", ["controller", "not-controller", "none", "mirror", "source"])
def f_owner(pod, rng, v):
    pod["_owner"] = v


FEATURES: list[Feature] = [*pssgen.FEATURES, *EXTRA]

# ------------------------------------------------------------------------------------- base pods

HARDENINGS = ("full", "full", "full", "pss", "bare")  # drawn at random: mostly full


def base_pod(name: str, layout: dict, hardening: str) -> Obj:
    pod = pssgen.base_pod(name, layout, "bare" if hardening == "bare" else "hardened-pod")
    if hardening != "full":
        return pod
    spec = pod["spec"]
    spec["serviceAccountName"] = SERVICE_ACCOUNT
    for c in _all(pod):
        c["securityContext"]["readOnlyRootFilesystem"] = True
        c["resources"] = {"requests": dict(REQUEST), "limits": dict(LIMIT)}
    for c in pssgen._probe_capable(pod):
        if c in _main(pod):
            c["livenessProbe"] = {"tcpSocket": {"port": 8080}}
            c["readinessProbe"] = {"httpGet": {"path": "/ready", "port": 8080}}
    pod["_owner"] = "controller"
    return pod


# ------------------------------------------------------------------------------------- validity


def _finalize(pod: Obj) -> None:
    """Repair what the API rejects in the fields of this module's features."""
    spec = pod["spec"]
    windows = (spec.get("os") or {}).get("name") == "windows"
    if windows:
        spec.pop("shareProcessNamespace", None)
        spec.pop("resources", None)  # pod-level resources: not for Windows pods
        for c in _all(pod):
            (c.get("securityContext") or {}).pop("runAsGroup", None)
    for c in _all(pod):
        res = c.get("resources") or {}
        for r in (CPU, MEMORY, STORAGE):  # a request above its limit is invalid
            req, lim = (res.get("requests") or {}).get(r), (res.get("limits") or {}).get(r)
            if req is not None and lim is not None and lim == "0" and req != "0":
                res["requests"][r] = "0"
    # a projected token needs a named ServiceAccount (the API server copies serviceAccount first)
    projects = any(
        "serviceAccountToken" in src
        for v in spec.get("volumes", [])
        for src in (v.get("projected") or {}).get("sources", [])
    )
    if projects and not (spec.get("serviceAccountName") or spec.get("serviceAccount")):
        spec["serviceAccountName"] = "default"
    # probes only on main containers and sidecars; none in pods that run to completion is fine
    for c in pod["spec"].get("initContainers", []):
        if c.get("restartPolicy") != "Always":
            c.pop("livenessProbe", None)
            c.pop("readinessProbe", None)


_APPARMOR_ANNOTATION_OF = {"Unconfined": "unconfined", "RuntimeDefault": "runtime/default"}


def _apparmor_mismatch(pod: Obj) -> str | None:
    """validateAppArmorAnnotationsAndFieldsMatchOnCreate: a container's annotation must match its
    profile (its own, else the pod's); Windows pods are not checked."""
    spec = pod["spec"]
    if (spec.get("os") or {}).get("name") == "windows":
        return None
    ann = pod["metadata"].get("annotations") or {}
    pod_profile = (spec.get("securityContext") or {}).get("appArmorProfile")
    for c in _all(pod):
        profile = (c.get("securityContext") or {}).get("appArmorProfile") or pod_profile
        value = ann.get(pssgen.APPARMOR_PREFIX + c["name"])
        if profile is None or value is None:
            continue
        if profile["type"] == "Localhost":
            if value != "localhost/" + profile.get("localhostProfile", ""):
                return "AppArmor annotation and Localhost profile disagree"
        elif value != _APPARMOR_ANNOTATION_OF[profile["type"]]:
            return "AppArmor annotation and field disagree"
    return None


def _invalid(pod: Obj) -> str | None:
    spec = pod["spec"]
    why = _apparmor_mismatch(pod)
    if why:
        return why
    if spec.get("shareProcessNamespace") is True and spec.get("hostPID") is True:
        return "shareProcessNamespace with hostPID"
    return None


# ------------------------------------------------------------------------------------- kinds

KINDS = (
    "Pod",
    "Pod",
    "Deployment",
    "ReplicaSet",
    "StatefulSet",
    "DaemonSet",
    "ReplicationController",
    "Job",
    "CronJob",
    "PodTemplate",
)
_LONG_RUNNING = {"Deployment", "ReplicaSet", "StatefulSet", "DaemonSet", "ReplicationController"}
_API = {
    "Pod": "v1",
    "PodTemplate": "v1",
    "ReplicationController": "v1",
    "Deployment": "apps/v1",
    "ReplicaSet": "apps/v1",
    "StatefulSet": "apps/v1",
    "DaemonSet": "apps/v1",
    "Job": "batch/v1",
    "CronJob": "batch/v1",
}
_OWNER_REF = {
    "apiVersion": "apps/v1",
    "kind": "ReplicaSet",
    "name": "owner",
    "uid": "7a1c6f5e-0000-4000-8000-000000000001",
}


def wrap(pod: Obj, kind: str) -> Obj:
    """The pod as `kind`: a Pod keeps it (with the owner references of its `owner` feature), the
    others carry it as their pod template, with the restart policy the kind requires."""
    pod = copy.deepcopy(pod)
    owner = pod.pop("_owner", "none")
    name, meta, spec = pod["metadata"]["name"], pod["metadata"], pod["spec"]
    if kind == "Pod":
        ann = meta.setdefault("annotations", {})
        if owner in ("controller", "not-controller"):
            meta["ownerReferences"] = [{**_OWNER_REF, "controller": owner == "controller"}]
        elif owner in ("mirror", "source"):
            ann[f"kubernetes.io/config.{owner}"] = "file" if owner == "source" else "0123456789abcdef"
            if owner == "mirror":
                spec["nodeName"] = "node-1"  # the API server requires it of a mirror pod
        return pod
    if kind in _LONG_RUNNING and spec.get("restartPolicy") not in (None, "Always"):
        spec["restartPolicy"] = "Always"
    if kind in ("Job", "CronJob") and spec.get("restartPolicy") in (None, "Always"):
        spec["restartPolicy"] = "Never"
    labels = {"app": name}
    template = {"metadata": {"labels": labels, **{k: v for k, v in meta.items() if k == "annotations"}}, "spec": spec}
    shown = {k: v for k, v in (meta.get("annotations") or {}).items() if k == FEATURES_ANNOTATION}
    top = {
        "apiVersion": _API[kind],
        "kind": kind,
        "metadata": {"name": name, **({"annotations": shown} if shown else {})},
    }
    if kind == "PodTemplate":
        return {**top, "template": template}
    if kind == "Job":
        return {**top, "spec": {"template": template}}
    if kind == "CronJob":
        return {**top, "spec": {"schedule": "*/5 * * * *", "jobTemplate": {"spec": {"template": template}}}}
    body: dict[str, Any] = {"template": template}
    if kind == "ReplicationController":
        body["selector"] = dict(labels)
    else:
        body["selector"] = {"matchLabels": dict(labels)}
    return {**top, "spec": body}


# ------------------------------------------------------------------------------------- generation


@dataclass(frozen=True)
class Case:
    obj: Obj
    default_namespace: bool  # sent to `default` (KF-WL-004) rather than the test's deny namespace


def _build(name: str, rng: random.Random, layout: dict, hardening: str, chosen: list[tuple[Feature, Any, str]]) -> Obj:
    pod = base_pod(name, layout, hardening)
    chosen = sorted(chosen, key=lambda t: t[0].name in ("os", "windowsHostProcess"))
    labels = []
    for feat, variant, where in chosen:
        pod["_where"] = where
        feat.apply(pod, rng, variant)
        labels.append(f"{feat.name}={json.dumps(variant)}" + (f"@{where}" if where else ""))
    labels.append(f"base={hardening}")
    owner = pod.pop("_owner", "none")
    pssgen._finalize(pod)
    _finalize(pod)
    pod["_owner"] = owner
    pod["metadata"].setdefault("annotations", {})[FEATURES_ANNOTATION] = "; ".join(labels)
    return pod


def generate(count: int = 2000, seed: int = 20261203, judge: Callable[[Obj], int] | None = None) -> list[Case]:
    """At least `count` distinct valid objects (deterministic for a seed), named vap-00000...; every
    feature variant alone first, then random combinations of 1-4. `judge` (how many checks an
    object fails) keeps objects under MAX_FAILED_CHECKS failed checks."""
    rng = random.Random(seed)
    cases: list[Case] = []
    seen: set[str] = set()

    def emit(layout: dict, hardening: str, chosen: list[tuple[Feature, Any, str]]) -> bool:
        pod = _build(f"vap-{len(cases):05d}", rng, layout, hardening, chosen)
        if pssgen._invalid(pod) is not None or _invalid(pod) is not None:
            return False
        kind = KINDS[len(cases) % len(KINDS)]
        obj = wrap(pod, kind)
        key = pssgen.canonical(obj) if kind == "Pod" else json.dumps({**obj, "metadata": None}, sort_keys=True)
        if key in seen or (judge is not None and judge(obj) > MAX_FAILED_CHECKS):
            return False
        seen.add(key)
        cases.append(Case(obj, default_namespace=rng.random() < 0.1))
        return True

    i = 0
    for feat in FEATURES:
        for variant in feat.variants:
            for hardening in ("full", "pss"):
                emit(
                    pssgen.LAYOUTS[i % len(pssgen.LAYOUTS)],
                    hardening,
                    [(feat, variant, feat.wheres[i % len(feat.wheres)])],
                )
                i += 1
    attempts = 0
    while len(cases) < count:
        attempts += 1
        if attempts > count * 50:
            raise RuntimeError(f"could only generate {len(cases)} distinct valid objects")
        feats = rng.sample(FEATURES, rng.randint(1, 4))
        chosen = [(f, rng.choice(f.variants), rng.choice(f.wheres)) for f in feats]
        emit(rng.choice(pssgen.LAYOUTS), rng.choice(HARDENINGS), chosen)
    return cases


# security contexts of ephemeral containers added to a running (hardened) pod
EPHEMERAL_SECURITY: tuple[dict[str, Any] | None, ...] = (
    None,
    {"privileged": True},
    {"allowPrivilegeEscalation": False},
    {"allowPrivilegeEscalation": False, "readOnlyRootFilesystem": True, "capabilities": {"drop": ["ALL"]}},
    {"runAsNonRoot": False},
    {"runAsUser": 0},
    {"runAsUser": 1000, "runAsGroup": 0},
    {"capabilities": {"add": ["SYS_PTRACE"]}},
    {"capabilities": {"add": ["cap_sys_admin"], "drop": ["ALL"]}},
    {"seccompProfile": {"type": "Unconfined"}},
    {"appArmorProfile": {"type": "Unconfined"}},
    {"seLinuxOptions": {"type": "spc_t"}},
    {"procMount": "Default"},
)


def ephemeral_containers() -> list[tuple[str, dict[str, Any]]]:
    """(label, ephemeral container) pairs: every security context, with and without a Secret in
    its environment and a writable hostPath mount of the pod's volume `host`."""
    out = []
    for i, sc in enumerate(EPHEMERAL_SECURITY):
        for extra in ("", "secret-env", "host-mount", "dup-env"):
            c: dict[str, Any] = {"name": f"debug-{i}-{extra or 'plain'}", "image": IMAGE}
            if sc is not None:
                c["securityContext"] = copy.deepcopy(sc)
            if extra == "secret-env":
                c["env"] = [{"name": "T", "valueFrom": {"secretKeyRef": {"name": "db", "key": "t"}}}]
            elif extra == "host-mount":
                c["volumeMounts"] = [{"name": "host", "mountPath": "/host"}]
            elif extra == "dup-env":
                c["env"] = [{"name": "A", "value": "1"}, {"name": "A", "value": "2"}]
            out.append((f"ephemeral securityContext={json.dumps(sc)} {extra}".strip(), c))
    return out
