"""Bad command lines, as a careless user types them: each answered with ONE line on stderr that
names the problem and the fix, the right exit code (2: usage, 1: a value the command refused),
no traceback, and nothing stored changed. Run in-process through the console script's main()."""

from __future__ import annotations

import hashlib
import shlex
import socket
from pathlib import Path

import pytest
from helpers import gold_arithmetic

from slmbench.cli import main
from slmbench.testing.scripted import ScriptedServer

USAGE, REFUSED = 2, 1

# (command line, exit code, words the one line must hold). Placeholders: {url} a scripted
# endpoint, {out} a folder holding a store and a run, {dir} a scratch folder, {busy} a port in
# use, {dead} a port nothing listens on.
BAD = [
    # Typer/Click usage errors: the flag and `--help` named
    ("eval --seed abc", USAGE, ["'--seed'", "valid integer", "slmbench eval --help"]),
    ("eval --nope", USAGE, ["No such option: --nope", "slmbench eval --help"]),
    ("eval --concurrency 1.5", USAGE, ["'--concurrency'"]),
    ("eval --temperature hot", USAGE, ["'--temperature'", "valid number"]),
    ("eval -t", USAGE, ["'-t' requires an argument", "slmbench eval --help"]),
    ("eval --unsafe-no-sandbox yes", USAGE, ["unexpected extra argument", "yes"]),
    ("evl", USAGE, ["No such command 'evl'", "Did you mean 'eval'"]),
    ("report", USAGE, ["Missing argument", "runs", "slmbench report --help"]),
    ("chat --port 99999", USAGE, ["'--port'", "65535", "slmbench chat --help"]),
    ("plan --gpu", USAGE, ["'--gpu' requires an argument", "slmbench plan --help"]),
    ("plan qwen3-4b --concurrency two", USAGE, ["'--concurrency'"]),
    ("perf --timeout x", USAGE, ["'--timeout'", "slmbench perf --help"]),
    ("perf --output-len many", USAGE, ["'--output-len'"]),
    ("longdoc ask", USAGE, ["Missing argument", "file", "slmbench longdoc ask --help"]),
    ("longdoc ask {dir}/doc.txt", USAGE, ["Missing argument", "question"]),
    ("longdoc ask {dir}/doc.txt q --passages", USAGE, ["'--passages' requires an argument"]),
    ("serve --detach=yes", USAGE, ["'--detach' does not take a value"]),
    ("setup --llama-server", USAGE, ["'--llama-server' requires an argument"]),
    ("stop --al", USAGE, ["No such option: --al"]),
    ("tasks extra", USAGE, ["unexpected extra argument"]),
    # Values a command refuses: one line with the fix
    ("eval --model scripted={url} --limit 0 --out {out}", REFUSED, ["--limit must be at least 1"]),
    ("eval --model scripted={url} --limit abc --out {out}", REFUSED, ["--limit 'abc' is not N or TASK=N"]),
    ("eval --model scripted={url} --limit -5 --out {out}", REFUSED, ["--limit must be at least 1"]),
    ("eval --model scripted={url} --timeout 0 --out {out}", REFUSED, ["--timeout:", "greater than 0"]),
    ("eval --model scripted={url} --retries 100 --out {out}", REFUSED, ["--retries"]),
    ("eval --model scripted={url} --temperature 3 --out {out}", REFUSED, ["--temperature"]),
    ("eval --model scripted={url} --top-p 0 --out {out}", REFUSED, ["--top-p"]),
    ("eval --model scripted={url} --max-tokens 0 --out {out}", REFUSED, ["--max-tokens"]),
    ("eval --model scripted={url} --task nope --out {out}", REFUSED, ["unknown task 'nope'"]),
    ("eval --model scripted={url} --data ifeval --out {out}", REFUSED, ["TASK=PATH"]),
    ("eval --model just-a-name --out {out}", REFUSED, ["NAME=URL"]),
    ("eval --model scripted={url} --config {dir}", REFUSED, ["is a folder", "--config"]),
    ("eval --model scripted={url} --config {dir}/missing.toml", REFUSED, ["not found", "--config"]),
    ("eval --model scripted={url} --config {dir}/bad.toml", REFUSED, ["not valid TOML"]),
    ("eval --gguf {dir}/missing.gguf --out {out}", REFUSED, ["missing.gguf not found", "--gguf"]),
    ("eval --gguf {dir}/doc.txt --out {out}", REFUSED, ["not a GGUF file"]),
    ("eval --model m=http://127.0.0.1:{dead}/v1 --out {out}", REFUSED, ["cannot reach", "fix the URL"]),
    (
        "eval --model scripted={url} -t arithmetic --limit 5000 --out {out}",
        REFUSED,
        ["at most 4,960 distinct samples", "--limit 4960"],
    ),
    ("eval --model scripted={url} -t arithmetic --lengths 1k --out {out}", REFUSED, ["--lengths", "longcontext"]),
    ("eval --port {busy} --out {out}", REFUSED, ["in use", "--port"]),
    ("eval --model scripted={url} --out {dir}/doc.txt/runs", REFUSED, ["cannot write to the output folder", "--out"]),
    ("perf --concurrency 0 --out {out}", REFUSED, ["--concurrency must be at least 1"]),
    ("perf --rate -1 --out {out}", REFUSED, ["--rate must be above 0"]),
    ("perf --timeout 0 --out {out}", REFUSED, ["--timeout must be above 0"]),
    ("perf --model scripted={url} --gguf {dir}/x.gguf --out {out}", REFUSED, ["--model or --gguf, not both"]),
    ("perf --compare a --compare b --compare c --out {out}", REFUSED, ["--compare takes one run folder"]),
    ("perf --model scripted={url} --prompts {dir}/missing.jsonl --out {out}", REFUSED, ["missing.jsonl"]),
    ("plan --gpu nosuchgpu", REFUSED, ["nosuchgpu"]),
    ("plan --gpu rtx4090 --cpu-ram 16", REFUSED, ["--gpu or --cpu-ram, not both"]),
    ("report {dir}/no-such-run", REFUSED, ["no-such-run"]),
    ("stop", REFUSED, ["name the server to stop", "--all"]),
    ("serve --backend attach", REFUSED, ["--url"]),
    ("longdoc ask {dir}/missing.txt question", REFUSED, ["missing.txt"]),
    ("longdoc ask {dir}/doc.txt q --model scripted={url} --passages 0", REFUSED, ["--passages must be at least 1"]),
    (
        "longdoc ask {dir}/doc.txt q --model scripted={url} --final-tokens -3",
        REFUSED,
        ["--final-tokens must be at least 1"],
    ),
    (
        "longdoc summarize {dir}/doc.txt --model scripted={url} --summary-tokens 0",
        REFUSED,
        ["--summary-tokens must be"],
    ),
    ("longdoc summarize {dir}/doc.txt --model scripted={url} --overlap -1", REFUSED, ["--overlap must be at least 0"]),
    ("longdoc compare --model scripted={url} --limit 0 --out {out}", REFUSED, ["--limit must be at least 1"]),
    (
        "longdoc compare --model scripted={url} --max-tokens -2 --out {out}",
        REFUSED,
        ["--max-tokens must be at least 1"],
    ),
    ("chat --host 0.0.0.0", REFUSED, ["--password-auth"]),
]


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """An --out folder holding a store and a finished run, scratch files, a busy and a dead port."""
    root = tmp_path_factory.mktemp("bad-input")
    scratch = root / "scratch"
    scratch.mkdir()
    (scratch / "doc.txt").write_text("A short document.\n")
    (scratch / "bad.toml").write_text("[eval\n")
    out = root / "runs"
    with ScriptedServer(gold_arithmetic) as server, socket.socket() as busy, socket.socket() as dead:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        dead.bind(("127.0.0.1", 0))  # bound, never listening: connections are refused
        with pytest.raises(SystemExit) as done:
            main(
                [
                    "eval",
                    "--model",
                    f"scripted={server.url}",
                    "-t",
                    "arithmetic",
                    "--limit",
                    "4",
                    "--out",
                    str(out),
                    "-q",
                ]
            )
        assert done.value.code == 0
        yield {
            "url": server.url,
            "out": out,
            "dir": scratch,
            "busy": busy.getsockname()[1],
            "dead": dead.getsockname()[1],
        }


def snapshot(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest() if p.is_file() else "dir"
            for p in sorted(folder.rglob("*"))}  # fmt: skip


@pytest.mark.parametrize(("line", "code", "words"), BAD, ids=[b[0] for b in BAD])
def test_a_bad_command_line_gets_one_line(world, capsys, line, code, words):
    before = snapshot(world["out"])
    argv = [arg.format(**world) for arg in shlex.split(line)]
    with pytest.raises(SystemExit) as exit_:
        main(argv)
    err = capsys.readouterr().err
    lines = [x for x in err.splitlines() if x.strip()]
    assert exit_.value.code == code, err
    assert len(lines) == 1 and lines[0].startswith("error: ") and "Traceback" not in err, err
    for word in words:
        assert word.format(**world) in lines[0], lines[0]
    assert snapshot(world["out"]) == before  # nothing stored changed


def test_the_table_holds_at_least_40_lines():
    assert len(BAD) >= 40
