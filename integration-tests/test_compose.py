"""docker-compose.yml, docker/ and .env.example agree with the code.

No Docker engine needed: `docker-compose config` validates and resolves the file (with the
defaults of .env.example and nothing from the caller's environment), then every name the
deployment uses is looked up where the code defines it:

- each application service is built from a docker/Dockerfile target that exists, names a
  service of the Makefile, builds it with `make build/bin/<svc>` and runs that binary;
- every environment variable set for a C service (compose `environment:` and Dockerfile `ENV`)
  is in that service's config table or read with getenv() by it or libshared, is read by
  docker/entrypoint.sh, or is a KAFKA_* librdkafka pass-through;
- ports: only the gateway is published, on its GATEWAY_PORT default, which its image also
  EXPOSEs; URLs such as http://mock-llm:8090 use the port that service listens on by default;
- the topics kafka-init creates are the ones libshared names, with the partition count the
  broker and llm-worker use, and chat.context and chat.gateways compacted;
- every `${VAR}` of the compose file is documented in .env.example and vice versa, and a
  default written there is the one compose or the service really uses;
- depends_on targets with `service_healthy` have a health check; one-shot jobs do not restart.

Skipped only when neither `docker-compose` nor `docker compose` is installed
(scripts/deps.sh installs Debian's docker-compose).
"""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
COMPOSE = REPO / "docker-compose.yml"
ENV_EXAMPLE = REPO / ".env.example"
ENTRYPOINT = REPO / "docker" / "entrypoint.sh"
HEALTHCHECK = REPO / "docker" / "healthcheck.sh"
# The port variable of each service that listens, as named in its config table.
PORT_VARS = {"gateway": "GATEWAY_PORT", "mock-llm": "MOCK_LLM_PORT"}


# ---- what the code defines -----------------------------------------------------------------

def makefile_services() -> list[str]:
    m = re.search(r"^SERVICES\s*:?=\s*(.+)$", (REPO / "Makefile").read_text(), re.M)
    assert m, "Makefile: no SERVICES := line"
    return m.group(1).split()


_C_STRING = r'"(?:[^"\\]|\\.)*"'
_ITEM = re.compile(r'\{\s*"[^"]*",\s*"([A-Z][A-Z0-9_]*)",\s*SH_CFG_[A-Z]+,\s*'
                   rf'((?:{_C_STRING}\s*)+|NULL)')


def config_table(svc: str) -> dict[str, str]:
    """{ENV_VAR: default} from <svc>/config.c (adjacent string literals joined)."""
    path = REPO / svc / "config.c"
    assert path.is_file(), f"{svc}: no config.c"
    table = {}
    for env, dflt in _ITEM.findall(path.read_text()):
        parts = re.findall(_C_STRING, dflt)
        table[env] = "".join(p[1:-1].encode().decode("unicode_escape") for p in parts)
    assert table, f"{path}: no config table entries found (did the table format change?)"
    return table


def getenv_names(folder: Path) -> set[str]:
    names = set()
    for f in folder.glob("*.c"):
        names |= set(re.findall(r'getenv\("([A-Z][A-Z0-9_]*)"\)', f.read_text()))
    return names


def shell_vars(path: Path) -> set[str]:
    return set(re.findall(r"\$\{?([A-Z][A-Z0-9_]*)", path.read_text()))


def allowed_env(svc: str) -> set[str]:
    return (set(config_table(svc)) | getenv_names(REPO / svc) | getenv_names(REPO / "libshared")
            | shell_vars(ENTRYPOINT))


def env_ok(svc: str, name: str) -> bool:
    return name in allowed_env(svc) or name.startswith("KAFKA_")


def libshared_topics() -> list[str]:
    text = (REPO / "libshared" / "sh_kafka.h").read_text()
    topics = re.findall(r'#define\s+SH_TOPIC_(?!REPLIES)[A-Z]+\s+"([^"]+)"', text)
    assert topics, "libshared/sh_kafka.h: no SH_TOPIC_* names found"
    return topics


# ---- Dockerfiles -----------------------------------------------------------------------------

