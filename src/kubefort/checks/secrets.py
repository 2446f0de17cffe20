"""KF-SEC: credentials in manifests. Secret values never appear in any message."""

import functools
from collections.abc import Iterator

from kubefort.kube import secretfields, secretscan
from kubefort.kube.pods import ContainerView, Fields, PodView
from kubefort.model import CheckContext, Resource, Severity, Violation
from kubefort.registry import Mappings, check
from kubefort.wording import plural


@check(
    id="KF-SEC-001",
    name="secret-data-in-manifest",
    title="Secret object with data committed in a manifest",
    verified="Secret carries no values in the manifest",
    severity=Severity.HIGH,
    target="object",
    kinds=("Secret",),
    mappings=Mappings(
        nsa=("NSA-CISA Kubernetes Hardening Guide: Secrets",),
        mitre=("T1552.001",),
        owasp=("K08",),
    ),
    remediation="Keep secret values out of the repository: use an external secret store (External Secrets, Secrets Store CSI), SealedSecrets or SOPS, and commit only the reference.",
)
def secret_data_in_manifest(res: Resource, ctx: CheckContext[None]) -> Iterator[Violation]:
    """
    ## What it does
    Flags `Secret` objects (core `v1`) whose `data` or `stringData` holds at least one key.
    The message names the keys, never the values.

    ## Why is this bad?
    `data` is base64, not encryption: anyone who can read the repository, its forks, CI logs
    or a rendered chart has the credential, and it stays in git history after it is removed.

    ## Example
    ```yaml
    apiVersion: v1
    kind: Secret
    metadata:
      name: db
    stringData:
      password: hunter2
    ```

    ## How to fix
    Commit a reference instead, for example an External Secrets Operator resource:
    ```yaml
    apiVersion: external-secrets.io/v1beta1
    kind: ExternalSecret
    metadata:
      name: db
    spec:
      secretStoreRef: {name: vault, kind: ClusterSecretStore}
      target: {name: db}
      data:
      - secretKey: password
        remoteRef: {key: prod/db, property: password}
    ```

    ## Not evaluated when
    `data` or `stringData` is not a mapping, a `stringData` value is not a string, or a `data`
    value is not a base64 string (the API server decodes it as Go's `encoding/json` decodes
    bytes: standard alphabet, `=` padding, line breaks ignored). The API server rejects such a
    Secret. A null value is an empty one.

    ## References
    - https://kubernetes.io/docs/concepts/security/secrets-good-practices/
    - OWASP Kubernetes Top 10 K08: Secrets Management Failures
    """
    if res.id.api_version != "v1":
        return
    fields = Fields(res.obj, ())
    found = {
        "data": [k for k, v in secretfields.bytes_map(fields, "data").items() if v],
        "stringData": [k for k, v in fields.str_map("stringData").items() if v],
    }
    for field, names in found.items():
        keys = sorted(names)
        if keys:
            shown = ", ".join(keys[:8]) + (f" and {len(keys) - 8} more" if len(keys) > 8 else "")
            yield Violation(
                f"Secret carries {plural(len(keys), 'value')} in {field} (keys: {shown}); values not shown", (field,)
            )


# ---------------------------------------------------------------------------------------------
# literal credentials in container environments and ConfigMaps
# ---------------------------------------------------------------------------------------------
MITRE_UNSECURED = ("T1552.001", "T1552.007")


def _a(what: str) -> str:
    """The article: "an AWS access key ID", "an RSA private key", "a URL", "a GitHub token"."""
    first = what.split(maxsplit=1)[0] if what else "x"
    vowel_sound = first[0] in "AEFHILMNORSX" if first.isupper() else first[0].lower() in "aeiou"
    return ("an " if vowel_sound else "a ") + what


def _value_hits(value: str, name: str) -> list[str]:
    """Why a literal env value (or single-line ConfigMap value) named `name` is a credential, redacted."""
    return list(_value_hits_cached(value, name))


@functools.lru_cache(maxsize=65536)  # replicas and sibling workloads repeat their env values
def _value_hits_cached(value: str, name: str) -> tuple[str, ...]:
    return tuple(_find_value_hits(value, name))


