"""`kubefort admission vap` without a cluster: the objects' shape, `--list`, the order of the
output, the options, and the Python-normalisation patterns the policies embed.

That every policy gives its check's verdict is proven on the real API server by
tests/test_admission_vap_cluster.py.
"""

from __future__ import annotations

import json
import re
import unicodedata
from typing import Any

import pytest
import yaml
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st
from kubernetes.client import ApiClient

import vapgen
from kubefort.admission import vap
from kubefort.admission.vap_cel import (
    VARIABLES,
    cel_string,
    normalized_name_pattern,
    python_pattern,
    variables_for,
)
from kubefort.admission.vap_coverage import AREA_REASONS, PER_OBJECT_TARGETS, REASONS, UNREVIEWED, coverage
from kubefort.admission.vap_rules import COVERED
from kubefort.checks.pod_security.capabilities import DANGEROUS_CAPABILITIES, normalize_capability
from kubefort.cli.admission_vap import vap as vap_cmd
from kubefort.engine import Engine, EngineSettings
from kubefort.model import Status
from kubefort.registry import REGISTRY

PER_OBJECT = [m for m in REGISTRY if m.target in PER_OBJECT_TARGETS]


def run(*args: str) -> Any:
    return CliRunner().invoke(vap_cmd, ["--no-config", *args])


def docs(*args: str) -> list[dict[str, Any]]:
    result = run(*args)
    assert result.exit_code == 0, result.output
    return list(yaml.safe_load_all(result.stdout))


# ------------------------------------------------------------------------------------- shape


def _round_trip(obj: dict[str, Any]) -> dict[str, Any]:
    """The object through the kubernetes client's model of its kind: unknown fields are dropped and
    required ones refused, so equality means the schema's shape."""
    client = ApiClient()
    model = client._ApiClient__deserialize(obj, f"V1{obj['kind']}")  # type: ignore[attr-defined]
    out: dict[str, Any] = client.sanitize_for_serialization(model)
    return out


def test_every_generated_object_has_the_api_shape() -> None:
    objects = docs()
    assert len(objects) == 2 * len(COVERED)
    for obj in objects:
        assert obj["apiVersion"] == "admissionregistration.k8s.io/v1"
        assert _round_trip(obj) == obj, obj["metadata"]["name"]


def test_policy_and_binding_of_each_check_in_id_order() -> None:
    objects = docs()
    kinds = [o["kind"] for o in objects]
    assert kinds == ["ValidatingAdmissionPolicy", "ValidatingAdmissionPolicyBinding"] * len(COVERED)
    ids = [o["metadata"]["labels"]["kubefort.io/check"] for o in objects[::2]]
    assert ids == sorted(COVERED)
    for pol, bind in zip(objects[::2], objects[1::2], strict=True):
        cid = pol["metadata"]["labels"]["kubefort.io/check"]
        assert pol["metadata"]["name"] == bind["metadata"]["name"] == f"kubefort-{cid.lower()}"
        assert bind["spec"]["policyName"] == pol["metadata"]["name"]
        assert bind["spec"]["validationActions"] == ["Deny"]
        assert bind["spec"]["matchResources"] == {
            "namespaceSelector": {
                "matchExpressions": [
                    {"key": "kubernetes.io/metadata.name", "operator": "NotIn", "values": ["kube-system"]}
                ]
            }
        }


def test_output_is_stable() -> None:
    first, second = run(), run()
    assert first.stdout == second.stdout
    assert run("-o", "json").stdout == run("-o", "json").stdout


def test_json_is_a_list_of_the_same_objects() -> None:
    result = run("-o", "json")
    assert result.exit_code == 0
    doc = json.loads(result.stdout)
    assert doc["apiVersion"] == "v1" and doc["kind"] == "List"
    assert doc["items"] == docs()


def test_each_policy_names_its_check_and_fix() -> None:
    for pol in docs()[::2]:
        cid = pol["metadata"]["labels"]["kubefort.io/check"]
        meta = REGISTRY.get(cid)
        spec = pol["spec"]
        assert spec["failurePolicy"] == "Fail"
        (validation,) = spec["validations"]
        assert validation["reason"] == "Forbidden"
        assert validation["message"] == f"{cid} {meta.name}: {meta.title}. Fix: {meta.remediation}"
        if "messageExpression" in validation:
            assert validation["messageExpression"].startswith(cel_string(f"{cid} {meta.name}: {meta.title} ("))
        # only the variables the expressions read, each after those it reads
        declared = [v["name"] for v in spec["variables"]]
        used = [n for n, _ in variables_for([validation["expression"], validation.get("messageExpression", "")])]
        assert declared == used
        assert [n for n in VARIABLES if n in declared] == declared
        updates = any("UPDATE" in r["operations"] for r in spec["matchConstraints"]["resourceRules"])
        assert [c["name"] for c in spec.get("matchConditions", [])] == (["pod-template-changed"] if updates else [])


