"""Exact Pod Security Standards (PSS) evaluator.

Decides the way the reference admission library ``k8s.io/pod-security-admission``
(``policy/check_*.go``) decides, for every policy version from ``v1.0`` to :data:`LATEST`.
This is an independent Python implementation of that behaviour; it uses the standard
library only and imports nothing else from kubefort.

How a policy version is applied (as upstream's check registry does):

* every check has one or more implementations, each with a minimum policy version; a pinned
  version ``v1.N`` uses, per check, the newest implementation whose minimum is ``<= 1.N`` and
  skips checks that did not exist yet; versions newer than :data:`LATEST` are clamped to it and
  ``"latest"`` means :data:`LATEST`;
* ``restricted`` runs every baseline check plus the restricted checks, except baseline checks
  that a restricted check *overrides* at that version (``hostPathVolumes`` by
  ``restrictedVolumes`` from v1.0, ``seccompProfile_baseline`` by ``seccompProfile_restricted``
  from v1.19, ``capabilities_baseline`` by ``capabilities_restricted`` from v1.22, ``procMount``
  by ``procMount_restricted`` from v1.35);
* container checks visit ``initContainers``, ``containers`` and ``ephemeralContainers``.

Version history implemented (policy version: change):

* v1.0  baseline: windowsHostProcess, hostNamespaces, privileged, capabilities_baseline,
  hostPathVolumes, hostPorts, appArmorProfile (annotations and the ``appArmorProfile`` fields),
  seLinuxOptions, procMount, seccompProfile_baseline (alpha annotations), sysctls (5 names);
  restricted: restrictedVolumes (``image`` volumes allowed at every version), runAsNonRoot
* v1.8  restricted: allowPrivilegeEscalation
* v1.19 seccomp moves to ``securityContext.seccompProfile``; restricted: seccompProfile_restricted
* v1.22 restricted: capabilities_restricted
* v1.23 restricted: runAsUser
* v1.25 restricted: allowPrivilegeEscalation, seccompProfile_restricted and capabilities_restricted
  skip pods with ``spec.os.name: windows``
* v1.27, v1.29, v1.32, v1.37 sysctls: the safe set grows
* v1.31 seLinuxOptions: ``container_engine_t`` allowed
* v1.34 baseline: hostProbesAndHostLifecycle
* v1.35 ``spec.hostUsers: false`` relaxes baseline procMount and restricted runAsNonRoot/runAsUser;
  restricted: procMount_restricted

Upstream returns one aggregated result per check; :func:`evaluate` instead returns one
:class:`PSSViolation` per offending field (a pod is allowed exactly when the list is empty).

How this package is built: the pod is decoded once into typed values (:func:`decode.decode`,
which raises the input errors), then every check is a small function of the decoded pod and the
policy version, registered in :data:`CONTROLS` with its level, the version it appeared in and
the version from which restricted overrides it (the table of ``../shared/catalog/pss.md``).
A level at a version runs the controls that table selects (:func:`controls_for`).

Both levels evaluate the same controls the same way, so :func:`evaluate_all` evaluates every
control of a version once and answers every level from that one evaluation (restricted is
*not* simply baseline plus more: it drops the baseline checks it overrides, so each level
selects its own controls from the shared results). :func:`evaluate_shared` keeps those
evaluations for the pods being scanned, so the baseline and restricted checks and the
``--pss`` report verdict of one pod cost one evaluation; pods of equal content (the replicas of
a workload, the pods a controller creates from one template, a re-applied object at admission)
share one too.
Each message starts with upstream's forbidden reason (``host namespaces``, ``privileged``, ...)
followed by a detail in parentheses.

Inputs are plain dicts from YAML/JSON. A value whose type the Kubernetes API could not decode
(``securityContext: "x"``, ``privileged: "yes"``, ``hostPort: "80"``...) raises
:class:`PSSInputError` naming the field path, so the caller can record "not evaluated"
instead of a verdict. ``null`` is accepted everywhere and means "unset", as in the API.

| module        | what                                                                                  |
|---------------|---------------------------------------------------------------------------------------|
| model.py      | `LEVELS`, `LATEST`, `CHECKS`, `parse_version`; `PSSViolation`, `PSSInputError`; the decoded pod (`Pod`, `Container`, `Volume`, `SELinux`); `Control`; message rendering |
| decode.py     | `decode`: the pod dicts to a `Pod`, raising the input errors in one fixed order          |
| baseline.py   | the baseline controls (B1-B12) and `BASELINE_CONTROLS`                                 |
| restricted.py | the restricted controls (R1-R7) and `RESTRICTED_CONTROLS`                              |
| evaluation.py | `CONTROLS`, `controls_for`, `evaluate`, `PodEvaluation`/`evaluate_all`, `evaluate_shared`/`shared_evaluation` and their memo |

| control (check ID)         | level      | module        | function                      |
|----------------------------|------------|---------------|-------------------------------|
| windowsHostProcess         | baseline   | baseline.py   | `_windows_host_process`       |
| hostNamespaces             | baseline   | baseline.py   | `_host_namespaces`            |
| privileged                 | baseline   | baseline.py   | `_privileged`                 |
| capabilities_baseline      | baseline   | baseline.py   | `_capabilities_baseline`      |
| hostPathVolumes            | baseline   | baseline.py   | `_host_path_volumes`          |
| hostPorts                  | baseline   | baseline.py   | `_host_ports`                 |
| hostProbesAndHostLifecycle | baseline   | baseline.py   | `_host_probes`                |
| appArmorProfile            | baseline   | baseline.py   | `_apparmor`                   |
| seLinuxOptions             | baseline   | baseline.py   | `_selinux_options`            |
| procMount                  | baseline   | baseline.py   | `_proc_mount`                 |
| seccompProfile_baseline    | baseline   | baseline.py   | `_seccomp_baseline`           |
| sysctls                    | baseline   | baseline.py   | `_sysctls`                    |
| restrictedVolumes          | restricted | restricted.py | `_restricted_volumes`         |
| allowPrivilegeEscalation   | restricted | restricted.py | `_allow_privilege_escalation` |
| runAsNonRoot               | restricted | restricted.py | `_run_as_non_root`            |
| runAsUser                  | restricted | restricted.py | `_run_as_user`                |
| seccompProfile_restricted  | restricted | restricted.py | `_seccomp_restricted`         |
| capabilities_restricted    | restricted | restricted.py | `_capabilities_restricted`    |
| procMount_restricted       | restricted | restricted.py | `_proc_mount_restricted`      |
"""

from kubefort.kube.pss.evaluation import (
    CONTROLS,
    PodEvaluation,
    controls_for,
    evaluate,
    evaluate_all,
    evaluate_shared,
    shared_evaluation,
)
from kubefort.kube.pss.model import CHECKS, LATEST, LEVELS, Control, PSSInputError, PSSViolation, parse_version

__all__ = [
    "CHECKS",
    "CONTROLS",
    "LATEST",
    "LEVELS",
    "Control",
    "PSSInputError",
    "PSSViolation",
    "PodEvaluation",
    "controls_for",
    "evaluate",
    "evaluate_all",
    "evaluate_shared",
    "parse_version",
    "shared_evaluation",
]
