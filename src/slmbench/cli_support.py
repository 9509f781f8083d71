"""The console script's frame around the Typer app (no command lives here): problems the user
can fix and usage errors as one line on stderr with exit codes 1 / 2, Ctrl-C and SIGTERM as
130 / 143, and help that shows a value type only where a flag takes one."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer

RESUME = "answers received so far are stored; re-run the same command to resume"

# One name and one default per flag across commands.
PARALLEL = 4  # config.PARALLEL, repeated: importing config (pydantic) would slow every start
ContextOpt = Annotated[
    str | None, typer.Option("--context", help="llama.cpp: context tokens per slot, e.g. 4096 or 8K.")
]
CtxAliasOpt = Annotated[str | None, typer.Option("--ctx-per-slot", hidden=True)]  # the old name, still accepted
ParallelOpt = Annotated[int, typer.Option(help="llama.cpp parallel slots = requests in flight.", min=1)]
ThreadsOpt = Annotated[int | None, typer.Option(help="llama.cpp threads (default: all cores).")]
LlamaServerOpt = Annotated[
    Path | None, typer.Option(help="llama-server binary to use.", envvar="SLMBENCH_LLAMA_SERVER")
]
ApiKeyEnvOpt = Annotated[
    str | None,
    typer.Option(
        help="Environment variable holding the bearer API key of attached endpoints (default: $OPENAI_API_KEY when set)."
    ),
]


@contextmanager
def user_errors(kept: str = RESUME) -> Iterator[None]:
    """Problems the user can fix become one line on stderr and a non-zero exit, never a traceback.
    Ctrl-C and SIGTERM say what was kept (`kept`) and exit 130 / 143."""
    from .errors import SlmbenchError
    from .serving.process import interrupted_by, interrupted_exit_code, raise_on_sigterm

    raise_on_sigterm()
    try:
        yield
    except SlmbenchError as exc:
        sys.stderr.write(f"error: {exc}\n")
        raise typer.Exit(1) from None
    except KeyboardInterrupt:
        sys.stderr.write(f"{interrupted_by()}: {kept}\n")
        raise typer.Exit(interrupted_exit_code()) from None


def _command_words(app: typer.Typer, argv: list[str]) -> list[str]:
    """The leading command names of argv (`longdoc ask`), as far as they name real commands."""
    import typer.main

    words: list[str] = []
    group: Any = typer.main.get_command(app)
    for word in argv:
        sub = getattr(group, "commands", {}).get(word)
        if sub is None:
            break
        words.append(word)
        group = sub
    return words


def usage_line(app: typer.Typer, exc: Any, argv: list[str] | None = None) -> str:
    """Click's usage error as one line that names the flag and where the fix is."""
    ctx = getattr(exc, "ctx", None)
    path = ctx.command_path if ctx is not None else "slmbench"
    path = "slmbench" + path[path.index(" ") :] if " " in path else "slmbench"
    if path == "slmbench":  # an option's missing value is raised before the command's context exists
        words = _command_words(app, argv if argv is not None else sys.argv[1:])
        path = " ".join(["slmbench", *words])
    message = " ".join(exc.format_message().split())  # "Did you mean" hints arrive on a second line
    return f"error: {path}: {message.rstrip('.')}; see `{path} --help`"


def run(app: typer.Typer, argv: list[str] | None = None) -> None:
    """Run the app as the console script: usage errors become one line on stderr (exit 2), never a box."""
    from typer._click.exceptions import NoArgsIsHelpError, UsageError  # the Click Typer vendors

    _plain_flag_help()
    try:
        code = app(args=argv, prog_name="slmbench", standalone_mode=False)
    except NoArgsIsHelpError:
        code = 0  # Typer has printed the help
    except UsageError as exc:
        sys.stderr.write(usage_line(app, exc, argv) + "\n")
        code = 2
    except typer.Abort:
        sys.stderr.write("interrupted\n")
        code = 130
    sys.exit(code if isinstance(code, int) else 0)


def _plain_flag_help() -> None:
    """Help shows a value type only where a flag takes a value: `--quiet` is not `--quiet <bool>`,
    and a repeatable `--task` takes one `<str>` each time, not a `<list[str]>`."""
    from typer.core import TyperArgument, TyperOption

    if getattr(TyperOption, "_slmbench_help", False):
        return

    def element(label: str | None) -> str | None:
        if label and label.startswith("<list[") and "]>" in label:
            inner = label[6 : label.index("]>")]
            return "<" + ("path" if inner == "Path" else inner) + ">" + label[label.index("]>") + 2 :]
        return label

    for cls in (TyperOption, TyperArgument):
        shown = cls.display_type_rich

        def display_type_rich(self: Any, ctx: Any, shown: Any = shown) -> str | None:
            if getattr(self, "is_flag", False):
                return None
            return element(shown(self, ctx))

        cls.display_type_rich = display_type_rich  # type: ignore[method-assign]
    TyperOption._slmbench_help = True  # type: ignore[attr-defined]
