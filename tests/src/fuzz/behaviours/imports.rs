//! Imports: standard-library modules with a deterministic use of each, a failed import, dynamic
//! imports, a reload, asyncio and numpy. What a program does to the import system itself (sys.path,
//! sys.modules, meta path finders) is in [`super::import_state`].

use super::Ctx;
use crate::fuzz::grammar::{Block, Gen, B};

/// Standard-library modules with a deterministic use of each.
const STDLIB: &[(&str, &str)] = &[
    (
        "json",
        r#"print(json.dumps({"b": [1, 2.5, None], "a": "\u00e9"}, sort_keys=True), json.loads("[1, {\"x\": 2}]"))"#,
    ),
    ("decimal", "print(decimal.Decimal(1) / decimal.Decimal(7))"),
    ("fractions", "print(fractions.Fraction(3, 9) + fractions.Fraction(1, 3))"),
    ("textwrap", r#"print(textwrap.fill("the quick brown fox jumps over the lazy dog", 12))"#),
    ("statistics", "print(statistics.mean([1, 2, 3, 4]), statistics.median([3, 1, 2]))"),
    ("hashlib", r#"print(hashlib.sha256(b"fuzz").hexdigest())"#),
    ("zlib", r#"print(zlib.crc32(b"fuzz"), len(zlib.compress(b"a" * 1000)))"#),
    ("base64", r#"print(base64.b64encode(b"\xff\x00fuzz"))"#),
    ("struct", r#"print(struct.pack("<iH", 7, 3))"#),
    ("uuid", r#"print(uuid.uuid5(uuid.NAMESPACE_DNS, "runner.fuzz"))"#),
    ("difflib", r#"print(list(difflib.unified_diff(["a\n", "b\n"], ["a\n", "c\n"])))"#),
    ("pprint", r#"pprint.pprint({"k": list(range(30))}, width=40)"#),
    ("re", r#"print(re.sub(r"(\w+) (\w+)", r"\2 \1", "hello world"), re.findall(r"\d+", "a1b22c333"))"#),
    ("datetime", "print(datetime.date(2024, 2, 29).isoformat(), datetime.timedelta(days=1, seconds=5))"),
    ("calendar", "print(calendar.isleap(2000), calendar.monthrange(2024, 2))"),
    ("ipaddress", r#"print(ipaddress.ip_network("10.0.0.0/30").num_addresses)"#),
    ("urllib.parse", r#"print(urllib.parse.quote("a b/é"), urllib.parse.urlparse("http://x/y?z=1").query)"#),
    ("html", r#"print(html.escape("<a href='x'>&</a>"))"#),
    ("heapq", "print(heapq.nsmallest(3, [5, 1, 4, 2, 3]))"),
    ("itertools", "print(list(itertools.permutations([1, 2, 3], 2)))"),
    ("functools", "print(functools.reduce(lambda a, b: a * b, range(1, 10)))"),
    ("copy", r#"print(copy.deepcopy([[1], {"a": (2,)}]))"#),
    (
        "collections",
        r#"print(collections.Counter("mississippi").most_common(2), collections.OrderedDict(a=1))"#,
    ),
    ("contextlib", r#"print("suppressed", contextlib.suppress(ZeroDivisionError).__class__.__name__)"#),
    ("sqlite3", r#"print(sqlite3.connect(":memory:").execute("select 1 + 1").fetchone())"#),
    ("unicodedata", r#"print(unicodedata.name("é"), unicodedata.normalize("NFD", "é").encode())"#),
    ("ast", r#"print(ast.dump(ast.parse("x + 1", mode="eval")))"#),
    ("pickle", r#"print(pickle.loads(pickle.dumps({"k": [1, 2]})))"#),
    ("math", "print(math.factorial(20), math.isqrt(10 ** 20), math.pi)"),
    ("random", "print(random.Random(1234).random(), random.Random(5).randint(1, 100))"),
    ("shlex", r#"print(shlex.split("a 'b c' d"))"#),
    ("platform", "print(platform.python_implementation())"),
    ("sysconfig", "print(sysconfig.get_python_version())"),
    ("locale", "print(locale.getpreferredencoding(False))"),
    ("codecs", r#"print(codecs.encode("fuzz", "rot13"))"#),
    ("io", r#"print(io.StringIO("line 1\nline 2").readlines())"#),
    ("logging", r#"logging.basicConfig(); logging.getLogger("fuzz").warning("logged %d", 3)"#),
    ("argparse", r#"print(argparse.ArgumentParser(prog="fuzz").parse_known_args([]))"#),
    ("inspect", "print(inspect.signature(lambda a, b=2, *c, d, **e: None))"),
    ("dis", r#"dis.dis("x + 1")"#),
    ("email.utils", r#"print(email.utils.parseaddr("Fuzz <f@example.com>"))"#),
    ("string", "print(string.ascii_letters[:10], string.capwords(\"hello big world\"))"),
    ("enum", "print(list(enum.Enum(\"Color\", \"RED GREEN\")))"),
    ("typing", "print(typing.Optional[int], typing.get_args(typing.Union[int, str]))"),
    ("operator", "print(operator.itemgetter(1)([4, 5]), operator.add(2, 3))"),
    ("array", r#"print(array.array("i", [1, 2, 3]).tobytes())"#),
    ("bisect", "print(bisect.bisect([1, 3, 5], 4))"),
    ("sys", "print(sys.version_info[:2] >= (3, 8), sys.maxsize > 2 ** 32, sys.byteorder)"),
    ("site", "print(site.ENABLE_USER_SITE, bool(site.PREFIXES))"),
    ("gettext", r#"print(gettext.gettext("untranslated"))"#),
    ("mimetypes", r#"print(mimetypes.guess_type("x.json"))"#),
    ("tracemalloc", "print(tracemalloc.is_tracing())"),
];

pub(super) fn import_stdlib(g: &mut Gen, n: usize, _: &mut Ctx) -> Block {
    let mut b = B::new("import.stdlib", n);
    for _ in 0..g.range(1, 2) {
        let (module, code) = g.pick(STDLIB);
        b.import(module);
        b.body(code);
    }
    b.done()
}

pub(super) fn import_special(g: &mut Gen, n: usize, _: &mut Ctx) -> Block {
    let mut b = B::new("import.special", n);
    match g.range(0, 4) {
        0 => b.body(
            "
            try:
                import fuzz_missing_module_$n
            except ImportError as e_$n:
                print(\"import failed:\", e_$n)
            ",
        ),
        1 => b.import("importlib").body("print(importlib.import_module(\"json.decoder\").__name__)"),
        2 => b
            .import("importlib")
            .import("textwrap")
            .body("print(\"reloaded\", importlib.reload(textwrap).__name__, textwrap.dedent(\"  x\"))"),
        3 => {
            b.import("asyncio");
            b.def(
                "
                async def coro_$n(k):
                    await asyncio.sleep(0)
                    return k * 2
                ",
            );
            b.body("print(\"asyncio\", asyncio.run(coro_$n(21)))")
        }
        // numpy is not preloaded in most batches: importing it retires a warm executor.
        _ => b.import("numpy").body("print(\"numpy\", numpy.arange(6).reshape(2, 3).sum(axis=0).tolist())"),
    };
    b.done()
}