@dataclass
class Stage:
    base: str
    name: str
    env: dict[str, str] = field(default_factory=dict)
    expose: list[int] = field(default_factory=list)
    copies: list[tuple[str | None, list[str], str]] = field(default_factory=list)  # from, srcs, dst
    runs: list[str] = field(default_factory=list)
    healthcheck: bool = False


def parse_dockerfile(path: Path) -> dict[str, Stage]:
    """Stages by name (unnamed ones by index), instructions joined across line continuations."""
    text = re.sub(r"\\\n", " ", path.read_text())
    stages: dict[str, Stage] = {}
    cur: Stage | None = None
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        word, _, rest = line.partition(" ")
        word = word.upper()
        if word == "FROM":
            m = re.match(r"(?:--\S+\s+)*(\S+)(?:\s+AS\s+(\S+))?", rest, re.I)
            cur = Stage(base=m.group(1), name=m.group(2) or str(len(stages)))
            stages[cur.name] = cur
        elif cur is None:
            continue
        elif word == "ENV":
            cur.env.update(dict(re.findall(r"([A-Za-z_][A-Za-z0-9_]*)=(\S*)", rest)))
        elif word == "EXPOSE":
            cur.expose += [int(p.split("/")[0]) for p in rest.split()]
        elif word == "COPY":
            args = rest.split()
            frm = next((a.split("=", 1)[1] for a in args if a.startswith("--from=")), None)
            paths = [a for a in args if not a.startswith("--")]
            cur.copies.append((frm, paths[:-1], paths[-1]))
        elif word == "RUN":
            cur.runs.append(rest)
        elif word == "HEALTHCHECK":
            cur.healthcheck = not rest.upper().startswith("NONE")
    return stages


def stage_chain(stages: dict[str, Stage], name: str) -> list[Stage]:
    """The stage and the stages it is built FROM, nearest first."""
    chain = []
    while name in stages:
        chain.append(stages[name])
        name = stages[name].base
    return chain


# ---- the resolved compose file ---------------------------------------------------------------

def compose_command() -> list[str] | None:
    if shutil.which("docker-compose"):
        return [shutil.which("docker-compose")]
    if shutil.which("docker"):
        r = subprocess.run(["docker", "compose", "version"], capture_output=True, text=True)
        if r.returncode == 0:
            return ["docker", "compose"]
    return None


def run_compose(*args: str, files: tuple[Path, ...] = (COMPOSE,),
                env_extra: dict | None = None) -> str:
    cmd = compose_command()
    if cmd is None:
        pytest.skip("neither docker-compose nor `docker compose` is installed "
                    "(scripts/deps.sh installs Debian's docker-compose)")
    # Only PATH and HOME: a variable of the caller's shell must not change the defaults tested.
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": os.environ.get("HOME", "/"),
           "LANG": "C.UTF-8", **(env_extra or {})}
    fargs = [a for f in files for a in ("-f", str(f))]
    r = subprocess.run([*cmd, "--project-directory", str(REPO), "--env-file", str(ENV_EXAMPLE),
                        *fargs, *args], capture_output=True, text=True, env=env,
                       cwd=REPO, timeout=120)
    assert r.returncode == 0, f"`{' '.join(cmd)} {' '.join(args)}` failed:\n{r.stderr}{r.stdout}"
    return r.stdout


def resolved_config(files: tuple[Path, ...] = (COMPOSE,), env_extra: dict | None = None) -> dict:
    """Validate (`config -q`), then the configuration as compose resolves it."""
    run_compose("config", "-q", files=files, env_extra=env_extra)
    try:
        import yaml
    except ImportError:
        if compose_command()[0] == "docker":
            return json.loads(run_compose("config", "--format", "json", files=files,
                                          env_extra=env_extra))
        pytest.fail("PyYAML is needed to read `docker-compose config` (it comes with Debian's "
                    "docker-compose; or: pip install pyyaml)")
    return yaml.safe_load(run_compose("config", files=files, env_extra=env_extra))


@pytest.fixture(scope="module")
def compose() -> dict:
    return resolved_config()


