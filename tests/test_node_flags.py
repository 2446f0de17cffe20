"""Flags read the way the components read them (kubefort.kube.flags), and static-pod manifests in
ordinary `kubefort scan` input."""

from __future__ import annotations

import pytest

from conftest import scan_text
from kubefort.kube.flags import (
    KubeletSetting,
    component_view,
    go_bool,
    go_duration,
    kubelet_view,
    parse_args,
)
from kubefort.model import NotApplicable, NotEvaluated, Resource, ResourceId, Source


@pytest.fixture(autouse=True)
def _node_checks():
    # registered at test time, not at collection: other modules' collected check lists stay as they are
    from kubefort.checks import control_plane, etcd, kubelet  # noqa: F401


def flags(args, component="kube-apiserver"):
    return [(f.name, f.value) for f in parse_args(args, component).flags]


def test_pflag_forms():
    assert flags(["--a=1", "--b", "2", "--c=", "--d_e=x"]) == [("a", "1"), ("b", "2"), ("c", ""), ("d-e", "x")]
    # a known boolean takes no separate value: "false" is left over as a positional argument
    p = parse_args(["--anonymous-auth", "false", "--profiling=false"], "kube-apiserver")
    assert [(f.name, f.value) for f in p.flags] == [("anonymous-auth", None), ("profiling", "false")]
    assert p.positional == [(1, "false")]
    # an unknown flag followed by another flag is a switch; "-" alone is a value (stdout)
    assert flags(["--unknown-switch", "--audit-log-path", "-"]) == [("unknown-switch", None), ("audit-log-path", "-")]
    assert parse_args(["--a=1", "--", "--b=2"], "kube-apiserver").positional == [(2, "--b=2")]


def test_go_flag_forms_for_etcd():
    assert flags(["-name", "m1", "--client-cert-auth", "-data-dir=/var/lib/etcd"], "etcd") == [
        ("name", "m1"),
        ("client-cert-auth", None),
        ("data-dir", "/var/lib/etcd"),
    ]
    # Go's flag package stops at the first non-flag argument; names are not normalised
    p = parse_args(["--name=a", "oops", "--cert-file=x", "--key_file=y"], "etcd")
    assert [f.name for f in p.flags] == ["name"] and [a for _, a in p.positional] == [
        "oops",
        "--cert-file=x",
        "--key_file=y",
    ]


@pytest.mark.parametrize(
    "text,value",
    [
        ("1", True),
        ("t", True),
        ("TRUE", True),
        ("True", True),
        ("0", False),
        ("F", False),
        ("false", False),
        ("yes", None),
        ("", None),
        ("tRuE", None),
    ],
)
def test_go_bool(text, value):
    assert go_bool(text) is value


@pytest.mark.parametrize(
    "text,secs",
    [
        ("0", 0.0),
        ("0s", 0.0),
        ("4h0m0s", 14400.0),
        ("5m", 300.0),
        ("1.5h", 5400.0),
        ("300ms", 0.3),
        ("-1s", -1.0),
        ("5", None),
        ("", None),
        ("5 m", None),
        ("1d", None),
    ],
)
def test_go_duration(text, secs):
    assert go_duration(text) == secs


def pod(containers, kind="Pod", api="v1"):
    return Resource(
        ResourceId(api, kind, "kube-system", "p"),
        {"apiVersion": api, "kind": kind, "spec": {"containers": containers}},
        Source("x.yaml"),
    )