def test_policies_match_every_kind_with_a_pod_template() -> None:
    for pol in docs()[::2]:
        rules = pol["spec"]["matchConstraints"]["resourceRules"]
        resources = {(g, r) for rule in rules for g in rule["apiGroups"] for r in rule["resources"]}
        if pol["metadata"]["name"] == "kubefort-kf-wl-005":  # naked pods: Pods, when created
            assert rules == [
                {"apiGroups": [""], "apiVersions": ["v1"], "operations": ["CREATE"], "resources": ["pods"]}
            ]
            continue
        assert resources == {
            ("", "pods"),
            ("", "pods/ephemeralcontainers"),
            ("", "podtemplates"),
            ("", "replicationcontrollers"),
            ("apps", "daemonsets"),
            ("apps", "deployments"),
            ("apps", "replicasets"),
            ("apps", "statefulsets"),
            ("batch", "cronjobs"),
            ("batch", "jobs"),
        }


# ------------------------------------------------------------------------------------- options


def test_checks_selects_and_notes_what_is_not_generated() -> None:
    result = run("--checks", "KF-POD-001,KF-POD-014", "--checks", "run-as-uid-zero")
    assert result.exit_code == 0
    names = [d["metadata"]["name"] for d in yaml.safe_load_all(result.stdout)]
    assert names == ["kubefort-kf-pod-001"] * 2 + ["kubefort-kf-pod-008"] * 2
    assert result.stderr == "kubefort: not generated (see --list): KF-POD-014\n"


def test_checks_prefix_and_skip() -> None:
    ids = {
        d["metadata"]["labels"]["kubefort.io/check"] for d in docs("--checks", "KF-RES", "--skip-checks", "KF-RES-005")
    }
    assert ids == {"KF-RES-001", "KF-RES-002", "KF-RES-003", "KF-RES-004"}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--checks", "KF-IMG"), "none of the selected checks"),
        (("--checks", "KF-NOPE-001"), "KF-NOPE-001"),
        (("--action", "Deny", "--action", "Warn"), "cannot be combined"),
        (("--binding-suffix", "Not_A_Label"), "DNS label"),
        (("--namespace-label", "env"), "KEY=VALUE"),
    ],
)
def test_usage_errors(args: tuple[str, ...], message: str) -> None:
    result = run(*args)
    assert result.exit_code == 2
    assert message in result.output


def test_actions_selector_suffix_and_failure_policy() -> None:
    objects = docs(
        "--checks",
        "KF-POD-001",
        "--action",
        "Warn",
        "--action",
        "Audit",
        "--namespace-label",
        "env=prod",
        "--namespace-label",
        "team=a",
        "--exclude-namespace",
        "monitoring",
        "--binding-suffix",
        "prod",
        "--failure-policy",
        "Ignore",
    )
    pol, bind = objects
    assert pol["spec"]["failurePolicy"] == "Ignore"
    assert bind["metadata"]["name"] == "kubefort-kf-pod-001-prod"
    assert bind["spec"]["policyName"] == "kubefort-kf-pod-001"
    assert bind["spec"]["validationActions"] == ["Warn", "Audit"]
    assert bind["spec"]["matchResources"]["namespaceSelector"] == {
        "matchLabels": {"env": "prod", "team": "a"},
        "matchExpressions": [
            {"key": "kubernetes.io/metadata.name", "operator": "NotIn", "values": ["kube-system", "monitoring"]}
        ],
    }


def test_config_select_and_ignore(tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / ".kubefort.yaml").write_text(
        "checks:\n  select: [KF-POD-001, KF-POD-002, KF-IMG-001]\n  ignore: [KF-POD-002]\n"
    )
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(vap_cmd, [])
    assert result.exit_code == 0, result.output
    assert {d["metadata"]["name"] for d in yaml.safe_load_all(result.stdout)} == {"kubefort-kf-pod-001"}
    assert "KF-IMG-001" in result.stderr


# ------------------------------------------------------------------------------------- --list


def test_every_per_object_check_has_a_decision() -> None:
    rows = coverage(REGISTRY)
    assert [r.check_id for r in rows] == [m.id for m in PER_OBJECT]
    assert not [r.check_id for r in rows if r.reason == UNREVIEWED]
    assert {r.check_id for r in rows if r.covered} == set(COVERED)
    assert all(r.reason for r in rows if not r.covered)
    # no stale entries: every reason and rule names a per-object check, never both
    ids = {m.id for m in PER_OBJECT}
    assert set(REASONS) <= ids and set(COVERED) <= ids and not set(REASONS) & set(COVERED)
    assert set(AREA_REASONS) <= {m.area for m in PER_OBJECT}


def test_list_text() -> None:
    result = run("--list")
    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    rows = {line.split()[0]: line for line in lines if line.startswith("KF-")}
    assert list(rows) == [m.id for m in PER_OBJECT]
    assert re.search(r"KF-POD-001\s+privileged-container\s+covered$", rows["KF-POD-001"])
    assert "not covered: needs image-reference parsing" in rows["KF-IMG-002"]
    assert "not covered: needs shell parsing" in rows["KF-POD-024"]
    assert lines[-1] == f"{len(COVERED)} of {len(PER_OBJECT)} per-object checks covered"