def c_services(compose: dict) -> dict[str, str]:
    """{compose service: C service} for the services built from docker/Dockerfile."""
    out = {}
    for name, svc in compose["services"].items():
        build = svc.get("build")
        if isinstance(build, dict) and Path(build.get("dockerfile", "")).name == "Dockerfile":
            out[name] = build.get("target", "")
    return out


def env_of(svc: dict) -> dict[str, str]:
    env = svc.get("environment") or {}
    if isinstance(env, list):
        env = dict(e.split("=", 1) if "=" in e else (e, "") for e in env)
    return {k: "" if v is None else str(v) for k, v in env.items()}


def port_target(p) -> int:
    """The container port of a port entry: long form, or "[ip:][host:]port[/proto]"."""
    if isinstance(p, dict):
        return int(p["target"])
    return int(str(p).rsplit(":", 1)[-1].split("/")[0])


def port_default(svc: str) -> int:
    return int(config_table(svc)[PORT_VARS[svc]])


# ---- the tests -------------------------------------------------------------------------------

def test_builds_name_existing_files_and_targets(compose):
    for name, svc in compose["services"].items():
        build = svc.get("build")
        if build is None:
            assert "image" in svc, f"{name}: neither build nor image"
            continue
        if not isinstance(build, dict):
            build = {"context": build}
        context = Path(build["context"])
        context = context if context.is_absolute() else REPO / context
        assert context.resolve() == REPO, f"{name}: build context {context} is not the repo root"
        dockerfile = context / (build.get("dockerfile") or "Dockerfile")
        assert dockerfile.is_file(), f"{name}: Dockerfile {dockerfile} does not exist"
        stages = parse_dockerfile(dockerfile)
        target = build.get("target")
        if target:
            assert target in stages, f"{name}: target {target!r} is not a stage of {dockerfile}"
        for st in stages.values():
            for frm, srcs, _ in st.copies:
                if frm is not None:
                    assert frm in stages, f"{dockerfile}: COPY --from={frm}: no such stage"
                    continue
                for src in srcs:
                    assert (context / src).exists(), f"{dockerfile}: COPY {src}: not in the repo"


def test_every_c_service_is_deployed_from_its_own_target(compose):
    services = makefile_services()
    targets = c_services(compose)
    assert sorted(targets.values()) == sorted(services), \
        f"compose services built from docker/Dockerfile {targets} != Makefile SERVICES {services}"
    stages = parse_dockerfile(REPO / "docker" / "Dockerfile")
    for name, target in targets.items():
        assert name == target, f"compose service {name} runs target {target}: name them alike"
        assert (REPO / target / "main.c").is_file(), f"{target}: no {target}/main.c"
        chain = stage_chain(stages, target)
        env = {k: v for st in reversed(chain) for k, v in st.env.items()}
        assert env.get("CHAT_SERVICE") == target, \
            f"target {target}: ENV CHAT_SERVICE={env.get('CHAT_SERVICE')!r} (what the entrypoint runs)"
        # The binary comes from a stage that runs `make build/bin/<target>`.
        copies = [(frm, srcs, dst) for st in chain for frm, srcs, dst in st.copies
                  if frm and dst == f"/usr/local/bin/{target}"]
        assert copies, f"target {target}: no COPY --from=<build stage> ... /usr/local/bin/{target}"
        frm, srcs, _ = copies[0]
        assert srcs == [f"/src/build/bin/{target}"], f"target {target}: copies {srcs}"
        cmds = [c.strip() for r in stages[frm].runs for c in re.split(r"&&|;|\|\|", r)]
        assert any(re.match(rf"make\b.*\sbuild/bin/{re.escape(target)}(\s|$)", c) for c in cmds), \
            f"stage {frm}: no `make build/bin/{target}`"
        assert any(st.healthcheck for st in chain), f"target {target}: no HEALTHCHECK"


