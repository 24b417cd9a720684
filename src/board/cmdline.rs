//! The kernel command line: words the kernel knows, and the rest for `/init`.
//!
//! As on Linux, words are separated by spaces, a value may be double-quoted
//! (`init="/bin/x"`), and words the kernel does not know go to init's
//! environment (`k=v`) or argument list (`word`).

/// Linux/ARM's COMMAND_LINE_SIZE: longer command lines are rejected.
pub const COMMAND_LINE_SIZE: usize = 1024;

/// Why a command line was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CmdlineError {
    /// More than [`COMMAND_LINE_SIZE`] - 1 bytes.
    TooLong(usize),
    /// Not UTF-8 (the kernel prints what it does not understand; it does not guess).
    NotUtf8,
    /// A double quote that is never closed, at this byte offset.
    UnclosedQuote(usize),
    /// A control character (other than tab/newline) at this byte offset.
    BadByte(usize),
    /// `loglevel=` with something other than 0..=8.
    BadLoglevel,
}

impl core::fmt::Display for CmdlineError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            CmdlineError::TooLong(n) => {
                write!(f, "command line is {} bytes; the limit is {}", n, COMMAND_LINE_SIZE - 1)
            }
            CmdlineError::NotUtf8 => write!(f, "command line is not UTF-8"),
            CmdlineError::UnclosedQuote(at) => write!(f, "unclosed '\"' at byte {}", at),
            CmdlineError::BadByte(at) => write!(f, "control character at byte {}", at),
            CmdlineError::BadLoglevel => write!(f, "loglevel= takes a number from 0 to 8"),
        }
    }
}

/// One word: `key` alone, or `key=value` (quotes removed from the value).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Param<'a> {
    pub key: &'a str,
    pub value: Option<&'a str>,
}

/// Iterator over the words of a command line (already validated).
#[derive(Clone)]
pub struct Params<'a> {
    rest: &'a str,
}

impl<'a> Iterator for Params<'a> {
    type Item = Param<'a>;

    fn next(&mut self) -> Option<Param<'a>> {
        let s = self.rest.trim_start_matches([' ', '\t', '\n']);
        if s.is_empty() {
            self.rest = s;
            return None;
        }
        // A word ends at the first blank outside quotes.
        let mut in_quote = false;
        let mut end = s.len();
        for (i, c) in s.char_indices() {
            match c {
                '"' => in_quote = !in_quote,
                ' ' | '\t' | '\n' if !in_quote => {
                    end = i;
                    break;
                }
                _ => {}
            }
        }
        let word = &s[..end];
        self.rest = &s[end..];
        let strip = |v: &'a str| v.strip_prefix('"').and_then(|v| v.strip_suffix('"')).unwrap_or(v);
        Some(match word.find('=') {
            Some(eq) => Param { key: strip(&word[..eq]), value: Some(strip(&word[eq + 1..])) },
            None => Param { key: strip(word), value: None },
        })
    }
}

/// What the kernel itself takes from the command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BootArgs<'a> {
    pub raw: &'a str,
    /// `ktest` (Some("")) or `ktest=FILTER` (Some(FILTER)).
    pub ktest: Option<&'a str>,
    /// `kbench` (Some("")) or `kbench=FILTER`.
    pub kbench: Option<&'a str>,
    /// `slub_debug`: red zones and poisoning in every slab cache.
    pub slub_debug: bool,
    /// `ktest.timeout=SECONDS`: the per-test watchdog.
    pub ktest_timeout: Option<u32>,
    /// `loglevel=N` as Linux numbers it (0 emerg .. 7 debug, 8 trace).
    pub loglevel: Option<u8>,
    /// `init=PATH`, or Linux's `rdinit=PATH` (which wins when both are
    /// given): the initramfs program pid 1 runs.
    pub init: Option<&'a str>,
    /// `earlycon` / `console=` are accepted and ignored (one console here).
    pub trace: Option<&'a str>,
}

impl<'a> BootArgs<'a> {
    /// Validates and parses a command line.
    pub fn parse(raw: &'a str) -> Result<Self, CmdlineError> {
        validate(raw.as_bytes())?;
        let mut args = BootArgs {
            raw,
            ktest: None,
            kbench: None,
            slub_debug: false,
            ktest_timeout: None,
            loglevel: None,
            init: None,
            trace: None,
        };
        let mut rdinit = None;
        for p in params(raw) {
            match (p.key, p.value) {
                ("rdinit", Some(v)) => rdinit = Some(v),
                ("ktest", v) => args.ktest = Some(v.unwrap_or("")),
                ("kbench", v) => args.kbench = Some(v.unwrap_or("")),
                ("slub_debug", _) => args.slub_debug = true,
                ("ktest.timeout", Some(v)) => args.ktest_timeout = v.parse().ok(),
                ("loglevel", Some(v)) => match v.parse::<u8>() {
                    Ok(n) if n <= 8 => args.loglevel = Some(n),
                    _ => return Err(CmdlineError::BadLoglevel),
                },
                ("loglevel", None) => return Err(CmdlineError::BadLoglevel),
                ("init", Some(v)) => args.init = Some(v),
                ("trace", Some(v)) => args.trace = Some(v),
                _ => {}
            }
        }
        args.init = rdinit.or(args.init);
        Ok(args)
    }

