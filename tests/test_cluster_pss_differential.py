"""Differential test: kubefort's Pod Security verdicts against the real PodSecurity admission plugin.

tests/pssgen.py makes ~1,300 valid pods covering every baseline and restricted control, alone and
combined. Each pod is POSTed with server-side dry-run into a namespace that enforces the level at
version "latest"; the API server answers 201 (admitted) or 403 "violates PodSecurity" (denied).
kubefort must give the same verdict for the same pod at the same level and version, and name the
same checks: the server's message lists the forbidden reasons of the failed checks
(``violates PodSecurity "restricted:latest": <reason> (<details>), <reason> (...)``), which
are mapped back to upstream check IDs (the IDs kubefort's violations carry).

One known difference is normalised before comparing: the API server defaults
``hostPort := containerPort`` for pods with ``hostNetwork: true`` before admission runs, so the
server reports ``hostPort`` for ports the manifest left without one. kubefort judges the
manifest as written; :func:`_apply_server_defaults` gives it the defaulted pod. (The verdict never
depends on it: such a pod already fails ``hostNamespaces``.)
"""

from __future__ import annotations

import copy
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

import pssgen
from kubefort.checks.pss import verdict
from kubefort.kube.pods import find_pods
from kubefort.model import Resource, ResourceId, Source

LEVELS = ("baseline", "restricted")
VERSION = "latest"
MIN_COMPARED = 1000

# upstream forbidden reason (the text before " (" in the admission message) -> check ID; where
# a baseline and a restricted check share a reason, the level decides (restricted overrides)
REASONS: dict[str, dict[str, str]] = {
    "host namespaces": {"*": "hostNamespaces"},
    "privileged": {"*": "privileged"},
    "non-default capabilities": {"*": "capabilities_baseline"},
    "unrestricted capabilities": {"*": "capabilities_restricted"},
    "hostPath volumes": {"*": "hostPathVolumes"},
    "restricted volume types": {"*": "restrictedVolumes"},
    "hostPort": {"*": "hostPorts"},
    "forbidden AppArmor profile": {"*": "appArmorProfile"},
    "forbidden AppArmor profiles": {"*": "appArmorProfile"},
    "seLinuxOptions": {"*": "seLinuxOptions"},
    "procMount": {"baseline": "procMount", "restricted": "procMount_restricted"},
    "seccompProfile": {"baseline": "seccompProfile_baseline", "restricted": "seccompProfile_restricted"},
    "forbidden sysctls": {"*": "sysctls"},
    "allowPrivilegeEscalation != false": {"*": "allowPrivilegeEscalation"},
    "runAsNonRoot != true": {"*": "runAsNonRoot"},
    "runAsUser=0": {"*": "runAsUser"},
    "hostProcess": {"*": "windowsHostProcess"},
    "probe or lifecycle host": {"*": "hostProbesAndHostLifecycle"},
}


def split_reasons(message: str, level: str) -> list[str]:
    """The forbidden reasons of a 'violates PodSecurity' message, in order."""
    marker = f'violates PodSecurity "{level}:{VERSION}": '
    start = message.index(marker) + len(marker)
    body = message[start:]
    items, depth, cur = [], 0, []
    i = 0
    while i < len(body):
        ch = body[i]
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        if depth == 0 and body.startswith(", ", i):
            items.append("".join(cur))
            cur = []
            i += 2
            continue
        cur.append(ch)
        i += 1
    items.append("".join(cur))
    return [it.split(" (", 1)[0].strip() for it in items if it.strip()]


def server_checks(message: str, level: str) -> set[str]:
    out = set()
    for reason in split_reasons(message, level):
        ids = REASONS.get(reason)
        if ids is None:
            raise AssertionError(f"unknown PodSecurity reason {reason!r} in: {message}")
        out.add(ids.get(level) or ids["*"])
    return out


def _apply_server_defaults(pod: dict) -> dict:
    """The API server's defaulting that matters to PodSecurity (see the module docstring)."""
    if pod["spec"].get("hostNetwork") is not True:
        return pod
    pod = copy.deepcopy(pod)
    for kind in ("initContainers", "containers"):
        for c in pod["spec"].get(kind, []):
            for p in c.get("ports", []):
                if not p.get("hostPort"):
                    p["hostPort"] = p["containerPort"]
    return pod


def kubefort_violations(pod: dict, level: str) -> list:
    obj = _apply_server_defaults(pod)
    res = Resource(ResourceId("v1", "Pod", "pss-diff", pod["metadata"]["name"]), obj, Source("pssgen"))
    (view,) = find_pods(res)
    return verdict(view, level, VERSION)


