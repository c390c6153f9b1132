//! The `torch` template: torchfuzz-shaped programs, ported from `bench/make_corpus.py` (and
//! `shared/context/torchfuzz.md`). A seeded chain of torch ops in `fuzzed_program(arg_0, arg_1,
//! sentinel)` runs eagerly, then through `torch.compile(fullgraph=True, dynamic=True)`, on the CPU, and
//! the two results are compared as torchfuzz's templates compare them. Each program is one block:
//! its lines depend on each other, so the shrinker has nothing to drop.

use std::fmt::Write as _;

use super::grammar::{Block, Gen, B};

const UNARY: &[&str] =
    &["torch.relu", "torch.tanh", "torch.sigmoid", "torch.abs", "torch.neg", "torch.sin", "torch.cos"];
const BINARY: &[&str] = &["torch.add", "torch.mul", "torch.sub", "torch.maximum", "torch.minimum"];
const REDUCE: &[&str] = &["sum", "mean", "amax"];

/// One torchfuzz-shaped program (eager, then compiled; a fifth are eager only).
pub(super) fn block(g: &mut Gen) -> Block {
    let compile = g.chance(0.8);
    let rows = g.pick(&[4, 8, 16, 32]);
    let cols = g.pick(&[4, 8, 16]);
    let mut src = String::new();
    let _ = writeln!(src, "torch.manual_seed({})", g.range(0, (1 << 30) - 1));
    if compile {
        src.push_str("torch._dynamo.config.capture_scalar_outputs = True\n");
    }
    src.push_str("\n\ndef fuzzed_program(arg_0, arg_1, sentinel):\n    var_0 = arg_0\n");
    let ops = g.range(3, 8);
    for k in 0..ops {
        let op = g.range(0, 9);
        if op < 4 {
            let _ = writeln!(src, "    var_{} = {}(var_{k})", k + 1, g.pick(UNARY));
        } else if op < 8 {
            let _ = writeln!(src, "    var_{} = {}(var_{k}, arg_1)", k + 1, g.pick(BINARY));
        } else {
            let _ =
                writeln!(src, "    var_{} = torch.matmul(var_{k}, arg_1.T) @ arg_1 / {}", k + 1, rows * cols);
        }
    }
    let _ = writeln!(src, "    return var_{ops}.{}(dim=-1) * sentinel", g.pick(REDUCE));
    let _ = write!(
        src,
        "\n\narg_0 = torch.randn({rows}, {cols})\narg_1 = torch.randn({rows}, {cols})\n\
         sentinel = torch.tensor(1.0, requires_grad=True)\neager = fuzzed_program(arg_0, arg_1, sentinel)\n\
         print('✅ eager success')\n"
    );
    if compile {
        src.push_str(
            "compiled = torch.compile(fuzzed_program, fullgraph=True, dynamic=True)(arg_0, arg_1, sentinel)\n\
             print('✅ compile success')\n\
             diff = (eager - compiled).abs().max().item()\n\
             assert diff <= 1.0 and diff <= 0.05 * eager.abs().max().item() + 1e-4, diff\n",
        );
    }
    // The statements hold a function definition: keep the whole program in the body, in order (the
    // header only gets the import).
    let kind = if compile { "torch.eager_then_compile" } else { "torch.eager" };
    let mut b = B::new(kind, 0);
    b.import("torch");
    b.body(&src);
    b.done()
}
