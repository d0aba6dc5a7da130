#!/usr/bin/env python3
"""Cross-checks of deploy/ that no single validator sees. Run by deploy/check.sh in its
venv (PyYAML; cloudcoil-models-prometheus-operator for `crds`):

    python deploy/checks.py CHECK      # CHECK: crds | k8s-wiring |
                                       #        compose-wiring | docker-context | dockerfile

Each prints what it verified, or one `error:` line per problem, and exits 1 on any.

Why `crds` is separate: kubernetes-validate ships the schemas of Kubernetes' own kinds
only, so it passes a ServiceMonitor or PrometheusRule with a warning, unchecked. Here
they are validated against the Prometheus Operator's CRD schemas (the pydantic models
of cloudcoil-models-prometheus-operator, generated from those CRDs: types, patterns,
enums, required fields), plus a strictness pass those models lack (a misspelt key is
an error, not silently dropped), plus the structure tenk relies on (apiVersion
monitoring.coreos.com/v1, the Service port and Secret key they name).
"""

from __future__ import annotations

import fnmatch
import ipaddress
import re
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any, Callable

try:
    import yaml
except ImportError:  # deploy/compose_live.py imports the .dockerignore reading, no YAML
    yaml = None

ROOT = Path(__file__).resolve().parents[1]
DEPLOY = ROOT / "deploy"
K8S = DEPLOY / "k8s"

errors: list[str] = []


def error(message: str) -> None:
    errors.append(message)
    print(f"error: {message}")


def ok(message: str) -> None:
    print(f"  ok: {message}")


def load(path: Path) -> Any:
    with path.open(encoding="utf-8") as handle:
        return yaml.safe_load(handle)


def k8s_objects() -> dict[str, dict[str, Any]]:
    """Every manifest of deploy/k8s by kind (one object per file here)."""
    objects = {}
    for path in sorted(K8S.glob("*.yaml")):
        if path.name == "kustomization.yaml":
            continue
        for document in yaml.safe_load_all(path.read_text(encoding="utf-8")):
            if document:
                document["__file__"] = path.name
                objects[document["kind"]] = document
    return objects


def server_settings() -> set[str]:
    """Every variable .env.example documents (the server's settings)."""
    names = set()
    for line in (ROOT / ".env.example").read_text(encoding="utf-8").splitlines():
        match = re.match(r"^([A-Z][A-Z0-9_]*)=", line)
        if match:
            names.add(match.group(1))
    return names


def duration_seconds(raw: str | int) -> float:
    """`30`, `30s`, `500ms`, `15m`, `2h` (the server's and compose's forms)."""
    text = str(raw).strip()
    match = re.fullmatch(r"(\d+(?:\.\d+)?)(ms|s|m|h)?", text)
    if not match:
        raise ValueError(f"not a duration: {raw!r}")
    value, unit = float(match.group(1)), match.group(2) or "s"
    return value * {"ms": 0.001, "s": 1, "m": 60, "h": 3600}[unit]


# --- crds --------------------------------------------------------------------------


def unknown_keys(given: Any, kept: Any, path: str = "") -> list[str]:
    """Keys of `given` that a pydantic round trip (`kept`) dropped: unknown fields."""
    found = []
    if isinstance(given, dict) and isinstance(kept, dict):
        for key, value in given.items():
            if key not in kept:
                found.append(f"{path}.{key}".lstrip("."))
            else:
                found.extend(unknown_keys(value, kept[key], f"{path}.{key}"))
    elif isinstance(given, list) and isinstance(kept, list):
        for index, (item, kept_item) in enumerate(zip(given, kept)):
            found.extend(unknown_keys(item, kept_item, f"{path}[{index}]"))
    return found


