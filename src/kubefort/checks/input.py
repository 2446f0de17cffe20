"""KF-INPUT: inputs that could not be evaluated at all.

These checks have no function: loaders report the problems and the engine records them as
not-evaluated outcomes of these IDs, so a broken file can never look like a clean one.
"""

from collections.abc import Iterable

from kubefort.model import Severity, Violation
from kubefort.registry import check


@check(
    id="KF-INPUT-001",
    name="unparsable-input",
    title="Input file could not be read or parsed",
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
    severity=Severity.MEDIUM,
    target="input",
    remediation="Give the object a string `apiVersion` and `kind`, a mapping `metadata`, and string `name`/`namespace`.",
)
def malformed_object() -> Iterable[Violation]:
    """
    ## What it does
    Reports a YAML document that has `apiVersion` or `kind` but cannot be a Kubernetes object:
    `kind` or `apiVersion` missing or not a string, `metadata` not a mapping, `metadata.name`
    not a string, or a `List` whose `items` is not a list. No check runs on such a document.

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