def test_pod_views():
    v = component_view(
        pod([{"name": "c", "command": ["/usr/local/bin/kube-apiserver", "--profiling=false"], "args": ["--v=2"]}]),
        "kube-apiserver",
    )
    assert v.args == ["--profiling=false", "--v=2"] and v.paths == [
        ("spec", "containers", 0, "command", 1),
        ("spec", "containers", 0, "args", 0),
    ]
    assert v.missing == ("spec", "containers", 0, "args") and v.container == "c"
    # hyperkube, sh -c, image entrypoint
    assert component_view(
        pod([{"name": "h", "command": ["/hyperkube", "scheduler", "--bind-address=127.0.0.1"]}]), "kube-scheduler"
    ).args == ["--bind-address=127.0.0.1"]
    sh = component_view(
        pod(
            [
                {
                    "name": "s",
                    "command": [
                        "/bin/sh",
                        "-c",
                        "exec kube-controller-manager --profiling=false --bind-address=127.0.0.1 && true",
                    ],
                }
            ]
        ),
        "kube-controller-manager",
    )
    assert sh.args == ["--profiling=false", "--bind-address=127.0.0.1"]
    img = component_view(
        pod([{"name": "i", "image": "registry.k8s.io/etcd:3.5.15-0", "args": ["--client-cert-auth=true"]}]), "etcd"
    )
    assert img.args == ["--client-cert-auth=true"]
    # $(VAR) expansion from literal env values; $$ escapes
    env = [
        {"name": "ADDR", "value": "127.0.0.1"},
        {"name": "SECRET", "valueFrom": {"secretKeyRef": {"name": "x", "key": "y"}}},
    ]
    ex = component_view(
        pod(
            [
                {
                    "name": "e",
                    "command": ["kube-scheduler", "--bind-address=$(ADDR)", "--x=$(SECRET)", "--y=$$(ADDR)"],
                    "env": env,
                }
            ]
        ),
        "kube-scheduler",
    )
    assert ex.args == ["--bind-address=127.0.0.1", "--x=$(SECRET)", "--y=$(ADDR)"]
    with pytest.raises(NotApplicable):
        component_view(pod([{"name": "web", "image": "nginx", "command": ["nginx"]}]), "kube-apiserver")
    with pytest.raises(NotApplicable):  # only Pods (and NodeComponents) carry static-pod commands
        component_view(
            pod([{"name": "c", "command": ["kube-apiserver"]}], kind="Deployment", api="apps/v1"), "kube-apiserver"
        )
    with pytest.raises(NotApplicable):  # malformed command: not recognisable, so no claim either way
        component_view(pod([{"name": "c", "command": "kube-apiserver --profiling=true"}]), "kube-apiserver")


def test_typed_accessors():
    v = component_view(
        pod(
            [
                {
                    "name": "c",
                    "command": [
                        "kube-apiserver",
                        "--profiling=nope",
                        "--audit-log-maxage=0x1e",
                        "--enable-admission-plugins=A, B",
                        "--enable-admission-plugins=C",
                        "--feature-gates=X=true,Y=false",
                        "--feature-gates=X=false",
                    ],
                }
            ]
        ),
        "kube-apiserver",
    )
    with pytest.raises(NotEvaluated) as exc:
        v.boolean("profiling", True)
    assert "would refuse to start" in exc.value.reason and exc.value.path == ("spec", "containers", 0, "command", 1)
    assert v.integer("audit-log-maxage")[0] == 30
    assert [x for x, _ in v.items("enable-admission-plugins")[0]] == ["A", "B", "C"]
    assert {k: b for k, (b, _) in v.gates().items()} == {"X": False, "Y": False}
    assert v.boolean("service-account-lookup", True) == (True, ("spec", "containers", 0, "command"))


def node_component(component, argv, **extra):
    obj = {
        "apiVersion": "node.kubefort.io/v1alpha1",
        "kind": "NodeComponent",
        "metadata": {"name": component},
        "component": component,
        "argv": [component] + argv,
        **extra,
    }
    return Resource(
        ResourceId("node.kubefort.io/v1alpha1", "NodeComponent", None, component), obj, Source("/proc/1/cmdline")
    )


READ_ONLY = KubeletSetting("read-only-port", ("readOnlyPort",), "int", 0, 10255)


