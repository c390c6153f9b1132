//! The import system's state, each mutation beside the check of the same state: sys.path,
//! sys.modules (fake, deleted and replaced modules) and meta path finders. The standard library
//! stays importable (`AVOIDED_DIFFERENCES`, "Modules already imported").

use super::Ctx;
use crate::fuzz::grammar::{Block, Gen, B};

pub(super) fn mutate_sys_path(g: &mut Gen, n: usize, _: &mut Ctx) -> Block {
    let mut b = B::new("mutate.sys_path", n);
    b.import("sys");
    match g.range(0, 4) {
        0 => b.body("sys.path.insert(0, \"/tmp/fuzz-path-$n\")"),
        1 => b.body("sys.path.append(\"/nonexistent/fuzz\")"),
        2 => b.body("del sys.path[0]"),
        // The standard library stays importable: an import that fails in python may succeed in an
        // executor that already has the module (docs/differences.md, "Modules already imported").
        3 => b.body("sys.path[1:1] = [\"/nonexistent/a\", \"/nonexistent/b\"]"),
        _ => b.body("sys.path = sys.path + [\"/tmp/fuzz-rebound\"]"),
    };
    b.body("print(\"sys.path now\", len(sys.path), sys.path[:1])");
    b.done()
}

pub(super) fn check_sys_path(_: &mut Gen, n: usize) -> Block {
    B::new("check.sys_path", n)
        .import("os")
        .import("sys")
        .body("print(\"sys.path\", sys.path[0] == os.path.dirname(os.path.realpath(__file__)), sys.path[1:])")
        .done()
}

pub(super) fn mutate_sys_modules(g: &mut Gen, n: usize, _: &mut Ctx) -> Block {
    let mut b = B::new("mutate.sys_modules", n);
    b.import("sys").import("types");
    let k = g.range(1, 2);
    match g.range(0, 3) {
        0 => b.body(&format!(
            "sys.modules[\"fuzz_fake_{k}\"] = types.ModuleType(\"fuzz_fake_{k}\")\nimport fuzz_fake_{k}\nprint(\"fake module\", fuzz_fake_{k}.__name__)"
        )),
        1 => b.import("json").body("del sys.modules[\"json\"]\nimport json as json_again_$n\nprint(\"json re-imported\", json_again_$n is json)"),
        2 => b.body("sys.modules[\"textwrap\"] = types.ModuleType(\"fake textwrap\")\nimport textwrap as tw_$n\nprint(\"textwrap replaced\", hasattr(tw_$n, \"fill\"))"),
        // Imported first: whether runner's executor had it already is a documented difference.
        _ => b.import("keyword").body("del sys.modules[\"keyword\"]\nimport keyword as kw_$n\nprint(\"keyword\", kw_$n is keyword, kw_$n.iskeyword(\"if\"))"),
    };
    b.done()
}

pub(super) fn check_modules(_: &mut Gen, n: usize) -> Block {
    B::new("check.modules", n)
        .import("sys")
        .import("textwrap")
        .import("json")
        .body(
            "
            print(\"fuzz modules\", sorted(m for m in sys.modules if m.startswith(\"fuzz\")))
            for name_$n in (\"fuzz_fake_1\", \"fuzz_fake_2\"):
                try:
                    __import__(name_$n)
                    print(name_$n, \"importable\")
                except ImportError as e_$n:
                    print(e_$n)
            print(\"stdlib\", hasattr(textwrap, \"fill\"), json.dumps([1, 2]), hasattr(json, \"fuzz_attr\"))
            ",
        )
        .done()
}

pub(super) fn mutate_meta_path(_: &mut Gen, n: usize, _: &mut Ctx) -> Block {
    let mut b = B::new("mutate.meta_path", n);
    b.import("sys");
    b.def(
        "
        class Finder_$n:
            def find_spec(self, name, path, target=None):
                if name.startswith(\"fuzz\"):
                    print(\"finder $n asked for\", name)
                return None
        ",
    );
    b.body(
        "
        sys.meta_path.insert(0, Finder_$n())
        try:
            import fuzz_found_nowhere
        except ImportError:
            print(\"not found\")
        ",
    );
    b.done()
}

pub(super) fn check_meta_path(_: &mut Gen, n: usize) -> Block {
    B::new("check.meta_path", n)
        .import("sys")
        .body(
            "
            print(\"meta path\", [type(f).__name__ for f in sys.meta_path])
            try:
                import fuzz_found_nowhere
            except ImportError as e_$n:
                print(e_$n)
            ",
        )
        .done()
}