def test_environment_variables_exist_in_the_code(compose):
    stages = parse_dockerfile(REPO / "docker" / "Dockerfile")
    for name, target in c_services(compose).items():
        for var in env_of(compose["services"][name]):
            assert env_ok(target, var), \
                f"compose sets {var} for {name}, but no {target}/config.c entry, getenv() or " \
                f"docker/entrypoint.sh reads it"
        for st in stage_chain(stages, target):
            for var in st.env:
                assert var == "CHAT_SERVICE" or env_ok(target, var), \
                    f"docker/Dockerfile stage {st.name} sets ENV {var}, unknown to {target}"
    migrate = compose["services"].get("migrate")
    if migrate:
        script = REPO / "schema" / "migrate.sh"
        for var in env_of(migrate):
            # PG* variables are libpq's own (psql reads them).
            assert var in shell_vars(script) or var.startswith("PG"), \
                f"migrate gets {var}, which schema/migrate.sh ignores"


def test_ports(compose):
    for name, svc in compose["services"].items():
        if name != "gateway":
            assert not svc.get("ports"), f"{name} publishes ports; only the gateway may"
        assert "container_name" not in svc, f"{name}: container_name stops it from scaling"
    gw_port = port_default("gateway")
    ports = compose["services"]["gateway"].get("ports") or []
    assert ports, "the gateway publishes no port"
    for p in ports:
        target = port_target(p)
        assert target == gw_port, \
            f"gateway container port {target} != GATEWAY_PORT default {gw_port}"
    gw_env = env_of(compose["services"]["gateway"])
    assert gw_env.get("GATEWAY_PORT", str(gw_port)) == str(gw_port)
    assert "GATEWAY_ID" not in gw_env, "a fixed GATEWAY_ID would be shared by every replica"

    stages = parse_dockerfile(REPO / "docker" / "Dockerfile")
    health = HEALTHCHECK.read_text()
    for svc, var in PORT_VARS.items():
        port = port_default(svc)
        exposed = [p for st in stage_chain(stages, svc) for p in st.expose]
        assert exposed == [port], f"target {svc} EXPOSEs {exposed}, {var} defaults to {port}"
        assert f"${{{var}:-{port}}}" in health, f"docker/healthcheck.sh: want ${{{var}:-{port}}}"
    # URLs between containers use the port the named service listens on.
    urls = [(svc_name, v) for svc_name, s in compose["services"].items()
            for v in env_of(s).values()]
    urls += [("entrypoint.sh", u)
             for u in re.findall(r"https?://[^\s\"'}]+", ENTRYPOINT.read_text())]
    for owner, value in urls:
        for host, port in re.findall(r"https?://([a-z0-9-]+):(\d+)", value):
            if host in PORT_VARS:
                assert int(port) == port_default(host), \
                    f"{owner}: {value} but {host} listens on {port_default(host)}"


def test_topics_and_partitions(compose):
    init = compose["services"]["kafka-init"]
    script = " ".join(init.get("command") or []) if isinstance(init.get("command"), list) \
        else str(init.get("command"))
    for topic in libshared_topics():
        assert re.search(rf"\b{re.escape(topic)}\b", script), f"kafka-init does not create {topic}"
    for compacted in ("chat.context", "chat.gateways"):
        m = re.search(rf"{re.escape(compacted)}([^&;]*)", script)
        assert m and "cleanup.policy=compact" in m.group(1), f"{compacted} must be compacted"
    parts = re.findall(r"--partitions\s+(\d+)", script)
    broker = env_of(compose["services"]["kafka"]).get("KAFKA_NUM_PARTITIONS")
    worker = env_of(compose["services"]["llm-worker"]).get("TOPIC_PARTITIONS") or \
        config_table("llm-worker")["TOPIC_PARTITIONS"]
    assert parts and set(parts) == {broker} == {worker}, \
        f"partitions: kafka-init {parts}, broker {broker}, llm-worker {worker}"
    assert config_table("llm-worker")["TOPIC_PARTITIONS"] == worker, \
        f"compose gives llm-worker TOPIC_PARTITIONS={worker}, its own default is " \
        f"{config_table('llm-worker')['TOPIC_PARTITIONS']}"