def test_kubelet_precedence_and_defaults():
    # flag > config > default; defaults depend on whether a config file is used
    kv = kubelet_view(
        node_component("kubelet", ["--config=/c.yaml", "--read-only-port=10255"], config={"readOnlyPort": 0})
    )
    s = kv.get(READ_ONLY)
    assert (s.value, s.origin, s.path) == (10255, "flag", ("argv", 2))
    s = kubelet_view(node_component("kubelet", ["--config=/c.yaml"], config={"readOnlyPort": 0})).get(READ_ONLY)
    assert (s.value, s.origin, s.path) == (0, "config", ("config", "readOnlyPort"))
    s = kubelet_view(node_component("kubelet", ["--config=/c.yaml"], config={})).get(READ_ONLY)
    assert (s.value, s.origin) == (0, "default")
    s = kubelet_view(node_component("kubelet", ["--kubeconfig=/k"])).get(READ_ONLY)
    assert (s.value, s.origin, s.path) == (10255, "default", ("argv",))
    with pytest.raises(NotEvaluated):
        kubelet_view(node_component("kubelet", ["--config=/c.yaml"], configError="/c.yaml: Permission denied")).get(
            READ_ONLY
        )
    # a flag still decides when the config file is unreadable
    s = kubelet_view(node_component("kubelet", ["--config=/c.yaml", "--read-only-port=0"], configError="x")).get(
        READ_ONLY
    )
    assert s.value == 0
    # zero values in the file are the defaults (kubeadm's `streamingConnectionIdleTimeout: 0s`)
    timeout = KubeletSetting(
        "streaming-connection-idle-timeout",
        ("streamingConnectionIdleTimeout",),
        "duration",
        "4h0m0s",
        "4h0m0s",
        zero_default=True,
    )
    s = kubelet_view(
        node_component("kubelet", ["--config=/c.yaml"], config={"streamingConnectionIdleTimeout": "0s"})
    ).get(timeout)
    assert (s.value, s.origin) == ("4h0m0s", "default")
    with pytest.raises(NotApplicable):
        kubelet_view(node_component("kube-apiserver", []))


@pytest.mark.parametrize(
    "manifest,expect",
    [
        (
            "- --anonymous-auth=false\n    - --authorization-mode=Node,RBAC",
            {"KF-CP-018": "passed", "KF-CP-023": "passed", "KF-CP-025": "passed"},
        ),
        ("- --authorization-mode=AlwaysAllow", {"KF-CP-018": "failed", "KF-CP-023": "failed", "KF-CP-025": "failed"}),
    ],
)
def test_static_pod_in_scan_input(tmp_path, manifest, expect):
    text = f"""apiVersion: v1
kind: Pod
metadata:
  name: kube-apiserver
  namespace: kube-system
spec:
  containers:
  - name: kube-apiserver
    image: registry.k8s.io/kube-apiserver:v1.31.1
    command:
    - kube-apiserver
    {manifest}
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  template:
    spec:
      containers:
      - name: web
        image: nginx:1.27
"""
    outs = scan_text(tmp_path, text, checks=tuple(expect))
    got = {o.check_id: o.status.value for o in outs if o.resource and o.resource.kind == "Pod"}
    assert got == expect
    assert not [o for o in outs if o.resource and o.resource.kind == "Deployment"]
    failed = [o for o in outs if o.status.value == "failed"]
    assert all(o.container == "kube-apiserver" and o.location.line for o in failed)


def test_inline_ignore_on_static_pod(tmp_path):
    text = """apiVersion: v1
kind: Pod
metadata:
  name: kube-scheduler
  namespace: kube-system
  annotations:
    kubefort.io/ignore: "KF-CP-054=profiling is scraped by our SRE tooling"
spec:
  containers:
  - name: kube-scheduler
    command: [kube-scheduler, --bind-address=127.0.0.1]
"""
    outs = {o.check_id: o for o in scan_text(tmp_path, text, checks=("KF-CP-054", "KF-CP-055"))}
    assert outs["KF-CP-054"].status.value == "suppressed" and outs["KF-CP-055"].status.value == "passed"
