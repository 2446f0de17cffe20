"""KF-INPUT: inputs that could not be evaluated at all.

These checks have no function: loaders report the problems and the engine records them as
not-evaluated outcomes of these IDs, so a broken file can never look like a clean one.
"""

from collections.abc import Iterable, Iterator

from kubefort.checks.workload import REMOVED_APIS
from kubefort.kube.apis import BUILTIN_API_GROUPS, parse_group_version, unserved
from kubefort.model import CheckContext, NotApplicable, Resource, Severity, Violation
from kubefort.registry import check


@check(
    id="KF-INPUT-001",
    name="unparsable-input",
    title="Input file could not be read or parsed",
    verified="Input file was read and parsed",
    severity=Severity.HIGH,
    target="input",
    remediation="Fix the YAML/JSON error at the reported line, or exclude the file with --exclude.",
)
def unparsable_input() -> Iterable[Violation]:
    """
    ## What it does
    Reports every input that kubefort could not turn into Kubernetes objects: a YAML or JSON
    syntax error, invalid UTF-8, a binary file, a file over `--max-file-size`, an unsupported
    YAML tag (such as `!!python/object/apply`), or a YAML alias bomb. The outcome is
    *not evaluated*, with the file, line and column of the problem.

    ## Why is this bad?
    A scanner that skips a file it cannot read reports the objects in it as clean. Whatever is
    in that file is exactly what nobody has checked, and the API server may still accept it
    (or reject it at deploy time, after the review).

    ## Example
    ```yaml
    apiVersion: v1
    kind: Pod
    metadata:
      name: web
    spec:
      containers:
      - name: app
        image: nginx:1.27
         securityContext: {}   # bad indentation
    ```

    ## How to fix
    Correct the syntax at the reported position (`kubectl apply --dry-run=client -f FILE` shows
    the same error), or, if the file is not a manifest, exclude it: `--exclude 'testdata/*'`.
    kubefort never constructs tagged YAML objects: remove tags such as `!!python/object`.

    ## References
    - YAML 1.1 and go-yaml v2, as used by sigs.k8s.io/yaml in kubectl and the API server
    """
    return ()  # never called: the outcomes come from the loaders


@check(
    id="KF-INPUT-002",
    name="render-failure",
    title="Helm chart or Kustomize directory could not be rendered",
    verified="Helm chart or Kustomize directory rendered",
    severity=Severity.HIGH,
    target="input",
    remediation="Make `helm template` / `kustomize build` succeed for this directory (install the tool, vendor chart dependencies, avoid remote bases), or scan its rendered output.",
)
def render_failure() -> Iterable[Violation]:
    """
    ## What it does
    Reports a Helm chart (a directory with `Chart.yaml`) or a Kustomize directory (with
    `kustomization.yaml`) whose rendering failed: the renderer is not installed, it exited with
    an error, it timed out, or it would need the network (remote bases, unvendored chart
    dependencies). The outcome is *not evaluated* and carries the renderer's error.

    ## Why is this bad?
    Without the rendered objects, none of the checks ran on anything the chart deploys. Tools
    that skip such directories report a clean scan of an unscanned application.

    ## Example
    ```text
    charts/web/Chart.yaml           # helm not on PATH -> not evaluated
    overlays/prod/kustomization.yaml: resources: [github.com/org/base?ref=v1]  # needs the network
    ```

    ## How to fix
    Install `helm` (charts) or `kustomize` / `kubectl` (Kustomize) on the machine that scans,
    vendor chart dependencies with `helm dependency build`, or render yourself and pipe the
    result in: `helm template web charts/web | kubefort scan -`.

    ## References
    - https://helm.sh/docs/helm/helm_template/
    - https://kubectl.docs.kubernetes.io/references/kustomize/cmd/build/
    """
    return ()  # never called: the outcomes come from the loaders