def check_crds() -> None:
    from cloudcoil.models.prometheus_operator import v1 as operator  # noqa: PLC0415

    objects = k8s_objects()
    for kind, model in (("ServiceMonitor", operator.ServiceMonitor), ("PrometheusRule", operator.PrometheusRule)):
        document = objects.get(kind)
        if document is None:
            error(f"deploy/k8s has no {kind}")
            continue
        name = document.pop("__file__")
        if document.get("apiVersion") != "monitoring.coreos.com/v1":
            error(f"{name}: apiVersion must be monitoring.coreos.com/v1")
        metadata = document.get("metadata") or {}
        if not metadata.get("name") or metadata.get("namespace") != "tenk":
            error(f"{name}: metadata needs a name and namespace tenk")
        try:
            instance = model.model_validate(document)
        except Exception as exc:  # pydantic.ValidationError
            error(f"{name}: does not match the {kind} CRD schema:\n{exc}")
            continue
        kept = instance.model_dump(mode="json", by_alias=True, exclude_unset=True)
        for key in unknown_keys(document, kept):
            error(f"{name}: unknown field {key} (not in the {kind} CRD schema)")
        ok(f"{name}: {kind} matches the Prometheus Operator CRD schema, no unknown field")

    monitor, service, secret = objects.get("ServiceMonitor"), objects.get("Service"), objects.get("Secret")
    if monitor and service and secret:
        spec = monitor["spec"]
        labels = service["metadata"].get("labels", {})
        wanted = spec.get("selector", {}).get("matchLabels", {})
        if not wanted or any(labels.get(k) != v for k, v in wanted.items()):
            error("servicemonitor.yaml: spec.selector does not select the Service tenk")
        ports = {port.get("name") for port in service["spec"]["ports"]}
        for endpoint in spec.get("endpoints", []):
            if endpoint.get("port") not in ports:
                error(f"servicemonitor.yaml: endpoint port {endpoint.get('port')!r} is not a Service port")
            if endpoint.get("path") != "/metrics":
                error("servicemonitor.yaml: the endpoint path must be /metrics")
            credentials = (endpoint.get("authorization") or {}).get("credentials") or {}
            if credentials.get("name") != secret["metadata"]["name"] or credentials.get("key") not in secret.get("stringData", {}):
                error("servicemonitor.yaml: the bearer token must come from tenk-secrets / OPS_TOKEN")
        if monitor["metadata"]["namespace"] != service["metadata"]["namespace"]:
            error("servicemonitor.yaml: must live in the Service's namespace (it reads its Secret there)")
        ok("ServiceMonitor selects the Service, names its port, reads OPS_TOKEN from tenk-secrets")

    rule = objects.get("PrometheusRule")
    if rule:
        for group in rule["spec"].get("groups", []):
            if not group.get("name") or not group.get("rules"):
                error("prometheusrule.yaml: every group needs a name and rules")
            for item in group.get("rules", []):
                if not (item.get("alert") or item.get("record")) or not item.get("expr"):
                    error(f"prometheusrule.yaml: a rule of {group.get('name')} lacks alert/record or expr")
        ok("PrometheusRule groups: each has a name and rules with alert + expr")


# --- k8s-wiring --------------------------------------------------------------------


