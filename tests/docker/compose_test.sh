#!/usr/bin/env bash
# docker/docker-compose.yml and docker-compose.site2.yml validate with Debian's docker-compose
# (no engine needed) and declare what a site needs: every service, health checks on MariaDB and
# RabbitMQ, the migration gating the daemons, a replicated general group, a big-RAM group, the
# named volumes. Prints PASS or FAIL lines; exits non-zero on any FAIL.
set -euo pipefail
ROOT=${1:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
cd "$ROOT"
command -v docker-compose > /dev/null || { echo "FAIL: docker-compose is not installed (scripts/setup-deps.sh)"; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# The services' secrets files (written by scripts/site.sh in a real site): placeholders here.
mkdir -p "$work/secrets"
for f in mariadb rabbitmq migrate manager consumer publisher reader; do echo "TIANYU_DB_PASSWORD=x" > "$work/secrets/$f.env"; done
export TIANYU_SECRETS_DIR=$work/secrets
docker-compose -f docker/docker-compose.yml --env-file docker/.env.example config > "$work/site1.yml"
docker-compose -f docker/docker-compose.site2.yml --env-file docker/.env.site2.example config > "$work/site2.yml"
# Without its secrets file a service refuses to start, naming the file.
if env -i PATH="$PATH" TIANYU_SECRETS_DIR="$work/nosecrets" docker-compose -f docker/docker-compose.yml --env-file docker/.env.example config > "$work/nosecret.txt" 2>&1; then
  echo "FAIL: docker-compose.yml accepted a missing secrets file"; exit 1
fi
grep -q "nosecrets/.*\.env" "$work/nosecret.txt" && echo "PASS: a missing secrets file is refused, naming it" \
  || { echo "FAIL: the missing-secrets error does not name the file"; cat "$work/nosecret.txt"; exit 1; }
# An operator's TIANYU_PUBLISH_ADDRESS publishes the ports there instead.
sed 's/^TIANYU_PUBLISH_ADDRESS=.*/TIANYU_PUBLISH_ADDRESS=192.0.2.10/' docker/.env.example > "$work/wide.env"
docker-compose -f docker/docker-compose.yml --env-file "$work/wide.env" config > "$work/wide.yml"
grep -q "192.0.2.10:3306:3306" "$work/wide.yml" || grep -q "host_ip: 192.0.2.10" "$work/wide.yml" \
  && echo "PASS: TIANYU_PUBLISH_ADDRESS moves the published ports" \
  || { echo "FAIL: TIANYU_PUBLISH_ADDRESS is not used for the published ports"; exit 1; }
# The entry point refuses the placeholder secrets of .env.example, naming the variable (it
# stops before contacting anything, so no services are needed).
if out=$(env -i PATH="$PATH" TIANYU_DB_PASSWORD=s3cret TIANYU_BROKER_PASSWORD=change-me-broker \
           TIANYU_BIN_DIR=/nonexistent bash docker/entrypoint.sh manager 2>&1); then
  echo "FAIL: the entry point started with the placeholder TIANYU_BROKER_PASSWORD"; exit 1
fi
grep -q "TIANYU_BROKER_PASSWORD is still the placeholder" <<< "$out" \
  && echo "PASS: the entry point refuses a change-me placeholder, naming TIANYU_BROKER_PASSWORD" \
  || { echo "FAIL: the placeholder refusal does not name the variable: $out"; exit 1; }
/usr/bin/python3 - "$work/site1.yml" "$work/site2.yml" <<'PY'
import sys, yaml
site1, site2 = (yaml.safe_load(open(p)) for p in sys.argv[1:3])
failures = []
def check(ok, what):
    print(("PASS: " if ok else "FAIL: ") + what)
    if not ok: failures.append(what)
s = site1["services"]
for name in ["mariadb", "rabbitmq", "migrate", "manager", "consumer-general", "consumer-bigram"]:
    check(name in s, f"site 1 declares service {name}")
for name in ["mariadb", "rabbitmq", "manager", "consumer-general", "consumer-bigram"]:
    check("healthcheck" in s.get(name, {}), f"{name} has a health check")
for name in ["db-data", "broker-data"]:
    check(name in site1.get("volumes", {}), f"volume {name} is declared")
# The site root is a plain bind of the host directory (podman-compose 1.0.3 ignores a named
# volume's driver_opts, so a bind-typed named volume would silently be an empty volume).
def binds_site_root(service):
    for v in service.get("volumes", []):
        source = v.get("source") if isinstance(v, dict) else str(v).split(":")[0]
        if source and source.endswith("docker/site-root"): return True
    return False
for name in ["migrate", "manager", "consumer-general", "consumer-bigram", "web"]:
    check(binds_site_root(s[name]), f"{name} binds the host's site root (TIANYU_SITE_ROOT_HOST)")
for name in ["mariadb", "rabbitmq", "migrate", "manager", "consumer-general", "consumer-bigram", "web"]:
    check("build" in s[name], f"{name}'s image is built from this repository (no registry)")
for name in ["mariadb", "rabbitmq"]:
    check(s[name]["image"].startswith("tianyu-"), f"{name} runs the image built here ({s[name]['image']})")
# (docker-compose config merges env_file into environment: the file as written is checked.)
raw = yaml.safe_load(open("docker/docker-compose.yml"))["services"]
for name, service in raw.items():
    env = service.get("environment", {})
    check(not any("PASSWORD" in k or "PASS" == k[-4:] for k in env),
          f"{name} has no secret in its environment (secrets come from its env_file)")
w = s["web"]
check(w["command"][0] == "web" and "0.0.0.0:8080" in w["command"], "web serves tianyu-web on the container's port 8080")
check(w["environment"]["TIANYU_DB_USER"] == "tianyu_reader", "web connects as the read-only reader account")
check(not any(k.startswith("TIANYU_BROKER") for k in w["environment"]), "web is given no broker credentials")
web_hosts = [p.get("host_ip") if isinstance(p, dict) else str(p).split(":")[0] for p in w["ports"]]
check(web_hosts == ["127.0.0.1"], f"web is published on 127.0.0.1 only by default ({web_hosts})")
check(any(v.startswith("db-data:") for v in map(str, s["mariadb"]["volumes"])) or
      any(isinstance(v, dict) and v.get("source") == "db-data" for v in s["mariadb"]["volumes"]),
      "MariaDB keeps its data in the named volume")
for name in ["manager", "consumer-general", "consumer-bigram"]:
    deps = s[name].get("depends_on", {})
    check(deps.get("migrate", {}).get("condition") == "service_completed_successfully",
          f"{name} starts after the migration completed")
    check(deps.get("rabbitmq", {}).get("condition") == "service_healthy", f"{name} waits for a healthy RabbitMQ")
check(s["migrate"]["depends_on"]["mariadb"]["condition"] == "service_healthy", "the migration waits for a healthy MariaDB")
check(s["migrate"].get("restart") == "no" and s["migrate"]["command"] == ["migrate"], "the migration is a one-shot")
check(s["consumer-general"]["environment"]["TIANYU_GROUP"] == "general" and
      int(s["consumer-general"]["deploy"]["replicas"]) >= 2, "the general group runs replicated consumers")
check(s["consumer-bigram"]["environment"]["TIANYU_GROUP"] == "bigram", "a big-RAM group serves stacking")
for name in ["manager", "consumer-general", "consumer-bigram", "migrate"]:
    env = s[name]["environment"]
    check(env["TIANYU_DB_HOST"] == "mariadb" and env["TIANYU_BROKER_HOST"] == "rabbitmq",
          f"{name} reaches the site's database and broker by service name")
    check(any("site-root" in str(v) for v in s[name]["volumes"]), f"{name} mounts the site root")
def seconds(text):
    text = str(text); units = {"h": 3600, "m": 60, "s": 1}
    return int(text[:-1]) * units[text[-1]] if text[-1] in units else int(text)
for name in ["mariadb", "rabbitmq"]:
    ports = s[name]["ports"]
    # docker-compose v1 prints "127.0.0.1:3306:3306/tcp", v2 a mapping with host_ip.
    hosts = [p.get("host_ip") if isinstance(p, dict) else str(p).split(":")[0] for p in ports]
    check(bool(ports) and all(h == "127.0.0.1" for h in hosts),
          f"{name} is published on 127.0.0.1 only by default ({hosts})")
for name in ["manager", "consumer-general", "consumer-bigram"]:
    grace = s[name].get("stop_grace_period", "10s")
    check(seconds(grace) >= 1800, f"{name} has {grace} to finish its step after SIGTERM (>= 30m)")
check(s["manager"]["environment"]["TIANYU_DB_USER"] == "tianyu_manager", "the manager uses its own database account")
for name in ["consumer-general", "consumer-bigram"]:
    check(s[name]["environment"]["TIANYU_DB_USER"] == "tianyu_consumer", f"{name} uses the consumer database account")
check(s["migrate"]["environment"]["TIANYU_DB_USER"] == "tianyu" and
      s["migrate"]["environment"].get("TIANYU_DB_CREATE_ROLES") == "1",
      "the migration runs as the owner and creates the role accounts")
check(any("initdb" in str(v) for v in s["mariadb"]["volumes"]), "MariaDB's first start lets the owner create the role accounts")
t = site2["services"]
check("mariadb" not in t and "rabbitmq" not in t, "site 2 runs no database or broker of its own")
check(t["consumer-general"]["environment"]["TIANYU_DB_HOST"] == "site1.example.org" and
      t["consumer-general"]["environment"]["TIANYU_BROKER_HOST"] == "site1.example.org",
      "site 2's consumers point at site 1's database and broker")
check(t["consumer-general"]["environment"]["TIANYU_SITE"] == "lenghu", "site 2 serves its own site name")
check(t["register"]["command"] == ["register"], "site 2 registers itself without migrating")
sys.exit(1 if failures else 0)
PY