def _find_value_hits(value: str, name: str) -> list[str]:
    tokens = secretscan.find_tokens(value)
    if tokens:
        return [f"{_a(t.what)} ({t.shown})" for t in tokens]
    pem = secretscan.decoded_pem_hits(value)
    if pem:
        return [f"{_a(t.what)} ({t.shown})" for t in pem]
    if pem is not None:  # base64 of a certificate or public key
        return []
    sens = secretscan.sensitive_name(name)
    if sens is None and not secretscan.token_shaped(value):
        return []  # neither a credential name nor a random-looking token: nothing below can match
    if not secretscan.literal_candidate(value, name):
        return []
    if sens is not None and sens[1]:
        kind = "a common default password" if secretscan.is_common_default(value) else "a literal value"
        return [f"{kind} ({secretscan.REDACTED}) under a credential name ({sens[0]})"]
    entropy = secretscan.high_entropy(value, allow_hex=sens is not None)
    if entropy is not None:
        return [f"a random-looking {entropy} string ({secretscan.REDACTED}, {len(value.strip())} chars)"]
    return []


@check(
    id="KF-SEC-002",
    name="literal-credential-in-env",
    title="Container environment variable holds a literal credential",
    verified="Container environment holds no literal credential",
    severity=Severity.HIGH,
    target="container",
    mappings=Mappings(
        nsa=("NSA-CISA Kubernetes Hardening Guide: Secrets",),
        mitre=MITRE_UNSECURED,
        owasp=("K08",),
        kubescape=("C-0012", "C-0259"),
        kube_linter=("env-var-secret",),
        polaris=("sensitiveContainerEnvVar",),
    ),
    remediation="Move the value into a Secret (created outside the repository) and reference it with valueFrom.secretKeyRef, or better mount it as a file; then rotate the exposed credential.",
)
def literal_credential_in_env(pod: PodView, c: ContainerView, ctx: CheckContext[None]) -> Iterator[Violation]:
    """
    ## What it does
    Flags `env[].value` literals of any container (init and ephemeral containers too) that
    hold a credential, found three ways:

    1. **By value, whatever the name**: PEM private keys (also base64-encoded), AWS access
       key IDs (`AKIA…`, `ASIA…`), GitHub (`ghp_…`, `github_pat_…`), GitLab (`glpat-…`),
       Slack (`xoxb-…`, webhook URLs), Stripe live keys (`sk_live_…`), Google API keys
       (`AIza…`), OpenAI, Anthropic, Hugging Face, npm and SendGrid tokens, JSON Web Tokens
       (`eyJ….eyJ….…`), Azure storage `AccountKey=`, URLs with a password
       (`postgres://app:pw@db`), and HTTP Authorization values: `Bearer <token>` (12 or more
       characters with a digit or mixed case) and `Basic <base64 of user:password>`.
    2. **By name**: the variable's words (split at `_`, `-`, `.` and camelCase, compared in
       lower case, trailing digits dropped) include password / passwd / pass / pwd / pw /
       passphrase, secret, token, bearer, credential(s) / creds, an API / access / secret /
       private / signing / encryption / master / account / license key, or end in `auth`
       (`REDIS_AUTH`); the short words also count run together at the end of a word
       (`DBPASS`, `MYSQLPWD`, `rootpw`; not `bypass`, `compass` or nginx's `proxy_pass`).
       Authorization-style names are credential names too: `authorization`,
       `proxy-authorization`, `auth_header`, `authorizationHeader`, `x-api-key`. Names whose
       last word says the value only *points at* or *describes* a credential are not
       flagged: `*_FILE`, `*_PATH`, `*_DIR`, `*_URL`, `*_ENDPOINT`, `*_NAME`, `*_REF`,
       `*_ID`, `*_USER(NAME)`, `*_TTL`, `*_EXPIRY`, `*_LENGTH`, `*_ENABLED`, `*_TYPE`,
       `*_HASH` and similar, also run together (`PASSWORDFILE`, `tokenUrl`); so are names
       about public keys (`JWT_PUBLIC_KEY`).
    3. **By entropy**: one random-looking token of at least 20 characters, with
       detect-secrets' limits (base64 charset: Shannon entropy >= 4.5 bits per character;
       hex: >= 3.0, and only under a `*_KEY`-like name, because commit SHAs, digests and IDs
       are hex too). Other `*_KEY` names (`HMAC_KEY`, `CACHE_KEY`) count only with such a value.

    The value decides the rest. A value is never a credential when it is empty, a reference
    (`$(VAR)` which the kubelet expands, `${VAR}`, `$VAR`, `{{ .Values.x }}`), a path
    (`/run/secrets/db`, `./x`, `~/x`), a URL without a password, a boolean, a number or
    duration (`3600`, `1h`), an obvious placeholder to be replaced before use (`<your-token>`,
    `[secret]`, `xxxx`, `REPLACE_ME`, `GOOGLE_API_KEY_VAL`-style identifiers, `__TOKEN__`
    markers, or the variable's own name), the name of a Secret object under a `*_SECRET` name
    (`TLS_SECRET=ingress-tls`), an HTTP header name under an Authorization-style name
    (`AUTH_HEADER=Authorization`, `API_KEY_HEADER=X-Api-Key`), or one of AWS's documented
    example keys. Anything else under a credential name is taken as the credential: so a short
    name such as `PWD` counts, while the shell's `PWD=/app` (a path) does not. Well-known
    defaults such as `changeme`, `password` or `admin` *are* flagged (and called out as
    such): applied as written, they are the credential.

    The message names the variable and the kind of credential; the value is never shown,
    only a redacted form such as `ghp_…(40 chars)` or `****`.

    ## Why is this bad?
    A literal in a pod spec is readable by everyone who can read the workload (`get` on
    Deployments is granted far more widely than `get` on Secrets), it lands in `kubectl
    describe`, in CI logs and in every fork and clone of the repository, and it stays in git
    history after removal (MITRE ATT&CK T1552.001 Credentials in Files, T1552.007 Container
    API). Default passwords applied as written are guessable by anyone who reads the chart.

    ## Example
    ```yaml
    containers:
    - name: app
      image: registry.example.com/app:1.4.2
      env:
      - name: DB_PASSWORD
        value: s3cr3t-example-only
    ```

    ## How to fix
    ```yaml
    containers:
    - name: app
      image: registry.example.com/app:1.4.2
      env:
      - name: DB_PASSWORD_FILE
        value: /run/secrets/db/password
      volumeMounts:
      - {name: db, mountPath: /run/secrets/db, readOnly: true}
    volumes:
    - name: db
      secret: {secretName: db}
    ```

    ## Known limitations
    Name and entropy heuristics miss credentials with innocuous names and short values, and
    may flag a non-secret under a credential-like name; suppress those with
    `kubefort.io/ignore: KF-SEC-002[container]=<reason>`. Credentials in `command`/`args`
    are not inspected.

    ## Not evaluated when
    `env` is not a list of mappings, an entry's `name` or `value` is not a string, or its
    `valueFrom` or `valueFrom.secretKeyRef` is not a mapping (or that reference's `name` or
    `key` not a string): the API server rejects such a pod. A null field is an absent one.

    ## References
    - https://kubernetes.io/docs/concepts/security/secrets-good-practices/
    - https://kubernetes.io/docs/tasks/inject-data-application/distribute-credentials-secure/
    - https://github.com/Yelp/detect-secrets (entropy limits)
    - OWASP Kubernetes Top 10 K08: Secrets Management Failures
    """
    for var in secretfields.env_vars(c):
        if not var.value:
            continue
        for why in _value_hits(var.value, var.name):
            yield Violation(f"{c.label()}: env {var.label()} holds {why}", (*var.path, "value"))