def check_k8s_wiring() -> None:
    objects = k8s_objects()
    deployment, service = objects["Deployment"], objects["Service"]
    hpa, pdb = objects["HorizontalPodAutoscaler"], objects["PodDisruptionBudget"]
    config, secret = objects["ConfigMap"], objects["Secret"]
    pod = deployment["spec"]["template"]
    pod_labels = pod["metadata"]["labels"]
    selector = deployment["spec"]["selector"]["matchLabels"]
    if any(pod_labels.get(k) != v for k, v in selector.items()):
        error("deployment.yaml: selector does not match the pod labels")

    for kind, obj in objects.items():
        if kind != "Namespace" and obj["metadata"].get("namespace") != "tenk":
            error(f"{obj['__file__']}: namespace must be tenk")

    containers = pod["spec"]["containers"]
    server = containers[0]
    port_names = {p.get("name") for p in server.get("ports", [])}
    probes = {
        "readinessProbe": "/api/health/ready",
        "livenessProbe": "/api/health",
        "startupProbe": "/api/health",
    }
    for probe, path in probes.items():
        http = (server.get(probe) or {}).get("httpGet") or {}
        if http.get("path") != path:
            error(f"deployment.yaml: {probe} must GET {path}")
        if http.get("port") not in port_names and http.get("port") != 8080:
            error(f"deployment.yaml: {probe} port {http.get('port')!r} is not a container port")
    ok("probes: readiness /api/health/ready, liveness and startup /api/health, on the http port")

    resources = server.get("resources") or {}
    for part in ("requests", "limits"):
        for resource in ("cpu", "memory"):
            if resource not in (resources.get(part) or {}):
                error(f"deployment.yaml: resources.{part}.{resource} is not set")
    if resources.get("requests", {}).get("cpu") != resources.get("limits", {}).get("cpu"):
        error("deployment.yaml: CPU request != limit, so the HPA's 70 % and the HighCpu alert's 70 % differ")
    ok("resources: requests and limits for cpu and memory, CPU request = limit")

    pre_stop = ((server.get("lifecycle") or {}).get("preStop") or {})
    sleep = 0.0
    if "sleep" in pre_stop:
        sleep = float(pre_stop["sleep"]["seconds"])
    elif "exec" in pre_stop:
        command = pre_stop["exec"]["command"]
        if command[0] == "sleep":
            sleep = float(command[1])
    if sleep <= 0:
        error("deployment.yaml: preStop must delay (sleep) before SIGTERM")
    shutdown = duration_seconds(config["data"].get("SHUTDOWN_TIMEOUT", "30"))
    grace = pod["spec"].get("terminationGracePeriodSeconds", 30)
    if not grace > sleep + shutdown:
        error(f"deployment.yaml: terminationGracePeriodSeconds {grace} <= preStop {sleep:g} s + SHUTDOWN_TIMEOUT {shutdown:g} s")
    ok(f"termination: grace {grace} s > preStop {sleep:g} s + SHUTDOWN_TIMEOUT {shutdown:g} s")

    env_from = {(ref.get("configMapRef") or ref.get("secretRef") or {}).get("name") for ref in server.get("envFrom", [])}
    if env_from != {config["metadata"]["name"], secret["metadata"]["name"]}:
        error("deployment.yaml: envFrom must read the ConfigMap and the Secret")

    if any(pod_labels.get(k) != v for k, v in service["spec"]["selector"].items()):
        error("service.yaml: selector does not match the pods")
    service_ports = {p["name"]: p for p in service["spec"]["ports"]}
    if service_ports.get("http", {}).get("targetPort") not in port_names | {8080}:
        error("service.yaml: port http must target the container's http port")
    # The ServiceMonitor's job label is the Service name; the rules select job="tenk".
    rules_text = (ROOT / "alerts" / "tenk.rules.yml").read_text(encoding="utf-8")
    jobs = set(re.findall(r'job="([^"]+)"', rules_text))
    if jobs != {service["metadata"]["name"]}:
        error(f"service.yaml: named {service['metadata']['name']!r}, but the rules select job={sorted(jobs)}")
    ok(f"Service {service['metadata']['name']!r} selects the pods; scraped as job={service['metadata']['name']!r}, the rules' job")

    target = hpa["spec"]["scaleTargetRef"]
    if (target.get("kind"), target.get("name")) != ("Deployment", deployment["metadata"]["name"]):
        error("hpa.yaml: scaleTargetRef must be the Deployment tenk")
    cpu = [m for m in hpa["spec"]["metrics"] if m.get("type") == "Resource" and m["resource"]["name"] == "cpu"]
    thresholds = tomllib.loads((ROOT / "alerts" / "thresholds.toml").read_text(encoding="utf-8"))
    high_cpu = next(t for t in thresholds["threshold"] if t["name"] == "HighCpu")
    wanted = round(high_cpu["value"] * 100)
    if len(cpu) != 1 or cpu[0]["resource"]["target"].get("averageUtilization") != wanted:
        error(f"hpa.yaml: CPU averageUtilization must be {wanted} (HighCpu in alerts/thresholds.toml)")
    min_replicas = hpa["spec"].get("minReplicas", 1)
    if deployment["spec"].get("replicas") != min_replicas:
        error("deployment.yaml: replicas should equal the HPA's minReplicas")
    ok(f"HPA scales the Deployment on CPU at {wanted} % = HighCpu {high_cpu['value']} of alerts/thresholds.toml")

    if any(pod_labels.get(k) != v for k, v in pdb["spec"]["selector"]["matchLabels"].items()):
        error("pdb.yaml: selector does not match the pods")
    unavailable = pdb["spec"].get("maxUnavailable")
    available = pdb["spec"].get("minAvailable")
    if unavailable is not None and not (isinstance(unavailable, int) and 0 < unavailable < min_replicas):
        error("pdb.yaml: maxUnavailable must be a number between 0 and minReplicas")
    if available is not None and not (isinstance(available, int) and available < min_replicas):
        error("pdb.yaml: minAvailable must stay below minReplicas, or no drain can proceed")
    ok("PodDisruptionBudget selects the pods and lets a drain proceed")

    placeholders = {k: v for k, v in (secret.get("stringData") or {}).items() if v not in ("CHANGE_ME", "")}
    if placeholders or secret.get("data"):
        error(f"secret.example.yaml: only CHANGE_ME placeholders allowed (found values for {sorted(placeholders)})")
    ok("secret.example.yaml holds placeholders only")

    # Migrations: off at the server's start, run by an init container straight to the primary.
    if config["data"].get("DB_MIGRATE_ON_START", "true") == "false":
        inits = [c for c in pod["spec"].get("initContainers", []) if c.get("args") == ["migrate"]]
        direct = [e for c in inits for e in c.get("env", []) if e.get("name") == "DATABASE_URL"]
        key = ((direct[0].get("valueFrom") or {}).get("secretKeyRef") or {}).get("key") if direct else None
        if not inits or key not in (secret.get("stringData") or {}):
            error("deployment.yaml: with DB_MIGRATE_ON_START=false an init container must run `migrate` with a direct DATABASE_URL from the Secret")
        elif inits[0].get("image") != server.get("image"):
            error("deployment.yaml: the migrate init container must run the server's image")
        else:
            ok(f"migrations: init container `migrate` with DATABASE_URL from {key}; DB_MIGRATE_ON_START=false")

    known = server_settings() | {"DATABASE_MIGRATE_URL"}
    for name in list(config["data"]) + list(secret.get("stringData") or {}):
        if name not in known:
            error(f"{name} (deploy/k8s) is not a setting documented in .env.example")
    ok("every ConfigMap / Secret key is a server setting of .env.example")

    kustomization = load(K8S / "kustomization.yaml")
    listed = set(kustomization.get("resources", []))
    present = {p.name for p in K8S.glob("*.yaml")} - {"kustomization.yaml", "secret.example.yaml"}
    if listed != present:
        error(f"kustomization.yaml resources {sorted(listed)} != manifests {sorted(present)}")
    if "secret.example.yaml" in listed:
        error("kustomization.yaml must not apply the Secret template")
    ok("kustomization.yaml lists every manifest but the Secret template")


