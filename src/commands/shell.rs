//! `kubetutor shell`: the learner's own shell, connected to the lesson being run.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context as _;
use owo_colors::OwoColorize;

use crate::cli::ShellArgs;
use crate::cluster::kubeconfig;
use crate::error::Error;
use crate::runner::progress;
use crate::shell::rc::{self, Hooks};
use crate::shell::session::{SessionDir, write_atomic};
use crate::term::{Console, Stream};

/// Which shell to start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Flavour {
    Bash,
    Zsh,
}

/// `$SHELL` when it is bash or zsh (the hooks are written for those two), else bash.
fn flavour(shell: Option<&str>) -> (Flavour, String) {
    match shell {
        Some(path) if Path::new(path).file_name().is_some_and(|n| n == "zsh") => {
            (Flavour::Zsh, path.to_owned())
        }
        Some(path) if Path::new(path).file_name().is_some_and(|n| n == "bash") => {
            (Flavour::Bash, path.to_owned())
        }
        _ => (Flavour::Bash, "bash".to_owned()),
    }
}

/// Runs `kubetutor shell`: points the session's kubeconfig where it should, writes the
/// startup files, and replaces this process with the shell.
pub fn run(args: &ShellArgs, console: &Console) -> Result<ExitCode, Error> {
    let styles = console.styles(Stream::Stderr);
    let state_dir = progress::state_dir().map_err(anyhow::Error::from)?;
    let dir = SessionDir::at(&state_dir);
    let chosen = args
        .lesson
        .as_deref()
        .map(|given| super::choose::named_or_file(given, Path::new(super::choose::LESSONS_DIR)));
    let lesson = chosen
        .as_ref()
        .map(|chosen| {
            chosen
                .load()
                .map_err(|err| super::lesson_error(&err, console))
        })
        .transpose()?;
    match dir.active() {
        Some(info) => {
            if let (Some(path), Some(chosen)) = (&args.lesson, &chosen)
                && Path::new(&info.lesson) != chosen.identity()
            {
                return Err(Error::Usage(format!(
                    "the lesson being run is {} ({}), not {}; open the shell without --lesson to join it",
                    info.title,
                    info.lesson,
                    path.display()
                )));
            }
            if args.context.is_some() || args.namespace.is_some() {
                eprintln!(
                    "A lesson is running, so this shell uses its cluster; --context and --namespace apply only when none is."
                );
            }
            eprintln!(
                "{} to {} (context {}, namespace {}). Commands you run here count for its reading steps; `exit` leaves.",
                "Connected".style(styles.success),
                info.title,
                info.context,
                info.namespace
            );
        }
        None => {
            let namespace = args
                .namespace
                .clone()
                .or_else(|| lesson.as_ref().map(|l| l.lesson.namespace.clone()));
            let (config, context) = kubeconfig::pick_context(None, args.context.as_deref())
                .map_err(|err| Error::Usage(crate::error::chain(&err)))?;
            let yaml = kubeconfig::single_context(&config, &context, namespace.as_deref())
                .map_err(|err| Error::Usage(crate::error::chain(&err)))?;
            dir.create().map_err(anyhow::Error::from)?;
            write_atomic(&dir.kubeconfig_path(), yaml.as_bytes(), 0o600)
                .map_err(anyhow::Error::from)?;
            eprintln!(
                "No lesson is connected: this shell points at context {context}{}. A `kubetutor run` started later connects it to its lesson.",
                namespace
                    .map(|n| format!(", namespace {n}"))
                    .unwrap_or_default()
            );
        }
    }
    let (flavour, program) = flavour(std::env::var("SHELL").ok().as_deref());
    let kubeconfig = dir.kubeconfig_path();
    // Named after this process, whose pid the shell inherits through exec.
    let generated = dir.root().join("rc").join(std::process::id().to_string());
    let hooks = Hooks {
        session: dir.root(),
        kubeconfig: &kubeconfig,
        generated: &generated,
    };
    let command = prepare(flavour, &program, &hooks)?;
    exec(command)
}

/// The shell's command line, with its generated startup files written to the session folder.
fn prepare(
    flavour: Flavour,
    program: &str,
    hooks: &Hooks<'_>,
) -> Result<std::process::Command, Error> {
    let generated = hooks.generated;
    std::fs::create_dir_all(generated)
        .with_context(|| format!("failed to create {}", generated.display()))?;
    let write = |name: &str, text: String| -> Result<PathBuf, Error> {
        let path = generated.join(name);
        write_atomic(&path, text.as_bytes(), 0o600).map_err(anyhow::Error::from)?;
        Ok(path)
    };
    let mut command = std::process::Command::new(program);
    command.env("KUBECONFIG", hooks.kubeconfig);
    match flavour {
        Flavour::Bash => {
            let rcfile = write("bashrc", rc::bashrc(hooks))?;
            command.arg("--rcfile").arg(rcfile).arg("-i");
        }
        Flavour::Zsh => {
            write(".zshenv", rc::zshenv())?;
            write(".zshrc", rc::zshrc(hooks))?;
            if let Some(user) = std::env::var_os("ZDOTDIR") {
                command.env("KUBETUTOR_USER_ZDOTDIR", user);
            }
            command.env("ZDOTDIR", generated).arg("-i");
        }
    }
    Ok(command)
}

fn exec(mut command: std::process::Command) -> Result<ExitCode, Error> {
    use std::os::unix::process::CommandExt;
    // exec only returns when the shell could not be started.
    let err = command.exec();
    Err(Error::Other(anyhow::Error::new(err).context(format!(
        "failed to start {}",
        command.get_program().to_string_lossy()
    ))))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bash_and_zsh_are_used_as_they_are_anything_else_becomes_bash() {
        assert_eq!(
            flavour(Some("/bin/zsh")),
            (Flavour::Zsh, "/bin/zsh".to_owned())
        );
        assert_eq!(
            flavour(Some("/usr/local/bin/bash")),
            (Flavour::Bash, "/usr/local/bin/bash".to_owned())
        );
        assert_eq!(
            flavour(Some("/usr/bin/fish")),
            (Flavour::Bash, "bash".to_owned())
        );
        assert_eq!(flavour(None), (Flavour::Bash, "bash".to_owned()));
    }
}
