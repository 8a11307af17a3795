"""SQL stays parameterised: a static scan of the C sources, no services.

Every statement reaches PostgreSQL through a libpq call (PQexec, PQexecParams, PQprepare,
PQsendQuery, PQsendQueryParams, PQsendPrepare) or through a project function that passes one of
its own parameters on as the SQL text of such a call (sh_pg_exec, sh_pg_cmd, a service's exec()
helper...). Those wrappers are found by following the parameters, not listed by hand, so a new
helper is covered too. At every call site the SQL argument must be a compile-time constant:
string literals, and names defined as constants (`#define`, `static const char X[] = "..."`,
function-like macros such as TS(col) over literals). A local buffer, a pointer, or anything
built with snprintf/strcat at run time fails the test. Where the parameter count is a literal,
the statement must use exactly $1..$n. The scanner is checked against planted violations first,
so it cannot pass by finding nothing.

Run alone: python3 -m pytest -q -p no:cacheprovider integration-tests/test_sql_params.py
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SKIP_DIRS = {"build", ".state", "node_modules", ".git", "frontend", "fuzz"}

# libpq entry points that take SQL text: name -> (index of the SQL argument, index of nParams).
LIBPQ_SINKS = {
    "PQexec": (1, None),
    "PQexecParams": (1, 2),
    "PQsendQuery": (1, None),
    "PQsendQueryParams": (1, 2),
    "PQprepare": (2, 3),
    "PQsendPrepare": (2, 3),
}
C_KEYWORDS = {"if", "for", "while", "switch", "return", "sizeof", "do", "else"}


@dataclass(frozen=True)
class Sink:
    sql: int                      # argument index of the SQL text
    nparams: tuple | None         # ("arg", i): argument i is the count; ("const", n); None


@dataclass
class Finding:
    where: str
    call: str
    problem: str

    def __str__(self) -> str:
        return f"{self.where}: {self.call}: {self.problem}"


# -- C text handling -------------------------------------------------------------------------
def strip_comments(src: str) -> str:
    """Blank out comments (keeping newlines and string/char literals) so offsets stay valid."""
    out, i, n = [], 0, len(src)
    while i < n:
        c = src[i]
        if src.startswith("/*", i):
            j = src.find("*/", i + 2)
            j = n if j < 0 else j + 2
            out.append(re.sub(r"[^\n]", " ", src[i:j]))
            i = j
        elif src.startswith("//", i):
            j = src.find("\n", i)
            j = n if j < 0 else j
            out.append(" " * (j - i))
            i = j
        elif c in "\"'":
            j = i + 1
            while j < n and src[j] != c:
                j += 2 if src[j] == "\\" else 1
            out.append(src[i:j + 1])
            i = j + 1
        else:
            out.append(c)
            i += 1
    return "".join(out)


def skip_literal(s: str, i: int) -> int:
    q = s[i]
    i += 1
    while i < len(s) and s[i] != q:
        i += 2 if s[i] == "\\" else 1
    return i + 1


def split_args(s: str, open_paren: int) -> tuple[list[str], int]:
    """Arguments of the call whose '(' is at 'open_paren'; returns (args, index after ')')."""
    depth, i, start, args = 0, open_paren, open_paren + 1, []
    while i < len(s):
        c = s[i]
        if c in "\"'":
            i = skip_literal(s, i)
            continue
        if c in "([{":
            depth += 1
        elif c in ")]}":
            depth -= 1
            if depth == 0:
                args.append(s[start:i].strip())
                return [a for a in args if a or len(args) > 1], i + 1
        elif c == "," and depth == 1:
            args.append(s[start:i].strip())
            start = i + 1
        i += 1
    return args, i


STRING_RE = re.compile(r'"(?:[^"\\\n]|\\.)*"')


def literal_text(expr: str) -> str:
    """The concatenated contents of the string literals in 'expr' (escapes left as written)."""
    return "".join(m.group(0)[1:-1] for m in STRING_RE.finditer(expr))


@dataclass
class CFile:
    path: Path
    text: str                                 # comments blanked
    consts: dict[str, str]                    # name -> defining expression (object-like)
    macros: dict[str, tuple[list[str], str]]  # function-like: name -> (params, body)
    # (body start, body end, name, parameter names, is static)
    functions: list[tuple[int, int, str, list[str], bool]]

    def rel(self) -> str:
        p = self.path
        return str(p.relative_to(REPO)) if p.is_relative_to(REPO) else str(p)

    def line(self, pos: int) -> int:
        return self.text.count("\n", 0, pos) + 1

    def function_at(self, pos: int):
        for f in self.functions:
            if f[0] <= pos < f[1]:
                return f
        return None


DEFINE_RE = re.compile(
    r"^[ \t]*#[ \t]*define[ \t]+(\w+)(\(([^)]*)\))?[ \t]*((?:[^\n]*\\\n)*[^\n]*)", re.M)
CONST_RE = re.compile(
    r"\bstatic\s+const\s+char\s+(?:\*\s*const\s+)?(\w+)\s*(?:\[\s*\])?\s*=\s*([^;]*);")


def find_functions(text: str) -> list[tuple[int, int, str, list[str], bool]]:
    """Top-level function bodies: (start of '{', end, name, parameter names, is static)."""
    out, depth, i, stmt_start = [], 0, 0, 0
    while i < len(text):
        c = text[i]
        if c in "\"'":
            i = skip_literal(text, i)
            continue
        if c == "#" and depth == 0 and (i == 0 or text[i - 1] == "\n"):
            while i < len(text) and not (text[i] == "\n" and text[i - 1] != "\\"):
                i += 1                  # preprocessor line (with continuations)
            stmt_start = i
            continue
        if c == "{":
            if depth == 0:
                head = text[stmt_start:i]
                m = re.search(r"(\w+)\s*\(([^()]*(?:\([^()]*\)[^()]*)*)\)\s*$", head)
                body_start = i
            depth += 1
        elif c == "}":
            depth -= 1
            if depth == 0:
                if m and m.group(1) not in C_KEYWORDS:
                    params = []
                    for p in m.group(2).split(","):
                        ids = re.findall(r"\w+", re.sub(r"\[.*?\]", "", p))
                        params.append(ids[-1] if ids and ids[-1] != "void" else "")
                    out.append((body_start, i + 1, m.group(1), params,
                                bool(re.search(r"\bstatic\b", head))))
                m = None
                stmt_start = i + 1
        elif c == ";" and depth == 0:
            stmt_start = i + 1
        i += 1
    return out


def load(path: Path) -> CFile:
    text = strip_comments(path.read_text(errors="replace"))
    consts, macros = {}, {}
    for m in DEFINE_RE.finditer(text):
        body = m.group(4).replace("\\\n", " ").strip()
        if m.group(2) is not None:
            macros[m.group(1)] = ([p.strip() for p in m.group(3).split(",") if p.strip()], body)
        else:
            consts[m.group(1)] = body
    for m in CONST_RE.finditer(text):
        consts[m.group(1)] = m.group(2).strip()
    return CFile(path, text, consts, macros, find_functions(text))


def is_constant(expr: str, f: CFile, seen: frozenset = frozenset()) -> bool:
    """True when 'expr' is made only of string literals and names/macros defined as such."""
    rest = STRING_RE.sub(" ", expr).strip()
    rest = re.sub(r"^\((.*)\)$", r"\1", rest).strip()
    i = 0
    while i < len(rest):
        if rest[i].isspace():
            i += 1
            continue
        m = re.match(r"\w+", rest[i:])
        if not m:
            return False                # operators, casts, subscripts: not a plain constant
        name, i = m.group(0), i + m.end()
        if name in seen:
            return False
        if name in f.macros:
            j = i
            while j < len(rest) and rest[j].isspace():
                j += 1
            if j >= len(rest) or rest[j] != "(":
                return False
            args, end = split_args(rest, j)
            params, body = f.macros[name]
            body = re.sub(r"\b(" + "|".join(map(re.escape, params)) + r")\b", " ", body) \
                if params else body
            if not all(is_constant(a, f, seen | {name}) for a in args):
                return False
            if not is_constant(body, f, seen | {name}):
                return False
            i = end
        elif name in f.consts:
            if not is_constant(f.consts[name], f, seen | {name}):
                return False
        else:
            return False
    return True


def resolve_sql(expr: str, f: CFile, seen: frozenset = frozenset()) -> str:
    """The SQL text of a constant expression (for the $n check)."""
    out = []
    for tok in re.finditer(r'"(?:[^"\\\n]|\\.)*"|\w+\s*\((?:[^()]|\([^()]*\))*\)|\w+', expr):
        t = tok.group(0)
        if t.startswith('"'):
            out.append(t[1:-1])
            continue
        name = re.match(r"\w+", t).group(0)
        if name in seen:
            continue
        if name in f.consts:
            out.append(resolve_sql(f.consts[name], f, seen | {name}))
        elif name in f.macros and "(" in t:
            params, body = f.macros[name]
            args, _ = split_args(t, t.index("("))
            for p, a in zip(params, args):
                body = re.sub(rf"\b{re.escape(p)}\b", lambda _m, a=a: a, body)
            out.append(resolve_sql(body, f, seen | {name}))
    return "".join(out)


# -- the scan --------------------------------------------------------------------------------
def c_files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*.c")
                  if not SKIP_DIRS.intersection(p.relative_to(root).parts))


def scan(files: list[Path]) -> tuple[list[Finding], int, dict]:
    """Returns (violations, number of SQL call sites checked, the sinks found)."""
    parsed = [load(p) for p in files]
    # Sinks: global by name, or file-local for static functions.
    sinks: dict[tuple[str, str | None], Sink] = {
        (k, None): Sink(sql, ("arg", n) if n is not None else None)
        for k, (sql, n) in LIBPQ_SINKS.items()}

    def sink_for(name: str, f: CFile) -> Sink | None:
        return sinks.get((name, f.rel())) or sinks.get((name, None))

    # Fixed point: a function that hands its own parameter to a sink's SQL slot is a sink.
    changed = True
    while changed:
        changed = False
        for f in parsed:
            for call in re.finditer(r"\b(\w+)\s*\(", f.text):
                s = sink_for(call.group(1), f)
                fn = f.function_at(call.start())
                if not s or not fn or fn[2] == call.group(1):
                    continue
                args, _ = split_args(f.text, call.end() - 1)
                if len(args) <= s.sql or args[s.sql] not in fn[3]:
                    continue
                count = None
                if s.nparams and s.nparams[0] == "arg" and len(args) > s.nparams[1]:
                    a = args[s.nparams[1]]
                    count = ("arg", fn[3].index(a)) if a in fn[3] else \
                        (("const", int(a)) if a.isdigit() else None)
                elif s.nparams and s.nparams[0] == "const":
                    count = s.nparams
                key = (fn[2], f.rel() if fn[4] else None)
                new = Sink(fn[3].index(args[s.sql]), count)
                if sinks.get(key) != new:
                    sinks[key] = new
                    changed = True

    findings, checked = [], 0
    for f in parsed:
        for call in re.finditer(r"\b(\w+)\s*\(", f.text):
            name = call.group(1)
            s = sink_for(name, f)
            if not s:
                continue
            fn = f.function_at(call.start())
            if fn is None:
                continue                 # outside a body: a declaration or the definition
            args, _ = split_args(f.text, call.end() - 1)
            where = f"{f.rel()}:{f.line(call.start())}"
            shown = f"{name}({', '.join(args)})"[:160]
            if len(args) <= s.sql:
                findings.append(Finding(where, shown, "cannot find the SQL argument"))
                continue
            sql = args[s.sql]
            if sql in fn[3] and sink_for(fn[2], f):
                continue                 # a wrapper passing its parameter on: callers checked
            checked += 1
            if not is_constant(sql, f):
                findings.append(Finding(where, shown, f"SQL argument `{sql}` is not a "
                                        "compile-time constant (built at run time?)"))
                continue
            text = resolve_sql(sql, f)
            used = {int(n) for n in re.findall(r"\$(\d+)", text)}
            count = None
            if s.nparams and s.nparams[0] == "const":
                count = s.nparams[1]
            elif s.nparams and len(args) > s.nparams[1] and args[s.nparams[1]].isdigit():
                count = int(args[s.nparams[1]])
            if count is not None and used != set(range(1, count + 1)):
                findings.append(Finding(where, shown, f"passes {count} parameter(s) but the "
                                        f"statement uses {sorted(used) or 'none'}"))
    return findings, checked, sinks


# -- tests -----------------------------------------------------------------------------------
PLANTED = {
    "ok.c": r'''
#define Q(col) "SELECT " col " FROM t"
static const char SQL_A[] = "SELECT x FROM t WHERE a = $1 AND b = $2";
static int run(struct sh_pg *pg, const char *sql, int n, const char *const *v)
{
    return PQexecParams(pg, sql, n, NULL, v, NULL, NULL, 0) ? 0 : -1;
}
int ok(struct sh_pg *pg, const char *const *v)
{
    run(pg, SQL_A, 2, v);
    run(pg, Q("id") " WHERE id = $1", 1, v);
    return PQexec(pg, "BEGIN") != NULL;
}
''',
    "bad_snprintf.c": r'''
int bad(PGconn *c, const char *user)
{
    char q[256];
    snprintf(q, sizeof(q), "SELECT * FROM t WHERE u = '%s'", user);
    return PQexec(c, q) != NULL;
}
''',
    "bad_wrapper.c": r'''
static int run(PGconn *c, const char *sql)
{
    return PQsendQuery(c, sql);
}
int bad2(PGconn *c, const char *name)
{
    char q[256] = "DELETE FROM t WHERE n = '";
    strcat(q, name);
    return run(c, q);
}
''',
    "bad_count.c": r'''
int bad3(PGconn *c, const char *const *v)
{
    return PQexecParams(c, "SELECT 1 WHERE a = $1 AND b = $2", 1, NULL, v, NULL, NULL, 0) != NULL;
}
''',
    # sh_pg_exec -> sh_pg_exec_bin -> PQsendQueryParams: a wrapper of a wrapper, binary
    # parameters; the count is still checked through both levels.
    "bad_bin_count.c": r'''
static int exec_bin(PGconn *c, const char *sql, int n, const char *const *v, const int *l,
                    const int *f)
{
    return PQsendQueryParams(c, sql, n, NULL, v, l, f, 0);
}
static int exec_text(PGconn *c, const char *sql, int n, const char *const *v)
{
    return exec_bin(c, sql, n, v, NULL, NULL);
}
int bad5(PGconn *c, const char *const *v, const int *l, const int *f)
{
    exec_text(c, "SELECT $1", 1, v);
    exec_bin(c, "SELECT $1::int8[]", 1, v, l, f);
    return exec_text(c, "SELECT $1::int8[], $2::uuid[]", 3, v);
}
''',
    "bad_pointer.c": r'''
int bad4(PGconn *c, int admin)
{
    const char *q = admin ? "DROP TABLE t" : "SELECT 1";
    return PQexec(c, q) != NULL;
}
''',
}


def test_scanner_catches_planted_violations(tmp_path):
    """The scanner itself: it must flag every planted violation and nothing in the good file."""
    for name, src in PLANTED.items():
        (tmp_path / name).write_text(src)
    findings, checked, _ = scan(sorted(tmp_path.glob("*.c")))
    flagged = {Path(f.where.split(":")[0]).name for f in findings}
    assert "ok.c" not in flagged, [str(f) for f in findings]
    assert flagged == set(PLANTED) - {"ok.c"}, [str(f) for f in findings]
    assert checked >= 10


def test_all_sql_is_constant_and_parameterised():
    files = c_files(REPO)
    findings, checked, sinks = scan(files)
    wrappers = sorted(k[0] for k in sinks if k[0] not in LIBPQ_SINKS)
    print(f"sql-params: {len(files)} C files, {checked} SQL call sites, "
          f"wrappers {wrappers}, {len(findings)} violation(s)")
    # sh_pg_exec is the project's one door to libpq; if the scan lost it, it checks nothing.
    assert {"sh_pg_exec", "sh_pg_exec_bin", "sh_pg_cmd"} <= set(wrappers), wrappers
    assert checked >= 10, f"only {checked} SQL call sites found: the scanner is broken"
    assert not findings, "SQL not parameterised:\n" + "\n".join(map(str, findings))
