//! The program generator's vocabulary: a [`Program`] is a list of [`Block`]s, each one behaviour
//! (a print, an exit form, a thread, a mutation of process state, ...), and [`generate`] composes a
//! random one from a seed and an index, deterministically. The behaviours themselves are in
//! [`super::behaviours`] (the `semantics` template) and [`super::torch`] (the `torch` template); this
//! module owns the shapes, the randomness and the rendering to Python source. It runs nothing.
//!
//! A block is self-contained so that the shrinker can drop any of them and still have a valid
//! program: its names carry the block's number (`worker_3`), its imports are hoisted into the header
//! and its definitions (functions, classes: no side effects) go before the statements, which matters
//! for `multiprocessing`'s spawn start method, where the child re-imports the file as `__mp_main__`
//! and must not re-run the statements (they sit under `if __name__ == "__main__":`).

use std::collections::BTreeSet;
use std::fmt::Write as _;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Which kind of programs a campaign writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Template {
    /// Programs that exercise python's run semantics and process state (the fidelity fuzzer).
    Semantics,
    /// torchfuzz-shaped programs: a random chain of torch ops, eager then `torch.compile`.
    Torch,
}

impl Template {
    /// The name used on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Template::Semantics => "semantics",
            Template::Torch => "torch",
        }
    }

    /// Parses a command-line name.
    pub fn from_name(name: &str) -> Option<Template> {
        match name {
            "semantics" => Some(Template::Semantics),
            "torch" => Some(Template::Torch),
            _ => None,
        }
    }
}

/// One behaviour of a program.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Block {
    /// What it exercises, `category.behaviour` (`exit.signal`, `mutate.cwd`): coverage counts and
    /// finding signatures are made of these.
    pub kind: &'static str,
    /// Modules it uses (`import X` lines, hoisted into the program's header).
    pub imports: BTreeSet<&'static str>,
    /// Module-level definitions (functions, classes): no side effects, so a spawned child may re-run
    /// them.
    pub defs: String,
    /// Statements.
    pub body: String,
    /// Ends the program (an exit form): only ever the last block.
    pub terminal: bool,
    /// Must run under `if __name__ == "__main__":` (it spawns a child that re-imports the file).
    pub needs_guard: bool,
}

/// A generated program: the seed and index that made it, and its blocks.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Program {
    /// The campaign seed.
    pub seed: u64,
    /// The program's index in the campaign: with the seed, all it takes to generate it again.
    pub index: u64,
    /// The statements run under `if __name__ == "__main__":`.
    pub guarded: bool,
    /// The behaviours, in order; a terminal block only last.
    pub blocks: Vec<Block>,
}

impl Program {
    /// The Python source.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "# runner fuzz: seed {}, program {}", self.seed, self.index);
        let kinds: Vec<&str> = self.blocks.iter().map(|b| b.kind).collect();
        let _ = writeln!(out, "# behaviours: {}", kinds.join(", "));
        let imports: BTreeSet<&str> = self.blocks.iter().flat_map(|b| b.imports.iter().copied()).collect();
        for module in &imports {
            let _ = writeln!(out, "import {module}");
        }
        for block in &self.blocks {
            if !block.defs.is_empty() {
                out.push_str("\n\n");
                out.push_str(block.defs.trim_end());
                out.push('\n');
            }
        }
        out.push_str("\n\n");
        let indent = if self.guarded {
            out.push_str("if __name__ == \"__main__\":\n");
            "    "
        } else {
            ""
        };
        let mut any = false;
        for block in &self.blocks {
            for line in block.body.lines() {
                if line.trim().is_empty() {
                    continue;
                }
                out.push_str(indent);
                out.push_str(line);
                out.push('\n');
                any = true;
            }
        }
        if !any {
            out.push_str(indent);
            out.push_str("pass\n");
        }
        out
    }

    /// The behaviours of this program, in order.
    pub fn kinds(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.blocks.iter().map(|b| b.kind)
    }
}

/// Generates program `index` of the campaign `seed` from `template`: the same arguments give the same
/// program on every machine.
pub fn generate(template: Template, seed: u64, index: u64) -> Program {
    let mut g = Gen::for_program(seed, index);
    let blocks = match template {
        Template::Semantics => super::behaviours::blocks(&mut g),
        Template::Torch => vec![super::torch::block(&mut g)],
    };
    let guarded = blocks.iter().any(|b| b.needs_guard) || (template == Template::Semantics && g.chance(0.15));
    Program { seed, index, guarded, blocks }
}

/// The random source of one program (or one batch's settings), with the helpers the behaviours use.
pub struct Gen {
    rng: ChaCha8Rng,
}