    /// Words the kernel does not use, in order: what `/init` receives in its
    /// environment (`k=v`) or arguments (plain words), as on Linux.
    pub fn for_init(&self) -> impl Iterator<Item = Param<'a>> + 'a {
        params(self.raw).filter(|p| !is_kernel_word(p.key))
    }
}

fn is_kernel_word(key: &str) -> bool {
    matches!(
        key,
        "ktest"
            | "ktest.timeout"
            | "loglevel"
            | "init"
            | "rdinit"
            | "trace"
            | "console"
            | "earlycon"
            | "slub_debug"
            | "quiet"
    )
}

/// The words of a command line.
pub fn params(raw: &str) -> Params<'_> {
    Params { rest: raw }
}

/// Rejects command lines that are too long, not text, or badly quoted.
pub fn validate(bytes: &[u8]) -> Result<(), CmdlineError> {
    if bytes.len() >= COMMAND_LINE_SIZE {
        return Err(CmdlineError::TooLong(bytes.len()));
    }
    let s = core::str::from_utf8(bytes).map_err(|_| CmdlineError::NotUtf8)?;
    let mut quote_at = None;
    for (i, c) in s.char_indices() {
        if c == '"' {
            quote_at = if quote_at.is_some() { None } else { Some(i) };
        } else if c.is_control() && c != '\t' && c != '\n' {
            return Err(CmdlineError::BadByte(i));
        }
    }
    match quote_at {
        Some(at) => Err(CmdlineError::UnclosedQuote(at)),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_values_and_quotes() {
        let v: Vec<_> = params("  ktest  init=\"/bin/my init\" foo=bar baz ").collect();
        assert_eq!(v.len(), 4);
        assert_eq!(v[0], Param { key: "ktest", value: None });
        assert_eq!(v[1], Param { key: "init", value: Some("/bin/my init") });
        assert_eq!(v[2], Param { key: "foo", value: Some("bar") });
        assert_eq!(v[3], Param { key: "baz", value: None });
    }

    #[test]
    fn rdinit_names_the_program_as_on_linux_and_wins_over_init() {
        let a = BootArgs::parse("rdinit=/bin/utest HOME=/").unwrap();
        assert_eq!(a.init, Some("/bin/utest"));
        assert_eq!(a.for_init().map(|p| p.key).collect::<Vec<_>>(), ["HOME"]);
        assert_eq!(BootArgs::parse("init=/a rdinit=/b").unwrap().init, Some("/b"));
        assert_eq!(BootArgs::parse("rdinit=/b init=/a").unwrap().init, Some("/b"));
        assert_eq!(BootArgs::parse("init=/a").unwrap().init, Some("/a"));
    }

    #[test]
    fn kernel_words_are_taken_the_rest_go_to_init() {
        let a = BootArgs::parse("ktest=process:: loglevel=7 init=/sbin/x HOME=/ single").unwrap();
        assert_eq!(a.ktest, Some("process::"));
        assert_eq!(a.loglevel, Some(7));
        assert_eq!(a.init, Some("/sbin/x"));
        let rest: Vec<_> = a.for_init().collect();
        assert_eq!(rest, vec![Param { key: "HOME", value: Some("/") }, Param { key: "single", value: None }]);
    }

    #[test]
    fn bare_ktest_means_all_tests() {
        let a = BootArgs::parse("ktest").unwrap();
        assert_eq!(a.ktest, Some(""));
        assert_eq!(BootArgs::parse("").unwrap().ktest, None);
    }

    #[test]
    fn bad_command_lines_are_refused() {
        let long = "x".repeat(COMMAND_LINE_SIZE);
        assert_eq!(BootArgs::parse(&long), Err(CmdlineError::TooLong(COMMAND_LINE_SIZE)));
        assert_eq!(BootArgs::parse("init=\"/x"), Err(CmdlineError::UnclosedQuote(5)));
        assert_eq!(BootArgs::parse("a\u{1}b"), Err(CmdlineError::BadByte(1)));
        assert_eq!(BootArgs::parse("loglevel=9"), Err(CmdlineError::BadLoglevel));
        assert_eq!(BootArgs::parse("loglevel=x"), Err(CmdlineError::BadLoglevel));
        assert_eq!(validate(&[0xff, 0xfe]), Err(CmdlineError::NotUtf8));
    }

    #[test]
    fn timeout_parses() {
        assert_eq!(BootArgs::parse("ktest.timeout=3").unwrap().ktest_timeout, Some(3));
    }
}