@check(
    id="KF-INPUT-003",
    name="malformed-object",
    title="Document looks like a Kubernetes object but is malformed",
    verified="Document is a well-formed Kubernetes object",
    severity=Severity.MEDIUM,
    target="input",
    remediation="Give the object a string `apiVersion` and `kind`, a mapping `metadata`, and string `name`/`namespace`.",
)
def malformed_object() -> Iterable[Violation]:
    """
    ## What it does
    Reports a YAML document that has `apiVersion` or `kind` but cannot be a Kubernetes object:
    `kind` or `apiVersion` missing or not a string, `metadata` not a mapping, `metadata.name`
    or `metadata.namespace` not a string, `metadata.labels` or `metadata.annotations` not a
    mapping of strings (a null value is the empty string, as the API server decodes it), or a
    `List` whose `items` is not a list. No check runs on such a document.

    ## Why is this bad?
    The API server would reject the object, and every check that should have looked at it
    would otherwise pass by omission.

    ## Example
    ```yaml
    apiVersion: apps/v1
    kind: Deployment
    metadata: web      # must be a mapping
    ```

    ## How to fix
    ```yaml
    apiVersion: apps/v1
    kind: Deployment
    metadata:
      name: web
    ```

    ## References
    - https://kubernetes.io/docs/concepts/overview/working-with-objects/
    """
    return ()  # never called: the outcomes come from the loaders


@check(
    id="KF-INPUT-004",
    name="cluster-read-incomplete",
    title="Cluster objects could not be listed",
    verified="Cluster objects were listed",
    severity=Severity.HIGH,
    target="input",
    remediation="Grant the scanning identity get/list on the reported type and namespace (deploy/cluster-scan has a read-only ClusterRole, explained in docs/deploy.md), or limit the scan on purpose with -n or --skip-resources.",
)
def cluster_read_incomplete() -> Iterable[Violation]:
    """
    ## What it does
    Reports every resource type (and namespace) of a live cluster, or of a cluster snapshot,
    that kubefort could not list: the API server answered 403 Forbidden or 401, or failed with
    another error. The outcome is *not evaluated* and carries the server's message. Checks that
    need the missing objects (for example the NetworkPolicy checks when NetworkPolicies could not
    be listed in a namespace) are also *not evaluated* there, with the same reason, instead of
    passing. The scan exits with code 3 (incomplete) unless `--allow-incomplete` is given.

    ## Why is this bad?
    A scanner that treats "forbidden" as "nothing there" reports a namespace without
    NetworkPolicies as isolated, or an RBAC graph without its ClusterRoleBindings as safe. The
    scan is only as complete as what its credentials can read, and the report must say so.

    ## Example
    ```text
    $ kubefort scan --cluster --context team-a
    KF-INPUT-004  not evaluated  cluster://team-a/apis/rbac.authorization.k8s.io/v1/clusterrolebindings
                  cannot list clusterrolebindings.rbac.authorization.k8s.io: 403: ... is forbidden
    ```

    ## How to fix
    Scan with an identity that can list everything it should judge (the ClusterRole in
    `deploy/cluster-scan` grants get/list and nothing else), or narrow the scan explicitly:
    `-n team-a` for one namespace, `--skip-resources TYPE` for types you do not want read.
    Types skipped on request are listed in the report's inputs, not reported here.

    ## References
    - https://kubernetes.io/docs/reference/access-authn-authz/rbac/#default-roles-and-role-bindings
    """
    return ()  # never called: the outcomes come from the loaders


@check(
    id="KF-INPUT-006",
    name="unreadable-audit-event",
    title="Audit log line could not be read as an audit event",
    verified="Audit log lines were read as audit events, in time order",
    severity=Severity.HIGH,
    target="input",
    remediation="Fix or remove the reported line (or file), re-export the log without truncation, or sort it by stageTimestamp; --allow-incomplete accepts the gap knowingly.",
)
def unreadable_audit_event() -> Iterable[Violation]:
    """
    ## What it does
    Reports every part of an audit log that `kubefort audit` could not analyse, at its file
    and line (and the item index inside an EventList): a line cut short (*truncated*), a line
    that is not JSON, JSON that is not an audit event (another kind or apiVersion, such as a
    core/v1 Event, or a managed-cluster export of another service), an event with a field of
    the wrong type (`user.username` a number, `responseStatus.code` a string ...), a line over
    `--max-event-size` (skipped without being read into memory), a gzip file that ends early
    or is corrupt (the events before the break are analysed), and a file that cannot be read.

    It also reports, once per file at the first line where it happens, events whose
    `stageTimestamp` goes back in time by more than 5 seconds behind the latest one read:
    the events are analysed, but the detections that look at windows of time (bursts,
    first-seen) assume the log is in order.

    Every outcome is *not evaluated*; the rest of the log is analysed, and the command exits
    with code 3 unless `--allow-incomplete` is given.

    ## Why is this bad?
    Whatever sat on the unreadable line is exactly what nobody checked. A truncated or
    rewritten log is also what an attacker covering their tracks leaves behind, and a log out
    of order lets a burst of refused requests look spread out.

    ## Example
    ```text
    audit.log:1842  truncated line: the line ends inside its JSON value (truncated after 511 bytes)
    audit.log:1843  not an audit event: kind Event of apiVersion 'v1': a Kubernetes Event object (core/v1), not an audit event
    audit-2026-11-30T10-00-00.000.log.gz:90211  gzip ends early: ... the rest of the file is missing
    ```

    ## How to fix
    Re-copy or re-export the log (for rotated files, give the directory: kubefort reads the
    backups oldest first, then the live `audit.log`); sort exports that are not in time order
    (`jq -s -c 'sort_by(.stageTimestamp)[]'`); raise `--max-event-size` when large request
    bodies are expected (RequestResponse level on big objects). If the gap is known and
    accepted, `--allow-incomplete` keeps the exit code at 0/1.

    ## References
    - Kubernetes: Auditing (https://kubernetes.io/docs/tasks/debug/debug-cluster/audit/)
    - audit.k8s.io/v1 Event (https://kubernetes.io/docs/reference/config-api/apiserver-audit.v1/)
    """
    return ()  # never called: the outcomes come from the audit reader (kubefort/audit/read.py)


