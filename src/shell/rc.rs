//! The startup files `kubetutor shell` generates: the learner's own rc file first, then the
//! hooks that report each command line to the session and source `captures.sh` before each
//! prompt.
//!
//! Reporting is pure shell: the command is escaped for JSON with parameter expansions (in
//! double-quoted replacements, which bash 5.2's `patsub_replacement` leaves alone) and
//! appended with one `printf … >>`, a single small `O_APPEND` write that lines from other
//! shells cannot tear.

use std::path::Path;

use crate::shell::session::single_quoted;

/// What the hooks need to know.
#[derive(Debug, Clone)]
pub struct Hooks<'a> {
    /// The session folder.
    pub session: &'a Path,
    /// The private kubeconfig to export as `KUBECONFIG`.
    pub kubeconfig: &'a Path,
    /// The folder of the generated startup files, removed once the shell has read them.
    pub generated: &'a Path,
}

/// Shared by bash and zsh: JSON escaping, reporting, registration and the captures.
const COMMON: &str = r#"
__kubetutor_json() {
  local s=$1 i o c u
  s=${s//"\\"/"\\\\"}
  s=${s//'"'/'\"'}
  s=${s//$'\n'/'\n'}
  s=${s//$'\r'/'\r'}
  s=${s//$'\t'/'\t'}
  case $s in
    *[$'\001'-$'\037']*)
      for i in {1..31}; do
        printf -v o '%03o' "$i"; printf -v c "\\$o"; printf -v u '\\u%04x' "$i"
        s=${s//"$c"/"$u"}
      done ;;
  esac
  REPLY=$s
}
__kubetutor_report() {
  local ts=${EPOCHREALTIME:-}
  ts=${ts/,/.}
  [ -n "$ts" ] || ts=$(date +%s)
  __kubetutor_json "$2"
  printf '{"shell":%d,"command":"%s","exit":%d,"ts":%s}\n' "$$" "$REPLY" "$1" "$ts" \
    >> "$__kubetutor_session/commands.jsonl" 2>/dev/null
}
__kubetutor_captures() {
  if [ -r "$__kubetutor_session/captures.sh" ]; then . "$__kubetutor_session/captures.sh"; fi
}
__kubetutor_unregister() {
  rm -f "$__kubetutor_session/shells/$$"
}
mkdir -p "$__kubetutor_session/shells" && : > "$__kubetutor_session/shells/$$"
trap '__kubetutor_unregister' EXIT
trap '__kubetutor_unregister; exit 129' HUP
__kubetutor_captures
PS1="(kubetutor) $PS1"
"#;

/// bash: only the line the learner entered, once per prompt (captures are sourced then too,
/// before the line's words are expanded). The DEBUG trap fires before
/// every simple command, so it is armed by the last part of `PROMPT_COMMAND` and disarmed by
/// the first command it sees; the line comes from history, or from `$BASH_COMMAND` when
/// history did not record it (`HISTCONTROL=ignorespace`, or history off).
const BASH_HOOKS: &str = r#"
__kubetutor_armed=
__kubetutor_cmd=
__kubetutor_hist=
__kubetutor_last_history() {
  local h
  h=$(HISTTIMEFORMAT= builtin history 1)
  if [[ $h =~ ^[[:space:]]*([0-9]+)[*]?[[:space:]]+(.*)$ ]]; then
    __kubetutor_histno=${BASH_REMATCH[1]}
    __kubetutor_histline=${BASH_REMATCH[2]}
  else
    __kubetutor_histno=
    __kubetutor_histline=
  fi
}
__kubetutor_preexec() {
  [ -n "$__kubetutor_armed" ] || return 0
  [ -n "${COMP_LINE-}" ] && return 0
  case $BASH_COMMAND in __kubetutor_*) return 0 ;; esac
  __kubetutor_armed=
  # Sourced again before the line runs: a value captured while the prompt waited counts.
  __kubetutor_captures
  __kubetutor_last_history
  if [ -n "$__kubetutor_histno" ] && [ "$__kubetutor_histno" != "$__kubetutor_hist" ]; then
    __kubetutor_hist=$__kubetutor_histno
    __kubetutor_cmd=$__kubetutor_histline
  else
    __kubetutor_cmd=$BASH_COMMAND
  fi
}
__kubetutor_precmd() {
  local exit=$?
  __kubetutor_armed=
  if [ -n "$__kubetutor_cmd" ]; then
    __kubetutor_report "$exit" "$__kubetutor_cmd"
    __kubetutor_cmd=
  fi
  __kubetutor_captures
}
__kubetutor_arm() { __kubetutor_armed=1; }
__kubetutor_last_history
__kubetutor_hist=$__kubetutor_histno
trap '__kubetutor_preexec' DEBUG
# bash 5.1 runs every element of an array PROMPT_COMMAND: ours go first and last.
if [ "${#PROMPT_COMMAND[@]}" -gt 1 ]; then
  PROMPT_COMMAND=(__kubetutor_precmd "${PROMPT_COMMAND[@]}" __kubetutor_arm)
else
  PROMPT_COMMAND="__kubetutor_precmd;${PROMPT_COMMAND:+$PROMPT_COMMAND;}__kubetutor_arm"
fi
"#;

/// zsh: `preexec` gets the line as typed, `precmd` runs before each prompt; ours goes first
/// so it sees the command's exit status.
const ZSH_HOOKS: &str = r#"
zmodload zsh/datetime 2>/dev/null
__kubetutor_cmd=
__kubetutor_preexec() { __kubetutor_cmd=$1; __kubetutor_captures; }
__kubetutor_precmd() {
  local exit=$?
  if [ -n "$__kubetutor_cmd" ]; then
    __kubetutor_report "$exit" "$__kubetutor_cmd"
    __kubetutor_cmd=
  fi
  __kubetutor_captures
}
preexec_functions=(__kubetutor_preexec $preexec_functions)
precmd_functions=(__kubetutor_precmd $precmd_functions)
"#;

/// The variables every generated file sets before the hooks.
fn preamble(hooks: &Hooks<'_>) -> String {
    format!(
        "__kubetutor_session={}\nexport KUBECONFIG={}\nexport KUBETUTOR_SHELL=$$\n",
        single_quoted(&hooks.session.to_string_lossy()),
        single_quoted(&hooks.kubeconfig.to_string_lossy()),
    )
}

/// Removes the generated startup files: bash and zsh have read a file whole before running
/// it, and none of them is read again.
fn cleanup(hooks: &Hooks<'_>) -> String {
    format!(
        "rm -rf -- {}\n",
        single_quoted(&hooks.generated.to_string_lossy())
    )
}

/// The file `bash --rcfile` reads: `~/.bashrc` when present, then the hooks.
pub fn bashrc(hooks: &Hooks<'_>) -> String {
    format!(
        "# Generated by kubetutor shell.\nif [ -f ~/.bashrc ]; then . ~/.bashrc; fi\n{}{COMMON}{BASH_HOOKS}{}",
        preamble(hooks),
        cleanup(hooks)
    )
}

/// `.zshenv` in the generated `ZDOTDIR`: the learner's own `.zshenv`.
pub fn zshenv() -> String {
    "# Generated by kubetutor shell.\n__kubetutor_zdotdir=${KUBETUTOR_USER_ZDOTDIR:-$HOME}\nif [ -f \"$__kubetutor_zdotdir/.zshenv\" ]; then . \"$__kubetutor_zdotdir/.zshenv\"; fi\n".to_owned()
}

/// `.zshrc` in the generated `ZDOTDIR`: restores the learner's `ZDOTDIR`, sources their
/// `.zshrc`, then installs the hooks.
pub fn zshrc(hooks: &Hooks<'_>) -> String {
    format!(
        "# Generated by kubetutor shell.\nif [ -n \"${{KUBETUTOR_USER_ZDOTDIR+x}}\" ]; then ZDOTDIR=$KUBETUTOR_USER_ZDOTDIR; else unset ZDOTDIR; fi\nunset KUBETUTOR_USER_ZDOTDIR\nif [ -f \"${{ZDOTDIR:-$HOME}}/.zshrc\" ]; then . \"${{ZDOTDIR:-$HOME}}/.zshrc\"; fi\n{}{COMMON}{ZSH_HOOKS}{}",
        preamble(hooks),
        cleanup(hooks)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Runs `script` in bash after the shared functions (no hooks), returning stdout.
    fn bash(session: &Path, script: &str) -> String {
        let hooks = Hooks {
            session,
            kubeconfig: &session.join("kubeconfig"),
            generated: &session.join("rc"),
        };
        let program = format!("{}{COMMON}\n{script}", preamble(&hooks));
        let output = std::process::Command::new("bash")
            .args(["--norc", "--noprofile", "-c", &program])
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .output()
            .expect("bash runs");
        assert!(output.status.success(), "{output:?}");
        String::from_utf8_lossy(&output.stdout).into_owned()
    }

    #[test]
    fn reported_commands_are_valid_json_whatever_they_contain() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let nasty = "echo \"a\\b\" & d\te\nf\u{1}g\u{1b}h $HOME é 'q'";
        let script = format!("__kubetutor_report 3 {}", single_quoted(nasty));
        bash(tmp.path(), &script);
        let text = std::fs::read_to_string(tmp.path().join("commands.jsonl")).expect("read");
        assert_eq!(text.lines().count(), 1, "{text}");
        let line: crate::shell::session::CommandLine =
            serde_json::from_str(text.trim_end()).expect("valid JSON");
        assert_eq!(line.command, nasty);
        assert_eq!(line.exit, 3);
        assert!(line.ts > 1.0e9, "{}", line.ts);
    }

    #[test]
    fn the_shell_registers_itself_and_exports_captures() {
        let tmp = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir_all(tmp.path()).expect("mkdir");
        std::fs::write(tmp.path().join("captures.sh"), "export POD_NAME='web-1'\n").expect("write");
        let out = bash(
            tmp.path(),
            "ls \"$__kubetutor_session/shells\"; echo \"pid=$$ pod=$POD_NAME kc=$KUBECONFIG\"",
        );
        let mut lines = out.lines();
        let registered = lines.next().expect("a registration");
        assert!(
            lines
                .next()
                .is_some_and(|l| l.starts_with(&format!("pid={registered} pod=web-1 kc="))),
            "{out}"
        );
        assert!(
            std::fs::read_dir(tmp.path().join("shells"))
                .expect("list")
                .next()
                .is_none(),
            "the EXIT trap unregisters"
        );
    }
}