@check(
    id="KF-SEC-003",
    name="secret-in-env-var",
    title="Container reads a Secret through environment variables",
    verified="Container reads no Secret through environment variables",
    severity=Severity.LOW,
    target="container",
    mappings=Mappings(
        cis=("5.4.1",),
        nsa=("NSA-CISA Kubernetes Hardening Guide: Secrets",),
        mitre=("T1552.007",),
        owasp=("K08",),
        checkov=("CKV_K8S_35",),
        kubescape=("C-0207",),
        kube_linter=("read-secret-from-env-var",),
    ),
    remediation="Mount the Secret as a read-only volume and have the application read the file (many images accept a *_FILE variable pointing at it).",
)
def secret_in_env_var(pod: PodView, c: ContainerView, ctx: CheckContext[None]) -> Iterator[Violation]:
    """
    ## What it does
    Flags containers (init and ephemeral containers too) that take Secret data into their
    environment: `env[].valueFrom.secretKeyRef` (the message names each variable, Secret and
    key) or `envFrom[].secretRef` (the whole Secret).

    ## Why is this bad?
    Environment variables leak more easily than files: they are inherited by every child
    process, printed by crash handlers, debug endpoints and `env` in support sessions, visible
    in `/proc/<pid>/environ` to anything sharing the PID namespace, and they never change
    while the process runs, so a rotated Secret needs a restart. A Secret mounted as a volume
    is readable only through the mount, can have restrictive file modes and is updated in
    place (CIS Kubernetes Benchmark 5.4.1; MITRE ATT&CK T1552.007).

    ## Example
    ```yaml
    env:
    - name: DB_PASSWORD
      valueFrom:
        secretKeyRef: {name: db, key: password}
    envFrom:
    - secretRef: {name: api-keys}
    ```

    ## How to fix
    ```yaml
    env:
    - name: DB_PASSWORD_FILE
      value: /run/secrets/db/password
    volumeMounts:
    - {name: db, mountPath: /run/secrets/db, readOnly: true}
    # and in the pod spec:
    volumes:
    - name: db
      secret: {secretName: db, defaultMode: 0400}
    ```

    ## Not evaluated when
    `env` or `envFrom` is not a list of mappings, or a field read here has another type than
    the API declares: `env[].name`/`value` and `secretKeyRef.name`/`key` strings,
    `env[].valueFrom` and `valueFrom.secretKeyRef` mappings, `envFrom[].prefix` a string,
    `envFrom[].secretRef` (with a string `name`) and `envFrom[].configMapRef` mappings. The API
    server rejects such a pod. A null field is an absent one.

    ## References
    - https://kubernetes.io/docs/concepts/configuration/secret/#using-secrets-as-files-from-a-pod
    - https://kubernetes.io/docs/concepts/security/secrets-good-practices/
    - CIS Kubernetes Benchmark 5.4.1
    """
    env, env_from = secretfields.env_vars(c), secretfields.env_from(c)  # both decoded before any judgement
    for var in env:
        ref = var.secret_key_ref
        if ref is not None:
            yield Violation(
                f"{c.label()}: env {var.label()} reads key {ref.key!r} of Secret {ref.name!r}",
                (*var.path, "valueFrom", "secretKeyRef"),
            )
    for entry in env_from:
        if entry.secret_ref is not None:
            yield Violation(
                f"{c.label()}: envFrom imports every key of Secret {entry.secret_ref!r} as variables"
                + (f" (prefix {entry.prefix!r})" if entry.prefix else ""),
                (*entry.path, "secretRef"),
            )