# --- compose-wiring ----------------------------------------------------------------

# deploy/compose.env unless TENK_ENV_FILE names another (deploy/compose-live.sh).
ENV_FILE = "${TENK_ENV_FILE:-deploy/compose.env}"
SECRET_NAMES = re.compile(r"(PASSWORD|SECRET|TOKEN|DSN|SMTP_URL|DATABASE_URL|DATABASE_READ_URLS|REDIS_URL)$")


def read_env_file(path: Path) -> dict[str, str]:
    values = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            name, _, value = line.partition("=")
            values[name.strip()] = value
    return values


def check_compose_wiring() -> None:
    compose = load(ROOT / "docker-compose.yml")
    services = compose["services"]
    example = read_env_file(DEPLOY / "compose.env.example")

    # No secret in docker-compose.yml; placeholders only in the example.
    not_secret = {"REDIS_URL": "redis://redis:6379/0"}
    for name, service in services.items():
        environment = service.get("environment") or {}
        if isinstance(environment, list):
            environment = dict(item.partition("=")[::2] for item in environment)
        for key, value in environment.items():
            if SECRET_NAMES.search(key) and not_secret.get(key) != value:
                error(f"docker-compose.yml: {name} sets {key} inline; secrets belong in deploy/compose.env")
    for key, value in example.items():
        if SECRET_NAMES.search(key) and key != "SMTP_URL" and value not in ("CHANGE_ME", ""):
            error(f"deploy/compose.env.example: {key} must be CHANGE_ME (or empty)")
    if example.get("SMTP_URL") != "smtp://mailpit:1025":
        error("deploy/compose.env.example: SMTP_URL should point at the dev catcher, smtp://mailpit:1025")
    ok("no secret in docker-compose.yml; the example env file holds CHANGE_ME placeholders")

    # Every service that reads secrets reads them from deploy/compose.env.
    for name in ("api-1", "api-2", "api-3", "migrate", "postgres", "postgres-replica", "pgbouncer", "prometheus", "grafana"):
        env_file = services[name].get("env_file")
        if env_file not in (ENV_FILE, [ENV_FILE]):
            error(f"docker-compose.yml: {name} must read env_file {ENV_FILE}")

    # The API settings set in compose or the env file are real server settings.
    known = server_settings()
    wrapper_only = {"POSTGRES_USER", "POSTGRES_DB", "POSTGRES_PASSWORD", "TENK_DB_ROUTE", "REPLICATION_PASSWORD"}
    api = services["api-1"]
    for key in list(api["environment"]) + list(example):
        if key.startswith("GF_") or key in wrapper_only:
            continue
        if key not in known:
            error(f"{key} (docker-compose.yml / compose.env.example) is not a setting documented in .env.example")
    ok("every API variable of the compose stack is a server setting of .env.example")

    replicas = sorted(n for n in services if re.fullmatch(r"api-\d+", n))
    if len(replicas) != 3:
        error(f"docker-compose.yml: expected 3 API replicas, found {replicas}")
    for name in replicas:
        if services[name].get("image") != "tenk:local" or services[name].get("hostname") != name:
            error(f"docker-compose.yml: {name} must run image tenk:local with hostname {name}")

    nginx = (DEPLOY / "nginx" / "nginx.conf").read_text(encoding="utf-8")
    upstream = re.findall(r"^\s*server\s+([\w.-]+):(\d+)\b", nginx, re.MULTILINE)
    if sorted(host for host, _ in upstream) != replicas or {port for _, port in upstream} != {"8080"}:
        error(f"nginx.conf: upstream servers {upstream} != the API services {replicas} on 8080")
    if "least_conn" not in nginx or "proxy_next_upstream " not in nginx:
        error("nginx.conf: least_conn and proxy_next_upstream are expected")
    ok(f"nginx upstream = {', '.join(replicas)} (:8080)")

    # nginx.conf is a template: the image's entrypoint fills in the resolver only.
    placeholders = set(re.findall(r"\$\{(\w+)\}", nginx))
    nginx_service = services["nginx"]
    nginx_env = nginx_service.get("environment") or {}
    if placeholders != {"NGINX_RESOLVER"} or not re.search(r"^\s*resolver \$\{NGINX_RESOLVER\} ", nginx, re.M):
        error(f"nginx.conf: the resolver must be ${{NGINX_RESOLVER}}, the only placeholder (found {sorted(placeholders)})")
    if ("./deploy/nginx/nginx.conf:/etc/nginx/templates/nginx.conf.template:ro" not in nginx_service.get("volumes", [])
            or nginx_env.get("NGINX_RESOLVER") != "${TENK_NGINX_RESOLVER:-127.0.0.11}"
            or nginx_env.get("NGINX_ENVSUBST_OUTPUT_DIR") != "/etc/nginx"
            or nginx_env.get("NGINX_ENVSUBST_FILTER") != "NGINX_RESOLVER"):
        error("docker-compose.yml: nginx must mount nginx.conf as /etc/nginx/templates/nginx.conf.template with "
              "NGINX_RESOLVER (default 127.0.0.11), NGINX_ENVSUBST_FILTER=NGINX_RESOLVER, NGINX_ENVSUBST_OUTPUT_DIR=/etc/nginx")
    ok("nginx.conf is a template with one placeholder, the resolver (Docker's 127.0.0.11 unless TENK_NGINX_RESOLVER)")

    prometheus = load(DEPLOY / "prometheus" / "prometheus.yml")
    jobs = {job["job_name"]: job for job in prometheus["scrape_configs"]}
    targets = sorted(t for sc in jobs.get("tenk", {}).get("static_configs", []) for t in sc["targets"])
    if targets != [f"{name}:8080" for name in replicas]:
        error(f"deploy/prometheus/prometheus.yml: job tenk scrapes {targets}, not the API services")
    reference = load(ROOT / "alerts" / "prometheus.yml")
    reference_job = next(job for job in reference["scrape_configs"] if job["job_name"] == "tenk")
    for key in ("metrics_path", "scheme"):
        if jobs["tenk"].get(key) != reference_job.get(key):
            error(f"deploy/prometheus/prometheus.yml: job tenk {key} differs from alerts/prometheus.yml")
    if jobs["tenk"]["authorization"].get("type") != "Bearer":
        error("deploy/prometheus/prometheus.yml: job tenk must send the bearer token")
    if prometheus["global"] != reference["global"]:
        error("deploy/prometheus/prometheus.yml: global intervals differ from alerts/prometheus.yml")
    mounts = " ".join(services["prometheus"].get("volumes", []))
    for rule_file in prometheus["rule_files"]:
        if f"./alerts/tenk.rules.yml:{rule_file}" not in mounts:
            error(f"docker-compose.yml: prometheus does not mount alerts/tenk.rules.yml at {rule_file}")
    command = " ".join(services["prometheus"].get("command", []))
    if jobs["tenk"]["authorization"]["credentials_file"] not in command:
        error("docker-compose.yml: prometheus must write OPS_TOKEN to the credentials_file it scrapes with")
    ok("Prometheus scrapes api-1..3:8080 as job tenk with the bearer token, alerts/tenk.rules.yml mounted")

    datasource = load(DEPLOY / "grafana" / "datasources" / "prometheus.yml")
    reference_ds = load(ROOT / "dashboards" / "provisioning" / "datasources" / "prometheus.yml")
    ours, theirs = datasource["datasources"][0], reference_ds["datasources"][0]
    if ours.get("url") != "http://prometheus:9090" or ours.get("uid") != "prometheus":
        error("deploy/grafana/datasources/prometheus.yml: uid prometheus, url http://prometheus:9090 expected")
    if {k: v for k, v in ours.items() if k != "url"} != {k: v for k, v in theirs.items() if k != "url"}:
        error("deploy/grafana/datasources/prometheus.yml differs from dashboards/provisioning/ beyond the url")
    ok("Grafana data source = dashboards/provisioning's, url http://prometheus:9090, uid prometheus")

    subnet = compose["networks"]["tenk"]["ipam"]["config"][0]["subnet"]
    if api["environment"].get("TRUSTED_PROXIES") != subnet:
        error(f"docker-compose.yml: TRUSTED_PROXIES {api['environment'].get('TRUSTED_PROXIES')!r} != the network subnet {subnet!r}")
    default_subnet = re.sub(r"\$\{[A-Z_]+:-([^}]*)\}", r"\1", subnet)
    ipaddress.ip_network(default_subnet)
    shutdown = duration_seconds(api["environment"].get("SHUTDOWN_TIMEOUT", "30"))
    if not duration_seconds(api.get("stop_grace_period", "10s")) > shutdown:
        error("docker-compose.yml: the API's stop_grace_period must exceed SHUTDOWN_TIMEOUT")
    ok(f"TRUSTED_PROXIES = the compose network {subnet}; stop_grace_period > SHUTDOWN_TIMEOUT")

    pgbouncer = (DEPLOY / "pgbouncer" / "pgbouncer.ini").read_text(encoding="utf-8")
    settings = dict(re.findall(r"^\s*([a-z_]+)\s*=\s*(.*?)\s*$", pgbouncer, re.MULTILINE))
    if settings.get("pool_mode") != "transaction":
        error("pgbouncer.ini: pool_mode must be transaction")
    if int(settings.get("max_prepared_statements", "0")) <= 0:
        error("pgbouncer.ini: max_prepared_statements must be > 0 (sqlx's named statements)")
    if "extra_float_digits" not in settings.get("ignore_startup_parameters", ""):
        error("pgbouncer.ini: ignore_startup_parameters must include extra_float_digits (sqlx sends it)")
    if int(api["environment"].get("DB_STATEMENT_CACHE", "100")) == 0:
        error("docker-compose.yml: DB_STATEMENT_CACHE=0 (unnamed statements) is unsafe behind transaction pooling")
    ok("PgBouncer: transaction pooling, prepared statements carried, sqlx's startup parameter accepted")

    migrate = services.get("migrate", {})
    if api["environment"].get("DB_MIGRATE_ON_START") != "false":
        error("docker-compose.yml: the API replicas must not migrate through PgBouncer (DB_MIGRATE_ON_START=false)")
    if migrate.get("command") != ["migrate"] or migrate.get("environment", {}).get("TENK_DB_ROUTE") != "direct":
        error("docker-compose.yml: the migrate service must run `migrate` straight to the primary")
    for name in replicas:
        condition = (services[name].get("depends_on") or {}).get("migrate", {}).get("condition")
        if condition != "service_completed_successfully":
            error(f"docker-compose.yml: {name} must wait for migrate to complete")
    ok("migrations: the one-shot migrate service, direct to the primary, before every replica")

    for name, service in services.items():
        for volume in service.get("volumes", []):
            source = volume.split(":", 1)[0]
            if source.startswith("./") and not (ROOT / source).exists():
                error(f"docker-compose.yml: {name} mounts {source}, which does not exist")
        build = service.get("build")
        if build:
            context = ROOT / (build["context"] if isinstance(build, dict) else build)
            if not (context / "Dockerfile").exists():
                error(f"docker-compose.yml: {name} builds {context} without a Dockerfile")
    ok("every bind mount and build context exists")

    # deploy/compose-live.sh's override: image names only (Grafana, not packaged in
    # Debian, moves to a profile), every image built there.
    override = load(DEPLOY / "podman" / "compose.podman.yml")["services"]
    for name, service in override.items():
        allowed = {"profiles"} if name == "grafana" else {"image"}
        if name not in services or set(service) != allowed:
            error(f"deploy/podman/compose.podman.yml: {name} may only set {sorted(allowed)} (sets {sorted(service)})")
        image = service.get("image", "")
        if image and not image.startswith("localhost/tenk-live/"):
            error(f"deploy/podman/compose.podman.yml: {name} image {image} is not one compose-live.sh builds")
        stand_in = re.fullmatch(r"localhost/tenk-live/([\w-]+):stand-in", image)
        if stand_in and not (DEPLOY / "podman" / "images" / stand_in.group(1) / "Dockerfile").is_file():
            error(f"deploy/podman/compose.podman.yml: {image} has no deploy/podman/images/{stand_in.group(1)}/Dockerfile")
    if set(override) != set(services):
        error(f"deploy/podman/compose.podman.yml: services {sorted(set(services) - set(override))} keep a registry image")
    ok("the podman override swaps every image for a local one and nothing else (Grafana: a profile)")