impl Gen {
    /// The generator of program `index` of campaign `seed`: one ChaCha stream per program, so that a
    /// program does not depend on how many random numbers the programs before it drew.
    pub fn for_program(seed: u64, index: u64) -> Gen {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        rng.set_stream(index);
        Gen { rng }
    }

    /// A generator for choices that are not programs (batch settings): streams from the top half.
    pub fn for_batch(seed: u64, batch: u64) -> Gen {
        Gen::for_program(seed, (1 << 63) | batch)
    }

    /// True with probability `p`.
    pub fn chance(&mut self, p: f64) -> bool {
        self.rng.random_bool(p.clamp(0.0, 1.0))
    }

    /// A number in `lo..=hi`.
    pub fn range(&mut self, lo: i64, hi: i64) -> i64 {
        self.rng.random_range(lo..=hi)
    }

    /// An index below `n` (n > 0).
    pub fn below(&mut self, n: usize) -> usize {
        self.rng.random_range(0..n)
    }

    /// One of `items` (not empty).
    pub fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.below(items.len())]
    }

    /// An index into `weights`, chosen with probability proportional to its weight.
    pub fn weighted(&mut self, weights: &[u32]) -> usize {
        let total: u32 = weights.iter().sum();
        let mut x = self.rng.random_range(0..total);
        for (i, w) in weights.iter().enumerate() {
            if x < *w {
                return i;
            }
            x -= w;
        }
        unreachable!("x < total")
    }

    /// Shuffles `items` (Fisher-Yates).
    pub fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            let j = self.rng.random_range(0..=i);
            items.swap(i, j);
        }
    }

    /// A Python string literal of a random text: ASCII, other scripts, emoji, combining characters,
    /// control characters. Non-ASCII characters are written as themselves or as `\u` escapes.
    pub fn text_lit(&mut self) -> String {
        let text = self.pick(TEXTS);
        if self.chance(0.3) {
            lit_ascii(text)
        } else {
            lit(text)
        }
    }

    /// Plain text for places where only printable single-line text fits (environment values).
    pub fn word(&mut self) -> &'static str {
        self.pick(WORDS)
    }
}

/// What programs print: a mix of scripts, widths and awkward characters. Every entry is valid
/// Unicode without surrogates (lone surrogates are their own behaviour).
const TEXTS: &[&str] = &[
    "hello",
    "fuzz output line",
    "héllo wörld",
    "naïve café",
    "日本語のテキスト",
    "emoji 🎉🐍",
    "Ελληνικά γράμματα",
    "עברית טקסט",
    "e\u{301} combining accent",
    "zero\u{200b}width",
    "tab\tseparated",
    "Straße ß",
    "",
    " leading and trailing ",
    "carriage\rreturn",
    "crlf\r\nline",
    "two\nlines",
    "nul\0byte",
    "\u{feff}bom inside",
    "\u{1F600} grin",
    "digits 0123456789",
    "quote \" and ' and \\ backslash",
    "\u{7f}del and \u{1b}[31mescape",
    "x",
];

/// Single words (environment values, argv entries).
const WORDS: &[&str] = &["alpha", "beta", "gamma", "delta", "épsilon", "zeta-2", "eta_3", "θ"];

/// A Python string literal for `text`: quotes, backslashes and control characters escaped,
/// everything else as itself (the file is UTF-8, python's default source encoding).
pub fn lit(text: &str) -> String {
    escape(text, false)
}

/// A Python string literal for `text` in pure ASCII (`\u`/`\U` escapes).
pub fn lit_ascii(text: &str) -> String {
    escape(text, true)
}