_MAX_LINES_SHOWN = 3


def _configmap_hits(key: str, value: str) -> list[str]:
    """Why ConfigMap data[key] holds a credential: whole-value, token and `name: value` line findings.

    A multi-line value is a file: its tokens and its `name: value` lines are read. A one-line
    value is read the same way when it is such a line (`DB_PASSWORD=x`, `password: x`) and the
    key does not name a credential itself; otherwise it is one value under the key's name."""
    if "\n" not in value.strip():
        if secretscan.sensitive_name(key) is not None or not one_line_setting(value):
            return [f"key {key!r} holds {why}" for why in _value_hits(value, key)]
        return _file_hits(key, value.strip(), one_line=True)
    return _file_hits(key, value, one_line=False)


def one_line_setting(value: str) -> bool:
    """Is a one-line value a `name = value` / `name: value` setting? Base64 padding (`abc==`) is not."""
    found = list(secretscan.assignments(value.strip()))
    return len(found) == 1 and not found[0][1].startswith("=")


def _file_hits(key: str, value: str, one_line: bool) -> list[str]:
    """Tokens, base64 PEM and credential `name: value` lines of a configuration file in data[key]."""
    lines = secretscan.Lines(value)

    def where(offset: int) -> str:
        return f"key {key!r}" if one_line else f"key {key!r} line {lines.of(offset)}"

    out: list[str] = []
    tokens = secretscan.find_tokens(value)
    for t in tokens:
        out.append(f"{where(t.offset)} holds {_a(t.what)} ({t.shown})")
    pem = secretscan.decoded_pem_hits(value)
    for t in pem or ():
        out.append(f"key {key!r} holds {_a(t.what)} ({t.shown})")
    token_lines = {lines.of(t.offset) for t in tokens}
    if key == "_example":  # Knative / Tekton convention: documentation the software ignores
        return out
    for name, val, off in secretscan.assignments(value):
        if lines.of(off) in token_lines:
            continue
        sens = secretscan.sensitive_name(name)
        kind = _assignment_kind(name, val, sens) if sens is not None else None
        if kind is not None:
            out.append(f"{where(off)} sets {name} to {kind} ({secretscan.REDACTED})")
    return out


def _assignment_kind(name: str, value: str, sens: tuple[str, bool]) -> str | None:
    """How `name = value` (a credential name) is reported, or None when the value is no credential."""
    if not secretscan.literal_candidate(value, name):
        return None
    if sens[1] or secretscan.high_entropy(value) is not None:
        return "a common default password" if secretscan.is_common_default(value) else "a literal value"
    return None