# --- docker-context ------------------------------------------------------------------


def dockerignore_patterns() -> list[tuple[bool, str]]:
    patterns = []
    for line in (ROOT / ".dockerignore").read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        negate = line.startswith("!")
        pattern = line[1:] if negate else line
        patterns.append((negate, pattern.strip("/")))
    return patterns


def path_matches(pattern: str, path: str) -> bool:
    """Docker's rule: the pattern matches the path or one of its parent folders;
    `*` stays within one path element, `**` spans any number."""
    regex = ""
    i = 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            regex += "(?:.*/)?"
            i += 3
        elif pattern.startswith("**", i):
            regex += ".*"
            i += 2
        elif pattern[i] == "*":
            regex += "[^/]*"
            i += 1
        elif pattern[i] == "?":
            regex += "[^/]"
            i += 1
        else:
            regex += re.escape(pattern[i])
            i += 1
    compiled = re.compile(regex + r"\Z")
    parts = path.split("/")
    return any(compiled.match("/".join(parts[:n])) for n in range(1, len(parts) + 1))


def in_context(path: str, patterns: list[tuple[bool, str]]) -> bool:
    included = True
    for negate, pattern in patterns:
        if path_matches(pattern, path):
            included = negate
    return included


def in_context_buildah(path: str, patterns: list[tuple[bool, str]]) -> bool:
    """buildah's reading (podman build): the same rule, except that a folder the
    patterns exclude is not looked into unless a negation, read literally, names a
    path under it, so `!*/Cargo.toml` after `*` brings nothing back."""
    parts = path.split("/")
    for n in range(1, len(parts)):
        folder = "/".join(parts[:n])
        if not in_context(folder, patterns) and not any(
            negate and f"{pattern}/".startswith(f"{folder}/") for negate, pattern in patterns
        ):
            return False
    return in_context(path, patterns)


