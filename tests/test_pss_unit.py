"""Unit tests for kubefort.kube.pss on small hand-made pods (no ../shared needed)."""

from __future__ import annotations

import copy

import pytest

from kubefort.kube import pss
from kubefort.kube.pss import PSSInputError, PSSViolation, evaluate, parse_version

UNSET = "<unset>"
C0 = "spec.containers[0]"
SC0 = C0 + ".securityContext"


def container(name: str = "app", **fields) -> dict:
    return {"name": name, "image": "registry.k8s.io/pause", **fields}


def restricted_container(name: str = "app", **sc) -> dict:
    """A container that satisfies every restricted container check at latest."""
    return container(name, securityContext={"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}, **sc})


def restricted_spec(*containers: dict, **fields) -> dict:
    """A pod spec that satisfies every restricted check at latest."""
    spec = {
        "securityContext": {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}},
        "containers": list(containers) or [restricted_container()],
    }
    spec.update(fields)
    return spec


def found(spec: dict, level: str = "baseline", version: str = "latest", meta: dict | None = None):
    return [(v.control, v.field, v.value) for v in evaluate(meta, spec, level, version)]


# --------------------------------------------------------------------------- API basics


def test_levels_and_latest():
    assert pss.LEVELS == ("privileged", "baseline", "restricted")
    assert pss.LATEST == "v1.37"
    assert parse_version("latest") == (1, 37)
    assert parse_version("v1.0") == (1, 0)
    assert parse_version("v1.25") == (1, 25)
    assert parse_version("v1.99") == (1, 99)


@pytest.mark.parametrize("bad", ["", "1.25", "v1", "v1.", "v2.0", "v1.025", "v1.x", "Latest", "v1.25 ", None, 25])
def test_parse_version_rejects_junk(bad):
    with pytest.raises(ValueError):
        parse_version(bad)


def test_unknown_level_rejected():
    with pytest.raises(ValueError):
        evaluate(None, {}, "strict")


def test_privileged_level_allows_everything():
    spec = {"hostNetwork": True, "containers": [container(securityContext={"privileged": True})]}
    assert evaluate(None, spec, "privileged") == []
    assert evaluate(None, spec, "privileged", "v1.0") == []


def test_minimal_pods_pass():
    assert evaluate(None, {"containers": [container()]}, "baseline") == []
    assert evaluate({"name": "x"}, restricted_spec(), "restricted") == []
    for minor in range(40):
        assert evaluate(None, restricted_spec(), "restricted", f"v1.{minor}") == [], minor


def test_versions_above_latest_are_clamped():
    spec = restricted_spec(
        securityContext={
            "runAsNonRoot": True,
            "seccompProfile": {"type": "RuntimeDefault"},
            "sysctls": [{"name": "net.ipv4.tcp_notsent_lowat", "value": "1"}],
        }
    )
    assert evaluate(None, spec, "restricted", "v1.99") == evaluate(None, spec, "restricted", "latest") == []


def test_violation_is_frozen_and_fully_populated():
    spec = {"containers": [container(securityContext={"privileged": True})]}
    (v,) = evaluate(None, spec, "baseline")
    assert v == PSSViolation(
        control="privileged",
        level="baseline",
        field=SC0 + ".privileged",
        value="true",
        message='privileged (container "app" must not set securityContext.privileged=true)',
    )
    with pytest.raises(AttributeError):
        v.value = "false"  # type: ignore[misc]


# --------------------------------------------------------------------------- baseline controls


def test_windows_host_process():
    spec = {
        "securityContext": {"windowsOptions": {"hostProcess": True}},
        "containers": [
            container(securityContext={"windowsOptions": {"hostProcess": True}}),
            container("ok", securityContext={"windowsOptions": {"hostProcess": False}}),
        ],
    }
    assert found(spec) == [
        ("windowsHostProcess", SC0 + ".windowsOptions.hostProcess", "true"),
        ("windowsHostProcess", "spec.securityContext.windowsOptions.hostProcess", "true"),
    ]
    assert "hostProcess" in evaluate(None, spec, "baseline")[0].message


def test_host_namespaces():
    spec = {"hostNetwork": True, "hostPID": True, "hostIPC": False, "containers": [container()]}
    assert found(spec) == [("hostNamespaces", "spec.hostNetwork", "true"), ("hostNamespaces", "spec.hostPID", "true")]
    assert evaluate(None, spec, "baseline")[0].message == "host namespaces (hostNetwork=true)"
    assert found({"hostNetwork": False, "hostPID": None, "containers": [container()]}) == []


def test_privileged_all_container_kinds():
    sc = {"securityContext": {"privileged": True}}
    spec = {
        "initContainers": [container("init", **sc)],
        "containers": [container("ok"), container("app", **sc)],
        "ephemeralContainers": [container("debug", **sc)],
    }
    assert found(spec) == [
        ("privileged", "spec.containers[1].securityContext.privileged", "true"),
        ("privileged", "spec.ephemeralContainers[0].securityContext.privileged", "true"),
        ("privileged", "spec.initContainers[0].securityContext.privileged", "true"),
    ]
    assert found({"containers": [container(securityContext={"privileged": False})]}) == []


def test_capabilities_baseline():
    ok = {"containers": [container(securityContext={"capabilities": {"add": ["CHOWN", "NET_BIND_SERVICE"]}})]}
    assert found(ok) == []
    bad = {"containers": [container(securityContext={"capabilities": {"add": ["CHOWN", "NET_RAW", "chown"]}})]}
    assert found(bad) == [("capabilities_baseline", SC0 + ".capabilities.add", '["NET_RAW", "chown"]')]
    assert evaluate(None, bad, "baseline")[0].message == (
        'non-default capabilities (container "app" must not include "NET_RAW", "chown" '
        "in securityContext.capabilities.add)"
    )


def test_host_path_volumes_baseline():
    spec = {
        "containers": [container()],
        "volumes": [{"name": "ok", "emptyDir": {}}, {"name": "host", "hostPath": {"path": "/etc"}}],
    }
    assert found(spec) == [("hostPathVolumes", "spec.volumes[1].hostPath", "/etc")]


def test_host_ports():
    spec = {
        "containers": [
            container(
                ports=[
                    {"containerPort": 80},
                    {"containerPort": 81, "hostPort": 0},
                    {"containerPort": 82, "hostPort": 8082},
                ]
            )
        ]
    }
    assert found(spec) == [("hostPorts", C0 + ".ports[2].hostPort", "8082")]
    assert evaluate(None, spec, "baseline")[0].message == 'hostPort (container "app" uses hostPort 8082)'


def test_host_probes_and_lifecycle_from_v1_34():
    spec = {
        "containers": [
            container(
                livenessProbe={"httpGet": {"port": 80, "host": "10.0.0.1"}},
                readinessProbe={"tcpSocket": {"port": 80, "host": ""}},
                startupProbe={"tcpSocket": {"port": 80, "host": "db"}},
                lifecycle={
                    "preStop": {"httpGet": {"port": 80, "host": "example.com"}},
                    "postStart": {"tcpSocket": {"port": 80, "host": "x"}},
                },
            )
        ]
    }
    expected = [
        ("hostProbesAndHostLifecycle", C0 + ".lifecycle.postStart.tcpSocket.host", "x"),
        ("hostProbesAndHostLifecycle", C0 + ".lifecycle.preStop.httpGet.host", "example.com"),
        ("hostProbesAndHostLifecycle", C0 + ".livenessProbe.httpGet.host", "10.0.0.1"),
        ("hostProbesAndHostLifecycle", C0 + ".startupProbe.tcpSocket.host", "db"),
    ]
    assert found(spec, version="v1.34") == expected
    assert found(spec) == expected
    assert found(spec, version="v1.33") == []
    assert found({"containers": [container(livenessProbe={"httpGet": {"port": 80}})]}) == []


def test_apparmor_fields_and_annotations():
    spec = {
        "securityContext": {"appArmorProfile": {"type": "Unconfined"}},
        "containers": [
            container(securityContext={"appArmorProfile": {"type": "Localhost", "localhostProfile": "p"}}),
            container("b", securityContext={"appArmorProfile": {"type": "Unconfined"}}),
        ],
    }
    meta = {
        "annotations": {
            "container.apparmor.security.beta.kubernetes.io/app": "runtime/default",
            "container.apparmor.security.beta.kubernetes.io/b": "unconfined",
            "container.apparmor.security.beta.kubernetes.io/c": "localhost/foo",
            "container.apparmor.security.beta.kubernetes.io/d": "",
            "other": "unconfined",
        }
    }
    expected = [
        ("appArmorProfile", "metadata.annotations[container.apparmor.security.beta.kubernetes.io/b]", "unconfined"),
        ("appArmorProfile", "spec.containers[1].securityContext.appArmorProfile.type", "Unconfined"),
        ("appArmorProfile", "spec.securityContext.appArmorProfile.type", "Unconfined"),
    ]
    # the field checks were added in place upstream, so they apply at every pinned version
    assert found(spec, meta=meta) == expected
    assert found(spec, version="v1.0", meta=meta) == expected
    msgs = [v.message for v in evaluate(meta, spec, "baseline")]
    assert msgs[0] == ('forbidden AppArmor profile (container.apparmor.security.beta.kubernetes.io/b="unconfined")')
    assert all(m.startswith("forbidden AppArmor profile") for m in msgs)


def test_selinux_options_and_container_engine_t():
    spec = {
        "securityContext": {"seLinuxOptions": {"type": "container_engine_t", "level": "s0:c1,c2"}},
        "containers": [
            container(securityContext={"seLinuxOptions": {"type": "spc_t", "user": "u", "role": "r"}}),
            container("ok", securityContext={"seLinuxOptions": {"type": "container_init_t"}}),
        ],
    }
    assert found(spec) == [
        ("seLinuxOptions", SC0 + ".seLinuxOptions.role", "r"),
        ("seLinuxOptions", SC0 + ".seLinuxOptions.type", "spc_t"),
        ("seLinuxOptions", SC0 + ".seLinuxOptions.user", "u"),
    ]
    assert ("seLinuxOptions", "spec.securityContext.seLinuxOptions.type", "container_engine_t") in found(
        spec, version="v1.30"
    )
    assert ("seLinuxOptions", "spec.securityContext.seLinuxOptions.type", "container_engine_t") not in found(
        spec, version="v1.31"
    )


def test_proc_mount_baseline_and_user_namespaces():
    spec = {
        "containers": [
            container(securityContext={"procMount": "Unmasked"}),
            container("ok", securityContext={"procMount": "Default"}),
        ]
    }
    expected = [("procMount", SC0 + ".procMount", "Unmasked")]
    assert found(spec) == expected
    # hostUsers: false relaxes baseline procMount from v1.35 only
    userns = dict(spec, hostUsers=False)
    assert found(userns, version="v1.34") == expected
    assert found(userns, version="v1.35") == []
    assert found(userns) == []
    assert found(dict(spec, hostUsers=True)) == expected


def test_seccomp_baseline_annotations_before_v1_19():
    spec = {"containers": [container(), container("b")]}
    meta = {
        "annotations": {
            "seccomp.security.alpha.kubernetes.io/pod": "unconfined",
            "container.seccomp.security.alpha.kubernetes.io/app": "docker/default",
            "container.seccomp.security.alpha.kubernetes.io/b": "",
            "container.seccomp.security.alpha.kubernetes.io/nosuch": "unconfined",
        }
    }
    assert found(spec, version="v1.18", meta=meta) == [
        ("seccompProfile_baseline", "metadata.annotations[container.seccomp.security.alpha.kubernetes.io/b]", '""'),
        ("seccompProfile_baseline", "metadata.annotations[seccomp.security.alpha.kubernetes.io/pod]", "unconfined"),
    ]
    assert found(spec, version="v1.19", meta=meta) == []  # annotations no longer checked
    ok = {"annotations": {"seccomp.security.alpha.kubernetes.io/pod": "localhost/profile.json"}}
    assert found(spec, version="v1.0", meta=ok) == []


def test_seccomp_baseline_fields_from_v1_19():
    spec = {
        "securityContext": {"seccompProfile": {"type": "Unconfined"}},
        "containers": [
            container(securityContext={"seccompProfile": {"type": "Localhost", "localhostProfile": "p"}}),
            container("b", securityContext={"seccompProfile": {"type": "Unconfined"}}),
        ],
    }
    expected = [
        ("seccompProfile_baseline", "spec.containers[1].securityContext.seccompProfile.type", "Unconfined"),
        ("seccompProfile_baseline", "spec.securityContext.seccompProfile.type", "Unconfined"),
    ]
    assert found(spec, version="v1.19") == expected
    assert found(spec, version="v1.18") == []
    assert found({"containers": [container()]}, version="v1.19") == []  # unset is fine at baseline


def test_sysctls_by_version():
    def spec(*names):
        return {"securityContext": {"sysctls": [{"name": n, "value": "1"} for n in names]}, "containers": [container()]}

    assert found(spec("kernel.shm_rmid_forced", "net.ipv4.ip_unprivileged_port_start"), version="v1.0") == []
    assert found(spec("kernel.msgmax")) == [("sysctls", "spec.securityContext.sysctls[0].name", "kernel.msgmax")]
    assert evaluate(None, spec("kernel.msgmax"), "baseline")[0].message == "forbidden sysctls (kernel.msgmax)"
    history = [
        ("net.ipv4.ip_local_reserved_ports", 27),
        ("net.ipv4.tcp_keepalive_time", 29),
        ("net.ipv4.tcp_fin_timeout", 29),
        ("net.ipv4.tcp_keepalive_intvl", 29),
        ("net.ipv4.tcp_keepalive_probes", 29),
        ("net.ipv4.tcp_rmem", 32),
        ("net.ipv4.tcp_wmem", 32),
        ("net.ipv4.tcp_slow_start_after_idle", 37),
        ("net.ipv4.tcp_notsent_lowat", 37),
    ]
    for name, since in history:
        assert found(spec(name), version=f"v1.{since - 1}") == [
            ("sysctls", "spec.securityContext.sysctls[0].name", name)
        ], name
        assert found(spec(name), version=f"v1.{since}") == [], name


# --------------------------------------------------------------------------- restricted controls


def test_restricted_includes_baseline():
    spec = restricted_spec(hostPID=True)
    assert found(spec, "restricted") == [("hostNamespaces", "spec.hostPID", "true")]
    assert evaluate(None, spec, "restricted")[0].level == "baseline"


def test_restricted_volumes():
    spec = restricted_spec(
        volumes=[
            {"name": "a", "configMap": {"name": "c"}},
            {"name": "b", "csi": {"driver": "d"}},
            {"name": "c", "image": {"reference": "img"}},
            {"name": "d", "nfs": {"server": "s", "path": "/"}},
            {"name": "e", "hostPath": {"path": "/"}},
            {"name": "f"},
        ]
    )
    # hostPathVolumes is overridden by restrictedVolumes at the restricted level; a volume
    # without a source is defaulted to emptyDir by the API server
    assert found(spec, "restricted") == [
        ("restrictedVolumes", "spec.volumes[3].nfs", "nfs"),
        ("restrictedVolumes", "spec.volumes[4].hostPath", "hostPath"),
    ]
    assert found(spec, "restricted", "v1.0") == found(spec, "restricted")  # image allowed at every version
    assert evaluate(None, spec, "restricted")[1].message == (
        'restricted volume types (volume "e" uses restricted volume type "hostPath")'
    )
    assert found(spec, "baseline") == [("hostPathVolumes", "spec.volumes[4].hostPath", "/")]


def test_allow_privilege_escalation():
    spec = restricted_spec(
        restricted_container(allowPrivilegeEscalation=True),
        container("b", securityContext={"capabilities": {"drop": ["ALL"]}}),
    )
    expected = [
        ("allowPrivilegeEscalation", SC0 + ".allowPrivilegeEscalation", "true"),
        ("allowPrivilegeEscalation", "spec.containers[1].securityContext.allowPrivilegeEscalation", UNSET),
    ]
    assert found(spec, "restricted") == expected
    assert found(spec, "restricted", "v1.8") == expected
    assert found(spec, "restricted", "v1.7") == []


def test_run_as_non_root():
    spec = restricted_spec()
    spec["securityContext"]["runAsNonRoot"] = None
    assert found(spec, "restricted") == [("runAsNonRoot", SC0 + ".runAsNonRoot", UNSET)]
    spec["containers"][0]["securityContext"]["runAsNonRoot"] = True
    assert found(spec, "restricted") == []
    # runAsUser alone does not satisfy runAsNonRoot
    spec2 = restricted_spec()
    spec2["securityContext"] = {"runAsUser": 1000, "seccompProfile": {"type": "RuntimeDefault"}}
    assert found(spec2, "restricted") == [("runAsNonRoot", SC0 + ".runAsNonRoot", UNSET)]
    # explicit false anywhere fails even when the pod sets true
    spec3 = restricted_spec(restricted_container(runAsNonRoot=False))
    assert found(spec3, "restricted") == [("runAsNonRoot", SC0 + ".runAsNonRoot", "false")]
    spec4 = restricted_spec(restricted_container(runAsNonRoot=True))
    spec4["securityContext"]["runAsNonRoot"] = False
    assert found(spec4, "restricted") == [("runAsNonRoot", "spec.securityContext.runAsNonRoot", "false")]
    assert evaluate(None, spec, "restricted") == []


def test_run_as_user_from_v1_23():
    spec = restricted_spec(restricted_container(runAsUser=0))
    spec["securityContext"]["runAsUser"] = 0
    expected = [("runAsUser", SC0 + ".runAsUser", "0"), ("runAsUser", "spec.securityContext.runAsUser", "0")]
    assert found(spec, "restricted") == expected
    assert found(spec, "restricted", "v1.23") == expected
    assert found(spec, "restricted", "v1.22") == []
    ok = restricted_spec(restricted_container(runAsUser=1000))
    assert found(ok, "restricted") == []


def test_seccomp_restricted():
    spec = restricted_spec(restricted_container(), restricted_container("b"))
    spec["securityContext"] = {"runAsNonRoot": True}
    expected_unset = [
        ("seccompProfile_restricted", SC0 + ".seccompProfile.type", UNSET),
        ("seccompProfile_restricted", "spec.containers[1].securityContext.seccompProfile.type", UNSET),
    ]
    assert found(spec, "restricted") == expected_unset
    assert found(spec, "restricted", "v1.18") == []
    # every container may set it instead of the pod
    for c in spec["containers"]:
        c["securityContext"]["seccompProfile"] = {"type": "Localhost", "localhostProfile": "p"}
    assert found(spec, "restricted") == []
    # Unconfined at container level is reported once, by the restricted check (override)
    spec["containers"][1]["securityContext"]["seccompProfile"] = {"type": "Unconfined"}
    assert found(spec, "restricted") == [
        ("seccompProfile_restricted", "spec.containers[1].securityContext.seccompProfile.type", "Unconfined")
    ]
    msg = evaluate(None, spec, "restricted")[0].message
    assert msg == ('seccompProfile (container "b" must not set securityContext.seccompProfile.type to "Unconfined")')


def test_capabilities_restricted_from_v1_22():
    spec = restricted_spec(
        container("nocaps", securityContext={"allowPrivilegeEscalation": False}),
        restricted_container("adds", capabilities={"drop": ["ALL"], "add": ["NET_BIND_SERVICE", "CHOWN"]}),
        restricted_container("lower", capabilities={"drop": ["all"]}),
    )
    expected = [
        ("capabilities_restricted", "spec.containers[0].securityContext.capabilities.drop", UNSET),
        ("capabilities_restricted", "spec.containers[1].securityContext.capabilities.add", '["CHOWN"]'),
        ("capabilities_restricted", "spec.containers[2].securityContext.capabilities.drop", '["all"]'),
    ]
    assert found(spec, "restricted") == expected
    # before v1.22 only the baseline capability rule applies (CHOWN is in the default set)
    assert found(spec, "restricted", "v1.21") == []
    nr = restricted_spec(restricted_container(capabilities={"drop": ["ALL"], "add": ["NET_RAW"]}))
    assert found(nr, "restricted", "v1.21") == [("capabilities_baseline", SC0 + ".capabilities.add", '["NET_RAW"]')]
    assert found(nr, "restricted", "v1.22") == [("capabilities_restricted", SC0 + ".capabilities.add", '["NET_RAW"]')]


def test_proc_mount_restricted_from_v1_35():
    spec = restricted_spec(restricted_container(procMount="Unmasked"), hostUsers=False)
    assert found(spec, "restricted") == [("procMount_restricted", SC0 + ".procMount", "Unmasked")]
    assert found(spec, "restricted", "v1.34") == [("procMount", SC0 + ".procMount", "Unmasked")]
    spec["hostUsers"] = True
    assert found(spec, "restricted") == [("procMount_restricted", SC0 + ".procMount", "Unmasked")]
    assert evaluate(None, spec, "restricted")[0].level == "restricted"


def test_user_namespaces_relax_run_as_non_root_and_user_from_v1_35():
    spec = {
        "hostUsers": False,
        "securityContext": {"runAsUser": 0, "seccompProfile": {"type": "RuntimeDefault"}},
        "containers": [restricted_container()],
    }
    assert found(spec, "restricted", "v1.35") == []
    assert found(spec, "restricted") == []
    assert found(spec, "restricted", "v1.34") == [
        ("runAsNonRoot", SC0 + ".runAsNonRoot", UNSET),
        ("runAsUser", "spec.securityContext.runAsUser", "0"),
    ]
    spec["hostUsers"] = True
    assert [c for c, _, _ in found(spec, "restricted")] == ["runAsNonRoot", "runAsUser"]


def test_windows_exemptions_from_v1_25():
    spec = {
        "os": {"name": "windows"},
        "securityContext": {"runAsNonRoot": True},
        "containers": [container(securityContext={"capabilities": {"add": ["NET_RAW"]}})],
    }
    assert found(spec, "restricted", "v1.25") == []
    assert found(spec, "restricted") == []
    assert found(spec, "restricted", "v1.24") == [
        ("allowPrivilegeEscalation", SC0 + ".allowPrivilegeEscalation", UNSET),
        ("capabilities_restricted", SC0 + ".capabilities.add", '["NET_RAW"]'),
        ("capabilities_restricted", SC0 + ".capabilities.drop", UNSET),
        ("seccompProfile_restricted", SC0 + ".seccompProfile.type", UNSET),
    ]
    # baseline rules and runAsNonRoot still apply to windows pods
    spec2 = copy.deepcopy(spec)
    spec2["securityContext"] = {"windowsOptions": {"hostProcess": True}}
    assert found(spec2, "restricted") == [
        ("runAsNonRoot", SC0 + ".runAsNonRoot", UNSET),
        ("windowsHostProcess", "spec.securityContext.windowsOptions.hostProcess", "true"),
    ]
    assert found(spec, "baseline") == [("capabilities_baseline", SC0 + ".capabilities.add", '["NET_RAW"]')]
    # only the exact "windows" counts
    linux = dict(spec, os={"name": "Windows"})
    assert len(found(linux, "restricted")) == 4


# --------------------------------------------------------------------------- ordering, inputs


def test_ordering_by_control_then_field_natural():
    cs = [container(f"c{i}", securityContext={"privileged": True}) for i in range(12)]
    spec = {"hostIPC": True, "containers": cs}
    result = evaluate(None, spec, "baseline")
    assert [v.control for v in result] == ["hostNamespaces"] + ["privileged"] * 12
    assert [v.field for v in result[1:]] == [f"spec.containers[{i}].securityContext.privileged" for i in range(12)]
    assert evaluate(None, spec, "baseline") == result


def test_null_values_mean_unset():
    spec = {
        "containers": [None, container(securityContext=None, ports=None)],
        "initContainers": None,
        "volumes": None,
        "securityContext": None,
        "hostNetwork": None,
    }
    assert evaluate({"annotations": None}, spec, "baseline") == []
    assert evaluate(None, None, "baseline") == []


@pytest.mark.parametrize(
    ("spec", "meta", "path", "typename"),
    [
        ("pod", None, "spec", "string"),
        ({"containers": "x"}, None, "spec.containers", "string"),
        ({"containers": ["x"]}, None, "spec.containers[0]", "string"),
        ({"containers": [{"name": "a", "securityContext": "x"}]}, None, "spec.containers[0].securityContext", "string"),
        (
            {"containers": [{"name": "a", "securityContext": {"privileged": "yes"}}]},
            None,
            "spec.containers[0].securityContext.privileged",
            "string",
        ),
        ({"containers": [{"name": 5}]}, None, "spec.containers[0].name", "number"),
        (
            {"containers": [{"name": "a", "ports": [{"hostPort": "80"}]}]},
            None,
            "spec.containers[0].ports[0].hostPort",
            "string",
        ),
        (
            {"containers": [{"name": "a", "securityContext": {"runAsUser": True}}]},
            None,
            "spec.containers[0].securityContext.runAsUser",
            "boolean",
        ),
        (
            {"containers": [{"name": "a", "securityContext": {"capabilities": {"add": [1]}}}]},
            None,
            "spec.containers[0].securityContext.capabilities.add[0]",
            "number",
        ),
        (
            {"initContainers": [{"name": "a", "livenessProbe": {"httpGet": []}}]},
            None,
            "spec.initContainers[0].livenessProbe.httpGet",
            "array",
        ),
        ({"hostNetwork": "true"}, None, "spec.hostNetwork", "string"),
        ({"securityContext": {"sysctls": {"name": "x"}}}, None, "spec.securityContext.sysctls", "object"),
        ({"volumes": [{"name": "v", "hostPath": "/etc"}]}, None, "spec.volumes[0].hostPath", "string"),
        ({"os": {"name": 1}}, None, "spec.os.name", "number"),
        ({}, "meta", "metadata", "string"),
        ({}, {"annotations": ["a"]}, "metadata.annotations", "array"),
        ({}, {"annotations": {"k": 1}}, "metadata.annotations[k]", "number"),
    ],
)
def test_wrong_types_raise_input_error(spec, meta, path, typename):
    for level in ("baseline", "restricted"):
        with pytest.raises(PSSInputError) as exc:
            evaluate(meta, spec, level)
        assert str(exc.value).startswith(f"{path}: expected ")
        assert f"got {typename}" in str(exc.value)
        assert isinstance(exc.value, ValueError)


def test_wrong_types_detected_even_for_inactive_checks():
    # runAsUser is only checked at restricted v1.23+, but the pod is undecodable at any level/version
    spec = {"containers": [{"name": "a", "securityContext": {"runAsUser": "0"}}]}
    with pytest.raises(PSSInputError):
        evaluate(None, spec, "baseline", "v1.0")