CUSTOM_GROUP = "an API group that is not built into Kubernetes: custom resources and kubefort's own node objects"


@check(
    id="KF-INPUT-005",
    name="unserved-api-version",
    title="Object's apiVersion does not serve its kind",
    verified="Object's apiVersion serves its kind",
    severity=Severity.MEDIUM,
    target="object",
    remediation="Set the apiVersion the message names for the kind (kubectl api-resources lists them), or fix the kind's spelling.",
)
def unserved_api_version(res: Resource, ctx: CheckContext[None]) -> Iterator[Violation]:
    """
    ## What it does
    Reports an object whose `apiVersion` and `kind` name no API the Kubernetes API server has:
    a built-in kind in a group that does not have it (`apiVersion: v1` with
    `kind: NetworkPolicy`, `apps/v1` with `kind: Service`), a version its group never served
    (`apps/v1beta9` Deployment), a kind spelled in the wrong case (`deployment`), or an
    `apiVersion` with more than one `/`. The message names the apiVersion to use.

    Versions that Kubernetes served once and has removed (`extensions/v1beta1` Deployment,
    `policy/v1beta1` PodSecurityPolicy ...) are KF-WL-003's and pass here, and so do kinds
    kubefort does not know in a built-in group (a newer release may serve them).

    The table of groups, versions and kinds is kube-apiserver v1.37's discovery with every
    alpha and beta API enabled, plus the versions earlier releases served
    (`kubefort/kube/apis.py`).

    ## Why is this bad?
    The API server answers `no matches for kind "NetworkPolicy" in version "v1"` and stores
    nothing. The repository says the namespace is isolated (or the workload deployed), the
    cluster says otherwise, and every check that read the object judged something that will
    never exist. Checks of the kind report such an object as not evaluated.

    ## Example
    ```yaml
    apiVersion: v1
    kind: NetworkPolicy
    metadata:
      name: default-deny
      namespace: shop
    spec:
      podSelector: {}
      policyTypes: [Ingress]
    ```

    ## How to fix
    ```yaml
    apiVersion: networking.k8s.io/v1
    kind: NetworkPolicy
    metadata:
      name: default-deny
      namespace: shop
    spec:
      podSelector: {}
      policyTypes: [Ingress]
    ```

    ## Not applicable when
    The object belongs to an API group that is not built into Kubernetes: custom resources
    and kubefort's own node objects. Their CustomResourceDefinition decides what is served,
    and a custom resource may reuse a built-in kind name (Calico's `projectcalico.org/v3`
    NetworkPolicy).

    ## References
    - https://kubernetes.io/docs/reference/using-api/#api-groups
    - https://kubernetes.io/docs/reference/using-api/deprecation-guide/
    """
    gv = parse_group_version(res.id.api_version)
    if gv is not None and gv[0] not in BUILTIN_API_GROUPS:
        raise NotApplicable(CUSTOM_GROUP)
    if (res.id.api_version, res.id.kind) in REMOVED_APIS:
        return  # served once, removed since: KF-WL-003 says which release removed it
    reason = unserved(res.id.api_version, res.id.kind)
    if reason is not None:
        yield Violation(f"{reason} (the API server rejects the object)", ("apiVersion",))