def test_list_json() -> None:
    result = run("--list", "-o", "json")
    rows = json.loads(result.stdout)
    assert [r["id"] for r in rows] == [m.id for m in PER_OBJECT]
    assert {r["id"] for r in rows if r["covered"]} == set(COVERED)
    assert set(rows[0]) == {"id", "name", "covered", "reason"}


# ------------------------------------------------------------------------------------- CEL text


def _unquote(literal: str) -> str:
    assert literal[0] == literal[-1] == "'"
    escapes = {"\\": "\\", "'": "'", "n": "\n", "r": "\r", "t": "\t"}
    return re.sub(r"\\(.)", lambda m: escapes[m.group(1)], literal[1:-1], flags=re.DOTALL)


@given(st.text())
def test_cel_string_round_trips(text: str) -> None:
    literal = cel_string(text)
    assert _unquote(literal) == text
    assert not re.search(r"(?<!\\)(?:\\\\)*'", literal[1:-1]), "an unescaped quote ends the literal early"


_DANGEROUS = re.compile(python_pattern(normalized_name_pattern(DANGEROUS_CAPABILITIES, "CAP_")))
# characters that make the normalisation interesting: Python's whitespace, case folding to ASCII
_TRICKY = " \t\n\x0b\x0c\r\x1c\x1f\x85\xa0\u2003\u3000\u017f\u0131\ufb00\u212a_"


def _spellings() -> st.SearchStrategy[str]:
    names = st.sampled_from(sorted(DANGEROUS_CAPABILITIES) + ["NET_BIND_SERVICE", "CHOWN", "KILL", "SYS_NICE"])
    spaces = st.text(alphabet=_TRICKY[:11], max_size=3)
    cased = names.flatmap(
        lambda n: st.lists(st.booleans(), min_size=len(n), max_size=len(n)).map(
            lambda flips: "".join(c.lower() if f else c for c, f in zip(n, flips, strict=True))
        )
    )
    dotless = cased.map(lambda n: n.replace("i", "\u0131").replace("s", "\u017f"))
    prefix = st.sampled_from(["", "CAP_", "cap_", "Cap_", "CAP_CAP_", "CAP"])
    return st.tuples(spaces, prefix, st.one_of(cased, dotless), spaces).map("".join)


@settings(max_examples=500)
@given(
    st.one_of(
        _spellings(),
        st.text(alphabet=st.characters(), max_size=12),
        st.text(alphabet=_TRICKY + "ABCLMNPSYabcdlmnpsy", max_size=14),
    )
)
def test_capability_pattern_is_normalize_capability(name: str) -> None:
    """The RE2 pattern KF-POD-011's policy embeds matches exactly the names the check flags."""
    assert (_DANGEROUS.fullmatch(name) is not None) == (normalize_capability(name) in DANGEROUS_CAPABILITIES)


def test_capability_pattern_knows_pythons_case_tables() -> None:
    assert _DANGEROUS.fullmatch("\u017fys_admin")  # LATIN SMALL LETTER LONG S upper-cases to S
    assert not _DANGEROUS.fullmatch("K\u0131LL")  # dotless i: KILL, not dangerous
    assert unicodedata.name("\u2003") == "EM SPACE" and _DANGEROUS.fullmatch("\u2003cap_bpf\u2003")


def test_pattern_refuses_text_no_character_upper_cases_to() -> None:
    with pytest.raises(ValueError, match="no character upper-cases to"):
        normalized_name_pattern(["net_raw"], "CAP_")


def test_variables_for_adds_what_variables_read_in_order() -> None:
    assert [n for n, _ in variables_for(["variables.hostPathVolumes"])] == ["spec", "hostPathVolumes"]
    assert [n for n, _ in variables_for(["variables.windows || variables.podSC"])] == ["spec", "podSC", "windows"]
    with pytest.raises(KeyError):
        variables_for(["variables.nope"])


def test_generate_leaves_out_what_is_not_covered() -> None:
    assert vap.covered_ids(["KF-POD-001", "KF-IMG-001", "KF-POD-001"]) == (["KF-POD-001"], ["KF-IMG-001"])
    assert [o["metadata"]["name"] for o in vap.generate(["KF-IMG-001", "KF-WL-013"], REGISTRY)] == [
        "kubefort-kf-wl-013"
    ] * 2


# ------------------------------------------------------------------------------------- the generator

_ENGINE = Engine(EngineSettings(check_ids=tuple(sorted(COVERED))), REGISTRY)


def _failed(obj: dict[str, Any]) -> int:
    obj = {**obj, "metadata": {**obj["metadata"], "namespace": "x"}}
    return sum(o.status is Status.FAILED for o in _ENGINE.check_object(obj))


def test_generator_is_deterministic_and_bounded() -> None:
    a, b = vapgen.generate(300, judge=_failed), vapgen.generate(300, judge=_failed)
    assert [c.obj for c in a] == [c.obj for c in b]
    assert len({c.obj["metadata"]["name"] for c in a}) == len(a) >= 300
    assert {c.obj["kind"] for c in a} == set(vapgen.KINDS)
    assert all(_failed(c.obj) <= vapgen.MAX_FAILED_CHECKS for c in a)
