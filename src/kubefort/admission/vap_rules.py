"""The checks a ValidatingAdmissionPolicy expresses exactly, each as CEL.

One `Rule` per covered check: `allowed` is true exactly when the Python check reaches no
`failed` outcome on the object, for every object the API server admits (a decoded, validated
object, as `Engine.check_object` judges it); `detail` (a CEL string, evaluated only when the
object is denied) names what failed, as the check's message does. Each rule says in a comment
which Python code it mirrors; tests/test_admission_vap_cluster.py proves every rule equal to its
check on the real API server, object by object.

How the checks' cases map to CEL:

* absent, null and the zero value are one thing once the API server has decoded an object
  (`securityContext.privileged` unset or `false`), which `?.`/`orValue` reads;
* wrong types cannot occur (the API server rejects them before admission), so the checks'
  not-evaluated cases never arise;
* NotApplicable (ephemeral containers for resources, init containers for probes, Jobs for
  probes) is a condition under which the rule allows;
* pod-level values apply to containers that set none (`c.?x.orValue(podSC.?x.orValue(...))`),
  as the checks' `effective_int` and `pod.scope(...)` read them.
"""

from __future__ import annotations

from dataclasses import dataclass

from kubefort.admission.vap_cel import (
    POD_RESOURCES,
    WORKLOAD_RESOURCES,
    ResourceRules,
    cel_list,
    cel_string,
    normalized_name_pattern,
)
from kubefort.checks.hygiene import STATIC_POD_ANNOTATIONS
from kubefort.checks.pod_security.capabilities import DANGEROUS_CAPABILITIES
from kubefort.checks.pod_security.confinement import APPARMOR_CONTAINER_ANNOTATION, SECCOMP_CONFINED, SELINUX_TYPES
from kubefort.checks.pod_security.kernel import SAFE_SYSCTLS
from kubefort.checks.pod_security.users import LOW_ID_LIMIT


@dataclass(frozen=True, slots=True)
class Rule:
    check_id: str
    allowed: str  # CEL, true when the object passes the check
    detail: str = ""  # CEL string naming what failed ("" = the check's title says it all)
    resources: ResourceRules = WORKLOAD_RESOURCES
    note: str = ""  # shown by `--list` beside "covered"


def _names(containers: str, bad: str) -> str:
    return f"variables.{containers}.filter(c, {bad}).map(c, c.name).join(', ')"


def container_rule(
    check_id: str, bad: str, *, exempt: str = "", containers: str = "containers", note: str = ""
) -> Rule:
    """A container check: the object fails when some container `c` of `containers` is `bad`,
    unless the pod is `exempt` (a CEL condition under which the check does not judge it)."""
    allowed = f"!variables.{containers}.exists(c, {bad})"
    return Rule(
        check_id,
        f"{exempt} || {allowed}" if exempt else allowed,
        f"'containers: ' + {_names(containers, bad)}",
        note=note,
    )


def _effective(field: str, default: str) -> str:
    """A container securityContext value, else the pod's (common.effective_int, pod.scope)."""
    return f"c.?securityContext.?{field}.orValue(variables.podSC.?{field}.orValue({default}))"


_EMPTY = "''"  # the CEL empty string
LINUX = "variables.windows"  # Linux-only controls exempt Windows pods, as PSS does
ROOTLESS = "variables.windows || variables.userns"  # ID checks exempt Windows pods and user namespaces

# KF-POD-011: capability names read as the runtimes read them (capabilities.normalize_capability:
# strip, upper case, without CAP_), reproduced exactly with Python's own Unicode tables
_DANGEROUS = normalized_name_pattern(DANGEROUS_CAPABILITIES, "CAP_")
_APPARMOR_OK = cel_list(("RuntimeDefault", "Localhost"))
_APPARMOR_ANNOTATION = f"({cel_string(APPARMOR_CONTAINER_ANNOTATION)} + c.name)"


def _requested(resource: str, sections: tuple[str, ...], pod_level: bool) -> str:
    """resources.effective: the container's sections (a request falls back to the limit), then the
    pod's spec.resources for cpu and memory (PodLevelResources)."""
    places = [f"c.?resources.?{s}.orValue({{}})" for s in sections]
    if pod_level:
        places += [f"variables.spec.?resources.?{s}.orValue({{}})" for s in sections]
    return "!(" + " || ".join(f"'{resource}' in {p}" for p in places) + ")"


# main containers of long-running pods (containers._not_long_running); others are not judged
_RUNS_TO_COMPLETION = (
    "object.kind in ['Job', 'CronJob'] || variables.spec.?restartPolicy.orValue('') in ['Never', 'OnFailure']"
)