fn escape(text: &str, ascii: bool) -> String {
    let mut out = String::from("\"");
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                let _ = write!(out, "\\x{:02x}", c as u32);
            }
            c if (ascii && !c.is_ascii()) || c == '\u{feff}' || c == '\u{200b}' => {
                if (c as u32) <= 0xffff {
                    let _ = write!(out, "\\u{:04x}", c as u32);
                } else {
                    let _ = write!(out, "\\U{:08x}", c as u32);
                }
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// A Python bytes literal.
pub fn blit(bytes: &[u8]) -> String {
    let mut out = String::from("b\"");
    for &b in bytes {
        match b {
            b'\\' => out.push_str("\\\\"),
            b'"' => out.push_str("\\\""),
            b'\n' => out.push_str("\\n"),
            b' '..=b'~' => out.push(b as char),
            _ => {
                let _ = write!(out, "\\x{b:02x}");
            }
        }
    }
    out.push('"');
    out
}

/// Builds one [`Block`]: `$n` in every piece of Python becomes the block's number, and the pieces are
/// dedented, so they can be written indented in the Rust source.
pub struct B {
    block: Block,
    n: usize,
}

impl B {
    /// A block of `kind`, numbered `n` in its program.
    pub fn new(kind: &'static str, n: usize) -> B {
        B {
            block: Block {
                kind,
                imports: BTreeSet::new(),
                defs: String::new(),
                body: String::new(),
                terminal: false,
                needs_guard: false,
            },
            n,
        }
    }

    /// Adds `import module` to the program's header.
    pub fn import(&mut self, module: &'static str) -> &mut Self {
        self.block.imports.insert(module);
        self
    }

    /// Adds module-level definitions.
    pub fn def(&mut self, src: &str) -> &mut Self {
        let code = subst(src, self.n, &[]);
        if !self.block.defs.is_empty() {
            self.block.defs.push_str("\n\n");
        }
        self.block.defs.push_str(&code);
        self
    }

    /// Adds statements.
    pub fn body(&mut self, src: &str) -> &mut Self {
        self.body_with(src, &[])
    }

    /// Adds statements, replacing each `(key, value)` of `vars` first.
    pub fn body_with(&mut self, src: &str, vars: &[(&str, &str)]) -> &mut Self {
        let code = subst(src, self.n, vars);
        self.block.body.push_str(&code);
        if !code.ends_with('\n') {
            self.block.body.push('\n');
        }
        self
    }

    /// Adds module-level definitions, replacing each `(key, value)` of `vars` first.
    pub fn def_with(&mut self, src: &str, vars: &[(&str, &str)]) -> &mut Self {
        let code = subst(src, self.n, vars);
        if !self.block.defs.is_empty() {
            self.block.defs.push_str("\n\n");
        }
        self.block.defs.push_str(&code);
        self
    }

    /// Takes over the imports and definitions of `other` (whose statements the caller places).
    pub fn absorb(&mut self, other: &Block) -> &mut Self {
        self.block.imports.extend(other.imports.iter().copied());
        if !other.defs.is_empty() {
            if !self.block.defs.is_empty() {
                self.block.defs.push_str("\n\n");
            }
            self.block.defs.push_str(&other.defs);
        }
        self
    }

    /// Marks the block as an exit form.
    pub fn terminal(&mut self) -> &mut Self {
        self.block.terminal = true;
        self
    }

    /// Marks the block as needing the `__main__` guard.
    pub fn guard(&mut self) -> &mut Self {
        self.block.needs_guard = true;
        self
    }

    /// The block.
    pub fn done(&mut self) -> Block {
        self.block.clone()
    }
}

/// Dedents `src`, drops its first line if empty, replaces `vars` (longest key first) and then `$n`.
pub fn subst(src: &str, n: usize, vars: &[(&str, &str)]) -> String {
    let src = src.strip_prefix('\n').unwrap_or(src);
    let indent = src
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| l.len() - l.trim_start_matches(' ').len())
        .min()
        .unwrap_or(0);
    let mut out = String::new();
    for line in src.lines() {
        let line = if line.len() >= indent { &line[indent..] } else { line.trim_start() };
        out.push_str(line.trim_end());
        out.push('\n');
    }
    while out.ends_with("\n\n") {
        out.pop();
    }
    let mut vars: Vec<&(&str, &str)> = vars.iter().collect();
    vars.sort_by_key(|(k, _)| std::cmp::Reverse(k.len()));
    for (key, value) in vars {
        out = out.replace(key, value);
    }
    out.replace("$n", &n.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literals_escape_what_python_needs() {
        assert_eq!(lit("a\"b\\c\nd\0"), r#""a\"b\\c\nd\x00""#);
        assert_eq!(lit("é🎉"), "\"é🎉\"");
        assert_eq!(lit_ascii("é🎉"), r#""\u00e9\U0001f389""#);
        assert_eq!(blit(b"ok \xff\n\"\\"), r#"b"ok \xff\n\"\\""#);
    }

    #[test]
    fn subst_dedents_and_numbers() {
        let code = subst(
            "
            def f_$n():
                return $X
            ",
            7,
            &[("$X", "42")],
        );
        assert_eq!(code, "def f_7():\n    return 42\n");
    }

    #[test]
    fn generation_is_deterministic_and_per_index() {
        for template in [Template::Semantics, Template::Torch] {
            let a = generate(template, 5, 17).render();
            assert_eq!(a, generate(template, 5, 17).render());
            assert_ne!(a, generate(template, 5, 18).render());
            assert_ne!(a, generate(template, 6, 17).render());
        }
    }

    #[test]
    fn terminal_blocks_come_last() {
        for index in 0..500 {
            let p = generate(Template::Semantics, 1, index);
            let n = p.blocks.len();
            assert!(p.blocks.iter().take(n.saturating_sub(1)).all(|b| !b.terminal), "{}", p.render());
            if p.blocks.iter().any(|b| b.needs_guard) {
                assert!(p.guarded);
            }
        }
    }
}