@check(
    id="KF-SEC-004",
    name="credential-in-configmap",
    title="ConfigMap holds a credential",
    verified="ConfigMap holds no credential",
    severity=Severity.HIGH,
    target="object",
    kinds=("ConfigMap",),
    mappings=Mappings(
        nsa=("NSA-CISA Kubernetes Hardening Guide: Secrets",),
        mitre=("T1552.001",),
        owasp=("K08",),
        trivy=("KSV-0109",),
        kubescape=("C-0012",),
        polaris=("sensitiveConfigmapContent",),
    ),
    remediation="Move the credential into a Secret created outside the repository (External Secrets, SealedSecrets, SOPS) and keep only non-secret settings in the ConfigMap; then rotate the exposed credential.",
)
def credential_in_configmap(res: Resource, ctx: CheckContext[None]) -> Iterator[Violation]:
    """
    ## What it does
    Flags `ConfigMap` objects (core `v1`) whose `data` holds a credential, with the detectors
    of KF-SEC-002:

    - a **key** with a credential name (`password`, `api_key`, `clientSecret`, `REDIS_AUTH`
      ...; not `*_file`, `*_url`, `*_name`, `*_username` ...) and a single-line literal value;
    - a credential-shaped **value** anywhere, also inside embedded files (PEM private keys,
      cloud and SaaS tokens, JWTs, URLs with a password), and a random-looking single-line
      value (entropy test);
    - inside multi-line values (embedded YAML, JSON, TOML, INI, `.properties` and env files):
      **lines** `name: value`, `name = value`, `"name": "value"` or `export NAME=value` whose
      name is a credential name and whose value is a literal. A one-line value that is such
      a line (`app.env: DB_PASSWORD=x`, `db.properties: "password: x"`) is read the same way:
      a file of one setting.

    References (`${DB_PASSWORD}`, `$(VAR)`, `{{ .Values.x }}`), paths, plain URLs, booleans,
    numbers and placeholders are not credentials (see KF-SEC-002). Lines of a key named
    `_example` (the Knative and Tekton convention for documentation the software ignores) are
    not read, though credential-shaped tokens in it still count. `binaryData` is decoded only
    to look for PEM private keys. The finding points at the key; the message names the line
    inside the value, never the value.

    ## Why is this bad?
    ConfigMaps are not meant for secrets: RBAC grants read access to them widely (the
    built-in `view` role can read every ConfigMap but no Secret), they are not encrypted at
    rest by the usual `EncryptionConfiguration` (which lists `secrets`), and they are printed
    freely by tools and operators. A credential there is effectively public inside the
    cluster and in the repository (MITRE ATT&CK T1552.001).

    ## Example
    ```yaml
    apiVersion: v1
    kind: ConfigMap
    metadata:
      name: app
    data:
      DB_HOST: db.internal
      DB_PASSWORD: example-only-pw
      app.properties: |
        spring.datasource.password=example-only-pw
    ```

    ## How to fix
    ```yaml
    apiVersion: v1
    kind: ConfigMap
    metadata:
      name: app
    data:
      DB_HOST: db.internal
      app.properties: |
        spring.datasource.password=${DB_PASSWORD}
    ---
    # DB_PASSWORD comes from a Secret managed outside the repository
    ```

    ## Known limitations
    Lines of embedded files are read with simple `name: value` patterns, not per-format
    parsers: a credential split over lines or nested under an innocuous key
    (`database: {auth: {value: ...}}`) is missed, and a non-secret under a credential-like
    name may be flagged; suppress with `kubefort.io/ignore: KF-SEC-004=<reason>`.

    ## Not evaluated when
    `data` or `binaryData` is not a mapping, a `data` value is not a string (a number or
    boolean too), or a `binaryData` value is not a base64 string (standard alphabet, `=`
    padding, line breaks ignored, as the API server decodes bytes). The API server rejects
    such a ConfigMap. A null value is an empty one.

    ## References
    - https://kubernetes.io/docs/concepts/configuration/configmap/
    - https://kubernetes.io/docs/concepts/security/secrets-good-practices/
    - OWASP Kubernetes Top 10 K08: Secrets Management Failures
    """
    if res.id.api_version != "v1":
        return
    fields = Fields(res.obj, ())
    data, binary = fields.str_map("data"), secretfields.bytes_map(fields, "binaryData")  # decoded before judging
    for key, value in data.items():
        hits = _configmap_hits(key, value) if value else []
        if len(hits) > _MAX_LINES_SHOWN:
            hits = hits[:_MAX_LINES_SHOWN] + [f"key {key!r}: {len(hits) - _MAX_LINES_SHOWN} more"]
        for why in hits:
            yield Violation(f"ConfigMap {why}", ("data", key))
    for key, raw in binary.items():
        for t in secretscan.find_tokens(raw.decode("latin-1")):
            if "PEM" in t.what:
                yield Violation(f"ConfigMap binaryData key {key!r} holds {_a(t.what)} ({t.shown})", ("binaryData", key))