def test_unit_split_reasons():
    msg = (
        'pods "x" is forbidden: violates PodSecurity "baseline:latest": forbidden AppArmor profiles (container "c" and '
        'annotation must not set AppArmor profile type to "Unconfined", "container.apparmor.security.beta.kubernetes.io/c='
        '"unconfined""), hostPort (container "c" uses hostPorts 1, 2), seLinuxOptions (pod set forbidden '
        'securityContext.seLinuxOptions: type "spc_t"; user may not be set)'
    )
    assert split_reasons(msg, "baseline") == ["forbidden AppArmor profiles", "hostPort", "seLinuxOptions"]
    assert server_checks(msg, "baseline") == {"appArmorProfile", "hostPorts", "seLinuxOptions"}


def test_generator_is_deterministic_and_distinct():
    a, b = pssgen.generate(), pssgen.generate()
    assert a == b
    assert len({pssgen.canonical(p) for p in a}) == len(a) >= 1200
    assert len({p["metadata"]["name"] for p in a}) == len(a)
    assert all(pssgen._invalid(p) is None for p in a)


@pytest.fixture(scope="module")
def pods():
    return pssgen.generate()


@pytest.mark.parametrize("level", LEVELS)
def test_pss_verdicts_match_admission(apiserver, pods, level):
    t0 = time.monotonic()
    ns = f"pss-diff-{level}"
    apiserver.apply(
        [
            {
                "apiVersion": "v1",
                "kind": "Namespace",
                "metadata": {
                    "name": ns,
                    "labels": {
                        "pod-security.kubernetes.io/enforce": level,
                        "pod-security.kubernetes.io/enforce-version": VERSION,
                    },
                },
            }
        ]
    )
    path = f"/api/v1/namespaces/{ns}/pods"

    def admit(pod):
        return apiserver.create(path, pod, dry_run=True)

    with ThreadPoolExecutor(max_workers=8) as pool:
        answers = list(pool.map(admit, pods))

    errors, mismatches = [], []
    compared = allowed_count = 0
    checks_seen: set[str] = set()
    for pod, (status, body) in zip(pods, answers, strict=False):
        name = pod["metadata"]["name"]
        message = body.get("message", "") if isinstance(body, dict) else str(body)
        if status == 201:
            server_allowed, server_ids = True, set()
        elif status == 403 and "violates PodSecurity" in message:
            server_allowed, server_ids = False, server_checks(message, level)
        else:
            errors.append(f"{name} [{'; '.join(pssgen.iter_features(pod))}]: {status} {message[:400]}")
            continue
        found = kubefort_violations(pod, level)
        ours = {v.control for v in found}
        compared += 1
        allowed_count += server_allowed
        checks_seen |= server_ids
        if server_allowed != (not found) or server_ids != ours:
            mismatches.append(
                f"{name} [{'; '.join(pssgen.iter_features(pod))}]\n"
                f"    server: {'allowed' if server_allowed else message}\n"
                f"    kubefort: {[f'{v.control} {v.field}={v.value}' for v in found] or 'allowed'}\n"
                f"    server-only: {sorted(server_ids - ours)}  kubefort-only: {sorted(ours - server_ids)}"
            )

    elapsed = time.monotonic() - t0
    print(
        f"\n[pss-differential] {level}: {compared} pods compared ({allowed_count} admitted, "
        f"{compared - allowed_count} denied), {len(errors)} API errors, {len(mismatches)} mismatches, "
        f"checks exercised: {len(checks_seen)} ({', '.join(sorted(checks_seen))}), {elapsed:.1f} s"
    )
    assert not errors, f"{len(errors)} generated pods were rejected for another reason than PodSecurity:\n" + "\n".join(
        errors[:10]
    )
    assert compared >= MIN_COMPARED
    assert not mismatches, f"{len(mismatches)} of {compared} pods disagree at {level}:{VERSION}:\n" + "\n".join(
        mismatches[:10]
    )
    # the generator must reach every check of the level (restricted overrides some baseline ones)
    expected = set(REASONS_FOR_LEVEL[level])
    assert expected <= checks_seen, f"checks never failed by any pod: {sorted(expected - checks_seen)}"


# checks some generated pod must fail at each level. Not baseline's procMount: the API accepts
# `procMount: Unmasked` only with `hostUsers: false`, which exempts a pod from it since v1.35.
REASONS_FOR_LEVEL = {
    "baseline": [
        "hostNamespaces",
        "privileged",
        "capabilities_baseline",
        "hostPathVolumes",
        "hostPorts",
        "appArmorProfile",
        "seLinuxOptions",
        "seccompProfile_baseline",
        "sysctls",
        "windowsHostProcess",
        "hostProbesAndHostLifecycle",
    ],
    "restricted": [
        "hostNamespaces",
        "privileged",
        "capabilities_restricted",
        "restrictedVolumes",
        "hostPorts",
        "appArmorProfile",
        "seLinuxOptions",
        "procMount_restricted",
        "seccompProfile_restricted",
        "sysctls",
        "windowsHostProcess",
        "hostProbesAndHostLifecycle",
        "allowPrivilegeEscalation",
        "runAsNonRoot",
        "runAsUser",
    ],
}