def tree_files() -> list[str]:
    """The files of the working tree git knows of or would add (not ignored)."""
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT, check=True, capture_output=True, text=True,
    ).stdout.split()
    return [f for f in listed if (ROOT / f).is_file()]


def check_docker_context() -> None:
    patterns = dockerignore_patterns()
    files = tree_files()
    context = {f for f in files if in_context(f, patterns)}
    buildah = {f for f in files if in_context_buildah(f, patterns)}
    if context != buildah:
        error(f".dockerignore reads differently in buildah: BuildKit sends {len(context)} files, buildah "
              f"{len(buildah)} (only BuildKit: {sorted(context - buildah)[:5]}); name the paths, no `!*/...`")
    else:
        ok(f".dockerignore reads the same in BuildKit and buildah ({len(context)} files)")

    workspace = tomllib.loads((ROOT / "Cargo.toml").read_text(encoding="utf-8"))
    members = workspace["workspace"]["members"]
    needed = {"Cargo.toml", "Cargo.lock", "deploy/docker/skeleton.sh"}
    for member in members:
        for f in files:
            if f in (f"{member}/Cargo.toml", f"{member}/build.rs") or f.startswith((f"{member}/src/", f"{member}/migrations/")):
                needed.add(f)
    # Files a crate embeds from outside itself (include_str!/include_bytes!).
    for member in members:
        for source in (ROOT / member / "src").rglob("*.rs"):
            text = source.read_text(encoding="utf-8", errors="replace")
            for embedded in re.findall(r'include_(?:str|bytes)!\(\s*"([^"]+)"', text):
                target = (source.parent / embedded).resolve()
                if ROOT in target.parents and target.exists():
                    needed.add(str(target.relative_to(ROOT)))
    missing = sorted(needed - context)
    if missing:
        error(f".dockerignore keeps out files the build needs: {missing[:10]}")
    ok(f"the build context holds all {len(needed)} files the workspace build needs ({', '.join(members)})")

    forbidden = [f for f in context if re.search(r"(^|/)(\.env|compose\.env|\.git/|target/|node_modules/)", f)]
    if forbidden:
        error(f".dockerignore lets secrets or build output into the context: {forbidden[:10]}")
    for probe in (".env", "deploy/compose.env", "target/debug/x", "dashboards/schema-check/node_modules/x.json", ".git/config"):
        if in_context(probe, patterns):
            error(f".dockerignore would send {probe}")
    ok(f"the context ({len(context)} files) holds no .env, deploy/compose.env, .git, target/ or node_modules")


