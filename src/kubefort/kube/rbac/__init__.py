"""RBAC as the Kubernetes authorizer evaluates it, over any list of Resources.

Input-agnostic: a `Policy` is built from Resources (manifests, cluster scans and snapshots) and,
by default, the bootstrap roles and bindings every cluster of the chosen Kubernetes release starts
with (`builtin.py`: generated per release into `data/rbac/<minor>/` by tools/gen_rbac_data.py).
An input object of a default's kind, namespace and name is taken as the API server reconciles it
with that default (`reconcile.py`: missing default rules and subjects added, extras kept), its
default parts marked (`Rule.default`, `Binding.default_subjects`) so that checks judge the rest.

The semantics follow the RBAC authorizer and its helpers exactly:

* ClusterRoleBindings grant everywhere; a RoleBinding grants only inside its own namespace, even
  when it references a ClusterRole. A request without a namespace (cluster-scoped resources,
  "all namespaces", non-resource URLs) is granted by ClusterRoleBindings only.
* A rule matches when its verbs hold the verb or `*`, its apiGroups the group or `*`, its
  resources `*`, the exact `resource[/subresource]` or `*/subresource` (no other pattern), and
  its resourceNames are empty or hold the request's name (a request without a name never
  matches a rule with resourceNames). nonResourceURLs match `*`, the exact path, or a prefix
  ending in `*`.
* Subjects: `User` matches the user name; `Group` a group of the user; `ServiceAccount` matches the
  user `system:serviceaccount:<ns>:<name>`, its namespace defaulting to the RoleBinding's own
  (a ClusterRoleBinding subject without a namespace matches nobody). Service accounts are in
  the groups `system:serviceaccounts`, `system:serviceaccounts:<ns>` and `system:authenticated`.
* ClusterRoles with an `aggregationRule` get the union of the rules of every other ClusterRole
  matching one of its label selectors (transitively, as the controller converges). Their own
  `rules` that the union lacks are kept, marked `conditional`: the controller replaces them when
  it runs, so they hold or not depending on history ("granted if the rules are kept").
* Resource scopes come from the release's resource table and the input's CRDs; a resource in
  neither has an unknown scope (`ResourceSpec.namespaced` None), never a guessed one.

Namespaced objects without `metadata.namespace` are taken to live in `default` (kubectl's
default); Policy(default_namespace=...) changes that.

| module       | what                                                                            |
|--------------|---------------------------------------------------------------------------------|
| model.py     | constants, `Rule`, `Subject`, `Identity`, `Role`, `Binding`, `Grant`, `Workload`, `Request`; `parse_subject`, `identity_of` |
| parse.py     | reading Roles and bindings (`labels_of`, `parse_rules`, `is_bootstrap`), aggregation selectors, built-in data (`bootstrap_objects`) |
| builtin.py   | the versioned built-in data: releases shipped, `pick_version`, bootstrap objects, resource table |
| reconcile.py | the API server's reconciliation of default roles and bindings (`reconcile_role`, `reconcile_binding`, rule coverage) |
| policy.py    | `Policy`: the index of roles, bindings, ServiceAccounts and workloads; authorize, who-can, grants |
| resources.py | `resolve_resource`, `ResourceSpec`: resource names as kubectl accepts them       |
"""

from kubefort.kube.rbac.model import (
    ALL_SERVICE_ACCOUNTS,
    ANONYMOUS,
    AUTHENTICATED,
    BINDING_KINDS,
    BOOTSTRAP_FILE,
    BOOTSTRAP_LABEL,
    LEGACY_TOKEN_TYPE,
    MASTERS,
    RBAC_GROUP,
    RBAC_KINDS,
    ROLE_KINDS,
    SA_USER_PREFIX,
    UNAUTHENTICATED,
    Binding,
    Grant,
    Identity,
    Request,
    Role,
    Rule,
    Subject,
    Workload,
    identity_of,
    is_broad_group,
    parse_subject,
    sa_username,
)
from kubefort.kube.rbac.parse import bootstrap_objects, bootstrap_resources, is_bootstrap, labels_of, parse_rules
from kubefort.kube.rbac.policy import Policy
from kubefort.kube.rbac.resources import ResourceSpec, resolve_resource

__all__ = [
    "ALL_SERVICE_ACCOUNTS",
    "ANONYMOUS",
    "AUTHENTICATED",
    "BINDING_KINDS",
    "BOOTSTRAP_FILE",
    "BOOTSTRAP_LABEL",
    "LEGACY_TOKEN_TYPE",
    "MASTERS",
    "RBAC_GROUP",
    "RBAC_KINDS",
    "ROLE_KINDS",
    "SA_USER_PREFIX",
    "UNAUTHENTICATED",
    "Binding",
    "Grant",
    "Identity",
    "Policy",
    "Request",
    "ResourceSpec",
    "Role",
    "Rule",
    "Subject",
    "Workload",
    "bootstrap_objects",
    "bootstrap_resources",
    "identity_of",
    "is_bootstrap",
    "is_broad_group",
    "labels_of",
    "parse_rules",
    "parse_subject",
    "resolve_resource",
    "sa_username",
]
