"""README.md's table of environment variables matches the code, in both directions.

"Read by the code" means: the config tables (`*/config.c`, name and env var of every SH_CFG_
item), getenv() of a literal or of a name table in C, `${NAME:-...}` in the shell scripts and
docker-compose.yml, the names in .env.example, os.environ / os.getenv in the Python tests and
tools, process.env in the UI and its browser tests. Every such name must have a row in the
README table, and every row must name a variable that is still read somewhere. For config-table
variables the row must also name each service whose table has it and show the table's default.
Reads files only: no binaries, no broker, under a second.
"""
from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
README = REPO / "README.md"
SECTION = "## Environment variables"

# Read by some code, but not ours to document: the OS's own variables.
NOT_OURS = {"HOME", "PATH"}

NAME = r"[A-Z][A-Z0-9_]*"
CFG_ITEM = re.compile(
    rf'\{{\s*"([a-z0-9-]*)",\s*"({NAME})",\s*SH_CFG_[A-Z]+,\s*'
    r'((?:"(?:[^"\\]|\\.)*"\s*)+|NULL)', re.S)
GETENV = re.compile(rf'\bgetenv\(\s*"({NAME})"\s*\)')
ENV_TABLE = re.compile(r"\benv\w*\[\w*\]\s*=\s*\{(.*?)\};", re.S)
C_STRING_NAME = re.compile(rf'"({NAME})"')
SHELL_READ = re.compile(rf"\$\{{({NAME}):?[-=?+]")
DOTENV = re.compile(rf"^#?\s*({NAME})=", re.M)
PY_READ = re.compile(rf'\bos\.(?:environ(?:\.get)?\s*[\[(]|getenv\()\s*"({NAME})"')
JS_READ = re.compile(rf"\bprocess\.env\.({NAME})\b")
ROW = re.compile(r"^\|\s*`([^`]+)`\s*\|(.*)\|\s*$")


def files(*globs: str) -> list[Path]:
    out = set()
    for g in globs:
        for p in REPO.glob(g):
            rel = p.relative_to(REPO).parts
            if (p.is_file() and rel[0] != "build" and "node_modules" not in rel
                    and not any(d.startswith(".") for d in rel[:-1])):
                out.add(p)
    return sorted(out)


def strip_shell_comments(text: str) -> str:
    return "\n".join(ln for ln in text.splitlines() if not ln.lstrip().startswith("#"))


def c_string(lit: str) -> str | None:
    """The value of a C string literal (adjacent literals joined), or None for NULL."""
    if lit.strip() == "NULL":
        return None
    return "".join(re.findall(r'"((?:[^"\\]|\\.)*)"', lit)).replace('\\"', '"')


def config_tables() -> dict[str, dict[str, str | None]]:
    """env var -> {service: default} over every service's config table."""
    out: dict[str, dict[str, str | None]] = {}
    for f in files("*/config.c"):
        text = f.read_text()
        items = list(CFG_ITEM.finditer(text))
        # An item this pattern cannot read (a macro as default, say) must not vanish silently.
        assert len(items) == len(re.findall(r"\bSH_CFG_(?:STR|INT|BOOL)\b", text)), \
            f"{f}: some config items do not parse; update CFG_ITEM in {Path(__file__).name}"
        for m in items:
            out.setdefault(m.group(2), {})[f.parent.name] = c_string(m.group(3))
    return out


def code_names() -> dict[str, set[str]]:
    """Every environment variable the code reads -> the files that read it."""
    found: dict[str, set[str]] = {}

    def add(names, path: Path):
        for n in names:
            if n not in NOT_OURS:
                found.setdefault(n, set()).add(str(path.relative_to(REPO)))

    for name, per_service in config_tables().items():
        for svc in per_service:
            found.setdefault(name, set()).add(f"{svc}/config.c")
    for f in files("*/*.c", "*/*.h", "integration-tests/tools/*.c"):
        text = f.read_text(errors="replace")
        add(GETENV.findall(text), f)
        for block in ENV_TABLE.findall(text):
            add(C_STRING_NAME.findall(block), f)
    for f in files("scripts/*.sh", "docker/*.sh", "bench/*.sh", "schema/*.sh", "fuzz/*.sh",
                   "docker-compose.yml"):
        add(SHELL_READ.findall(strip_shell_comments(f.read_text())), f)
    for f in files(".env.example"):
        add(DOTENV.findall(f.read_text()), f)
    for f in files("integration-tests/**/*.py", "bench/*.py", "mock-llm/tests/*.py"):
        add(PY_READ.findall(f.read_text()), f)
    for f in files("frontend/src/**/*.ts", "frontend/src/**/*.tsx", "integration-tests/e2e/*.mjs"):
        add(JS_READ.findall(f.read_text()), f)
    return found


def readme_rows() -> dict[str, list[str]]:
    """name -> [service(s), default, meaning] from the README's one environment table."""
    text = README.read_text()
    assert SECTION in text, f"README.md has no '{SECTION}' section"
    body = text.split(SECTION, 1)[1]
    body = re.split(r"^## ", body, maxsplit=1, flags=re.M)[0]
    rows: dict[str, list[str]] = {}
    tables = 0
    in_table = False
    for ln in body.splitlines():
        if ln.startswith("|"):
            if not in_table:
                tables += 1
                in_table = True
            m = ROW.match(ln)
            if m:
                cells = [c.strip() for c in m.group(2).split(" | ")]
                assert m.group(1) not in rows, f"README lists {m.group(1)} twice"
                rows[m.group(1)] = cells
        else:
            in_table = False
    assert tables == 1, f"the '{SECTION}' section should hold one table, it holds {tables}"
    return rows


def test_every_variable_the_code_reads_is_in_the_readme_and_back():
    code = code_names()
    rows = readme_rows()
    listed = {n for n in rows if re.fullmatch(NAME, n)}        # not the KAFKA_<PROPERTY> row
    missing = sorted(set(code) - listed)
    stale = sorted(listed - set(code))
    problems = []
    if missing:
        problems.append("read by the code but not in README.md's environment table: " +
                        ", ".join(f"{n} ({', '.join(sorted(code[n]))})" for n in missing))
    if stale:
        problems.append(f"in README.md's environment table but read by no code: {stale}")
    assert not problems, "\n".join(problems)
    assert len(listed) > 100, f"only {len(listed)} rows: the extraction is broken"


def test_readme_rows_name_the_services_and_defaults_of_the_config_tables():
    rows = readme_rows()
    bad = []
    for name, per_service in config_tables().items():
        services, default, meaning = (rows.get(name, []) + ["", "", ""])[:3]
        if not meaning:
            bad.append(f"{name}: no meaning")
        for svc, dflt in per_service.items():
            if svc not in services:
                bad.append(f"{name}: service {svc} not named ({services!r})")
            # Long defaults (system prompts) are summarised; short ones must appear verbatim.
            if dflt and len(dflt) <= 60 and f"`{dflt}`" not in default:
                bad.append(f"{name}: default of {svc} is `{dflt}`, README says {default!r}")
    assert not bad, "README.md's environment table disagrees with the config tables:\n  " + \
        "\n  ".join(bad)


def test_readme_starts_with_its_two_commands():
    """The first code block is `make up` and `make test` (comments aside), nothing else."""
    block = README.read_text().split("```sh\n", 1)[1].split("```", 1)[0]
    commands = [ln.split("#", 1)[0].strip() for ln in block.splitlines()]
    assert [c for c in commands if c] == ["make up", "make test"], block