# --- dockerfile ----------------------------------------------------------------------


def check_dockerfile() -> None:
    text = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    text = re.sub(r"\\\n\s*", " ", text)
    lines = [line.strip() for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    # Base images are build arguments (RUST_IMAGE, RUNTIME_IMAGE): their defaults, the
    # official images users pull, are what the stages are checked against.
    args: dict[str, str] = {}
    for line in lines:
        if line.upper().startswith("FROM "):
            break
        match = re.fullmatch(r"ARG (\w+)=(\S+)", line)
        if match:
            args[match.group(1)] = re.sub(r"\$\{(\w+)\}", lambda m: args.get(m.group(1), m.group(0)), match.group(2))
    stages: dict[str, str] = {}  # stage name -> image or earlier stage it starts from
    order: list[str] = []
    for line in lines:
        match = re.fullmatch(r"FROM (\S+)(?: AS (\S+))?", line, re.IGNORECASE)
        if match:
            image = re.sub(r"\$\{(\w+)\}", lambda m: args.get(m.group(1), m.group(0)), match.group(1))
            name = match.group(2) or f"#{len(order)}"
            stages[name] = image
            order.append(name)

    def base(name: str) -> str:
        while name in stages:
            name = stages[name]
        return name

    def stage_lines(name: str) -> list[str]:
        start = next(i for i, l in enumerate(lines) if re.fullmatch(rf"FROM \S+ AS {re.escape(name)}", l, re.IGNORECASE))
        end = next((i for i in range(start + 1, len(lines)) if lines[i].upper().startswith("FROM ")), len(lines))
        return lines[start + 1:end]

    expect: list[tuple[str, Callable[[], bool]]] = [
        ("a rust:<1.95>-bookworm builder", lambda: "ARG RUST_VERSION=1.95" in lines
         and base("builder") == f"rust:{args['RUST_VERSION']}-bookworm" and base("planner") == base("builder")),
        ("a debian:bookworm-slim runtime as the last stage (the default target)",
         lambda: order[-1] == "runtime" and base("runtime") == "debian:bookworm-slim"),
        ("dependencies compiled before the sources are copied", lambda: any("COPY --from=planner /skeleton/" in l for l in lines)),
        ("both binaries in the runtime", lambda: any(l.startswith("COPY --from=builder") and "tenk-server" in l and "tenk-tui" in l
                                                      for l in stage_lines("runtime"))),
        ("a `prebuilt` target: the runtime's base with binaries from the build context, no compiler",
         lambda: stages.get("prebuilt") == stages["runtime"]
         and any(l.startswith("COPY ") and "--from" not in l and "tenk-" in l for l in stage_lines("prebuilt"))),
        ("a numeric non-root USER", lambda: bool(re.search(r"^USER [1-9]\d*(:\d+)?$", "\n".join(lines), re.MULTILINE))),
        ("HEALTHCHECK on /api/health", lambda: any(l.startswith("HEALTHCHECK") and "/api/health\\\"" in l or
                                                   l.startswith("HEALTHCHECK") and "/api/health\"" in l for l in lines)),
        ("EXPOSE 8080", lambda: "EXPOSE 8080" in lines),
        ("ENTRYPOINT tenk-server", lambda: 'ENTRYPOINT ["tenk-server"]' in lines),
    ]
    for what, test in expect:
        try:
            passed = test()
        except (IndexError, ValueError, KeyError, StopIteration):
            passed = False
        if not passed:
            error(f"Dockerfile: expected {what}")
    users = [l for l in lines if l.startswith("USER ")]
    if users and users[-1].split()[1].split(":")[0] in ("0", "root"):
        error("Dockerfile: the last USER must not be root")
    ok("Dockerfile: " + "; ".join(what for what, _ in expect))


CHECKS = {
    "crds": check_crds,
    "k8s-wiring": check_k8s_wiring,
    "compose-wiring": check_compose_wiring,
    "docker-context": check_docker_context,
    "dockerfile": check_dockerfile,
}


def main(argv: list[str]) -> int:
    if len(argv) != 2 or argv[1] not in CHECKS:
        print(__doc__, file=sys.stderr)
        return 2
    try:
        CHECKS[argv[1]]()
    except (KeyError, TypeError, ValueError, StopIteration, AttributeError) as exc:
        error(f"{argv[1]}: unexpected structure: {type(exc).__name__}: {exc}")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