RULES: tuple[Rule, ...] = (
    # privileges.privileged_container
    container_rule("KF-POD-001", "c.?securityContext.?privileged.orValue(false)"),
    # host_namespaces._host_namespace
    Rule("KF-POD-002", "!variables.spec.?hostPID.orValue(false)"),
    Rule("KF-POD-003", "!variables.spec.?hostIPC.orValue(false)"),
    Rule("KF-POD-004", "!variables.spec.?hostNetwork.orValue(false)"),
    # privileges.privilege_escalation_allowed: unset counts as allowed
    container_rule("KF-POD-005", "c.?securityContext.?allowPrivilegeEscalation.orValue(true)", exempt=LINUX),
    # users.run_as_non_root_not_enforced: the container's value, else the pod's
    container_rule("KF-POD-006", f"!{_effective('runAsNonRoot', 'false')}", exempt=LINUX),
    # filesystem.writable_root_filesystem
    container_rule("KF-POD-007", "!c.?securityContext.?readOnlyRootFilesystem.orValue(false)", exempt=LINUX),
    # users.run_as_uid_zero
    container_rule("KF-POD-008", f"{_effective('runAsUser', '-1')} == 0", exempt=ROOTLESS),
    # users.low_uid_gid
    container_rule(
        "KF-POD-009",
        f"[{_effective('runAsUser', '-1')}, {_effective('runAsGroup', '-1')}].exists(v, v > 0 && v < {LOW_ID_LIMIT})",
        exempt=ROOTLESS,
    ),
    # capabilities.capabilities_not_dropped: exactly "ALL"
    container_rule("KF-POD-010", "!('ALL' in c.?securityContext.?capabilities.?drop.orValue([]))", exempt=LINUX),
    container_rule(
        "KF-POD-011",
        f"c.?securityContext.?capabilities.?add.orValue([]).exists(a, a.matches({cel_string(_DANGEROUS)}))",
        note="capability names matched as the runtimes read them (case-insensitive, CAP_ prefix, surrounding "
        "whitespace), with Python's Unicode case tables",
    ),
    # confinement.seccomp_unconfined: the container's profile, else the pod's; unset fails
    container_rule(
        "KF-POD-012",
        f"!({_effective('seccompProfile.?type', _EMPTY)} in {cel_list(SECCOMP_CONFINED)})",
        exempt=LINUX,
    ),
    # confinement.apparmor_unconfined: the container's field, else its annotation, else the pod's field
    container_rule(
        "KF-POD-013",
        f"c.?securityContext.?appArmorProfile.hasValue() ? !(c.securityContext.appArmorProfile.type in {_APPARMOR_OK}) : "
        f"variables.annotations[?{_APPARMOR_ANNOTATION}].hasValue() ? "
        f"!(variables.annotations[{_APPARMOR_ANNOTATION}] in ['', 'runtime/default'] || "
        f"variables.annotations[{_APPARMOR_ANNOTATION}].startsWith('localhost/')) : "
        f"!(variables.podSC.?appArmorProfile.?type.orValue('RuntimeDefault') in {_APPARMOR_OK})",
    ),
    # filesystem.writable_host_path: every mount of a hostPath volume must be readOnly
    container_rule(
        "KF-POD-015",
        "c.?volumeMounts.orValue([]).exists(m, !m.?readOnly.orValue(false) && m.name in variables.hostPathVolumes)",
        note="compares each writable mount with each hostPath volume: a container with about 1,000 of each "
        "exceeds CEL's cost limit",
    ),
    # host_namespaces.host_port
    container_rule("KF-POD-016", "c.?ports.orValue([]).exists(p, p.?hostPort.orValue(0) != 0)"),
    Rule("KF-POD-017", "!variables.spec.?shareProcessNamespace.orValue(false)"),
    # kernel.unmasked_proc_mount: pods in a user namespace may set any value
    container_rule(
        "KF-POD-018",
        "c.?securityContext.?procMount.orValue('Default') != 'Default'",
        exempt="variables.userns",
        note="never fails on an object the API server accepts (it allows Unmasked only with hostUsers: false, "
        "which exempts the pod); kept so that the policy set follows the check",
    ),
    # kernel.unsafe_sysctls: names compared exactly
    Rule(
        "KF-POD-019",
        f"variables.podSC.?sysctls.orValue([]).all(s, s.name in {cel_list(sorted(SAFE_SYSCTLS))})",
        "'sysctls: ' + variables.podSC.sysctls.filter(s, !(s.name in "
        f"{cel_list(sorted(SAFE_SYSCTLS))})).map(s, s.name).join(', ')",
    ),
    # confinement.selinux_custom_options: the pod's options and every container's
    Rule(
        "KF-POD-020",
        "([variables.podSC] + variables.containers.map(c, c.?securityContext.orValue({}))).all(sc, "
        "!sc.?seLinuxOptions.hasValue() || "
        f"(sc.seLinuxOptions.?type.orValue('') in {cel_list(sorted(SELINUX_TYPES))} && "
        "sc.seLinuxOptions.?user.orValue('') == '' && sc.seLinuxOptions.?role.orValue('') == ''))",
    ),
    # host_namespaces.windows_host_process: the pod's or any container's
    Rule(
        "KF-POD-021",
        "!variables.podSC.?windowsOptions.?hostProcess.orValue(false) && "
        "!variables.containers.exists(c, c.?securityContext.?windowsOptions.?hostProcess.orValue(false))",
    ),
    # users.root_group: an effective runAsGroup 0, fsGroup 0, or GID 0 in supplementalGroups
    Rule(
        "KF-POD-022",
        f"{ROOTLESS} || !(variables.containers.exists(c, {_effective('runAsGroup', '-1')} == 0) || "
        "variables.podSC.?fsGroup.orValue(-1) == 0 || 0 in variables.podSC.?supplementalGroups.orValue([]))",
    ),
    # resources._missing (ephemeral containers cannot set resources: not judged)
    container_rule("KF-RES-001", _requested("cpu", ("requests", "limits"), True), containers="podContainers"),
    container_rule("KF-RES-002", _requested("memory", ("requests", "limits"), True), containers="podContainers"),
    container_rule("KF-RES-003", _requested("memory", ("limits",), True), containers="podContainers"),
    container_rule("KF-RES-004", _requested("cpu", ("limits",), True), containers="podContainers"),
    container_rule("KF-RES-005", _requested("ephemeral-storage", ("limits",), False), containers="podContainers"),
    # workload.default_service_account: serviceAccountName, else serviceAccount; an account without
    # a token (automount off and no projected serviceAccountToken) is not reported
    Rule(
        "KF-WL-002",
        "!((variables.spec.?serviceAccountName.orValue('') != '' ? variables.spec.serviceAccountName : "
        "variables.spec.?serviceAccount.orValue('')) in ['', 'default']) || "
        "(variables.spec.?automountServiceAccountToken.orValue(true) == false && "
        "!variables.spec.?volumes.orValue([]).exists(v, "
        "v.?projected.?sources.orValue([]).exists(s, has(s.serviceAccountToken))))",
    ),
    # hygiene.workload_in_default_namespace: at admission every object has its namespace
    Rule("KF-WL-004", "object.metadata.?namespace.orValue('') != 'default'"),
    # hygiene.naked_pod: a controller owner reference, or a static pod's annotations
    Rule(
        "KF-WL-005",
        "object.kind != 'Pod' || object.metadata.?ownerReferences.orValue([]).exists(r, r.?controller.orValue(false)) || "
        f"object.metadata.?annotations.orValue({{}}).exists(k, k in {cel_list(STATIC_POD_ANNOTATIONS)})",
        resources=POD_RESOURCES,
    ),
    # containers.liveness_probe_missing / readiness_probe_missing: main containers of long-running pods
    Rule(
        "KF-WL-010",
        f"{_RUNS_TO_COMPLETION} || variables.spec.containers.all(c, has(c.livenessProbe))",
        "'containers: ' + variables.spec.containers.filter(c, !has(c.livenessProbe)).map(c, c.name).join(', ')",
    ),
    Rule(
        "KF-WL-011",
        f"{_RUNS_TO_COMPLETION} || variables.spec.containers.all(c, has(c.readinessProbe))",
        "'containers: ' + variables.spec.containers.filter(c, !has(c.readinessProbe)).map(c, c.name).join(', ')",
    ),
    # containers._duplicates: a later entry of a name that hides the first one
    # containers.host_aliases
    Rule("KF-WL-013", "variables.spec.?hostAliases.orValue([]).size() == 0"),
    # secrets.secret_in_env_var: secretKeyRef in env, secretRef in envFrom, every container kind
    container_rule(
        "KF-SEC-003",
        "c.?env.orValue([]).exists(e, e.?valueFrom.?secretKeyRef.hasValue()) || "
        "c.?envFrom.orValue([]).exists(e, e.?secretRef.hasValue())",
    ),
)

COVERED: dict[str, Rule] = {r.check_id: r for r in RULES}