def test_dependencies_wait_for_something_real(compose):
    services = compose["services"]
    stages = parse_dockerfile(REPO / "docker" / "Dockerfile")
    for name, svc in services.items():
        deps = svc.get("depends_on") or {}
        if isinstance(deps, list):
            continue
        for dep, spec in deps.items():
            assert dep in services, f"{name} depends on unknown {dep}"
            cond = (spec or {}).get("condition", "service_started")
            target = services[dep]
            if cond == "service_healthy":
                build = target.get("build")
                tgt = build.get("target") if isinstance(build, dict) else None
                has_image_check = bool(tgt) and any(st.healthcheck
                                                    for st in stage_chain(stages, tgt))
                assert target.get("healthcheck") or has_image_check, \
                    f"{name} waits for {dep} to be healthy, which has no health check"
            elif cond == "service_completed_successfully":
                assert str(target.get("restart", "no")) in ("no", "False"), \
                    f"{dep} is a one-shot job for {name} but restarts"


def test_env_example_documents_every_variable(compose):
    raw = "\n".join(ln for ln in COMPOSE.read_text().splitlines()
                    if not ln.lstrip().startswith("#"))
    refs: dict[str, str] = {}
    for var, sep, dflt in re.findall(r"(?<!\$)\$\{([A-Za-z_][A-Za-z0-9_]*)(:?[-?])?([^}]*)\}", raw):
        refs.setdefault(var, dflt if sep in (":-", "-") else "")
    documented: dict[str, str] = {}
    for line in ENV_EXAMPLE.read_text().splitlines():
        m = re.match(r"^(?:# )?([A-Z][A-Z0-9_]*)=(.*)$", line)
        if m:
            assert m.group(1) not in documented, f".env.example documents {m.group(1)} twice"
            documented[m.group(1)] = m.group(2)
    missing = sorted(set(refs) - set(documented))
    assert not missing, f"docker-compose.yml reads {missing}, undocumented in .env.example"
    unused = sorted(v for v in set(documented) - set(refs) if not v.startswith("COMPOSE_"))
    assert not unused, f".env.example documents {unused}, which docker-compose.yml never reads"
    # A value shown in .env.example is the default: compose's own, else the service's.
    targets = c_services(compose)
    for var, shown in documented.items():
        if not shown or var.startswith("COMPOSE_"):
            continue
        if refs.get(var):
            assert shown == refs[var], f".env.example: {var}={shown}, compose default {refs[var]}"
            continue
        tables = [config_table(t) for n, t in targets.items()
                  if var in env_of(compose["services"][n])]
        tables = [t for t in tables if var in t]
        for t in tables:
            assert shown == t[var], f".env.example: {var}={shown}, service default {t[var]}"


def test_load_balancer_override(compose):
    """docker/lb: nginx in front of several gateways, each on a free loopback port."""
    lb_file = REPO / "docker" / "lb" / "compose.lb.yml"
    conf = REPO / "docker" / "lb" / "nginx.conf"
    merged = resolved_config((COMPOSE, lb_file), {"GATEWAY_PUBLISH": "127.0.0.1::8000"})
    gw_port = port_default("gateway")
    for p in merged["services"]["gateway"]["ports"]:
        assert port_target(p) == gw_port
        published = str(p.get("published") or "") if isinstance(p, dict) else str(p).split(":")[-2]
        assert published in ("", "0"), f"gateway replicas would share host port {published}"
    text = conf.read_text()
    listen = [int(x) for x in re.findall(r"^\s*listen\s+(\d+)", text, re.M)]
    assert [port_target(p) for p in merged["services"]["lb"]["ports"]] == listen, \
        f"lb publishes {merged['services']['lb']['ports']}, nginx listens on {listen}"
    assert f"http://gateway:{gw_port}" in text, f"{conf}: proxy_pass must name gateway:{gw_port}"
    assert "Upgrade $http_upgrade" in text, f"{conf}: WebSocket upgrade headers missing"
    for vol in merged["services"]["lb"].get("volumes", []):
        src = vol["source"] if isinstance(vol, dict) else str(vol).split(":", 1)[0]
        assert Path(src).exists(), f"lb mounts {src}, which does not exist"
